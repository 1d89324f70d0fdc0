"""The workflow canvas (the @xyflow island of the Editor tab) in a real Chromium, driven with the
real mouse: a four-step workflow with a ``for_each`` and a ``run_if`` branch is built only by
dragging components from the catalog, dragging output handles onto inputs and picking in the typed
picker; it runs from the editor through a real Celery worker while the cards turn green with their
durations and the logs come in; Delete and Ctrl+Z; auto-layout; and a 375 px wide phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.factories import make_component, make_workflow
from tests.test_browser_workflows import WORKER, saved, signed_in_context
from workflows.models import WorkflowExecution

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INTEGER = {"type": "number", "subtype": "integer"}
PHONE = {"width": 375, "height": 812}
TALL = {"width": 1366, "height": 1200}  # the whole canvas in view with the inputs above it


@pytest.fixture
def parts(project, alice):  # type: ignore[no-untyped-def]
    """Seed → Double (for each item) → Sum → Describe (only if Seed says go)."""
    make_component(
        project=project,
        actor=alice,
        name="Seed",
        code="def run(inputs, ctx):\n    return {'items': [1, 2, 3], 'go': True}\n",
        outputs=[{"name": "items", "type": "list", "subtype": "number"}, {"name": "go", "type": "bool"}],
    )
    make_component(
        project=project,
        actor=alice,
        name="Double",
        code="import time\n\ndef run(inputs, ctx):\n    time.sleep(0.6)\n    return {'value': inputs['n'] * 2}\n",
        inputs=[{"name": "n", **INTEGER}],
        outputs=[{"name": "value", **INTEGER}],
    )
    make_component(
        project=project,
        actor=alice,
        name="Sum",
        code=(
            "def run(inputs, ctx):\n"
            "    ctx.log(f\"adding {inputs['values']}\")\n"
            "    return {'total': sum(inputs['values'])}\n"
        ),
        inputs=[{"name": "values", "type": "list", "subtype": "number"}],
        outputs=[{"name": "total", **INTEGER}],
    )
    make_component(
        project=project,
        actor=alice,
        name="Describe",
        code="def run(inputs, ctx):\n    return {'text': f\"the answer is {inputs['value']}\"}\n",
        inputs=[{"name": "value", **INTEGER}],
        outputs=[{"name": "text", "type": "text"}],
    )


def centre(locator: Locator) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box is not None, locator
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Page, source: Locator, target: Locator) -> None:
    """Press on ``source``, move in steps (xyflow follows the pointer) and release on ``target``."""
    x, y = centre(source)
    to_x, to_y = centre(target)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move((x + to_x) / 2, (y + to_y) / 2, steps=8)
    page.mouse.move(to_x, to_y, steps=8)
    page.mouse.up()


def handle(page: Page, step: str, name: str) -> Locator:
    return page.get_by_test_id(f"handle-{step}-{name}")


def drop_component(page: Page, name: str, x: float, y: float) -> None:
    """Open the catalog, find ``name`` and drag it onto the canvas at (x, y) of the canvas."""
    page.get_by_role("button", name="Add step").click()
    page.get_by_label("Search components").fill(name)
    entry = page.get_by_test_id(f"catalog-{name}")
    entry.drag_to(page.get_by_test_id("canvas"), target_position={"x": x, "y": y})
    step_id = name.lower()
    expect(page.get_by_test_id(f"step-card-{step_id}")).to_be_visible()
    saved(page)  # the answer brings the step's interface and candidates


def test_build_a_branching_for_each_workflow_by_dragging(  # type: ignore[no-untyped-def]
    chromium, asgi_url, alice, bob, viewer, project, parts, artifacts
):
    from tests import servers

    workflow = make_workflow(project=project, actor=alice, name="Canvas", steps=[], publish=False)
    page = signed_in_context(chromium, asgi_url, bob, TALL).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{asgi_url}/workflows/{workflow.pk}/")
    canvas = page.get_by_test_id("canvas")
    expect(canvas.locator(".react-flow__renderer")).to_be_visible()
    expect(canvas.locator(".react-flow__minimap")).to_be_visible()
    expect(canvas.locator(".react-flow__controls")).to_be_visible()

    # Four steps dragged from the catalog onto the canvas, each landing where it was dropped.
    # (The catalog is a panel over the canvas's right side: they go to its left.)
    drops = {"Seed": (20, 100), "Double": (330, 100), "Sum": (20, 370), "Describe": (330, 370)}
    for name, (x, y) in drops.items():
        drop_component(page, name, x, y)
    workflow.refresh_from_db()
    assert [step["id"] for step in workflow.definition["steps"]] == ["seed", "double", "sum", "describe"]
    for step, (x, y) in zip(workflow.definition["steps"], drops.values(), strict=True):
        # the canvas starts at zoom 1 with its origin top left: flow coordinates are the drop's
        assert abs(step["position"]["x"] - x) <= 2, step
        assert abs(step["position"]["y"] - y) <= 2, step

    # An incompatible drop is refused, with the reason on the canvas, and changes nothing.
    drag(page, handle(page, "seed", "out-go"), handle(page, "sum", "in-values"))
    message = page.get_by_test_id("flow-message")
    expect(message).to_contain_text("seed.go (bool) does not fit sum.values (list/number)")
    expect(message).to_have_class("wf-flow-message is-error")

    # Seed's list dropped on Double's body: the typed picker offers only what fits (the list, as
    # a for each; not the bool, not for the integer input n).
    drag(page, handle(page, "seed", "out-items"), page.get_by_test_id("step-card-double").locator(".wf-node-component"))
    picker = page.get_by_test_id("flow-picker")
    expect(picker).to_be_visible()
    expect(picker.get_by_role("button", name="for each ← seed.items (list/number)")).to_be_visible()
    expect(picker.locator(".wf-picker-choice")).to_have_count(1)
    picker.get_by_role("button", name="for each ← seed.items (list/number)").click()
    saved(page)
    expect(page.get_by_test_id("step-card-double").locator(".wf-tag", has_text="for each")).to_be_visible()
    # Each item is Double's n: picked in the inspector's typed picker, which now offers `item`.
    page.get_by_test_id("step-card-double").locator(".wf-node-id").click()
    page.get_by_label("double n source", exact=True).select_option(label="item (the current element)")
    saved(page)

    # Output handle onto input handle: the binding, written by the server's candidate.
    drag(page, handle(page, "double", "out-value"), handle(page, "sum", "in-values"))
    saved(page)
    drag(page, handle(page, "sum", "out-total"), handle(page, "describe", "in-value"))
    saved(page)
    # The branch: Seed's bool onto Describe's "if" target opens the picker with the yes/no sources.
    drag(page, handle(page, "seed", "out-go"), handle(page, "describe", "run_if"))
    expect(picker).to_be_visible()
    expect(picker.locator(".wf-picker-choice")).to_have_text(["run if ← seed.go (bool)"])
    picker.get_by_role("button", name="run if ← seed.go (bool)").click()
    saved(page)

    workflow.refresh_from_db()
    steps = {step["id"]: step for step in workflow.definition["steps"]}
    assert steps["double"]["for_each"] == "{{ steps.seed.output.items }}"
    assert steps["double"]["inputs"] == {"n": "{{ item }}"}
    assert steps["sum"]["inputs"] == {"values": "{{ steps.double.output.value }}"}
    assert steps["describe"]["inputs"] == {"value": "{{ steps.sum.output.total }}"}
    assert steps["describe"]["run_if"] == "{{ steps.seed.output.go }}"
    assert workflow.problems == []
    expect(page.get_by_test_id("problem-summary")).to_be_hidden()
    # The edges, each drawn its way: two data bindings, a for each, a run if.
    expect(canvas.locator(".react-flow__edge.data")).to_have_count(2)
    expect(canvas.locator(".react-flow__edge.for_each")).to_have_count(1)
    expect(canvas.locator(".react-flow__edge.run_if")).to_have_count(1)
    page.screenshot(path=artifacts / "canvas-built.png")

    # From the keyboard: Tab reaches a card, Enter selects it (and the inspector shows it).
    page.locator('.react-flow__node[data-id="seed"]').focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Step seed")).to_be_visible()

    # Delete removes the selected step (and its edges); Ctrl+Z brings it back with its bindings.
    page.get_by_test_id("step-card-describe").locator(".wf-node-id").click()
    page.keyboard.press("Delete")
    expect(page.get_by_test_id("step-card-describe")).to_have_count(0)
    expect(canvas.locator(".react-flow__edge.run_if")).to_have_count(0)
    saved(page)
    workflow.refresh_from_db()
    assert [step["id"] for step in workflow.definition["steps"]] == ["seed", "double", "sum"]
    expect(page.get_by_role("button", name="Undo")).to_be_enabled()
    page.get_by_test_id("step-card-sum").locator(".wf-node-id").click()
    page.keyboard.press("Control+z")
    expect(page.get_by_test_id("step-card-describe")).to_be_visible()
    expect(canvas.locator(".react-flow__edge.run_if")).to_have_count(1)
    saved(page)
    workflow.refresh_from_db()
    assert workflow.definition["steps"][3]["run_if"] == "{{ steps.seed.output.go }}"
    assert workflow.definition["steps"][3]["inputs"] == {"value": "{{ steps.sum.output.total }}"}

    # Auto-layout: left to right in dependency order, positions saved in the draft.
    page.get_by_test_id("step-card-double").hover()
    card = page.get_by_test_id("step-card-double").locator(".wf-node-id")
    drag(page, card, page.get_by_test_id("step-card-seed").locator(".wf-node-component"))
    saved(page)
    page.get_by_role("button", name="Auto-layout").click()
    saved(page)
    workflow.refresh_from_db()
    xs = {step["id"]: step["position"]["x"] for step in workflow.definition["steps"]}
    assert xs["seed"] < xs["double"] < xs["sum"] < xs["describe"], xs
    boxes = [page.get_by_test_id(f"step-card-{s}").bounding_box() for s in ("seed", "double", "sum", "describe")]
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"] < boxes[3]["x"]  # type: ignore[index]

    # Run it from the editor: every card goes to succeeded with its duration, live, and the logs show.
    page.evaluate(
        """() => {
            window.cardHistory = {};
            window.runningDurations = {};
            new MutationObserver((changes) => {
                for (const change of changes) {
                    const card = change.target;
                    if (card.dataset.status === "running" && card.dataset.durationMs) {
                        (window.runningDurations[card.dataset.stepCard] ||= []).push(Number(card.dataset.durationMs));
                    }
                    const seen = (window.cardHistory[card.dataset.stepCard] ||= []);
                    const status = card.dataset.status;
                    if (status && seen[seen.length - 1] !== status) seen.push(status);
                }
            }).observe(document.querySelector("[data-testid=canvas]"),
                       {attributes: true, attributeFilter: ["data-status", "data-duration-ms"], subtree: true});
        }"""
    )
    with servers.celery_worker(**WORKER):
        page.get_by_role("button", name="Run", exact=True).click()
        for step in ("seed", "double", "sum", "describe"):
            card = page.get_by_test_id(f"step-card-{step}")
            expect(card).to_have_attribute("data-status", "succeeded", timeout=30000)
            expect(page.get_by_test_id(f"step-duration-{step}")).to_have_text(re.compile(r"^\d+ ms$|^\d+\.\d+ s$"))
        expect(page.get_by_test_id("run-status")).to_have_text("Succeeded")
        expect(page.get_by_test_id("run-logs-sum")).to_contain_text("adding [2, 4, 6]")
    history = page.evaluate("window.cardHistory")
    assert history["describe"][-1] == "succeeded"
    assert len(history["describe"]) > 1, history  # pending or running first: it changed under our eyes
    execution = WorkflowExecution.objects.get(workflow=workflow)
    assert execution.status == "succeeded"
    double_ms = float(page.get_by_test_id("step-card-double").get_attribute("data-duration-ms") or 0)
    assert double_ms >= 600  # three items of 0.6 s, side by side: at least one item long
    # While Double ran, its card counted its time, going up.
    ticking = page.evaluate("window.runningDurations")["double"]
    assert len(ticking) >= 2, ticking
    assert ticking == sorted(ticking), ticking
    page.screenshot(path=artifacts / "canvas-run.png")
    assert errors == []

    # 375 px wide: the canvas fills the width, nothing overflows, the inspector follows a tapped card.
    phone = signed_in_context(chromium, asgi_url, bob, PHONE).new_page()
    phone.goto(f"{asgi_url}/workflows/{workflow.pk}/")
    expect(phone.get_by_test_id("step-card-describe")).to_be_visible()
    frame = phone.get_by_test_id("canvas").bounding_box()
    assert frame is not None
    assert frame["width"] >= 320, frame  # all but the page's margins
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    card = phone.get_by_test_id("step-card-seed").bounding_box()
    assert card is not None
    assert card["width"] >= 130, card  # fitted no smaller than half size: readable, pan for the rest
    phone.get_by_test_id("canvas").scroll_into_view_if_needed()
    phone.screenshot(path=artifacts / "canvas-phone.png")
    phone.get_by_test_id("step-card-sum").locator(".wf-node-id").click()
    expect(phone.get_by_role("heading", name="Step sum")).to_be_in_viewport()
    phone.screenshot(path=artifacts / "canvas-phone-inspector.png")

    # A viewer sees the same canvas, read-only: nothing to add, cards do not move, handles do not connect.
    workflow.refresh_from_db()
    before = workflow.definition
    reader = signed_in_context(chromium, asgi_url, viewer, TALL).new_page()
    reader.goto(f"{asgi_url}/workflows/{workflow.pk}/")
    expect(reader.get_by_test_id("step-card-describe")).to_be_visible()
    expect(reader.get_by_role("button", name="Add step")).to_have_count(0)
    expect(reader.get_by_role("button", name="Undo")).to_have_count(0)
    seed = reader.locator('.react-flow__node[data-id="seed"]')
    at = seed.evaluate("node => node.style.transform")  # the card's place on the canvas, whatever the pan
    drag(reader, seed.locator(".wf-node-id"), reader.get_by_test_id("canvas"))
    assert seed.evaluate("node => node.style.transform") == at
    drag(reader, handle(reader, "seed", "out-go"), handle(reader, "describe", "run_if"))
    expect(reader.get_by_test_id("flow-picker")).to_be_hidden()
    reader.get_by_test_id("step-card-sum").locator(".wf-node-id").click()
    reader.keyboard.press("Delete")
    expect(reader.get_by_test_id("step-card-sum")).to_be_visible()
    workflow.refresh_from_db()
    assert workflow.definition == before


def test_after_and_error_routes_are_drawn_by_dragging_and_undone(chromium, asgi_url, alice, bob, project):  # type: ignore[no-untyped-def]
    step = make_component(project=project, actor=alice, name="Step", outputs=[{"name": "ok", "type": "bool"}])
    workflow = make_workflow(
        project=project,
        actor=alice,
        name="Routes",
        publish=False,
        steps=[
            {"id": "first", "component": step.pk, "position": {"x": 0, "y": 0}},
            {"id": "second", "component": step.pk, "position": {"x": 380, "y": 0}},
            {"id": "handler", "component": step.pk, "position": {"x": 380, "y": 260}},
        ],
    )
    page = signed_in_context(chromium, asgi_url, bob, TALL).new_page()
    page.goto(f"{asgi_url}/workflows/{workflow.pk}/")
    canvas = page.get_by_test_id("canvas")
    expect(page.get_by_test_id("step-card-handler")).to_be_in_viewport()
    expect(canvas.locator(".react-flow__edge")).to_have_count(0)

    # "then" onto "after": an explicit dependency, drawn dotted.
    drag(page, handle(page, "first", "then"), handle(page, "second", "after"))
    expect(canvas.locator(".react-flow__edge.after")).to_have_count(1)
    saved(page)
    # "on error" onto a card: that step handles the errors, drawn red.
    drag(page, handle(page, "second", "error"), page.get_by_test_id("step-card-handler").locator(".wf-node-component"))
    expect(canvas.locator(".react-flow__edge.error")).to_have_count(1)
    expect(page.get_by_test_id("flow-message")).to_contain_text("handler now handles the errors of second.")
    saved(page)
    workflow.refresh_from_db()
    steps = {s["id"]: s for s in workflow.definition["steps"]}
    assert steps["second"]["after"] == ["first"]
    assert steps["second"]["on_error"] == "handler"

    # Arrow keys move the selected card, and the place is kept.
    page.locator('.react-flow__node[data-id="handler"]').focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    saved(page)
    workflow.refresh_from_db()
    assert workflow.definition["steps"][2]["position"]["x"] > 380
    page.get_by_role("button", name="Undo").click()  # the move, as one change
    saved(page)
    workflow.refresh_from_db()
    assert workflow.definition["steps"][2]["position"] == {"x": 380, "y": 260}

    # The Undo button goes back one change at a time.
    page.get_by_role("button", name="Undo").click()
    expect(canvas.locator(".react-flow__edge.error")).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(canvas.locator(".react-flow__edge.after")).to_have_count(0)
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()
    saved(page)
    workflow.refresh_from_db()
    steps = {s["id"]: s for s in workflow.definition["steps"]}
    assert steps["second"]["after"] == []
    assert steps["second"]["on_error"] == "fail"
