"""The component editor in a real browser: write a component, see syntax errors marked, run it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from components.models import Component
from tests.realtime_helpers import session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GOOD_CODE = "def run(inputs, ctx):\n    ctx.log('adding')\n    return {'sum': inputs['a'] + inputs['b']}\n"


def signed_in_context(browser: Browser, base: str, user) -> BrowserContext:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1366, "height": 900})
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


def add_input(page: Page, index: int, name: str, type_name: str) -> None:
    page.get_by_role("button", name="Add input").click()
    page.get_by_label(f"Inputs {index} name").fill(name)
    page.get_by_label(f"Inputs {index} type").select_option(type_name)


def test_write_a_component_see_syntax_errors_and_input_errors(
    chromium, asgi_url, alice, bob, charlie, project, artifacts
):
    page = signed_in_context(chromium, asgi_url, bob).new_page()
    page.goto(f"{asgi_url}/components/")
    page.get_by_label("Name", exact=True).fill("Adder")
    page.get_by_label("Project", exact=True).select_option(str(project.pk))
    page.get_by_role("button", name="Create component").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Adder")
    component = Component.objects.get(name="Adder")
    assert page.url.endswith(f"/components/{component.pk}/")

    # Two inputs and an output, then the code; Save.
    add_input(page, 1, "a", "number")
    add_input(page, 2, "b", "number")
    page.get_by_role("button", name="Add output").click()
    page.get_by_label("Outputs 1 name").fill("sum")
    page.get_by_label("Outputs 1 type").select_option("number")
    page.locator(".cm-content").click()
    set_code(page, GOOD_CODE)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-status")).to_have_text("Saved")
    component.refresh_from_db()
    assert [i["name"] for i in component.inputs] == ["a", "b"]
    assert component.inputs[0]["type"] == "number"
    assert component.code.strip() == GOOD_CODE.strip()  # the API's CharField trims the final newline
    expect(page.get_by_test_id("syntax-error")).to_be_hidden()

    # A syntax error on line 3 is marked in the gutter on that line, and named.
    set_code(page, "def run(inputs, ctx):\n    total = 1\n    return {'sum': (total}\n")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("syntax-error")).to_be_visible()
    expect(page.get_by_test_id("syntax-error").locator("strong")).to_have_text("3")
    marker = page.locator(".cm-gutter-lint .cm-lint-marker-error")
    expect(marker).to_have_count(1)
    line_box = page.locator(".cm-content .cm-line").nth(2).bounding_box()
    marker_box = marker.bounding_box()
    assert line_box is not None
    assert marker_box is not None
    assert (
        abs((marker_box["y"] + marker_box["height"] / 2) - (line_box["y"] + line_box["height"] / 2))
        < line_box["height"]
    )
    page.screenshot(path=artifacts / "component-editor-syntax-error.png", full_page=True)

    # Fixed: the mark goes (auto-save after a pause, no button press).
    set_code(page, GOOD_CODE)
    expect(page.get_by_test_id("save-status")).to_have_text("Saved", timeout=5000)
    expect(page.get_by_test_id("syntax-error")).to_be_hidden()
    expect(page.locator(".cm-gutter-lint .cm-lint-marker-error")).to_have_count(0)

    # Running with nothing filled in: 102 names both inputs; a word for a number: 101 names it.
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_test_id("run-error")).to_contain_text("102")
    expect(page.locator("#run-a")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#run-b")).to_have_attribute("aria-invalid", "true")
    page.locator("#run-a").fill("one")
    page.locator("#run-b").fill("2")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_test_id("run-error")).to_contain_text("101")
    expect(page.locator("#run-a")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#run-b")).to_have_attribute("aria-invalid", "false")
    expect(page.locator(".field.has-error")).to_have_count(1)

    # Publish a version with a changelog line; it appears in the list.
    page.get_by_label("Changelog").fill("first cut")
    page.get_by_role("button", name="Publish version").click()
    expect(page.get_by_test_id("versions")).to_contain_text("first cut")
    page.screenshot(path=artifacts / "component-editor.png")

    # Charlie, who is not on the project, gets a 404.
    other = signed_in_context(chromium, asgi_url, charlie).new_page()
    response = other.goto(f"{asgi_url}/components/{component.pk}/")
    assert response is not None
    assert response.status == 404
    other.goto(f"{asgi_url}/components/")
    expect(other.get_by_text("Adder")).to_have_count(0)


def test_the_list_refreshes_when_a_component_is_added(chromium, asgi_url, alice, bob, project, artifacts):
    page = signed_in_context(chromium, asgi_url, alice).new_page()
    page.goto(f"{asgi_url}/components/")
    page.wait_for_function("window.Synchronise.Connection.connected")
    expect(page.get_by_test_id(f"project-components-{project.pk}")).to_contain_text("No components")
    # Bob creates one from his own page (publishing from this thread would clash with Playwright's loop).
    other = signed_in_context(chromium, asgi_url, bob).new_page()
    other.goto(f"{asgi_url}/components/")
    other.get_by_label("Name", exact=True).fill("Live one")
    other.get_by_role("button", name="Create component").click()
    expect(other.get_by_role("heading", level=1)).to_have_text("Live one")
    expect(page.get_by_test_id(f"project-components-{project.pk}")).to_contain_text(
        re.compile("Live one"), timeout=5000
    )
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload
    page.screenshot(path=artifacts / "component-list.png")


def test_run_shows_outputs_and_log_lines(chromium, asgi_url, alice, bob, project, artifacts):
    """Runs the draft through a real Celery worker and the sandbox; logs arrive over the socket."""
    from components import services
    from tests import servers

    component = services.component_create(
        project=project,
        actor=bob,
        name="Adder",
        inputs=[{"name": "a", "type": "number"}, {"name": "b", "type": "number"}],
        outputs=[{"name": "sum", "type": "number"}],
        code=GOOD_CODE,
    )
    with servers.celery_worker():
        page = signed_in_context(chromium, asgi_url, bob).new_page()
        page.goto(f"{asgi_url}/components/{component.pk}/")
        page.locator("#run-a").fill("2")
        page.locator("#run-b").fill("40")
        page.get_by_role("button", name="Run", exact=True).click()
        status = page.get_by_test_id("run-status")
        # Started asynchronously and followed over the socket until it finishes.
        expect(status).to_have_text(re.compile("succeeded|failed|timed_out"), timeout=30000)
        assert status.inner_text() == "succeeded", page.get_by_test_id("run-error").inner_text()
        expect(page.get_by_test_id("run-outputs")).to_contain_text('"sum": 42')
        expect(page.get_by_test_id("run-logs")).to_contain_text("adding")
        expect(page.get_by_test_id("run-duration")).to_contain_text("ms")
        page.screenshot(path=artifacts / "component-editor-run.png")
