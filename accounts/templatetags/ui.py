"""Small template helpers for the project chrome (navigation state, numbers, dates)."""

from __future__ import annotations

import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
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


# The one way the UI prints a moment: "8 Dec 2026, 14:05" in the viewer's zone (activated
# by accounts.timezones.TimeZoneMiddleware). static/js/app.js formats the same way with
# Intl.DateTimeFormat, so keep WHEN_FORMAT and its WHEN_OPTIONS in step.
WHEN_FORMAT = "j M Y, H:i"
WHEN_FORMAT_SECONDS = "j M Y, H:i:s"


@register.filter(is_safe=True)
def when(value: datetime.datetime | None, precision: str = "") -> SafeString:
    """``<time datetime="2026-12-08T13:05:00Z">8 Dec 2026, 14:05</time>`` in the current zone.

    ``|when:"seconds"`` adds seconds (execution timings). None (never happened) gives ""
    so ``|when|default:"—"`` works.
    """
    if not isinstance(value, datetime.datetime):
        return SafeString("")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    local = timezone.localtime(value)
    text = date_format(local, WHEN_FORMAT_SECONDS if precision == "seconds" else WHEN_FORMAT)
    iso = value.astimezone(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    zone = timezone.get_current_timezone_name()
    title = f"{date_format(local, WHEN_FORMAT_SECONDS)} ({zone})"
    data_seconds = " data-seconds" if precision == "seconds" else ""
    return format_html(
        '<time datetime="{}" title="{}" data-when{}>{}</time>', iso, title, SafeString(data_seconds), text
    )
