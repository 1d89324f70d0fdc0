"""SQL built by the ORM once per process and database vendor, for statements on hot paths.

Building and compiling a queryset costs more Python than running it (py-spy on workers and web
processes under load: ~40 % of their time in query building and SQL compilation). A hot statement
is therefore built once, with a sentinel for each parameter, and its SQL reused with
``Model.objects.raw`` or a cursor; the values go through the same fields, so what reaches the
database is what the ORM would have sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection

_sql: dict[tuple[str, str], str] = {}


def compiled(name: str, make: Callable[[], str]) -> str:
    """The SQL ``make()`` returns, made once per process for the current database vendor."""
    key = (name, connection.vendor)
    sql = _sql.get(key)
    if sql is None:
        sql = _sql[key] = make()
    return sql


def select_sql(queryset: Any, sentinels: Sequence[Any] = (0,)) -> str:
    """The SQL of ``queryset``, whose parameters must be exactly ``sentinels``, in that order (the
    values it was built with, so that a change in Django's compilation fails loudly here)."""
    sql, params = queryset.query.get_compiler(connection=connection).as_sql()
    if list(params) != list(sentinels):
        raise AssertionError(f"parameters {params!r}, expected {list(sentinels)!r}")
    return str(sql)
