"""Live refresh in real browsers: a rename by one member shows on another member's open page."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from accounts import services
from tests import servers
from tests.realtime_helpers import session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def signed_in_context(browser: Browser, base: str, user) -> BrowserContext:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    name, value = session_cookie(user).decode().split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": base}])
    return context


def test_a_rename_shows_on_another_members_page_without_reload(
    chromium, asgi_url, alice, bob, charlie, project, artifacts
):
    a = signed_in_context(chromium, asgi_url, alice).new_page()
    b = signed_in_context(chromium, asgi_url, bob).new_page()
    c = signed_in_context(chromium, asgi_url, charlie).new_page()

    b.goto(f"{asgi_url}/projects/{project.pk}/team/")
    expect(b.get_by_role("heading", level=1)).to_have_text("Alice's project")
    b.evaluate("window.__loads = performance.getEntriesByType('navigation').length")

    # Charlie, an outsider, asks for the same project's updates from his own page.
    c.goto(f"{asgi_url}/dashboard/")
    c.evaluate(
        """(id) => {
            window.__updates = 0;
            document.addEventListener("synchronise:update", () => window.__updates++);
            window.Synchronise.Cloud.run("getProject", {id: id, realtime: true}, {
                error: (e) => { window.__error = e.status; }
            });
        }""",
        project.pk,
    )
    c.wait_for_function("window.__error === 404")
    # Both sockets are subscribed before the change.
    b.wait_for_function("window.Synchronise.Connection.connected")

    a.goto(f"{asgi_url}/projects/{project.pk}/")
    a.get_by_label("Name").fill("Renamed live")
    a.get_by_role("button", name="Save").click()
    expect(a.get_by_role("heading", level=1)).to_have_text("Renamed live")

    expect(b.get_by_role("heading", level=1)).to_have_text("Renamed live", timeout=1000)
    assert b.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload
    b.screenshot(path=artifacts / "realtime-renamed-on-other-page.png")

    c.wait_for_timeout(1000)
    assert c.evaluate("window.__updates") == 0


def test_the_navbar_shows_a_lost_connection_and_recovers(chromium, alice, transactional_db):
    port = servers.free_port()
    with servers.asgi_server(port=port) as base:
        page = signed_in_context(chromium, base, alice).new_page()
        page.goto(f"{base}/dashboard/")
        page.wait_for_function("window.Synchronise.Connection.connected")
        indicator = page.locator("#connection-lost")
        expect(indicator).to_be_hidden()
    # The server is gone: the socket closes and the navbar says so.
    expect(indicator).to_be_visible(timeout=5000)
    with servers.asgi_server(port=port):
        # The client reconnects with backoff on its own.
        expect(indicator).to_be_hidden(timeout=20000)
        page.wait_for_function("window.Synchronise.Connection.connected")


def test_the_team_list_refreshes_when_someone_is_added(chromium, asgi_url, alice, bob, charlie, project):
    b = signed_in_context(chromium, asgi_url, bob).new_page()
    b.goto(f"{asgi_url}/projects/{project.pk}/team/")
    b.wait_for_function("window.Synchronise.Connection.connected")
    members = b.locator("#members")
    expect(members).not_to_contain_text("charlie@example.com")

    # Off Playwright's thread: its event loop would stop async_to_sync from publishing.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(
            services.member_invite, project=project, actor=alice, email=charlie.email, permission="view"
        ).result()

    expect(members).to_contain_text("charlie@example.com", timeout=1500)
    expect(b.locator("#members-card")).to_have_count(1)  # swapped inside, not nested
