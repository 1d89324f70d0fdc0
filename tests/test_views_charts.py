"""The charts as the pages serve them: the dashboard's panels over seeded executions (bars, numbers,
query counts), a viewer's dashboard (bug 7), the execution page's Gantt chart and the sparklines."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import ProjectUsage, month_start
from tests.factories import make_component, make_project, make_workflow
from workflows import runs
from workflows.models import Status, StepRun, StepStatus, Workflow, WorkflowExecution

pytestmark = pytest.mark.django_db
NUMBER = {"type": "number"}


@pytest.fixture
def adder(project, alice):  # type: ignore[no-untyped-def]
    return make_component(
        project=project,
        actor=alice,
        name="Add",
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER}],
        outputs=[{"name": "sum", **NUMBER}],
    )


@pytest.fixture
def workflow(project, alice, adder):  # type: ignore[no-untyped-def]
    return make_workflow(
        project=project,
        actor=alice,
        name="Sums",
        inputs=[{"name": "x", **NUMBER}],
        steps=[
            {"id": "one", "component": adder.pk, "inputs": {"a": "{{ input.x }}", "b": 1}},
            {"id": "two", "component": adder.pk, "inputs": {"a": "{{ steps.one.output.sum }}", "b": 10}},
        ],
    )


def seed(workflow: Workflow, *, status: str, days_ago: int, duration_ms: float | None = 100) -> WorkflowExecution:
    """A finished (or running) execution created ``days_ago`` days ago, at noon today's time."""
    created = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)
    execution = WorkflowExecution.objects.create(
        project=workflow.project, workflow=workflow, plan={"steps": []}, status=status, duration_ms=duration_ms
    )
    WorkflowExecution.objects.filter(pk=execution.pk).update(created_at=created, started_at=created)
    return execution


def bars(page: str, testid: str) -> list[tuple[str, int]]:
    """The (status, value) of each bar of the chart ``testid``."""
    svg = re.search(rf'<svg[^>]*data-testid="{testid}".*?</svg>', page, re.S)
    assert svg is not None, testid
    return [(s, int(float(v))) for s, v in re.findall(r'<rect[^>]*data-status="(\w+)" data-value="([\d.]+)"', svg[0])]


# --- the dashboard ----------------------------------------------------------------------------


def test_the_dashboard_stacks_executions_per_day_by_status(client, workflow, alice):  # type: ignore[no-untyped-def]
    for _ in range(3):
        seed(workflow, status=Status.SUCCEEDED, days_ago=0)
    seed(workflow, status=Status.FAILED, days_ago=0)
    seed(workflow, status=Status.FAILED, days_ago=2)
    seed(workflow, status=Status.SUCCEEDED, days_ago=40)  # outside the 30 days
    client.force_login(alice)
    page = client.get(reverse("dashboard")).content.decode()
    assert sorted(bars(page, "runs-per-day")) == [("failed", 1), ("failed", 1), ("succeeded", 3)]
    assert 'aria-label="5 executions over 30 days; the busiest day was' in page


def test_the_dashboard_draws_p50_and_p95_per_day(client, workflow, alice):  # type: ignore[no-untyped-def]
    for duration in range(1, 21):  # 1 … 20 s: nearest rank p50 = 10 s, p95 = 19 s
        seed(workflow, status=Status.SUCCEEDED, days_ago=1, duration_ms=duration * 1000)
    seed(workflow, status=Status.RUNNING, days_ago=1, duration_ms=None)  # not finished: not timed
    client.force_login(alice)
    panel = client.get(reverse("dashboard")).context["panels"][1]["data"]
    assert [(p50, p95) for _, p50, p95 in panel["duration_rows"]] == [(10.0, 19.0)]
    page = client.get(reverse("dashboard")).content.decode()
    assert "median 10 s, 95th percentile 19 s" in page
    assert len(re.findall(r'<circle class="dot-p(50|95)"', page)) == 2


def test_the_dashboard_lists_the_workflows_failing_most_with_links(client, workflow, project, alice, adder):  # type: ignore[no-untyped-def]
    other = make_workflow(
        project=project, actor=alice, name="Other", steps=[{"id": "a", "component": adder.pk}], publish=False
    )
    seed(workflow, status=Status.FAILED, days_ago=1)
    seed(workflow, status=Status.SUCCEEDED, days_ago=1)
    for _ in range(2):
        seed(other, status=Status.TIMED_OUT, days_ago=3)
    client.force_login(alice)
    page = client.get(reverse("dashboard")).content.decode()
    listed = re.search(r'data-testid="top-failing">(.*?)</ol>', page, re.S)
    assert listed is not None
    names = re.findall(r'<a href="(/workflows/\d+/executions/)\?status=failed">([^<]+)</a>', listed[1])
    assert names == [
        (reverse("workflows_executions", args=[other.pk]), "Other"),
        (reverse("workflows_executions", args=[workflow.pk]), "Sums"),
    ]
    assert '<strong>1</strong> <span class="muted small">of 2 failed or timed out' in listed[1]


def test_the_dashboard_charts_cover_only_the_users_projects(client, workflow, charlie):  # type: ignore[no-untyped-def]
    seed(workflow, status=Status.FAILED, days_ago=0)
    client.force_login(charlie)
    page = client.get(reverse("dashboard")).content.decode()
    assert bars(page, "runs-per-day") == []
    assert "Sums" not in page
    fragment = client.get(reverse("dashboard_panel", args=["workflow-runs"])).content.decode()
    assert bars(fragment, "runs-per-day") == []
    assert client.get(reverse("dashboard_panel", args=["nothing"])).status_code == 404


def test_the_panel_fragment_needs_a_signed_in_user(client, db):  # type: ignore[no-untyped-def]
    response = client.get(reverse("dashboard_panel", args=["usage"]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_dashboard_panels_subscribe_to_each_projects_executions(client, project, alice):  # type: ignore[no-untyped-def]
    second = make_project(owner=alice, name="Second")
    client.force_login(alice)
    page = client.get(reverse("dashboard")).content.decode()
    subscribed = re.findall(
        r'data-synchronise-subscribe="listWorkflowExecutions" data-synchronise-params="([^"]+)"', page
    )
    assert sorted(subscribed) == sorted(
        [f"{{&quot;project_id&quot;: {p}}}" for p in (project.pk, second.pk)] * 2  # the usage and the runs panels
    )
    assert f'hx-get="{reverse("dashboard_panel", args=["workflow-runs"])}"' in page


def dashboard_queries(client) -> list[str]:  # type: ignore[no-untyped-def]
    """The SQL of one dashboard request, but the session's: the session is a database row on
    the embedded default and a cache hit with Redis."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("dashboard")).status_code == 200
    return [q["sql"] for q in captured.captured_queries if "django_session" not in q["sql"]]


def test_the_dashboard_query_count_does_not_grow_with_executions_or_projects(client, workflow, alice):  # type: ignore[no-untyped-def]
    client.force_login(alice)
    client.get(reverse("dashboard"))  # warm the session and the default plan
    seed(workflow, status=Status.SUCCEEDED, days_ago=1)
    services.usage_consume(project=workflow.project, requests=3)
    # user, projects, the checklist (2), the usage panel (plan, counter, runs per day: 2), the
    # runs panel (status counts, percentiles, top failing), the navbar badge (plan: 3, counter)
    assert len(dashboard_queries(client)) == QUERIES
    for day in range(5):
        seed(workflow, status=Status.FAILED, days_ago=day)
    make_project(owner=alice, name="Another")
    assert len(dashboard_queries(client)) == QUERIES


QUERIES = 14


def test_the_quota_chart_projects_the_month_from_todays_pace(client, project, alice):  # type: ignore[no-untyped-def]
    services.usage_consume(project=project, requests=100)
    client.force_login(alice)
    panel = client.get(reverse("dashboard")).context["panels"][0]["data"]
    today = timezone.localdate()
    projection = panel["projection"]
    assert projection.used == 100
    assert projection.projected == round(100 * projection.days_in_month / today.day)
    page = client.get(reverse("dashboard")).content.decode()
    assert 'data-testid="quota-chart"' in page
    assert f"100 requests used of 10000 by day {today.day} of {projection.days_in_month}" in page


# --- bug 7: a viewer's dashboard ----------------------------------------------------------------


def test_a_viewers_checklist_counts_only_what_she_built(client, project, viewer, workflow):  # type: ignore[no-untyped-def]
    """Before: "3 of 3 done" for a viewer, from Alice's project, component and workflow."""
    client.force_login(viewer)
    response = client.get(reverse("dashboard"))
    assert [item.done for item in response.context["checklist"]] == [False, False, False]
    page = response.content.decode()
    assert "0 of 3 done" in page
    assert 'data-testid="viewer-note"' in page
    assert "You can view 1 shared project" in page


def test_an_editors_checklist_counts_the_projects_she_edits(client, project, bob, workflow):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    assert [item.done for item in client.get(reverse("dashboard")).context["checklist"]] == [False, True, True]


def test_a_viewers_usage_card_says_whose_plan_counts_what(client, project, viewer):  # type: ignore[no-untyped-def]
    """Before: "0 of 10,000 requests" beside Alice's project's 25, as if they were the viewer's."""
    ProjectUsage.objects.create(project=project, month=month_start(), count=25)
    services.usage_consume(project=make_project(owner=viewer, name="Viola's own"), requests=4)
    client.force_login(viewer)
    page = client.get(reverse("dashboard")).content.decode()
    used = re.search(r'data-testid="usage-used">(.*?)</p>', page, re.S)
    assert used is not None
    assert used[1].startswith("4 <small>of 10,000 requests")
    owned = re.search(r'data-testid="usage-owned">(.*?)</ul>', page, re.S)
    shared = re.search(r'data-testid="usage-shared">(.*?)</ul>', page, re.S)
    assert owned is not None
    assert shared is not None
    assert "Viola&#x27;s own" in owned[1]
    assert ">4<" in owned[1]
    assert "Alice&#x27;s project" in shared[1]
    assert ">25<" in shared[1]
    assert "alice@example.com's plan" in shared[1]
    assert "count against their owners' plans, not yours" in page


# --- the execution page's Gantt chart -----------------------------------------------------------


def test_the_gantt_chart_draws_each_attempt_and_item(client, workflow, alice, bob):  # type: ignore[no-untyped-def]
    execution = runs.execution_start(workflow=workflow, inputs={"x": 1}, user=alice)
    start = timezone.now()

    def run(step: str, attempt: int, status: str, begin: float, end: float | None, **extra: object) -> StepRun:
        row = StepRun.objects.create(
            execution=execution,
            step=step,
            attempt=attempt,
            status=status,
            idempotency_key=f"{step}-{extra.get('item', 0)}",
            started_at=start + timedelta(seconds=begin),
            finished_at=start + timedelta(seconds=end) if end is not None else None,
            duration_ms=(end - begin) * 1000 if end is not None else None,
            inputs={"a": 1, "token": "••••"},
            **extra,
        )
        StepRun.objects.filter(pk=row.pk).update(created_at=start + timedelta(seconds=begin - 0.5))
        return row

    run("one", 1, StepStatus.FAILED, 1, 2, error={"code": 503, "message": "busy"})
    run("one", 2, StepStatus.SUCCEEDED, 3, 4, outputs={"sum": 2})
    run("two", 1, StepStatus.SUCCEEDED, 5, 6, item=0, items=2)
    run("two", 1, StepStatus.RUNNING, 5, None, item=1, items=2)
    client.force_login(bob)
    page = client.get(reverse("workflows_execution_timeline", args=[execution.pk])).content.decode()
    gantt = re.search(r'data-testid="gantt".*?</figure>', page, re.S)
    assert gantt is not None
    rows = re.findall(r'data-gantt-step="(\w+)" data-gantt-status="(\w+)"', gantt[0])
    assert rows == [("one", "succeeded"), ("two", "running"), ("two", "succeeded"), ("two", "running")]
    assert re.findall(r'data-attempt="(\d)" data-status="(\w+)"', gantt[0]) == [
        ("1", "failed"),
        ("2", "succeeded"),
        ("1", "succeeded"),
        ("1", "running"),
    ]
    assert gantt[0].count('class="gantt-queued"') == 4  # each waited half a second in the queue
    assert "one · attempt 1 · failed · queued 500 ms · ran 1000 ms" in gantt[0]
    assert "&quot;message&quot;: &quot;busy&quot;" in gantt[0]  # the error, in the bar's tooltip
    assert "&quot;token&quot;: &quot;••••&quot;" in gantt[0]  # inputs as stored: secrets masked
    assert "item 1" in gantt[0]


def test_the_gantt_chart_shows_steps_never_reached(client, workflow, alice, bob):  # type: ignore[no-untyped-def]
    execution = runs.execution_start(workflow=workflow, inputs={"x": 1}, user=alice)
    WorkflowExecution.objects.filter(pk=execution.pk).update(status=Status.FAILED, finished_at=timezone.now())
    client.force_login(bob)
    page = client.get(reverse("workflows_execution", args=[execution.pk])).content.decode()
    assert 'data-gantt-step="two" data-gantt-status="not_run"' in page
    assert "never reached" in page


def test_the_gantt_chart_is_for_members_only(client, workflow, alice, charlie):  # type: ignore[no-untyped-def]
    execution = runs.execution_start(workflow=workflow, inputs={"x": 1}, user=alice)
    client.force_login(charlie)
    assert client.get(reverse("workflows_execution_timeline", args=[execution.pk])).status_code == 404


# --- sparklines ---------------------------------------------------------------------------------


def test_the_workflow_list_shows_a_sparkline_of_the_last_30_runs(client, workflow, alice):  # type: ignore[no-untyped-def]
    for index in range(33):
        seed(workflow, status=Status.FAILED if index % 4 == 0 else Status.SUCCEEDED, days_ago=0, duration_ms=index)
    client.force_login(alice)
    page = client.get(reverse("workflows_home")).content.decode()
    assert page.count('data-testid="spark-bar"') == 30
    assert 'aria-label="Last 30 runs: 22 succeeded, 8 failed"' in page
    tab = client.get(reverse("workflows_executions", args=[workflow.pk])).content.decode()
    assert tab.count('data-testid="spark-bar"') == 30
