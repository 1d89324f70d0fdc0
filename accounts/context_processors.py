from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts import services


def plan(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's plan and this month's usage, for the navbar badge."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"current_plan": user.effective_plan(), "current_usage": services.usage_of(user=user)}
