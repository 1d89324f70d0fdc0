"""Small template helpers for the project chrome (navigation state, number formatting)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# Which side-menu section each URL name belongs to; the first matching prefix wins.
SECTIONS = (
    ("dashboard", "dashboard"),
    ("project_", "projects"),
    ("connect", "projects"),
    ("components_", "components"),
    ("workflows_", "workflows"),
    ("marketplace_", "marketplace"),
)


def section_of(url_name: str | None) -> str | None:
    for prefix, section in SECTIONS:
        if url_name and url_name.startswith(prefix):
            return section
    return None


@register.simple_tag(takes_context=True)
def nav_current(context: dict[str, Any], section: str) -> SafeString:
    """``aria-current="page"`` on the side-menu link of the section being shown, else nothing."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if match is not None and section_of(match.url_name) == section:
        return format_html('aria-current="{}"', "page")
    return SafeString("")


@register.filter
def thousands(value: int | None) -> str:
    """``9990`` → ``9,990`` (the platform's UI is English; no locale machinery needed)."""
    if value is None:
        return ""
    return f"{int(value):,}"


@register.filter
def percent_of(used: int, quota: int) -> int:
    """How much of a quota is used, 0-100, for progress bars; an unlimited quota (-1) is 0."""
    if quota is None or quota <= 0:
        return 0
    return min(100, round(100 * used / quota))
