"""Sessions in the cache (Redis), as Django's cache engine keeps them, but an unreachable Redis
is an outage (503, ``synchronise/outages.py``) instead of an empty session.

Django's engine reads any cache error as "no such session": while Redis is down every signed-in
user would be treated as signed out (sent to the login page, where signing in fails again) and
every API call made with a session as anonymous. ``SESSION_ENGINE`` is this module with ``REDIS_URL``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import cache

from synchronise.outages import outage_of


class SessionStore(cache.SessionStore):
    def load(self) -> dict[str, Any]:
        try:
            data = self._cache.get(self.cache_key)  # type: ignore[attr-defined]  # set by Django's __init__
        except Exception as error:
            if outage_of(error):
                raise
            data = None  # as Django: a key the backend refuses is a session to start again
        if data is not None:
            return data
        self._session_key = None
        return {}

    async def aload(self) -> dict[str, Any]:
        try:
            data = await self._cache.aget(await self.acache_key())  # type: ignore[attr-defined]
        except Exception as error:
            if outage_of(error):
                raise
            data = None
        if data is not None:
            return data
        self._session_key = None
        return {}
