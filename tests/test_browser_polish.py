"""Rough edges of issue 15 in Chromium: stacked one-time key banners, dates in the browser's
zone, the triggers page without console errors, the favicon and the API docs link, and the
keys page at 375 px."""

from __future__ import annotations

import datetime
import re

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from accounts import services
from accounts.models import ApiKey, ApiKeyKind
from tests.realtime_helpers import session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 900}
NARROW = {"width": 375, "height": 812}


def signed_in(browser: Browser, base: str, user, *, viewport=LAPTOP, zone: str = "UTC") -> BrowserContext:
    context = browser.new_context(viewport=viewport, timezone_id=zone)
    name, value = session_cookie(user).decode().split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": base}])
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    return context


def problems_of(page: Page) -> list[str]:
    """Console errors and failed requests, collected while the page is used."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            found.append(f"console: {message.text} {message.location.get('url', '')}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"pageerror: {error}"))
    page.on("response", lambda r: found.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return found


def test_key_banners_stack_until_each_is_dismissed(chromium, asgi_url, project, bob, artifacts) -> None:
    page = signed_in(chromium, asgi_url, bob).new_page()
    page.goto(f"{asgi_url}/projects/{project.pk}/keys/")
    page.get_by_role("button", name="Create publishable key").click()
    publishable = page.locator("#new-key").input_value()
    assert publishable.startswith("pk_")

    page.get_by_label("Name").fill("ci server")
    page.get_by_role("button", name="Create secret key").click()
    banners = page.get_by_test_id("new-key")
    expect(banners).to_have_count(2)
    secret = page.locator("#new-key").input_value()
    assert secret.startswith("sk_")
    expect(page.locator("#new-key-2")).to_have_value(publishable)  # still there, below the newest
    assert page.url.endswith(f"/projects/{project.pk}/keys/")  # a reload asks for the plain page

    # Each has its own copy button.
    banners.nth(1).get_by_role("button", name="Copy", exact=True).click()
    assert page.evaluate("navigator.clipboard.readText()") == publishable
    page.screenshot(path=artifacts / "keys-two-banners.png", full_page=True)

    # Dismissing the secret's banner keeps the publishable one, also through the next form.
    banners.first.get_by_role("button", name="I have saved it").click()
    expect(banners).to_have_count(1)
    expect(page.locator("#new-key-2")).to_have_value(publishable)
    page.get_by_label("Allowed origins").fill("https://shop.example")
    page.get_by_role("button", name="Save origins").click()
    expect(page.get_by_text("Allowed origins saved.")).to_be_visible()
    expect(banners).to_have_count(1)
    expect(page.locator("#new-key")).to_have_value(publishable)
    assert secret not in page.content()

    page.get_by_role("button", name="I have saved it").click()
    expect(banners).to_have_count(0)
    page.get_by_label("Name").fill("second")
    page.get_by_role("button", name="Create secret key").click()
    expect(banners).to_have_count(1)
    assert publishable not in page.content()


def test_the_keys_page_fits_375_pixels_with_two_banners(chromium, asgi_url, project, bob, artifacts) -> None:
    page = signed_in(chromium, asgi_url, bob, viewport=NARROW).new_page()
    page.goto(f"{asgi_url}/projects/{project.pk}/keys/")
    page.get_by_role("button", name="Create publishable key").click()
    page.get_by_label("Name").fill("phone")
    page.get_by_role("button", name="Create secret key").click()
    expect(page.get_by_test_id("new-key")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    for button in page.get_by_role("button", name="I have saved it").all():
        box = button.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= NARROW["width"]
    page.screenshot(path=artifacts / "keys-375.png", full_page=True)


def test_dates_are_shown_in_the_browsers_zone_from_the_first_page(chromium, asgi_url, project, bob) -> None:
    key, _ = services.api_key_create(project=project, actor=bob, kind=ApiKeyKind.SECRET, name="ci")
    ApiKey.objects.filter(pk=key.pk).update(created_at=datetime.datetime(2026, 12, 8, 13, 5, tzinfo=datetime.UTC))
    context = signed_in(chromium, asgi_url, bob, zone="Asia/Tokyo")
    page = context.new_page()
    page.goto(f"{asgi_url}/projects/{project.pk}/keys/")
    created = page.locator("#secret-keys time").first
    # The first page was rendered in UTC (no cookie yet) and rewritten by app.js…
    expect(created).to_have_text("8 Dec 2026, 22:05")
    expect(created).to_have_attribute("title", "8 Dec 2026, 22:05:00 (Asia/Tokyo)")
    assert {"name": "tz", "value": "Asia/Tokyo"}.items() <= next(
        c for c in context.cookies() if c["name"] == "tz"
    ).items()
    # … and the next ones are rendered in the browser's zone by the server.
    html = page.request.get(f"{asgi_url}/projects/{project.pk}/keys/").text()
    assert re.search(r'datetime="2026-12-08T13:05:00Z"[^>]*>8 Dec 2026, 22:05</time>', html)


def test_the_triggers_page_has_a_clean_console_and_says_a_schedule_error_once(
    chromium, asgi_url, project, bob, artifacts
) -> None:
    from tests.factories import make_component, make_workflow

    component = make_component(project=project, actor=bob, name="Noop")
    workflow = make_workflow(
        project=project, actor=bob, name="Nightly", steps=[{"id": "noop", "component": component.pk, "inputs": {}}]
    )
    page = signed_in(chromium, asgi_url, bob).new_page()
    problems = problems_of(page)
    page.goto(f"{asgi_url}/workflows/{workflow.pk}/triggers/")
    expect(page.get_by_test_id("schedule-preview").locator("li")).to_have_count(5)  # the page script ran
    expect(page.get_by_test_id("webhook").locator(".badge")).to_have_text("off")
    page.wait_for_load_state("networkidle")
    assert problems == []

    # A refused cron is said once, where the next runs would be, also after "Save schedule".
    page.get_by_label("Cron").fill("61 * * * *")
    schedule = page.get_by_test_id("schedule")
    expect(schedule.locator(".wf-problem")).to_contain_text("cron")
    page.get_by_role("button", name="Save schedule").click()
    page.wait_for_load_state("networkidle")
    expect(schedule.locator(".wf-problem")).to_contain_text("cron")
    expect(page.get_by_test_id("schedule-error")).to_be_hidden()
    visible = [text for text in schedule.locator("p").all_inner_texts() if "cron" in text.lower() and ":" in text]
    assert len(visible) == 1, visible
    page.screenshot(path=artifacts / "triggers-cron-error.png", full_page=True)

    # A valid schedule saves, and the page still asked for nothing that is not there.
    problems.clear()
    page.get_by_label("Cron").fill("0 9 * * 1")
    page.get_by_role("button", name="Save schedule").click()
    expect(schedule.locator(".row-note")).to_have_text("Schedule saved.")
    page.reload()
    expect(page.get_by_label("Cron")).to_have_value("0 9 * * 1")
    page.wait_for_load_state("networkidle")
    assert problems == []


def test_the_favicon_and_the_api_link_work_in_the_browser(chromium, asgi_url, project, bob) -> None:
    page = signed_in(chromium, asgi_url, bob).new_page()
    problems = problems_of(page)
    icon = page.request.get(f"{asgi_url}/favicon.ico")
    assert icon.ok
    assert icon.headers["content-type"].startswith("image/svg+xml")
    page.goto(f"{asgi_url}/dashboard/")
    page.get_by_role("link", name="API reference").click()
    expect(page).to_have_url(f"{asgi_url}/api/docs/")
    expect(page.locator(".swagger-ui")).to_be_visible()
    assert not [p for p in problems if "favicon" in p]


def test_the_signed_out_top_bar_links_the_api_and_fits_375_pixels(chromium, asgi_url) -> None:
    wide = chromium.new_context(viewport=LAPTOP).new_page()
    wide.goto(asgi_url + "/")
    expect(wide.get_by_role("link", name="API", exact=True)).to_be_visible()
    narrow = chromium.new_context(viewport=NARROW).new_page()
    narrow.goto(asgi_url + "/")
    expect(narrow.get_by_role("link", name="Sign up", exact=True)).to_be_visible()
    assert narrow.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
