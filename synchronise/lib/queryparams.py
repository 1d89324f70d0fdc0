"""Integers from a query string, bounded to what the database can compare.

Ids and counts are 64-bit columns: a filter of ``?project=99999999999999999999`` made SQLite raise
``OverflowError`` and PostgreSQL ``bigint out of range`` (500). Every list reads its integer
filters, ``limit`` and ``offset`` through this module, so such a value is a 400 naming the parameter.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

MAX_INT = 2**63 - 1  # a signed 64-bit column (BigAutoField, bigint)
MAX_PAGE = 1000


class IdField(serializers.IntegerField):
    """A query filter naming a row by id: 1 to 2**63 - 1."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_INT)
        super().__init__(**kwargs)


def query_int(request: Request, name: str, *, minimum: int = 0, maximum: int = MAX_INT) -> int | None:
    """The integer query parameter ``name`` (``None`` when absent or empty); raises ``ValidationError``
    (400 ``{name: [message]}``) for anything that is not a whole number within the bounds."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    field = serializers.IntegerField(min_value=minimum, max_value=maximum)
    try:
        return int(field.run_validation(raw))
    except ValidationError as error:
        raise ValidationError({name: error.detail}) from None


class Pagination(LimitOffsetPagination):
    """``?limit=`` (1 to 1000) and ``?offset=`` (0 to 2**63 - 1); anything else is a 400 naming it."""

    max_limit = MAX_PAGE

    def get_limit(self, request: Request) -> int | None:
        limit = query_int(request, self.limit_query_param, minimum=1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        offset = query_int(request, self.offset_query_param, maximum=MAX_INT - MAX_PAGE)
        return offset or 0
