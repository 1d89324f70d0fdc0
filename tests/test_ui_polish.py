"""Rough edges of the UI a new user hit (issue 15): one date format in the viewer's zone,
one-time key banners that stack, the superadmin for non-staff, the credential form, the
schedule errors, the favicon, links to the API docs and the admin pages."""

from __future__ import annotations

import datetime
import re

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import ApiKey, ApiKeyKind

pytestmark = pytest.mark.django_db

MOMENT = datetime.datetime(2026, 12, 8, 13, 5, 7, tzinfo=datetime.UTC)


def render(source: str, **context: object) -> str:
    return Template(source).render(Context(context))


# --- Dates ---------------------------------------------------------------------------------


def test_when_prints_one_format_with_a_machine_readable_moment() -> None:
    html = render("{{ moment|when }}", moment=MOMENT)
    assert html.startswith('<time datetime="2026-12-08T13:05:07Z"')
    assert ">8 Dec 2026, 13:05</time>" in html
    assert 'title="8 Dec 2026, 13:05:07 (UTC)"' in html
    assert ">8 Dec 2026, 13:05:07</time>" in render('{{ moment|when:"seconds" }}', moment=MOMENT)
    assert render('{{ moment|when|default:"never" }}', moment=None) == "never"


def test_when_prints_the_zone_that_is_active() -> None:
    with timezone.override("Europe/Paris"):
        html = render("{{ moment|when }}", moment=MOMENT)
    assert 'datetime="2026-12-08T13:05:07Z"' in html  # the moment itself stays UTC
    assert ">8 Dec 2026, 14:05</time>" in html
    assert "(Europe/Paris)" in html


def key_meta(client, project) -> str:
    page = client.get(reverse("project_keys", args=[project.pk])).content.decode()
    return page


def test_the_browser_zone_cookie_sets_the_zone_of_every_date(client, project, bob) -> None:
    client.force_login(bob)
    services.api_key_create(project=project, actor=bob, kind=ApiKeyKind.SECRET, name="ci")
    ApiKey.objects.update(created_at=MOMENT)

    client.cookies["tz"] = "Asia/Tokyo"
    assert ">8 Dec 2026, 22:05</time>" in key_meta(client, project)
    # Anything that is not an IANA zone (a path, garbage) is ignored: UTC.
    for bad in ("../../etc/passwd", "Mars/Olympus", ""):
        client.cookies["tz"] = bad
        assert ">8 Dec 2026, 13:05</time>" in key_meta(client, project)


def test_pages_print_dates_with_when_only(client, project, bob) -> None:
    """The keys page used three formats ("8 Dec 2026", "3 hours ago", "8 Dec 2026, 13:05")."""
    client.force_login(bob)
    key, _ = services.api_key_create(project=project, actor=bob, kind=ApiKeyKind.SECRET, name="ci")
    ApiKey.objects.filter(pk=key.pk).update(created_at=MOMENT, last_used_at=MOMENT + datetime.timedelta(hours=1))
    services.api_key_create(project=project, actor=bob, kind=ApiKeyKind.SECRET, name="old")
    services.api_key_revoke(key=ApiKey.objects.get(name="old"), actor=bob)
    page = key_meta(client, project)
    assert " ago" not in page
    for label in ("Created", "last used", "Revoked"):
        assert f"{label} <time" in page
    assert re.search(r'last used <time datetime="2026-12-08T14:05:07Z"[^>]*>8 Dec 2026, 14:05</time>', page)
