"""SQL built by the ORM once per process and database vendor, for statements on hot paths.

Building and compiling a queryset costs more Python than running it (py-spy on workers and web
processes under load: ~40 % of their time in query building and SQL compilation). A hot statement
is therefore built once, with a sentinel for each parameter, and its SQL reused with
``Model.objects.raw`` or a cursor; the values go through the same fields, so what reaches the
database is what the ORM would have sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Model

_sql: dict[tuple[str, str], str] = {}


def compiled(name: str, make: Callable[[], str]) -> str:
    """The SQL ``make()`` returns, made once per process for the current database vendor."""
    key = (name, connection.vendor)
    sql = _sql.get(key)
    if sql is None:
        sql = _sql[key] = make()
    return sql


def select_sql(queryset: Any, sentinels: Sequence[Any] = (0,), *, compiler: Any = None) -> str:
    """The SQL of ``queryset`` (or of ``compiler``), whose parameters must be exactly ``sentinels``,
    in that order (the values it was built with, so that a change in Django's compilation fails
    loudly here)."""
    compiler = compiler or queryset.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    if list(params) != list(sentinels):
        raise AssertionError(f"parameters {params!r}, expected {list(sentinels)!r}")
    return str(sql)


@dataclass(frozen=True)
class _Select:
    sql: str
    converters: dict[int, tuple[list[Any], Any]]  # column → (its converters, its expression)


_selects: dict[tuple[str, str], _Select] = {}


def select_rows(name: str, make: Callable[[], Any], sentinels: Sequence[Any], params: Sequence[Any]) -> list[list[Any]]:
    """The rows of the queryset ``make()`` builds with ``sentinels``, run with ``params`` instead,
    each value converted as the ORM converts it (booleans and dates on SQLite, JSON everywhere).
    The queryset is built and compiled once per process and vendor."""
    key = (name, connection.vendor)
    select = _selects.get(key)
    if select is None:
        compiler = make().query.get_compiler(connection=connection)
        sql = select_sql(compiler.query, sentinels, compiler=compiler)
        converters = compiler.get_converters([expression for expression, _, _ in compiler.select])
        select = _selects[key] = _Select(sql, converters)
    with connection.cursor() as cursor:
        cursor.execute(select.sql, list(params))
        rows = [list(row) for row in cursor.fetchall()]
    for row in rows:
        for index, (functions, expression) in select.converters.items():
            value = row[index]
            for function in functions:
                value = function(value, expression, connection)
            row[index] = value
    return rows


def instances(row: Sequence[Any], *models: type[Model]) -> list[Any]:
    """A row of a ``select_related`` query (no deferred fields), split into an instance of each of
    ``models`` in the order of the joins; None for a model an outer join found no row of."""
    found: list[Any] = []
    start = 0
    for model in models:
        fields = model._meta.concrete_fields
        values = row[start : start + len(fields)]
        start += len(fields)
        primary = values[fields.index(model._meta.pk)]
        found.append(None if primary is None else model.from_db(connection.alias, [f.attname for f in fields], values))
    if start != len(row):
        raise AssertionError(f"{len(row)} columns for {start} fields of {', '.join(m.__name__ for m in models)}")
    return found


def update_rows(
    name: str, model: type[Model], values: Mapping[str, Any], where: Sequence[str], params: Sequence[Any]
) -> int:
    """``UPDATE`` the fields of ``model`` named in ``values`` where each field of ``where`` equals
    its value in ``params``; the number of rows changed. One statement per ``name`` and set of
    field names, made once; the values prepared by the fields as ``QuerySet.update`` prepares them."""
    names = sorted(values)

    def make() -> str:
        quote = connection.ops.quote_name
        columns = ", ".join(f"{quote(_field(model, field).column)} = %s" for field in names)
        conditions = " AND ".join(f"{quote(_field(model, field).column)} = %s" for field in where)
        return f"UPDATE {quote(model._meta.db_table)} SET {columns} WHERE {conditions}"  # noqa: S608 - model names

    sql = compiled(f"{name}:{','.join(names)}", make)
    prepared = [_field(model, field).get_db_prep_save(values[field], connection) for field in names]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*prepared, *params])
        return int(cursor.rowcount)


def _field(model: type[Model], name: str) -> Any:
    return model._meta.get_field(name)
