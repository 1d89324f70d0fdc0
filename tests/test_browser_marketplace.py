"""The marketplace end to end in a real browser, on the real ASGI server and a real Celery worker.

Alice publishes a code component and submits it; Vera, a validator, rejects it with a reason in
/superadmin/; Alice reads the reason, fixes the code, publishes again and resubmits; Vera approves.
Charlie, signed out, finds it on /marketplace/ by search, is asked to sign in on "Use this
component", forks it into his project, connects an OAuth2 credential against the loopback
authorization server (tests/oidc_provider.py, configured as a custom provider in superadmin) and
runs the fork in a workflow: the fork calls the provider's protected ``/resource`` with the access
token, which answers only to a token it issued.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from accounts import services as account_services
from components import credentials
from components.marketplace.models import Listing, ListingState, Submission
from components.models import Component, Credential
from tests import servers
from tests.factories import PASSWORD, make_project, make_user
from tests.oidc_provider import OIDCProvider, oidc_provider
from tests.realtime_helpers import session_cookie
from workflows.models import WorkflowExecution

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 900}
# With beat, as `make run` starts it: the engine's tick re-sends a message that went astray (the
# broker may be shared with other test runs) instead of leaving the execution queued.
WORKER = {"beat": True, "WORKFLOW_RESEND_SECONDS": "3"}
NAME = "Acme whoami"
CREDENTIAL = "ACME"
REJECTION = "A refused token comes back as an empty login: raise an error when the API does not answer 200."


@pytest.fixture(scope="module")
def provider() -> Iterator[OIDCProvider]:
    """Acme's authorization server; its ``/resource`` is the API the component calls."""
    with oidc_provider(identity={"sub": "77", "email": "charlie@acme.example", "email_verified": True}) as running:
        yield running


def platform_env(provider: OIDCProvider) -> dict[str, str]:
    """The web server (token exchange) and the worker (the component's ``ctx.http``) may reach the
    loopback provider, and nothing else private."""
    return {"OUTBOUND_ALLOW": provider.url.removeprefix("http://")}


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker, provider) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock(), servers.asgi_server(**platform_env(provider)) as url:
        yield url


@pytest.fixture
def worker(provider) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """One Celery worker for the validator's sandbox runs and the workflow's run."""
    with servers.celery_worker(**WORKER, **platform_env(provider)):  # type: ignore[arg-type]
        yield


# --- helpers ----------------------------------------------------------------------------------


class Shots:
    """Numbered full-page screenshots of this test in ``test-artifacts/marketplace/``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / "marketplace"
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in self.directory.glob("*.png"):
            old.unlink()
        self.count = 0

    def __call__(self, page: Page, name: str) -> None:
        self.count += 1
        # Scrolled down (a click far down the page), the sticky header and menu would be drawn
        # halfway down the full-page image.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=self.directory / f"{self.count:02d}-{name}.png", full_page=True)


def signed_in_context(browser: Browser, base: str, user) -> BrowserContext:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=LAPTOP)  # type: ignore[arg-type]
    name, value = session_cookie(user).decode().split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": base}])
    return context


def set_code(page: Page, code: str) -> None:
    """Replace the editor's text the way typing would (CodeMirror sees a normal transaction)."""
    page.evaluate(
        "(code) => { const v = window.componentCodeView;"
        " v.dispatch({changes: {from: 0, to: v.state.doc.length, insert: code}}); }",
        code,
    )


def saved(page: Page) -> None:
    expect(page.get_by_test_id("save-status")).to_have_text("Saved", timeout=10000)


def whoami_code(resource_url: str, *, checks_status: bool) -> str:
    """The component: ask the API who the token belongs to. The first cut forgets the status."""
    check = (
        "    if answer.status != 200:\n        raise RuntimeError(f'Acme refused the token: {answer.status}')\n"
        if checks_status
        else ""
    )
    return (
        "def run(inputs, ctx):\n"
        f"    answer = ctx.http('GET', {resource_url!r}, headers={{'Authorization': 'Bearer ' + inputs['token']}})\n"
        f"{check}"
        "    return {'login': answer.json().get('email', '')}\n"
    )


def publish(page: Page, changelog: str) -> None:
    page.get_by_role("button", name="Save", exact=True).click()
    saved(page)
    page.get_by_label("Changelog").fill(changelog)
    page.get_by_role("button", name="Publish version").click()
    expect(page.get_by_test_id("versions")).to_contain_text(changelog)


def submit(page: Page, site: str, component: Component) -> None:
    """The author's Marketplace tab: description, tags, icon, then "Submit to marketplace"."""
    page.goto(f"{site}/components/{component.pk}/")
    page.get_by_role("link", name="Marketplace", exact=True).last.click()
    expect(page).to_have_url(re.compile(rf"/components/{component.pk}/marketplace/$"))
    form = page.get_by_test_id("submit-form")
    form.get_by_label("Description").fill("Who an Acme access token belongs to: its e-mail address.")
    form.get_by_label("Tags").fill("acme, identity, oauth2")
    form.get_by_label("Icon").fill("🪪")
    form.get_by_role("button", name="Submit to marketplace").click()
    expect(page.get_by_test_id("marketplace-status")).to_contain_text("is waiting for a validator")


def open_latest_submission(page: Page, site: str) -> Submission:
    """The validation queue in /superadmin/, and the newest submission in it."""
    page.goto(f"{site}/superadmin/")
    page.get_by_role("link", name=re.compile("Submissions")).first.click()
    expect(page).to_have_url(f"{site}/superadmin/components/submission/")
    submission = Submission.objects.filter(state=ListingState.SUBMITTED).get()
    # The queue lists decided submissions too (rejected ones first): the filter keeps the waiting ones.
    page.locator("#changelist-filter").get_by_role("link", name="Submitted").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name=NAME).click()
    expect(page).to_have_url(re.compile(rf"/superadmin/components/submission/{submission.pk}/change/"))
    return submission


# --- the test ---------------------------------------------------------------------------------


def test_publish_validate_discover_fork_connect_and_run(chromium, site, worker, provider, alice, project, artifacts):  # type: ignore[no-untyped-def]
    shot = Shots(artifacts)
    resource = f"{provider.url}/resource"
    # Vera holds the validation role; like every superadmin user she is staff.
    vera = make_user(email="vera@example.com", name="Vera", is_staff=True)
    account_services.user_set_roles(user=vera, role_names=["user", "marketplace_validation"])
    charlie = make_user(email="charlie@example.com", name="Charlie")
    charlies_project = make_project(owner=charlie, name="Charlie's automations")
    # Alice's own ACME credential, to try the component with: a token Acme does not know.
    credentials.credential_set(project=project, actor=alice, name=CREDENTIAL, value="not-an-acme-token")

    # Alice (who runs the installation) registers Acme's authorization server as a custom
    # OAuth2 provider in superadmin.
    admin = signed_in_context(chromium, site, alice).new_page()
    admin.goto(f"{site}/superadmin/components/oauth2app/add/")
    admin.locator("#id_slug").fill("acme")
    admin.locator("#id_label").fill("Acme ID")
    admin.locator("#id_client_id").fill(provider.client_id)
    admin.locator("#id_client_secret").fill(provider.client_secret)
    admin.locator("#id_authorize_url").fill(f"{provider.url}/authorize")
    admin.locator("#id_token_url").fill(f"{provider.url}/token")
    admin.locator("#id_scopes").fill("email")
    admin.locator("#id_client_auth").select_option("basic")
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".messagelist")).to_contain_text("was added successfully")

    # Alice writes a component that asks Acme whose token it holds, and publishes it.
    author = signed_in_context(chromium, site, alice).new_page()
    author.goto(f"{site}/components/")
    author.get_by_label("Name", exact=True).fill(NAME)
    author.get_by_label("Project", exact=True).select_option(str(project.pk))
    author.get_by_role("button", name="Create component").click()
    expect(author.get_by_role("heading", level=1)).to_have_text(NAME)
    component = Component.objects.get(project=project, name=NAME)
    author.get_by_role("button", name="Add input").click()
    author.get_by_label("Inputs 1 name").fill("token")
    author.get_by_label("Inputs 1 type").select_option("secret")
    # By default it uses the project's credential ACME: what people who may not choose a
    # credential (a validator, a publishable key) run it with.
    author.get_by_label("Inputs 1 default").fill(CREDENTIAL)
    author.get_by_role("button", name="Add output").click()
    author.get_by_label("Outputs 1 name").fill("login")
    author.get_by_label("Outputs 1 type").select_option("text")
    set_code(author, whoami_code(resource, checks_status=False))
    publish(author, "first cut")
    component.refresh_from_db()
    assert component.inputs == [{"name": "token", "type": "secret", "default": "{{ secrets.ACME }}"}]

    # She submits version 1 to the marketplace.
    submit(author, site, component)
    shot(author, "author-submitted")

    # Vera reads the code in the superadmin queue and rejects it with a reason.
    validator = signed_in_context(chromium, site, vera).new_page()
    submission = open_latest_submission(validator, site)
    assert submission.version.number == 1
    expect(validator.get_by_test_id("submission-code")).to_contain_text("answer.json().get('email', '')")
    # She runs it in the sandbox (with the author's default credential, which Acme refuses): it
    # answers an empty login, no error. A validator may not choose the credential herself.
    validator.locator("#run-inputs").fill(json.dumps({"token": "SOMETHING_ELSE"}))
    validator.get_by_role("button", name="Run in the sandbox").click()
    expect(validator.get_by_test_id("run-result")).to_contain_text("only the project's editors may choose")
    validator.locator("#run-inputs").fill("{}")
    validator.get_by_role("button", name="Run in the sandbox").click()
    result = validator.get_by_test_id("run-result")
    expect(result).to_contain_text('"status": "succeeded"', timeout=30000)
    expect(result).to_contain_text('"login": ""')
    assert provider.resource_requests[-1] == ("not-an-acme-token", 401)
    assert "not-an-acme-token" not in result.inner_text()
    shot(validator, "validator-ran-v1")
    validator.locator("#id_reason").fill(REJECTION)
    validator.get_by_role("button", name="Reject", exact=True).click()
    expect(validator.locator(".messagelist")).to_contain_text(f"Rejected “{NAME}” version 1.")
    submission.refresh_from_db()
    assert (submission.state, submission.reason, submission.reviewed_by) == (ListingState.REJECTED, REJECTION, vera)

    # Alice sees the reason on her Marketplace tab; nothing is public yet.
    author.reload()
    expect(author.get_by_test_id("rejection-reason")).to_have_text(REJECTION)
    shot(author, "author-sees-the-reason")
    assert not Listing.objects.public().exists()

    # She fixes the code, publishes version 2 and submits again.
    author.goto(f"{site}/components/{component.pk}/")
    set_code(author, whoami_code(resource, checks_status=True))
    publish(author, "raise when Acme refuses the token")
    component.refresh_from_db()
    assert component.inputs[0]["default"] == "{{ secrets.ACME }}"  # the editor kept it
    submit(author, site, component)

    # Vera approves version 2.
    submission = open_latest_submission(validator, site)
    assert submission.version.number == 2
    expect(validator.get_by_test_id("submission-code")).to_contain_text("if answer.status != 200")
    validator.locator("#run-inputs").fill("{}")
    validator.get_by_role("button", name="Run in the sandbox").click()
    expect(validator.get_by_test_id("run-result")).to_contain_text("Acme refused the token: 401", timeout=30000)
    validator.get_by_role("button", name="Approve", exact=True).click()
    expect(validator.locator(".messagelist")).to_contain_text(f"Approved “{NAME}” version 2.")
    listing = Listing.objects.public().get()
    assert listing.approved_version is not None
    assert listing.approved_version.number == 2
    author.goto(f"{site}/components/{component.pk}/marketplace/")
    expect(author.get_by_test_id("marketplace-status")).to_contain_text("Version 2 is public")

    # Charlie, signed out, finds it by search on /marketplace/.
    visitor = chromium.new_context(viewport=LAPTOP).new_page()  # type: ignore[arg-type]
    visitor.goto(f"{site}/marketplace/")
    visitor.locator("input[name=q]").fill("whoami")
    visitor.locator("input[name=q]").press("Enter")
    expect(visitor).to_have_url(f"{site}/marketplace/?q=whoami")
    results = visitor.get_by_test_id("marketplace-lists")
    expect(results.get_by_role("link", name=re.compile(NAME)).first).to_be_visible()
    shot(visitor, "visitor-search")
    results.get_by_role("link", name=re.compile(NAME)).first.click()
    expect(visitor.get_by_role("heading", level=1)).to_contain_text(NAME)
    expect(visitor.get_by_test_id("code")).to_contain_text("if answer.status != 200")  # v2, not v1
    shot(visitor, "visitor-component-page")

    # "Use this component" asks him to sign in, then brings him back to choose a project.
    visitor.get_by_role("link", name="Use this component").click()
    expect(visitor).to_have_url(re.compile(r"/accounts/login/\?next="))
    visitor.get_by_label("Email").fill(charlie.email)
    visitor.get_by_label("Password").fill(PASSWORD)
    visitor.get_by_role("button", name="Sign In").click()
    expect(visitor).to_have_url(f"{site}/marketplace/components/{listing.pk}/use/")
    visitor.get_by_label("Project").select_option(str(charlies_project.pk))
    shot(visitor, "fork-choose-project")
    visitor.get_by_role("button", name="Fork into this project").click()
    fork = Component.objects.get(project=charlies_project)
    expect(visitor).to_have_url(f"{site}/components/{fork.pk}/")
    assert (fork.fork.listing, fork.fork.version_number) == (listing, 2)  # type: ignore[attr-defined]
    assert fork.code.strip() == whoami_code(resource, checks_status=True).strip()
    expect(visitor.get_by_label("Inputs 1 default")).to_have_value(CREDENTIAL)  # his ACME, once connected
    shot(visitor, "fork-in-his-project")

    # He connects his Acme account as the credential ACME on the project's credentials page.
    visitor.goto(f"{site}/projects/{charlies_project.pk}/credentials/")
    connect = visitor.locator("#oauth2-connect")
    connect.get_by_label("Provider").select_option(label="Acme ID")
    connect.get_by_label("Name").fill(CREDENTIAL)
    connect.get_by_label("Scopes").fill("email")
    connect.get_by_role("button", name="Connect").click()
    expect(visitor).to_have_url(f"{site}/projects/{charlies_project.pk}/credentials/")
    expect(visitor.get_by_text(f"{CREDENTIAL} is connected.")).to_be_visible()
    expect(visitor.locator(f'[data-credential="{CREDENTIAL}"] .oauth2-status')).to_have_text("Connected")
    exchange = provider.token_requests[-1]
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["code_verifier"]  # PKCE
    shot(visitor, "credential-connected")

    # The fork runs in a workflow with his credential; Acme's API saw the token it issued.
    run_in_workflow(visitor, site, project_pk=charlies_project.pk, shot=shot)
    execution = WorkflowExecution.objects.get(workflow__project=charlies_project)
    assert execution.status == "succeeded", execution.error
    assert execution.outputs == {"login": "charlie@acme.example"}
    expect(visitor.get_by_test_id("run-outputs")).to_contain_text('"login": "charlie@acme.example"')
    # …counted against his plan, not the author's.
    assert charlies_project.usage.get().count == 1  # the workflow run
    assert project.usage.get().count == 2  # the validator's two sandbox runs, no more
    token, answer = provider.resource_requests[-1]
    assert answer == 200  # /resource answers 200 only to a live token it issued: the one of the exchange above
    # The token is sealed at rest and shown nowhere.
    stored = Credential.objects.get(project=charlies_project, name=CREDENTIAL)
    assert token not in stored.ciphertext
    assert token not in json.dumps(execution.outputs) + visitor.content()


def run_in_workflow(page: Page, site: str, *, project_pk: int, shot: Shots) -> None:
    """Build a one-step workflow around the fork in the editor, bind its token to the credential,
    run the draft through the worker and wait for the answer."""
    page.goto(f"{site}/workflows/")
    page.get_by_label("Name", exact=True).fill("Who am I at Acme")
    page.get_by_label("Project", exact=True).select_option(str(project_pk))
    page.get_by_role("button", name="Create workflow").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who am I at Acme")
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Search components").fill("whoami")
    page.get_by_role("button", name=f"Add {NAME}", exact=True).click()
    step = page.locator("[data-step-card]").first
    expect(step).to_be_visible()
    step_id = step.get_attribute("data-step-card")
    assert step_id == "acme_whoami"  # an identifier made from the name "Acme whoami"
    saved(page)
    expect(page.locator("#step-id-help")).to_have_text("Other steps read it as steps.acme_whoami.output.")
    page.get_by_label(f"{step_id} token source", exact=True).select_option(label=f"secrets.{CREDENTIAL}")
    saved(page)
    page.get_by_role("button", name="Add output").click()
    page.get_by_label("Output 1 name").fill("login")
    page.get_by_label("Output 1 type").select_option("text")
    saved(page)
    page.get_by_label("Output 1 source").select_option(value="{{ steps.acme_whoami.output.login }}")
    saved(page)
    expect(page.get_by_test_id("problem-summary")).to_be_hidden()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_test_id("run-status")).to_have_text(re.compile("Succeeded|Failed"), timeout=60000)
    shot(page, "fork-ran-in-a-workflow")
