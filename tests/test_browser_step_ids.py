"""Step ids in the editor (issue 15, bug 1), in a real browser: a component named "Fetch IP" becomes
the step ``fetch_ip``, and mapping its output through the inspector's dropdown gives a binding the
server accepts; a draft with an older hyphenated id (``fetch-ip``) is offered, and keeps, the
bracket form without a problem. The component's delete page then names the workflow (375 px wide)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.factories import make_component, make_workflow
from tests.realtime_helpers import session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 812}
TEXT = {"type": "text"}


def signed_in_context(browser: Browser, base: str, user, viewport: dict[str, int] = LAPTOP) -> BrowserContext:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    name, value = session_cookie(user).decode().split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": base}])
    return context


@pytest.fixture
def components(project, alice):  # type: ignore[no-untyped-def]
    fetch = make_component(
        project=project, actor=alice, name="Fetch IP", outputs=[{"name": "ip", **TEXT}],
        code="def run(inputs, ctx):\n    return {'ip': '192.0.2.7'}\n",
    )  # fmt: skip
    greet = make_component(
        project=project, actor=alice, name="Greet", inputs=[{"name": "who", **TEXT}],
        outputs=[{"name": "text", **TEXT}], code="def run(inputs, ctx):\n    return {'text': inputs['who']}\n",
    )  # fmt: skip
    return fetch, greet


def saved(page: Page) -> None:
    expect(page.get_by_test_id("save-status")).to_have_text("Saved", timeout=10000)


def add_step(page: Page, name: str) -> None:
    """Add a component from the catalog (the new step is selected in the inspector)."""
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Search components").fill(name.lower()[:4])
    page.get_by_role("button", name=f"Add {name}", exact=True).click()
    saved(page)  # the answer brings the step's interface and binding candidates


def test_a_component_named_with_spaces_maps_without_a_problem(chromium, asgi_url, alice, bob, project, components):  # type: ignore[no-untyped-def]
    workflow = make_workflow(project=project, actor=alice, name="Whoami", steps=[], publish=False)
    context = signed_in_context(chromium, asgi_url, bob)
    page = context.new_page()
    page.goto(asgi_url + reverse("workflows_editor", args=[workflow.pk]))
    add_step(page, "Fetch IP")
    expect(page.get_by_role("heading", name="Step fetch_ip")).to_be_visible()  # an identifier, not fetch-ip
    add_step(page, "Greet")
    expect(page.get_by_role("heading", name="Step greet")).to_be_visible()
    source = page.get_by_label("greet who source", exact=True)
    expect(source.locator("option", has_text="fetch_ip.ip (text)")).to_have_count(1)
    source.select_option(label="fetch_ip.ip (text)")
    saved(page)
    expect(page.get_by_test_id("problem-summary")).to_be_hidden()
    expect(page.get_by_test_id("problem-greet-who")).to_have_count(0)
    workflow.refresh_from_db()
    assert [s["id"] for s in workflow.definition["steps"]] == ["fetch_ip", "greet"]
    assert workflow.definition["steps"][1]["inputs"] == {"who": "{{ steps.fetch_ip.output.ip }}"}
    assert workflow.problems == []
    context.close()


def test_a_hyphenated_id_of_an_older_draft_is_mapped_in_brackets(chromium, asgi_url, alice, bob, project, components):  # type: ignore[no-untyped-def]
    fetch, _ = components
    steps = [{"id": "fetch-ip", "component": fetch.pk, "inputs": {}}]
    workflow = make_workflow(project=project, actor=alice, name="Imported", steps=steps, publish=False)
    context = signed_in_context(chromium, asgi_url, bob)
    page = context.new_page()
    page.goto(asgi_url + reverse("workflows_editor", args=[workflow.pk]))
    add_step(page, "Greet")
    page.get_by_label("greet who source", exact=True).select_option(label="fetch-ip.ip (text)")
    saved(page)
    expect(page.get_by_test_id("problem-summary")).to_be_hidden()
    workflow.refresh_from_db()
    assert workflow.definition["steps"][1]["inputs"] == {"who": '{{ steps["fetch-ip"].output.ip }}'}
    assert workflow.problems == []
    # The hand-written dotted form is understood too.
    page.get_by_label("greet who source", exact=True).select_option(label="Fixed value or expression…")
    page.get_by_label("greet who value", exact=True).fill("{{ steps.fetch-ip.output.ip }}")
    saved(page)
    expect(page.get_by_test_id("problem-summary")).to_be_hidden()
    workflow.refresh_from_db()
    assert workflow.definition["steps"][1]["inputs"] == {"who": "{{ steps.fetch-ip.output.ip }}"}
    assert workflow.problems == []
    context.close()

    # The component's delete page names the workflow that uses it, on a phone too.
    phone = signed_in_context(chromium, asgi_url, bob, PHONE).new_page()
    phone.goto(asgi_url + reverse("components_delete", args=[fetch.pk]))
    use = phone.get_by_test_id("component-use")
    expect(use).to_contain_text("Imported: the draft")
    expect(use.get_by_role("link", name="Imported")).to_be_in_viewport()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    expect(phone.get_by_role("button", name="Delete this component")).to_be_enabled()
