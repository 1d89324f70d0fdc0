"""The workflow editor in a real browser: build a three-step workflow from published components,
run it through a real Celery worker and watch the cards turn green live, break a mapping and see
the problem where it is, and check that an outsider gets a 404."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.factories import make_component
from tests.realtime_helpers import session_cookie
from workflows.models import Trigger, Workflow, WorkflowExecution

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
INTEGER = {"type": "number", "subtype": "integer"}
# With beat, as `make run` starts it: the engine's tick re-sends a message that went astray (the
# broker may be shared with other test runs) instead of leaving the execution queued.
WORKER = {"beat": True, "WORKFLOW_RESEND_SECONDS": "3"}


def signed_in_context(browser: Browser, base: str, user, viewport: dict[str, int] = LAPTOP) -> BrowserContext:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    name, value = session_cookie(user).decode().split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": base}])
    return context


@pytest.fixture
def components(project, alice):  # type: ignore[no-untyped-def]
    """Three published components that chain: double → add → describe."""
    double = make_component(
        project=project,
        actor=alice,
        name="Double",
        description="Twice the number",
        code="def run(inputs, ctx):\n    return {'value': inputs['n'] * 2}\n",
        inputs=[{"name": "n", **INTEGER}],
        outputs=[{"name": "value", **INTEGER}],
    )
    add = make_component(
        project=project,
        actor=alice,
        name="Add",
        description="The sum of two integers",
        code="def run(inputs, ctx):\n    ctx.log('adding')\n    return {'sum': inputs['a'] + inputs['b']}\n",
        inputs=[{"name": "a", **INTEGER}, {"name": "b", **INTEGER}],
        outputs=[{"name": "sum", **INTEGER}],
    )
    describe = make_component(
        project=project,
        actor=alice,
        name="Describe",
        description="Says the number in words",
        code="def run(inputs, ctx):\n    return {'text': f\"the answer is {inputs['value']}\"}\n",
        inputs=[{"name": "value", **INTEGER}],
        outputs=[{"name": "text", "type": "text"}],
    )
    make_component(project=project, actor=alice, name="Unfinished", publish=False)
    return double, add, describe


def saved(page: Page) -> None:
    expect(page.get_by_test_id("save-status")).to_have_text("Saved", timeout=10000)


def add_step(page: Page, name: str, step_id: str) -> None:
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Search components").fill(name.lower()[:4])
    page.get_by_role("button", name=f"Add {name}", exact=True).click()
    expect(page.get_by_test_id(f"step-card-{step_id}")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Step {step_id}")).to_be_visible()
    saved(page)  # the answer brings the step's interface and binding candidates


def bind(page: Page, step_id: str, name: str, label: str) -> None:
    page.get_by_label(f"{step_id} {name} source", exact=True).select_option(label=label)
    saved(page)


def test_build_run_and_break_a_workflow(chromium, asgi_url, alice, bob, charlie, project, components, artifacts):  # type: ignore[no-untyped-def]
    from tests import servers

    page = signed_in_context(chromium, asgi_url, bob).new_page()
    page.goto(f"{asgi_url}/workflows/")
    page.get_by_label("Name", exact=True).fill("Answer")
    page.get_by_label("Project", exact=True).select_option(str(project.pk))
    page.get_by_role("button", name="Create workflow").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Answer")
    workflow = Workflow.objects.get(name="Answer")

    # An integer input…
    page.get_by_role("button", name="Add input").click()
    page.get_by_label("Input 1 name").fill("x")
    page.get_by_label("Input 1 type").select_option("number")
    page.get_by_label("Input 1 subtype").select_option("integer")
    saved(page)

    # …three steps from the catalog, which offers only published components…
    page.get_by_role("button", name="Add step").click()
    expect(page.get_by_role("button", name="Add Unfinished")).to_be_disabled()
    page.get_by_label("Search components").fill("words")
    expect(page.get_by_test_id("catalog").locator("li")).to_have_count(1)
    page.get_by_role("button", name="Add step").click()  # closes it
    add_step(page, "Double", "double")
    # the picker offers the integer input; the literal field is one choice away
    source = page.get_by_label("double n source", exact=True)
    options = ["— not set —", "input.x (number/integer)", "Fixed value or expression…"]
    expect(source.locator("option")).to_have_text(options)
    bind(page, "double", "n", "input.x (number/integer)")
    add_step(page, "Add", "add")
    bind(page, "add", "a", "double.value (number/integer)")
    bind(page, "add", "b", "input.x (number/integer)")
    add_step(page, "Describe", "describe")
    # a text output is no integer: describe's own output is not offered to itself, add's sum is
    describe_source = page.get_by_label("describe value source", exact=True)
    expect(describe_source.locator("option", has_text="add.sum")).to_have_count(1)
    expect(describe_source.locator("option", has_text="describe.")).to_have_count(0)
    bind(page, "describe", "value", "add.sum (number/integer)")

    # …and an output read from the last step.
    page.get_by_role("button", name="Add output").click()
    page.get_by_label("Output 1 name").fill("answer")
    page.get_by_label("Output 1 type").select_option("text")
    saved(page)
    page.get_by_label("Output 1 source").select_option(label="describe.text (text)")
    saved(page)
    expect(page.get_by_test_id("problem-summary")).to_be_hidden()
    expect(page.locator(".wf-edge")).to_have_count(2)  # double → add → describe
    workflow.refresh_from_db()
    assert [step["id"] for step in workflow.definition["steps"]] == ["double", "add", "describe"]
    assert workflow.definition["steps"][1]["inputs"] == {"a": "{{ steps.double.output.value }}", "b": "{{ input.x }}"}
    assert workflow.problems == []
    # Auto-layout: left to right, each card right of the one it reads, and the positions are saved.
    page.get_by_role("button", name="Auto-layout").click()
    saved(page)
    boxes = [page.get_by_test_id(f"step-card-{s}").bounding_box() for s in ("double", "add", "describe")]
    assert all(box is not None for box in boxes)
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]  # type: ignore[index]
    workflow.refresh_from_db()
    xs = [step["position"]["x"] for step in workflow.definition["steps"]]
    assert xs == sorted(xs), xs
    assert len(set(xs)) == 3, xs
    page.screenshot(path=artifacts / "workflow-editor.png", full_page=True)

    # Run it: the cards follow the execution live, then the outputs show.
    page.evaluate(
        """() => {
            window.cardHistory = {};
            window.refreshes = 0;
            document.addEventListener("synchronise:refresh", () => { window.refreshes += 1; });
            new MutationObserver((changes) => {
                for (const change of changes) {
                    const card = change.target;
                    const status = card.dataset.status;
                    const seen = (window.cardHistory[card.dataset.stepCard] ||= []);
                    if (status && seen[seen.length - 1] !== status) seen.push(status);
                }
            }).observe(document.querySelector("[data-testid=canvas]"),
                       {attributes: true, attributeFilter: ["data-status"], subtree: true});
        }"""
    )
    with servers.celery_worker(**WORKER):
        page.locator("#run-x").fill("4")
        page.get_by_role("button", name="Run", exact=True).click()
        for step in ("double", "add", "describe"):
            card = page.get_by_test_id(f"step-card-{step}")
            expect(card).to_have_attribute("data-status", "succeeded", timeout=30000)
        expect(page.get_by_test_id("run-status")).to_have_text("Succeeded")
        expect(page.get_by_test_id("run-outputs")).to_contain_text('"answer": "the answer is 12"')
    history = page.evaluate("window.cardHistory")
    assert history["describe"][-1] == "succeeded"
    assert len(history["describe"]) > 1, history  # it was pending or running before: it changed under our eyes
    assert page.evaluate("window.refreshes") >= 1  # pushed by the server over the socket, no polling
    execution = WorkflowExecution.objects.get(workflow=workflow)
    assert execution.trigger == Trigger.EDITOR
    assert execution.version is None
    assert execution.outputs == {"answer": "the answer is 12"}
    page.screenshot(path=artifacts / "workflow-editor-run.png", full_page=True)

    # An invalid mapping: the problem shows on the field and on the card, and publishing is refused.
    page.get_by_test_id("step-card-add").click()
    page.get_by_label("add b source", exact=True).select_option(label="Fixed value or expression…")
    page.get_by_label("add b value", exact=True).fill("{{ steps.double.output.nope }}")
    saved(page)
    expect(page.get_by_test_id("problem-add-b")).to_have_text("double has no output named nope")
    expect(page.get_by_test_id("step-problems-add")).to_have_text("1 problem")
    expect(page.get_by_test_id("step-card-add")).to_have_class(re.compile("has-problems"))
    page.get_by_label("Changelog").fill("first")
    page.get_by_role("button", name="Publish version").click()
    expect(page.get_by_test_id("publish-problems")).to_contain_text("add · inputs.b: double has no output named nope")
    assert workflow.versions.count() == 0
    page.screenshot(path=artifacts / "workflow-editor-problem.png", full_page=True)

    # Phone width: one column, the canvas scrolls, the inspector follows the selected card.
    phone = signed_in_context(chromium, asgi_url, bob, PHONE).new_page()
    phone.goto(f"{asgi_url}/workflows/{workflow.pk}/")
    expect(phone.get_by_test_id("step-card-describe")).to_be_visible()
    phone.get_by_test_id("step-card-add").click()
    expect(phone.get_by_test_id("problem-add-b")).to_be_in_viewport()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    phone.screenshot(path=artifacts / "workflow-editor-phone.png", full_page=True)

    # Charlie, not on the project, gets a 404 and does not see it listed.
    other = signed_in_context(chromium, asgi_url, charlie).new_page()
    response = other.goto(f"{asgi_url}/workflows/{workflow.pk}/")
    assert response is not None
    assert response.status == 404
    other.goto(f"{asgi_url}/workflows/")
    expect(other.get_by_text("Answer")).to_have_count(0)


def test_the_execution_list_follows_a_run_and_the_execution_page_shows_its_steps(
    chromium, asgi_url, alice, bob, project, components, artifacts
):  # type: ignore[no-untyped-def]
    from tests import servers
    from tests.factories import make_workflow

    double, add, _ = components
    workflow = make_workflow(
        project=project,
        actor=alice,
        name="Twice plus one",
        inputs=[{"name": "x", **INTEGER}],
        steps=[
            {"id": "double", "component": double.pk, "inputs": {"n": "{{ input.x }}"}},
            {"id": "plus", "component": add.pk, "inputs": {"a": "{{ steps.double.output.value }}", "b": 1}},
        ],
        outputs=[{"name": "result", "value": "{{ steps.plus.output.sum }}", **INTEGER}],
    )
    context = signed_in_context(chromium, asgi_url, bob)
    page = context.new_page()
    page.goto(f"{asgi_url}/workflows/{workflow.pk}/executions/")
    page.wait_for_function("window.Synchronise && window.Synchronise.Connection.connected")
    expect(page.get_by_test_id("no-executions")).to_be_visible()
    # Started from the editor in another tab (publishing from this thread would clash with Playwright's loop).
    editor = context.new_page()
    editor.goto(f"{asgi_url}/workflows/{workflow.pk}/")
    with servers.celery_worker(**WORKER):
        editor.locator("#run-x").fill("20")
        editor.get_by_role("button", name="Run", exact=True).click()
        expect(editor.get_by_test_id("run-status")).to_have_text("Succeeded", timeout=30000)
        execution = WorkflowExecution.objects.get(workflow=workflow)
        row = page.get_by_test_id(f"execution-{execution.pk}")
        expect(row).to_contain_text("Succeeded", timeout=10000)  # appeared and finished without a reload
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    page.screenshot(path=artifacts / "workflow-executions.png", full_page=True)
    row.get_by_role("link", name=f"#{execution.pk}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Execution #{execution.pk}")
    expect(page.get_by_test_id("execution-status")).to_have_text("Succeeded")
    expect(page.get_by_test_id("execution-outputs")).to_contain_text('"result": 41')
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("[data-step]")).to_have_count(2)
    expect(timeline.locator('[data-step="plus"]')).to_contain_text("adding")
    page.screenshot(path=artifacts / "workflow-execution.png", full_page=True)
    phone = signed_in_context(chromium, asgi_url, bob, PHONE).new_page()
    phone.goto(page.url)
    expect(phone.get_by_test_id("timeline")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    phone.screenshot(path=artifacts / "workflow-execution-phone.png", full_page=True)


def test_the_triggers_tab_shows_the_webhook_url_once_and_previews_the_schedule(
    chromium, asgi_url, alice, bob, project, components, artifacts
):  # type: ignore[no-untyped-def]
    from tests.factories import make_workflow

    double = components[0]
    workflow = make_workflow(
        project=project,
        actor=alice,
        name="Nightly double",
        inputs=[{"name": "x", **INTEGER}],
        steps=[{"id": "double", "component": double.pk, "inputs": {"n": "{{ input.x }}"}}],
    )
    page = signed_in_context(chromium, asgi_url, bob).new_page()
    page.goto(f"{asgi_url}/workflows/{workflow.pk}/triggers/")
    webhook = page.get_by_test_id("webhook")
    expect(webhook.locator(".badge")).to_have_text("off")

    # Enabling it shows the URL with its token, this once.
    page.get_by_role("button", name="Enable webhook").click()
    url = page.get_by_test_id("webhook-url")
    expect(url).to_have_value(re.compile(rf"^{re.escape(asgi_url)}/hooks/{workflow.pk}/whk_[\w-]+"))
    expect(webhook.locator(".badge")).to_have_text("on")
    first = url.input_value()
    page.get_by_label("Answer").select_option("accepted")
    page.get_by_role("button", name="Save webhook").click()
    expect(webhook.locator(".row-note")).to_have_text("Saved.")
    assert workflow.webhook.respond == "accepted"  # type: ignore[attr-defined]
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate token").click()
    expect(url).not_to_have_value(first)

    # The schedule previews its next runs while it is typed, before it is saved.
    page.get_by_label("Cron").fill("30 6 * * 1")
    page.get_by_label("Time zone").fill("Europe/Paris")
    preview = page.get_by_test_id("schedule-preview")
    expect(preview.locator("li")).to_have_count(5)
    expect(preview.locator("li").first).to_contain_text("06:30")  # in the schedule's zone, not the browser's
    expect(preview.locator("li").first).to_contain_text("Mon")
    page.get_by_label("Cron").fill("every monday")
    expect(preview).to_contain_text("cron")
    page.get_by_label("Cron").fill("30 6 * * 1")
    page.get_by_label("Inputs (JSON)").fill('{"x": 3}')
    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_test_id("schedule").locator(".row-note")).to_have_text("Schedule saved.")
    workflow.refresh_from_db()
    assert (workflow.schedule.cron, workflow.schedule.timezone) == ("30 6 * * 1", "Europe/Paris")  # type: ignore[attr-defined]
    assert workflow.schedule.inputs == {"x": 3}  # type: ignore[attr-defined]
    page.screenshot(path=artifacts / "workflow-triggers.png", full_page=True)

    # Reloaded, the URL is no longer shown: only the token's first characters.
    page.reload()
    expect(page.get_by_test_id("webhook")).to_contain_text(f"/hooks/{workflow.pk}/whk_")
    expect(page.get_by_test_id("webhook-secret")).to_be_hidden()
    expect(page.get_by_label("Cron")).to_have_value("30 6 * * 1")


def test_an_official_connector_is_installed_when_added_from_the_catalog(chromium, asgi_url, alice, bob, project):  # type: ignore[no-untyped-def]
    from components.models import Component
    from tests.factories import make_workflow

    workflow = make_workflow(project=project, actor=alice, name="Notify", steps=[], publish=False)
    page = signed_in_context(chromium, asgi_url, bob).new_page()
    page.goto(f"{asgi_url}/workflows/{workflow.pk}/")
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Search components").fill("slack: send")  # not the bot's chat.postMessage
    catalog = page.get_by_test_id("catalog")
    expect(catalog.locator("li")).to_have_count(1)
    expect(catalog.get_by_test_id("official-badge")).to_be_visible()
    page.get_by_role("button", name="Add Slack: send a message", exact=True).click()
    expect(page.get_by_test_id("step-card-slack_send_a_message")).to_be_visible()
    saved(page)
    installed = Component.objects.get(project=project, connector="slack-message")
    assert installed.versions.count() == 1
    workflow.refresh_from_db()
    assert [step["component"] for step in workflow.definition["steps"]] == [installed.pk]
    # Now the project's own component: added again, it is not installed a second time.
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Search components").fill("slack: send")
    expect(catalog.locator("li")).to_have_count(1)
    expect(catalog.get_by_test_id("official-badge")).to_be_visible()  # still marked as official
    page.get_by_role("button", name="Add Slack: send a message", exact=True).click()
    expect(page.get_by_test_id("step-card-slack_send_a_message_2")).to_be_visible()
    saved(page)
    assert Component.objects.filter(project=project, connector="slack-message").count() == 1
