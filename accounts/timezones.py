"""The time zone dates are shown in: the browser's, told to the server by a cookie.

``static/js/app.js`` writes the browser's IANA zone (``Intl.DateTimeFormat().resolvedOptions()``)
into the ``tz`` cookie; this middleware activates it for the request, so every ``|when`` in a
template prints local time without any per-user setting. Until the cookie exists (the very
first page), dates are rendered in UTC and app.js rewrites them in place. See docs/ui.md.

The JSON API is left in UTC whatever the cookie says (DRF renders datetimes in the active
zone): an API answer must not depend on which browser made the call.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from synchronise.errors import API_PREFIXES

COOKIE = "tz"


@lru_cache(maxsize=512)
def zone_named(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone called ``name``, or None for anything that is not an IANA zone name.

    The cookie is user input: a name is looked up only among the zones the system knows,
    so a crafted value can never make zoneinfo open a file path.
    """
    if not name or len(name) > 64 or name not in zoneinfo.available_timezones():
        return None
    return zoneinfo.ZoneInfo(name)


def zone_of(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    if request.path.startswith(API_PREFIXES):
        return None
    return zone_named(request.COOKIES.get(COOKIE, ""))


class TimeZoneMiddleware:
    """Activates the request's zone for the whole request (sync and async views alike)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        zone = zone_of(request)
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        zone = zone_of(request)
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return await cast("Awaitable[HttpResponseBase]", self.get_response(request))
        finally:
            timezone.deactivate()
