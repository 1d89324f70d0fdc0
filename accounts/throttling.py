"""Per-key rate limit, read from the plan of the key's project owner, counted in the cache."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from accounts.authentication import request_api_key


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Limits requests made with an API key; sessions are limited elsewhere (allauth)."""

    scope = "api_key"

    def get_rate(self) -> str | None:
        return None  # set per request from the plan, in allow_request

    def allow_request(self, request: Request, view: Any) -> bool:
        key = request_api_key(request)
        if key is None:
            return True
        owner = key.project.owner()
        self.rate = owner.effective_plan().effective_rate_limit if owner else "1/min"
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        key = request_api_key(request)
        return self.cache_format % {"scope": self.scope, "ident": key.pk} if key else None
