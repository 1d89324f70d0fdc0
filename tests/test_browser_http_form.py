"""The HTTP component form in a real browser, against the real ASGI server, a real Celery worker and
a real loopback API (tests/fake_api.py) that the platform may reach through ``OUTBOUND_ALLOW``.

Bob creates an HTTP component, imports a curl command (its bearer token becomes a credential
reference), completes ``{{ inputs.name }}`` in the JSON body, maps the answer to outputs, sends a
test request and reads the answer, saves, publishes and runs it; then the export page's JavaScript
snippet runs in Chromium and its text is readable. Also: leaving with unsaved changes asks first,
server errors sit next to their field, and the form fits a 375 px screen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from accounts.models import ApiKeyKind
from accounts.services import api_key_create
from components import credentials, services
from components.models import Component, Kind
from tests import fake_api, servers
from tests.fake_api import FakeApi
from tests.realtime_helpers import session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOKEN = "tok-Br0wser-s3cret"
PASTED_TOKEN = "eyJhbGciOiJIUzI1NiJ9.pasted.token"


@pytest.fixture(scope="module")
def api() -> Iterator[FakeApi]:
    with fake_api.serve() as server:
        yield server


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker, api) -> Iterator[str]:
    """The platform, allowed to reach the fake API's port on loopback (and nothing else private)."""
    with django_db_blocker.unblock(), servers.asgi_server(OUTBOUND_ALLOW=api.destination) as url:
        yield url


def signed_in(browser: Browser, base: str, user, width: int = 1366) -> BrowserContext:
    context = browser.new_context(viewport={"width": width, "height": 900})
    name, value = session_cookie(user).decode().split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": base}])
    return context


def contrast(page: Page, selector: str) -> float:
    """WCAG contrast ratio of an element's text colour on its (first opaque ancestor's) background."""
    return float(
        page.evaluate(
            """(selector) => {
              const el = document.querySelector(selector);
              const rgb = (s) => s.match(/[\\d.]+/g).map(Number);
              let node = el, bg = null;
              while (node) {
                const c = rgb(getComputedStyle(node).backgroundColor);
                if (c.length < 4 || c[3] > 0) { bg = c; break; }
                node = node.parentElement;
              }
              bg = bg || [255, 255, 255];
              const lum = (c) => {
                const [r, g, b] = c.slice(0, 3).map((v) => {
                  v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
                });
                return 0.2126 * r + 0.7152 * g + 0.0722 * b;
              };
              const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg);
              return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
            }""",
            selector,
        )
    )


def test_build_an_http_component_from_curl_test_save_publish_and_run(
    chromium, site, api, alice, bob, project, artifacts
):
    credentials.credential_set(project=project, actor=bob, name="API_TOKEN", value=TOKEN)
    page = signed_in(chromium, site, bob).new_page()
    page.goto(f"{site}/components/")
    page.get_by_label("Name", exact=True).fill("Echo greeter")
    page.get_by_label("Project", exact=True).select_option(str(project.pk))
    page.get_by_label("Kind", exact=True).select_option("http")
    page.get_by_role("button", name="Create component").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Echo greeter")
    component = Component.objects.get(name="Echo greeter")
    assert component.kind == Kind.HTTP

    # One input for the template.
    page.get_by_role("button", name="Add input").click()
    page.get_by_label("Inputs 1 name").fill("name")

    # Import a curl command as a browser would copy it: the form fills, the token is not kept.
    page.get_by_role("button", name="Import from cURL").click()
    command = (
        f"curl '{api.url('/echo')}?lang=en' \\\n"
        f"  -H 'authorization: Bearer {PASTED_TOKEN}' \\\n"
        "  -H 'X-Trace: t-1' -H 'sec-fetch-mode: cors' \\\n"
        "  -H 'content-type: application/json' \\\n"
        '  --data-raw \'{"name":"Ada"}\' --compressed'
    )
    page.get_by_label("Paste a curl command").fill(command)
    page.get_by_role("button", name="Fill the form").click()
    expect(page.get_by_label("Method", exact=True)).to_have_value("POST")
    expect(page.get_by_label("URL", exact=True)).to_have_value(api.url("/echo"))
    expect(page.get_by_label("Parameter 1 name")).to_have_value("lang")
    expect(page.get_by_label("Parameter 1 value")).to_have_value("en")
    expect(page.get_by_label("Header 1 name")).to_have_value("X-Trace")
    expect(page.get_by_label("Header 2 name")).to_have_count(0)  # sec-fetch-* and content-type left out
    expect(page.get_by_label("JSON", exact=True)).to_be_checked()
    expect(page.get_by_label("Type", exact=True)).to_have_value("bearer")
    expect(page.get_by_label("Credential", exact=True)).to_have_value("API_TOKEN")  # the project's own
    expect(page.get_by_test_id("curl-notes")).to_contain_text("API_TOKEN")
    expect(page.get_by_test_id("credential-missing")).to_be_hidden()
    page.screenshot(path=artifacts / "http-form-imported.png", full_page=True)

    # {{ completion in the JSON body offers the inputs and the credentials' names.
    body = page.get_by_label("JSON body")
    body.fill('{"name": "')
    body.press_sequentially("{{ inp")
    completion = page.get_by_test_id("completion")
    expect(completion).to_be_visible()
    expect(completion.get_by_role("option")).to_have_text(["{{ inputs.name }}"])
    body.press("Enter")
    body.press_sequentially('"}')
    expect(body).to_have_value('{"name": "{{ inputs.name }}"}')
    page.get_by_label("URL", exact=True).click()
    page.get_by_label("URL", exact=True).press("End")
    page.get_by_label("URL", exact=True).press_sequentially("?x={{ sec")
    expect(completion.get_by_role("option")).to_have_text(["{{ secrets.API_TOKEN }}"])
    page.get_by_label("URL", exact=True).press("Escape")
    expect(completion).to_be_hidden()
    page.get_by_label("URL", exact=True).fill(api.url("/echo"))

    # The answer mapped to outputs; a new output name is declared in the interface.
    page.get_by_role("button", name="Add output mapping").click()
    page.get_by_label("Output 1 name").fill("greeting")
    page.get_by_label("Output 1 name").press("Tab")
    page.get_by_label("Output 1 path").fill("body.json.name")
    expect(page.get_by_label("Outputs 1 name")).to_have_value("greeting")
    page.get_by_role("button", name="Add output mapping").click()
    page.get_by_label("Output 2 name").fill("status")
    page.get_by_label("Output 2 name").press("Tab")
    page.get_by_label("Output 2 path").fill("status")

    # Send test request: the unsaved form, through the platform to the loopback API.
    page.locator("#run-name").fill("Grace")
    page.get_by_role("button", name="Send test request").click()
    expect(page.get_by_test_id("test-status")).to_have_text("HTTP 200", timeout=15000)
    expect(page.get_by_test_id("test-outputs")).to_contain_text('"greeting": "Grace"')
    expect(page.get_by_test_id("test-body")).to_contain_text('"Authorization": "Bearer ••••••"')
    expect(page.get_by_test_id("test-body")).to_contain_text('"lang": "en"')
    sent = api.requests[-1]
    assert sent["headers"]["Authorization"] == f"Bearer {TOKEN}"  # the credential, substituted on the server
    assert json.loads(sent["body"]) == {"name": "Grace"}
    assert TOKEN not in page.content()
    page.screenshot(path=artifacts / "http-form-test-request.png", full_page=True)

    # The Advanced (JSON) tab shows the same spec; an edit there shows in the form.
    page.get_by_role("tab", name="Advanced (JSON)").click()
    spec = json.loads(page.locator("#http-spec").input_value())
    assert spec["auth"] == {"type": "bearer", "credential": "{{ secrets.API_TOKEN }}"}
    assert spec["outputs"] == {"greeting": "body.json.name", "status": "status"}
    assert PASTED_TOKEN not in json.dumps(spec)
    spec["headers"]["X-Trace"] = "t-2"
    page.locator("#http-spec").fill(json.dumps(spec, indent=2))
    page.get_by_role("tab", name="Form").click()
    expect(page.get_by_label("Header 1 value")).to_have_value("t-2")

    # Save, publish, run (a real worker runs the published draft's request).
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    component.refresh_from_db()
    assert component.http["url"] == api.url("/echo")
    assert component.http["body"]["type"] == "json"
    assert component.http["body"]["value"] == {"name": "{{ inputs.name }}"}
    assert {o["name"] for o in component.outputs} == {"greeting", "status"}
    page.get_by_label("Changelog").fill("First version")
    page.get_by_role("button", name="Publish version").click()
    expect(page.get_by_text("Published v1.")).to_be_visible()
    with servers.celery_worker(OUTBOUND_ALLOW=api.destination):
        page.get_by_role("button", name="Run", exact=True).click()
        status = page.get_by_test_id("run-status")
        expect(status).to_have_text(re.compile("succeeded|failed|timed_out"), timeout=30000)
        assert status.inner_text() == "succeeded", page.get_by_test_id("run-error").inner_text()
        expect(page.get_by_test_id("run-outputs")).to_contain_text('"greeting": "Grace"')

        # The export page's JavaScript snippet, run as a page would: a classic <script>.
        services.component_update(component=Component.objects.get(pk=component.pk), actor=bob, public=True)
        _key, raw = api_key_create(project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE)
        page.goto(f"{site}/components/{component.pk}/export/")
        snippet = page.get_by_test_id("snippet-js").inner_text()
        assert "await" not in snippet
        assert contrast(page, "#snippet-js") >= 4.5
        assert contrast(page, "#snippet-curl") >= 4.5
        page.screenshot(path=artifacts / "component-export.png", full_page=True)
        html = re.sub(r"pk_[A-Za-z0-9_-]*…", raw, snippet).replace('{"name": "text"}', '{"name": "Linus"}')
        runner = page.context.new_page()
        errors: list[str] = []
        logged: list[object] = []
        runner.on("pageerror", lambda error: errors.append(str(error)))
        runner.on(
            "console",
            lambda message: logged.append(message.args[1].json_value()) if message.text.startswith("outputs") else None,
        )
        runner.route(f"{site}/snippet.html", lambda route: route.fulfill(content_type="text/html", body=html))
        runner.goto(f"{site}/snippet.html")
        runner.wait_for_function("() => window.Synchronise !== undefined")
        deadline = 300
        while not logged and not errors and deadline:
            runner.wait_for_timeout(100)
            deadline -= 1
        assert errors == []
        assert logged == [{"greeting": "Linus", "status": 200}]


def test_server_errors_sit_next_to_their_field_as_a_list(chromium, site, bob, project, artifacts):
    component = services.component_create(
        project=project, actor=bob, name="Broken", kind=Kind.HTTP, http={"method": "GET", "url": "https://example.com/"}
    )
    page = signed_in(chromium, site, bob).new_page()
    page.goto(f"{site}/components/{component.pk}/")
    page.get_by_role("tab", name="Advanced (JSON)").click()
    bad = {"method": "TRACE", "url": "ftp://example.com/", "headers": {"Bad Header": "x"}}
    page.locator("#http-spec").fill(json.dumps(bad))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-status")).to_have_text("Not saved")
    items = page.get_by_test_id("save-error").locator("li")
    expect(items).to_have_count(3)
    texts = items.all_inner_texts()
    assert [t.split(":")[0] for t in texts] == ["headers.Bad Header", "method", "url"]
    page.get_by_role("tab", name="Form").click()
    expect(page.get_by_test_id("errors-url")).to_contain_text("an http:// or https:// URL")
    expect(page.get_by_test_id("errors-method")).to_contain_text("one of")
    expect(page.get_by_test_id("errors-headers")).to_contain_text("Bad Header: not a valid header name")
    page.screenshot(path=artifacts / "http-form-errors.png", full_page=True)


def test_leaving_with_unsaved_changes_asks_first(chromium, site, bob, project):
    code = "def run(inputs, ctx):\n    return {}\n"
    component = services.component_create(project=project, actor=bob, name="Draft", kind=Kind.CODE, code=code)
    page = signed_in(chromium, site, bob).new_page()
    page.goto(f"{site}/components/{component.pk}/")
    dialogs: list[str] = []

    def answer(dialog) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", answer)
    # A row without a name is never auto-saved: the change stays unsaved.
    page.get_by_role("button", name="Add input").click()
    expect(page.get_by_test_id("save-status")).to_have_text("Unsaved changes")
    page.get_by_role("link", name="Settings").first.click()
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert page.url.endswith(f"/components/{component.pk}/")
    # Once saved, leaving asks nothing.
    page.get_by_label("Inputs 1 name").fill("a")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-status")).to_have_text(re.compile("Saved|Not saved"))
    assert page.get_by_test_id("save-status").inner_text() == "Saved", page.get_by_test_id("save-error").inner_text()
    page.get_by_role("link", name="Settings").first.click()
    page.wait_for_url(re.compile(r"/settings/$"))
    assert dialogs == ["beforeunload"]


def test_the_form_and_export_fit_a_phone(chromium, site, bob, project, artifacts):
    component = services.component_create(
        project=project,
        actor=bob,
        name="Phone",
        kind=Kind.HTTP,
        http={
            "method": "POST",
            "url": "https://api.example.com/v1/a-rather-long-path/with/segments?and=query",
            "headers": {"Accept": "application/json", "X-Very-Long-Header-Name": "a long value " * 4},
            "body": {"type": "json", "value": {"name": "{{ inputs.name }}"}},
            "auth": {"type": "basic", "username": "ada", "credential": "{{ secrets.API_PASSWORD }}"},
        },
        inputs=[{"name": "name", "type": "text"}],
    )
    page = signed_in(chromium, site, bob, width=375).new_page()
    page.goto(f"{site}/components/{component.pk}/")
    expect(page.get_by_label("URL", exact=True)).to_be_visible()
    expect(page.get_by_label("User name")).to_have_value("ada")
    expect(page.get_by_test_id("credential-missing")).to_be_visible()  # API_PASSWORD is not set
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.get_by_role("button", name="Import from cURL").click()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=artifacts / "http-form-375.png", full_page=True)
    page.goto(f"{site}/components/{component.pk}/export/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
