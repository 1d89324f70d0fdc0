"""Social login, end to end: a real uvicorn server configured for generic OpenID Connect
through environment variables, a real authorization server on loopback (tests/oidc_provider.py),
and a real HTTP client with cookies walking login page → start → authorize → callback → dashboard.

Which providers exist is decided when settings are imported, so the OIDC-enabled server is its
own process, started with the OIDC variables; the test process itself has none of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from playwright.sync_api import Page, sync_playwright

from accounts import roles, services
from accounts.models import Membership, User
from synchronise import settings as settings_module
from tests import servers
from tests.factories import make_project, make_user
from tests.oidc_provider import OIDCProvider, oidc_provider

PROVIDER_ID = "oidc"
OIDC_LOGIN_PATH = f"/accounts/oidc/{PROVIDER_ID}/login/"
# allauth's login URL for each provider it ships that we support.
OTHER_LOGIN_PATHS = (
    "/accounts/github/login/",
    "/accounts/google/login/",
    "/accounts/facebook/login/",
    "/accounts/gitlab/login/",
)


class _Page(HTMLParser):
    """The links and the CSRF token of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.csrf_token = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        if tag == "input" and values.get("name") == "csrfmiddlewaretoken":
            self.csrf_token = values.get("value") or ""


def login_links(html: str) -> list[str]:
    return [urlsplit(href).path for href in _Page(html).links]


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    with oidc_provider() as running:
        yield running


@pytest.fixture(scope="module")
def oidc_site(django_db_setup, django_db_blocker, provider: OIDCProvider) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The platform, in its own process, with the generic OpenID Connect provider enabled."""
    env = {
        "OIDC_CLIENT_ID": provider.client_id,
        "OIDC_CLIENT_SECRET": provider.client_secret,
        "OIDC_SERVER_URL": provider.url,
        "OIDC_PROVIDER_ID": PROVIDER_ID,
        "OIDC_NAME": "Test Identity",
    }
    with django_db_blocker.unblock(), servers.asgi_server(**env) as url:
        yield url


def social_sign_in(
    site: str, provider: OIDCProvider, *, as_: dict[str, object], session: requests.Session | None = None
) -> requests.Response:
    """Walk the whole flow as a browser would: every hop is a real request, cookies included."""
    provider.identity = as_
    session = session or requests.Session()
    login_page = session.get(f"{site}/accounts/login/", timeout=10)
    assert login_page.status_code == 200
    start_href = next(href for href in _Page(login_page.text).links if urlsplit(href).path == OIDC_LOGIN_PATH)
    # allauth starts a social login on POST only (SOCIALACCOUNT_LOGIN_ON_GET is off): the GET
    # shows a confirmation form, whose CSRF-protected POST redirects to the provider.
    confirm = session.get(urljoin(login_page.url, start_href), timeout=10)
    assert confirm.status_code == 200
    token = _Page(confirm.text).csrf_token
    assert token, "the confirmation page has a CSRF-protected form"
    return session.post(confirm.url, data={"csrfmiddlewaretoken": token}, headers={"Referer": confirm.url}, timeout=30)


def hops(response: requests.Response) -> list[str]:
    return [r.url.split("?")[0] for r in [*response.history, response]]


# --- which providers the login page offers -----------------------------------------------------


def test_login_page_offers_no_social_provider_without_credentials(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    paths = login_links(response.content.decode())
    assert not [p for p in paths if p.startswith(("/accounts/oidc/", *OTHER_LOGIN_PATHS))]


def test_providers_are_enabled_only_when_id_and_secret_are_set(monkeypatch):
    for name in ("GITHUB", "GOOGLE", "FACEBOOK", "GITLAB", "OIDC"):
        monkeypatch.delenv(f"{name}_CLIENT_ID", raising=False)
        monkeypatch.delenv(f"{name}_CLIENT_SECRET", raising=False)
    monkeypatch.setenv("GITHUB_CLIENT_ID", "gh-id")
    monkeypatch.setenv("GITHUB_CLIENT_SECRET", "gh-secret")
    monkeypatch.setenv("GOOGLE_CLIENT_ID", "only-an-id")  # no secret: stays off

    apps, providers = settings_module._social_providers()

    assert apps == ["allauth.socialaccount.providers.github"]
    assert list(providers) == ["github"]
    assert providers["github"]["APPS"] == [{"client_id": "gh-id", "secret": "gh-secret"}]


def test_oidc_needs_a_server_url(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("OIDC_CLIENT_ID", "id")
    monkeypatch.setenv("OIDC_CLIENT_SECRET", "secret")
    monkeypatch.delenv("OIDC_SERVER_URL", raising=False)
    with pytest.raises(ImproperlyConfigured):
        settings_module._social_providers()


def test_login_page_offers_the_configured_oidc_provider_only(oidc_site, transactional_db):
    response = requests.get(f"{oidc_site}/accounts/login/", timeout=10)

    assert response.status_code == 200
    paths = login_links(response.text)
    assert OIDC_LOGIN_PATH in paths
    assert "Test Identity" in response.text
    assert not [p for p in paths if p.startswith(OTHER_LOGIN_PATHS)]


# --- the flow -----------------------------------------------------------------------------------


def test_first_social_sign_up_creates_a_superuser_and_lands_on_dashboard(oidc_site, provider, transactional_db):
    response = social_sign_in(
        oidc_site,
        provider,
        as_={"sub": "1001", "email": "olivia@example.com", "email_verified": True, "name": "Olivia"},
    )

    assert response.status_code == 200
    assert urlsplit(response.url).path == "/dashboard/"
    path = hops(response)
    assert f"{provider.url}/authorize" in path
    assert f"{oidc_site}{OIDC_LOGIN_PATH}callback/" in path
    # allauth used PKCE and the token endpoint, and asked for the user's claims.
    assert provider.token_requests[-1]["code_verifier"]
    assert ("GET", "/userinfo") in provider.requests

    user = User.objects.get(email="olivia@example.com")
    assert user.is_superuser
    assert user.is_staff
    assert set(user.groups.values_list("name", flat=True)) == set(roles.ALL_ROLES)
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == (PROVIDER_ID, "1001")
    assert EmailAddress.objects.get(user=user).verified  # the provider said so


def test_second_social_user_is_a_plain_user(oidc_site, provider, transactional_db):
    social_sign_in(oidc_site, provider, as_={"sub": "1", "email": "first@example.com", "email_verified": True})
    response = social_sign_in(
        oidc_site, provider, as_={"sub": "2", "email": "second@example.com", "email_verified": True}
    )

    assert urlsplit(response.url).path == "/dashboard/"
    first, second = User.objects.get(email="first@example.com"), User.objects.get(email="second@example.com")
    assert first.is_superuser
    assert not second.is_superuser
    assert not second.is_staff
    assert list(second.groups.values_list("name", flat=True)) == [roles.USER]
    assert SocialAccount.objects.filter(user=second, provider=PROVIDER_ID, uid="2").exists()


def test_social_user_after_an_email_user_is_plain(oidc_site, provider, transactional_db):
    make_user(email="alice@example.com")
    social_sign_in(oidc_site, provider, as_={"sub": "7", "email": "olivia@example.com", "email_verified": True})

    assert not User.objects.get(email="olivia@example.com").is_superuser


def test_returning_social_user_signs_in_to_the_same_account(oidc_site, provider, transactional_db):
    who = {"sub": "42", "email": "olivia@example.com", "email_verified": True}
    social_sign_in(oidc_site, provider, as_=who)
    response = social_sign_in(oidc_site, provider, as_=who)

    assert urlsplit(response.url).path == "/dashboard/"
    assert User.objects.count() == 1
    assert SocialAccount.objects.count() == 1


def test_invitation_is_accepted_when_the_provider_verified_the_address(oidc_site, provider, transactional_db):
    alice = make_user(email="alice@example.com")
    project = make_project(owner=alice)
    services.member_invite(project=project, actor=alice, email="olivia@example.com", permission="edit")

    social_sign_in(oidc_site, provider, as_={"sub": "9", "email": "olivia@example.com", "email_verified": True})

    olivia = User.objects.get(email="olivia@example.com")
    assert Membership.objects.get(project=project, user=olivia).permission == "edit"


def test_invitation_waits_when_the_provider_did_not_verify_the_address(oidc_site, provider, transactional_db):
    alice = make_user(email="alice@example.com")
    project = make_project(owner=alice)
    services.member_invite(project=project, actor=alice, email="olivia@example.com", permission="edit")

    social_sign_in(oidc_site, provider, as_={"sub": "9", "email": "olivia@example.com", "email_verified": False})

    olivia = User.objects.get(email="olivia@example.com")
    assert not Membership.objects.filter(project=project, user=olivia).exists()
    assert project.invitations.filter(email="olivia@example.com", accepted_at=None).exists()


def test_social_sign_up_without_an_email_asks_for_one(oidc_site, provider, transactional_db):
    session = requests.Session()
    response = social_sign_in(oidc_site, provider, as_={"sub": "77", "name": "No Mail"}, session=session)

    # allauth needs an address (it is the login), so it shows its social sign-up form.
    assert urlsplit(response.url).path == "/accounts/3rdparty/signup/"
    done = session.post(
        response.url,
        data={"csrfmiddlewaretoken": _Page(response.text).csrf_token, "email": "nomail@example.com"},
        headers={"Referer": response.url},
        timeout=30,
    )

    assert urlsplit(done.url).path == "/dashboard/", done.text[:500]
    user = User.objects.get(email="nomail@example.com")
    assert user.is_superuser  # the first user, whichever way it arrives
    assert set(user.groups.values_list("name", flat=True)) == set(roles.ALL_ROLES)
    assert SocialAccount.objects.filter(user=user, uid="77").exists()


def test_a_tampered_callback_creates_no_account(oidc_site, provider, transactional_db):
    session = requests.Session()
    response = session.get(f"{oidc_site}{OIDC_LOGIN_PATH}callback/?code=forged&state=forged", timeout=10)

    assert urlsplit(response.url).path != "/dashboard/"
    assert re.search(r"(?i)error|failed", response.text)
    assert User.objects.count() == 0


def in_browser(launch_args: dict[str, object], steps: Callable[[Page], None]) -> None:
    """Drive Chromium in a thread of its own.

    Playwright's sync API keeps an event loop running in the thread that uses it, and Django
    refuses database calls from a thread with a running loop; the test's own thread stays free
    to query the database (and to flush it afterwards).
    """

    def run() -> None:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_args)
            try:
                steps(browser.new_page())
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result(timeout=120)


@pytest.mark.browser
def test_first_user_signs_up_with_oidc_in_a_browser(
    oidc_site, provider, transactional_db, browser_type_launch_args, artifacts
):
    provider.identity = {"sub": "b1", "email": "browser@example.com", "email_verified": True}

    def steps(page: Page) -> None:
        page.goto(f"{oidc_site}/accounts/login/")
        page.locator(f'a[href^="{OIDC_LOGIN_PATH}"]').first.click()
        page.locator('form[method="post"] [type="submit"]').last.click()  # allauth's "Continue"
        page.wait_for_url(f"{oidc_site}/dashboard/")
        page.screenshot(path=artifacts / "social-login-dashboard.png", full_page=True)

    in_browser(browser_type_launch_args, steps)

    user = User.objects.get(email="browser@example.com")
    assert user.is_superuser
    assert SocialAccount.objects.filter(user=user, uid="b1").exists()
