"""Links and the name the platform gives itself in emails: ``SITE_URL`` and ``SITE_NAME`` (settings).

An email is read away from the request that sent it, so its links point at the platform's public
address, never at whatever host the request happened to name; and the name is Synchronise's,
not the ``django.contrib.sites`` row's default (``example.com``). See docs/accounts.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings


@dataclass(frozen=True)
class EmailSite:
    """What email templates read as ``current_site`` (allauth's use ``name`` and ``domain``)."""

    name: str
    domain: str


def email_site() -> EmailSite:
    return EmailSite(name=settings.SITE_NAME, domain=urlsplit(settings.SITE_URL).netloc)


def absolute(path: str) -> str:
    """``path`` (``/accounts/login/``) on ``SITE_URL``."""
    return settings.SITE_URL + path


def on_site(url: str) -> str:
    """``url`` (absolute, or a path) moved onto ``SITE_URL``, keeping its path, query and fragment."""
    parts = urlsplit(url)
    return absolute(urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment)))
