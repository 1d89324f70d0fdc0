"""The web UI in headless Chromium against the real ASGI server.

The first person to sign up becomes superuser, creates a project and a secret key (seen
once), opens the superadmin; a second person cannot see that project until invited. Along
the way, screenshots of the main pages at laptop and phone widths go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, BrowserContext, Page, expect

from accounts.models import Membership, Permission, Project, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PASSWORD = "a-long-browser-test-passphrase"


class Shots:
    """Numbered full-page screenshots in the artifacts directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / "screenshots"
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in self.directory.glob("*.png"):
            old.unlink()
        self.count = 0

    def __call__(self, page: Page, name: str, *, full_page: bool = True) -> None:
        self.count += 1
        width = page.viewport_size["width"] if page.viewport_size else 0
        device = "phone" if width < 600 else "laptop"
        page.screenshot(path=self.directory / f"{self.count:02d}-{name}-{device}.png", full_page=full_page)


def sign_up(page: Page, base: str, email: str, shot: Shots | None = None) -> None:
    page.goto(base + "/accounts/signup/")
    if shot:
        shot(page, "signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    expect(page).to_have_url(base + "/dashboard/")


def confirmation_link(*, to: str) -> str:
    """The address-confirmation link the server emailed to ``to`` (the file-based mail backend)."""
    newest_first = sorted((Path(settings.DATA_DIR) / "mail").glob("*"), key=lambda f: f.stat().st_mtime, reverse=True)
    for message in newest_first:
        text = message.read_text()
        if f"To: {to}" in text:
            found = re.search(r"https?://\S+/accounts/confirm-email/\S+/", text)
            if found:
                return found.group(0)
    raise AssertionError(f"no confirmation email to {to}")


def phone_context(browser: Browser, signed_in_as: BrowserContext | None = None) -> BrowserContext:
    state = signed_in_as.storage_state() if signed_in_as else None
    return browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, storage_state=state
    )


def test_first_user_signs_up_creates_a_project_and_a_key_and_keeps_it_private(
    asgi_url: str, chromium: Browser, artifacts: Path
) -> None:
    assert not User.objects.exists(), "the sign-up below must be the first one ever"
    shot = Shots(artifacts)
    browser = chromium
    page = browser.new_context(viewport=LAPTOP).new_page()
    page.set_default_timeout(15_000)

    # Anonymous: the landing page, keyboard first, then the login page.
    page.goto(asgi_url + "/")
    expect(page.get_by_role("link", name="Sign up free")).to_be_visible()
    shot(page, "landing")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.get_by_role("link", name="Log in").first.click()
    expect(page.get_by_role("heading", name="Sign In")).to_be_visible()
    shot(page, "login")

    # The first sign-up lands on the dashboard as superuser.
    sign_up(page, asgi_url, "founder@example.com", shot)
    founder = User.objects.get(email="founder@example.com")
    assert founder.is_superuser
    assert founder.is_staff
    expect(page.locator(".plan-badge")).to_have_text(re.compile(r"Free · 10,000 left"))
    page.locator(".user-menu summary").click()
    expect(page.get_by_test_id("superadmin-link")).to_be_visible()
    page.locator(".user-menu summary").click()
    expect(page.get_by_test_id("superadmin-link")).to_be_hidden()
    expect(page.get_by_text("0 of 3 done")).to_be_visible()
    shot(page, "dashboard-empty")

    # A project, through the form.
    page.get_by_role("link", name="New project").first.click()
    shot(page, "project-create")
    page.get_by_label("Name", exact=True).fill("Weather station")
    page.get_by_label("Description").fill("Forecasts and sensor readings for the allotment.")
    page.get_by_role("button", name="Create project").click()
    project = Project.objects.get(name="Weather station")
    assert project.owner() == founder
    expect(page).to_have_url(f"{asgi_url}/projects/{project.pk}/")
    expect(page.get_by_role("alert").or_(page.get_by_role("status")).first).to_contain_text("created")
    shot(page, "project-info")

    # A secret key, shown once.
    page.get_by_role("link", name="API keys").click()
    page.get_by_role("button", name="Create publishable key").click()
    expect(page.locator("#new-key")).to_have_value(re.compile(r"^pk_"))
    page.get_by_label("Key name").fill("Production server")
    page.get_by_role("button", name="Create secret key").click()
    secret = page.locator("#new-key").input_value()
    assert secret.startswith("sk_")
    # The newest banner first; the publishable key's stays below it until dismissed (issue 15).
    newest = page.get_by_test_id("new-key").first
    expect(newest.get_by_text("this is the only time it is shown", exact=False)).to_be_visible()
    newest.get_by_text("Try it").click()
    shot(page, "keys-secret-shown")
    page.reload()
    expect(page).to_have_url(f"{asgi_url}/projects/{project.pk}/keys/")
    expect(page.locator("#new-key")).to_have_count(0)
    assert secret not in page.content()
    expect(page.get_by_text(secret[:11] + "…")).to_be_visible()
    assert project.api_keys.filter(kind="secret", name="Production server", revoked_at=None).count() == 1

    page.get_by_role("link", name="Connect").click()
    expect(page.get_by_role("tab", name="Python")).to_be_visible()
    page.get_by_role("tab", name="Python").click()
    expect(page.locator("#connect-code-python")).to_be_visible()
    expect(page.locator("#connect-code-curl")).to_be_hidden()
    shot(page, "connect")

    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_role("link", name="Projects").click()
    shot(page, "projects-list")
    menu.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_text("1 of 3 done")).to_be_visible()
    shot(page, "dashboard")

    # The superadmin opens for the first user.
    response = page.goto(asgi_url + "/superadmin/")
    assert response is not None
    assert response.status == 200
    expect(page.get_by_text("Synchronise superadmin").first).to_be_visible()
    shot(page, "superadmin")

    # A second person, in a browser of their own, cannot see the project...
    other = browser.new_context(viewport=LAPTOP)
    second = other.new_page()
    second.set_default_timeout(15_000)
    sign_up(second, asgi_url, "second@example.com")
    assert not User.objects.get(email="second@example.com").is_superuser
    expect(second.get_by_test_id("superadmin-link")).to_have_count(0)
    response = second.goto(f"{asgi_url}/projects/{project.pk}/")
    assert response is not None
    assert response.status == 404
    shot(second, "not-found")
    response = second.goto(f"{asgi_url}/projects/{project.pk}/keys/")
    assert response is not None
    assert response.status == 404

    # ...until the founder invites them and they confirm their address (an unconfirmed account
    # could belong to anyone who typed it, so it is invited like a stranger).
    page.goto(f"{asgi_url}/projects/{project.pk}/team/")
    page.get_by_label("Email address").fill("second@example.com")
    page.get_by_label("Permission", exact=True).select_option("edit")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("region", name="Pending invitations")).to_contain_text("second@example.com")
    second.goto(confirmation_link(to="second@example.com"))
    second.get_by_role("button", name="Confirm").click()
    newcomer = User.objects.get(email="second@example.com")
    assert Membership.objects.get(project=project, user=newcomer).permission == Permission.EDIT

    # The founder then lowers the permission inline (htmx: no page load).
    page.reload()
    page.get_by_label("Permission of second@example.com").select_option("view")
    expect(page.locator(".row-note.ok")).to_have_text("Saved")
    assert Membership.objects.get(project=project, user=newcomer).permission == Permission.VIEW
    expect(page).to_have_url(f"{asgi_url}/projects/{project.pk}/team/")  # no page load happened
    shot(page, "team")
    response = second.goto(f"{asgi_url}/projects/{project.pk}/")
    assert response is not None
    assert response.status == 200
    expect(second.get_by_text("Read only")).to_be_visible()
    other.close()

    # Phone width: the side menu folds into a drawer.
    phone = phone_context(browser, signed_in_as=page.context)
    small = phone.new_page()
    small.goto(asgi_url + "/dashboard/")
    expect(small.locator("#sidebar")).to_be_hidden()
    shot(small, "dashboard")
    small.get_by_role("button", name="Menu").click()
    expect(small.locator("#sidebar")).to_be_visible()
    expect(small.locator("#sidebar")).to_have_css("transform", "none")  # the slide-in has ended
    expect(small.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "true")
    expect(small.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard")).to_be_focused()
    shot(small, "menu-open", full_page=False)
    small.keyboard.press("Escape")
    expect(small.locator("#sidebar")).to_be_hidden()
    small.goto(f"{asgi_url}/projects/{project.pk}/keys/")
    shot(small, "keys")
    small.goto(f"{asgi_url}/projects/{project.pk}/team/")
    shot(small, "team")
    phone.close()

    anonymous_phone = phone_context(browser)
    small = anonymous_phone.new_page()
    small.goto(asgi_url + "/")
    shot(small, "landing")
    small.goto(asgi_url + "/accounts/login/")
    shot(small, "login")
    anonymous_phone.close()
