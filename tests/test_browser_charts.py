"""The charts in a real browser: the dashboard's bars for seeded executions at phone width, and an
execution's Gantt chart gaining bars live while a real Celery worker runs its steps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import make_component, make_workflow
from tests.test_browser_workflows import WORKER, signed_in_context
from workflows import runs
from workflows.models import Status, WorkflowExecution

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 812}
SLEEP = "import time\n\ndef run(inputs, ctx):\n    time.sleep(inputs['seconds'])\n    return {'done': True}\n"


@pytest.fixture
def slow_run(project, alice):  # type: ignore[no-untyped-def]
    """A queued execution of three one-second steps in a row (started before the browser is, so
    its after-commit publishing never meets Playwright's loop); no worker runs it yet."""
    sleep = make_component(
        project=project,
        actor=alice,
        name="Sleep",
        code=SLEEP,
        inputs=[{"name": "seconds", "type": "number"}],
        outputs=[{"name": "done", "type": "bool"}],
    )
    steps = [{"id": "first", "component": sleep.pk, "inputs": {"seconds": 1}}]
    steps += [
        {"id": name, "component": sleep.pk, "inputs": {"seconds": 1}, "after": [before]}
        for before, name in (("first", "second"), ("second", "third"))
    ]
    workflow = make_workflow(project=project, actor=alice, name="Three naps", steps=steps)
    return runs.execution_start(workflow=workflow, inputs={}, user=alice)


def test_the_dashboard_charts_show_the_seeded_executions_at_phone_width(project, alice, chromium, asgi_url, artifacts):  # type: ignore[no-untyped-def]
    workflow = make_workflow(project=project, actor=alice, name="Seeded", steps=[], publish=False)
    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    seeded = [(0, Status.SUCCEEDED), (0, Status.SUCCEEDED), (0, Status.FAILED), (3, Status.TIMED_OUT)]
    for days_ago, status in seeded:
        execution = WorkflowExecution.objects.create(
            project=project, workflow=workflow, plan={"steps": []}, status=status, duration_ms=1500
        )
        WorkflowExecution.objects.filter(pk=execution.pk).update(created_at=noon - timedelta(days=days_ago))
    page = signed_in_context(chromium, asgi_url, alice, PHONE).new_page()
    page.goto(f"{asgi_url}/dashboard/")
    per_day = page.get_by_test_id("runs-per-day")
    expect(per_day.locator("rect")).to_have_count(3)  # today: succeeded + failed; 3 days ago: timed out
    assert per_day.locator("rect[data-status=succeeded]").get_attribute("data-value") == "2"
    summary = f"4 executions over 30 days; the busiest day was {noon.day} {noon:%b} with 3."
    expect(per_day).to_have_attribute("aria-label", summary)
    expect(page.get_by_test_id("top-failing").get_by_role("link", name="Seeded")).to_be_visible()
    expect(page.get_by_test_id("durations").locator("circle")).to_have_count(4)  # p50 and p95 on two days
    box = per_day.bounding_box()
    assert box is not None
    assert box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=artifacts / "dashboard-charts-phone.png", full_page=True)


def test_the_timeline_gains_bars_live_as_the_worker_runs_the_steps(slow_run, bob, chromium, asgi_url, artifacts):  # type: ignore[no-untyped-def]
    from tests import servers

    page = signed_in_context(chromium, asgi_url, bob, PHONE).new_page()
    page.goto(f"{asgi_url}/workflows/executions/{slow_run.pk}/")
    page.wait_for_function("window.Synchronise && window.Synchronise.Connection.connected")
    gantt = page.get_by_test_id("gantt")
    expect(gantt.get_by_test_id("gantt-bar")).to_have_count(0)
    with servers.celery_worker(**WORKER):
        # The first step's bar appears while the later ones still wait for it.
        expect(gantt.locator('[data-gantt-step="first"] [data-testid=gantt-bar]')).to_have_count(1, timeout=30000)
        expect(gantt.locator('[data-gantt-step="third"] [data-testid=gantt-bar]')).to_have_count(0)
        expect(gantt.locator("[data-testid=gantt-bar][data-status=succeeded]")).to_have_count(3, timeout=30000)
    expect(page.get_by_test_id("execution-status")).to_have_text("Succeeded")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload
    title = gantt.locator('[data-gantt-step="second"] [data-testid=gantt-bar] title').text_content() or ""
    assert title.startswith("second · attempt 1 · succeeded")
    assert '"seconds": 1' in title
    # Keyboard focus shows the same details in a popover; selecting the bar opens its attempt.
    bar = gantt.locator('[data-gantt-step="second"] [data-testid=gantt-bar]')
    bar.focus()
    tip = page.locator("#gantt-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text('"seconds": 1')
    expect(bar).to_have_attribute("aria-describedby", "gantt-tip")
    page.keyboard.press("Enter")
    attempt = page.locator((bar.get_attribute("href") or "").strip())
    expect(attempt).to_have_attribute("open", "")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=artifacts / "execution-gantt-phone.png", full_page=True)


def test_the_dashboard_charts_follow_new_executions_live(slow_run, alice, chromium, asgi_url):  # type: ignore[no-untyped-def]
    page = signed_in_context(chromium, asgi_url, alice).new_page()
    page.goto(f"{asgi_url}/dashboard/")
    page.wait_for_function("window.Synchronise && window.Synchronise.Connection.connected")
    per_day = page.get_by_test_id("runs-per-day")
    expect(per_day.locator("rect[data-status=queued]")).to_have_attribute("data-value", "1")
    runs.execution_start(workflow=slow_run.workflow, inputs={}, user=alice)  # published after commit
    expect(per_day.locator("rect[data-status=queued]")).to_have_attribute("data-value", "2", timeout=10000)
    expect(page.get_by_test_id("usage-used")).to_contain_text("2 of 10,000 requests")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload
