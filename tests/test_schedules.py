"""Schedules: validation, the mirror in django-celery-beat, the missed-run policy, firing through a
real worker (the task the ``PeriodicTask`` names, with its stored args), and the settings API."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from accounts import services as account_services
from accounts.models import Membership, Permission, Plan, Project
from tests import servers
from tests.factories import make_component, make_user, make_workflow
from workflows import runs, services, triggers
from workflows.models import Schedule, Status, Trigger, WorkflowExecution

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

DOUBLE = """
def run(inputs, ctx):
    return {"twice": inputs["n"] * 2}
"""
NUMBER = {"type": "number", "subtype": "integer"}


@pytest.fixture
def doubler(alice, project):  # type: ignore[no-untyped-def]
    component = make_component(
        project=project,
        actor=alice,
        name="Double",
        code=DOUBLE,
        inputs=[{"name": "n", **NUMBER}],
        outputs=[{"name": "twice", **NUMBER}],
    )
    return make_workflow(
        project=project,
        actor=alice,
        name="Doubler",
        inputs=[{"name": "n", **NUMBER}],
        steps=[{"id": "double", "component": component.pk, "inputs": {"n": "{{ input.n }}"}}],
        outputs=[{"name": "twice", "value": "{{ steps.double.output.twice }}", **NUMBER}],
    )


def errors_of(call) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as raised:
        call()
    return raised.value.message_dict


# --- Validation and preview ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "says"),
    [
        ("* * * *", "five fields"),
        ("* * * * * *", "five fields"),
        ("", "five fields"),
        ("61 * * * *", "minute '61'"),
        ("*/0 * * * *", "minute '*/0'"),
        ("0 24 * * *", "hour '24'"),
        ("0 0 * * 7", "Sunday is 0"),
        ("0 0 31 2 *", "never occurs"),
        ("0 0 * * funday", "day of week"),
    ],
)
def test_a_bad_cron_is_refused_naming_cron(cron, says, alice, doubler) -> None:  # type: ignore[no-untyped-def]
    found = errors_of(lambda: triggers.schedule_set(workflow=doubler, actor=alice, cron=cron, inputs={"n": 1}))
    assert set(found) == {"cron"}
    assert says in found["cron"][0]
    assert not Schedule.objects.exists()
    assert not PeriodicTask.objects.filter(task=triggers.SCHEDULED_RUN_TASK).exists()


def test_bad_timezone_and_inputs_are_named(alice, doubler) -> None:  # type: ignore[no-untyped-def]
    found = errors_of(
        lambda: triggers.schedule_set(workflow=doubler, actor=alice, cron="0 9 * * *", timezone="Mars/Olympus")
    )
    assert set(found) == {"timezone", "inputs"}  # `n` is required by the published version
    assert "missing required inputs: n" in found["inputs"][0]
    found = errors_of(
        lambda: triggers.schedule_set(workflow=doubler, actor=alice, cron="0 9 * * *", inputs={"n": "many"})
    )
    assert set(found) == {"inputs"}
    found = errors_of(lambda: triggers.schedule_set(workflow=doubler, actor=alice, cron="0 9 * * *", inputs=[1]))
    assert set(found) == {"inputs"}


def test_macros_are_expanded(alice, doubler) -> None:  # type: ignore[no-untyped-def]
    schedule = triggers.schedule_set(workflow=doubler, actor=alice, cron="@daily", inputs={"n": 1})
    assert schedule.cron == "0 0 * * *"


def test_next_runs_follow_the_time_zone_across_a_dst_change() -> None:
    after = datetime(2025, 3, 28, 12, 0, tzinfo=UTC)
    found = triggers.next_runs("0 9 * * *", "Europe/Paris", 4, after=after)
    assert [run.isoformat() for run in found] == [
        "2025-03-29T09:00:00+01:00",
        "2025-03-30T09:00:00+02:00",  # summer time started that night
        "2025-03-31T09:00:00+02:00",
        "2025-04-01T09:00:00+02:00",
    ]
    assert [run.astimezone(UTC).hour for run in found] == [8, 7, 7, 7]


def test_next_runs_of_weekdays_and_steps() -> None:
    friday_evening = datetime(2025, 6, 6, 18, 0, tzinfo=ZoneInfo("America/New_York"))
    weekdays = triggers.next_runs("30 8 * * 1-5", "America/New_York", 2, after=friday_evening)
    assert [(run.strftime("%a %H:%M")) for run in weekdays] == ["Mon 08:30", "Tue 08:30"]
    quarter = triggers.next_runs("*/15 * * * *", "UTC", 5, after=datetime(2025, 1, 1, 10, 7, 30, tzinfo=UTC))
    assert [run.strftime("%H:%M") for run in quarter] == ["10:15", "10:30", "10:45", "11:00", "11:15"]
    # Like Celery (unlike Vixie cron), a day of month and a day of week must both match.
    first_mondays = triggers.next_runs("0 9 1 * mon", "UTC", 2, after=datetime(2025, 1, 1, tzinfo=UTC))
    assert [run.date().isoformat() for run in first_mondays] == ["2025-09-01", "2025-12-01"]


# --- The mirror in django-celery-beat --------------------------------------------------------------


def test_a_schedule_is_mirrored_into_beat(alice, doubler) -> None:  # type: ignore[no-untyped-def]
    schedule = triggers.schedule_set(
        workflow=doubler, actor=alice, cron="30 8 * * 1-5", timezone="Europe/Paris", inputs={"n": 21}
    )
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.task == "workflows.scheduled_run"
    assert json.loads(task.args) == [doubler.pk]
    assert task.enabled is True
    assert task.last_run_at is None
    assert task.start_time is None
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_month, crontab.month_of_year, crontab.day_of_week) == (
        "30",
        "8",
        "*",
        "*",
        "1-5",
    )
    assert str(crontab.timezone) == "Europe/Paris"
    assert task.expire_seconds == 3600  # a run waiting longer for a worker expires

    # Changing it changes the same entry; an unused crontab row goes.
    schedule = triggers.schedule_set(workflow=doubler, actor=alice, cron="* * * * *", inputs={"n": 2}, enabled=False)
    task.refresh_from_db()
    assert schedule.periodic_task_id == task.pk
    assert (task.crontab.minute, str(task.crontab.timezone), task.enabled) == ("*", "UTC", False)
    assert task.expire_seconds == 60
    assert not CrontabSchedule.objects.filter(hour="8", day_of_week="1-5").exists()
    assert Schedule.objects.get().inputs == {"n": 2}

    assert triggers.schedule_clear(workflow=doubler, actor=alice) is True
    assert not Schedule.objects.exists()
    assert not PeriodicTask.objects.filter(task=triggers.SCHEDULED_RUN_TASK).exists()
    assert not CrontabSchedule.objects.filter(minute="*", hour="*").exists()
    assert triggers.schedule_clear(workflow=doubler, actor=alice) is False


def test_schedules_share_a_crontab_row(alice, project, doubler) -> None:  # type: ignore[no-untyped-def]
    other = services.workflow_duplicate(workflow=doubler, actor=alice)
    services.workflow_publish(workflow=other, actor=alice)
    triggers.schedule_set(workflow=doubler, actor=alice, cron="0 6 * * *", inputs={"n": 1})
    triggers.schedule_set(workflow=other, actor=alice, cron="0 6 * * *", inputs={"n": 1})
    assert CrontabSchedule.objects.filter(hour="6").count() == 1
    triggers.schedule_clear(workflow=doubler, actor=alice)
    assert CrontabSchedule.objects.filter(hour="6").count() == 1  # still used by the other one
    services.workflow_delete(workflow=other, actor=alice)
    assert not PeriodicTask.objects.filter(task=triggers.SCHEDULED_RUN_TASK).exists()


def test_only_editors_change_a_schedule(alice, bob, charlie, project, doubler) -> None:  # type: ignore[no-untyped-def]
    viewer = make_user(email="viola@example.com")
    Membership.objects.create(project=project, user=viewer, permission=Permission.VIEW)
    with pytest.raises(PermissionDenied):
        triggers.schedule_set(workflow=doubler, actor=viewer, cron="0 9 * * *", inputs={"n": 1})
    with pytest.raises(Project.DoesNotExist):
        triggers.schedule_set(workflow=doubler, actor=charlie, cron="0 9 * * *", inputs={"n": 1})
    triggers.schedule_set(workflow=doubler, actor=bob, cron="0 9 * * *", inputs={"n": 1})
    with pytest.raises(PermissionDenied):
        triggers.schedule_clear(workflow=doubler, actor=viewer)


def test_beat_runs_missed_slots_once_and_a_new_schedule_waits_for_its_slot(alice, doubler) -> None:  # type: ignore[no-untyped-def]
    """The policy of docs/workflows-triggers.md, checked against beat's own scheduler entry."""
    from synchronise.celery import app

    schedule = triggers.schedule_set(workflow=doubler, actor=alice, cron="0 * * * *", inputs={"n": 1})
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    due, _next = ModelEntry(task, app=app).is_due()
    assert not due  # saved just now: the first run is the next full hour

    # Beat was down for three hourly slots.
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=datetime.now(UTC) - timedelta(hours=3, minutes=5))
    entry = ModelEntry(PeriodicTask.objects.get(pk=task.pk), app=app)
    due, _next = entry.is_due()
    assert due  # one catch-up run...
    after_it = next(entry)  # what beat does when it sends the run
    due, wait = after_it.is_due()
    assert not due
    assert 0 < wait <= 3600

    # Saving the schedule again (or switching it back on) never fires at once.
    triggers.schedule_set(workflow=doubler, actor=alice, cron="0 * * * *", inputs={"n": 1})
    assert not ModelEntry(PeriodicTask.objects.get(pk=task.pk), app=app).is_due()[0]


# --- Firing ---------------------------------------------------------------------------------------


def test_runs_in_the_same_minute_are_one_execution(alice, doubler) -> None:  # type: ignore[no-untyped-def]
    triggers.schedule_set(workflow=doubler, actor=alice, cron="* * * * *", inputs={"n": 4})
    at = datetime(2025, 5, 1, 9, 0, 10, tzinfo=UTC)
    first = triggers.schedule_fire(workflow_id=doubler.pk, now=at)
    twin = triggers.schedule_fire(workflow_id=doubler.pk, now=at + timedelta(seconds=30))
    later = triggers.schedule_fire(workflow_id=doubler.pk, now=at + timedelta(minutes=1))
    assert first is not None
    assert later is not None
    assert twin == first
    assert later != first
    assert (first.trigger, first.inputs, first.user) == (Trigger.SCHEDULE, {"n": 4}, None)


def test_a_run_that_cannot_start_is_logged_not_raised(alice, project, doubler, caplog) -> None:  # type: ignore[no-untyped-def]
    unpublished = make_workflow(project=project, actor=alice, name="Draft only", steps=[], publish=False)
    triggers.schedule_set(workflow=unpublished, actor=alice, cron="0 9 * * *")
    triggers.schedule_set(workflow=doubler, actor=alice, cron="0 9 * * *", inputs={"n": 1})
    with caplog.at_level(logging.WARNING, logger="workflows.triggers"):
        assert triggers.schedule_fire(workflow_id=unpublished.pk) is None
        assert "Draft only" in caplog.text
        assert "104" in caplog.text

        account_services.user_set_plan(
            user=alice, plan=Plan.objects.create(name="Empty", slug="empty", monthly_quota=0)
        )
        assert triggers.schedule_fire(workflow_id=doubler.pk) is None
        assert "108" in caplog.text

        triggers.schedule_set(workflow=doubler, actor=alice, cron="0 9 * * *", inputs={"n": 1}, enabled=False)
        assert triggers.schedule_fire(workflow_id=doubler.pk) is None
        assert triggers.schedule_fire(workflow_id=999_999) is None
    # The refusals show in the executions lists, once per slot, not counted.
    refused = {e.workflow_id: e for e in WorkflowExecution.objects.all()}
    assert set(refused) == {unpublished.pk, doubler.pk}
    assert refused[unpublished.pk].error["code"] == 104
    assert refused[doubler.pk].error["code"] == 108
    assert all(e.status == "failed" and e.trigger == "schedule" for e in refused.values())


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock(), servers.celery_worker(name="schedules"):
        yield


def wait_for_execution(workflow_id: int, count: int = 1, timeout: float = 30) -> list[WorkflowExecution]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(WorkflowExecution.objects.filter(workflow_id=workflow_id).order_by("pk"))
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no scheduled execution of workflow {workflow_id} within {timeout} s")


def test_the_periodic_task_starts_the_workflow_on_a_worker(worker, alice, project, doubler) -> None:  # type: ignore[no-untyped-def]
    from synchronise.celery import app

    # A broken schedule first: the worker logs it, records the refusal and carries on.
    unpublished = make_workflow(project=project, actor=alice, name="Draft only", steps=[], publish=False)
    broken = triggers.schedule_set(workflow=unpublished, actor=alice, cron="*/5 * * * *").periodic_task
    assert broken is not None
    app.send_task(broken.task, args=json.loads(broken.args))

    schedule = triggers.schedule_set(workflow=doubler, actor=alice, cron="*/5 * * * *", inputs={"n": 21})
    periodic_task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    app.send_task(periodic_task.task, args=json.loads(periodic_task.args))

    (execution,) = wait_for_execution(doubler.pk)
    execution = runs.execution_wait(execution, timeout=30)
    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.trigger == Trigger.SCHEDULE
    assert execution.outputs == {"twice": 42}
    (refused,) = WorkflowExecution.objects.filter(workflow=unpublished)  # the broken one, recorded
    assert refused.status == Status.FAILED
    assert refused.error["code"] == 104


def test_beat_fires_a_schedule_at_its_slot_in_its_time_zone(worker, alice, doubler) -> None:
    """Nothing is sent by hand: a real ``celery beat`` with the database scheduler, as in
    production, sends the run at the slot, read in the schedule's zone. Kolkata is UTC+5:30 and
    the cron names the hour and minute of the next slot there, so a zone ignored or applied the
    wrong way puts the slot hours away and no run comes (``* * * * *`` could not tell: a
    half-hour offset moves no minute boundary)."""
    zone = ZoneInfo("Asia/Kolkata")
    # The first minute boundary that leaves beat time to start: the test waits out the rest of
    # the current minute, the least a minute-granular cron allows without faking the clock.
    slot = (datetime.now(zone) + timedelta(seconds=5 + 60)).replace(second=0, microsecond=0)
    cron = f"{slot.minute} {slot.hour} * * *"
    # Saved before beat starts, so its first read of the database has it: django-celery-beat's
    # first check for changes records the latest change without reporting it, so a schedule saved
    # between that read and that check would wait for the five-minute resync.
    triggers.schedule_set(workflow=doubler, actor=alice, cron=cron, timezone="Asia/Kolkata", inputs={"n": 21})
    assert triggers.next_runs(cron, "Asia/Kolkata", 1) == [slot]  # what the API previews is what beat runs

    with servers.celery_beat():
        wait = (slot - datetime.now(zone)).total_seconds()
        (execution,) = wait_for_execution(doubler.pk, timeout=wait + 15)
        execution = runs.execution_wait(execution, timeout=30)

    assert execution.status == Status.SUCCEEDED, execution.error
    assert execution.trigger == Trigger.SCHEDULE
    assert (execution.inputs, execution.outputs) == ({"n": 21}, {"twice": 42})
    started = execution.created_at.astimezone(zone)
    assert slot <= started < slot + timedelta(seconds=10), f"slot {slot:%H:%M:%S}, started {started:%H:%M:%S.%f}"
    assert execution.idempotency_key == f"schedule-{slot.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


# --- The settings API ------------------------------------------------------------------------------


def as_user(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_the_schedule_api(alice, doubler) -> None:  # type: ignore[no-untyped-def]
    api = as_user(alice)
    url = f"/api/v1/workflows/{doubler.pk}/schedule"
    assert api.get(url).status_code == 404
    bad = api.put(url, {"cron": "99 * * *", "timezone": "Nowhere", "inputs": {"n": 1}}, content_type="application/json")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"cron", "timezone"}

    body = {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris", "inputs": {"n": 3}}
    created = api.put(url, body, content_type="application/json")
    assert created.status_code == 201, created.content
    read = api.get(url).json()
    assert {k: read[k] for k in ("cron", "timezone", "inputs", "enabled")} == {**body, "enabled": True}
    assert read["description"] == "At 09:00 AM, Monday through Friday"
    assert len(read["next_runs"]) == 5
    first = datetime.fromisoformat(read["next_runs"][0])
    assert (first.hour, first.minute, first.weekday() < 5) == (9, 0, True)
    assert first.utcoffset() in (timedelta(hours=1), timedelta(hours=2))

    off = api.put(url, {**body, "enabled": False}, content_type="application/json")
    assert (off.status_code, off.json()["enabled"], off.json()["next_runs"]) == (200, False, [])
    assert PeriodicTask.objects.get(task=triggers.SCHEDULED_RUN_TASK).enabled is False

    assert api.delete(url).status_code == 204
    assert api.delete(url).status_code == 404
    assert not PeriodicTask.objects.filter(task=triggers.SCHEDULED_RUN_TASK).exists()


@pytest.mark.parametrize(
    ("who", "read", "write"),
    [("alice", 200, 200), ("bob", 200, 200), ("viewer", 200, 403), ("charlie", 404, 404)],
)
def test_schedule_api_access(request, who, read, write, alice, project, doubler) -> None:  # type: ignore[no-untyped-def]
    viewer = make_user(email="viola@example.com")
    Membership.objects.create(project=project, user=viewer, permission=Permission.VIEW)
    request.getfixturevalue("bob")
    request.getfixturevalue("charlie")
    triggers.schedule_set(workflow=doubler, actor=alice, cron="0 9 * * *", inputs={"n": 1})
    user = viewer if who == "viewer" else request.getfixturevalue(who)
    api = as_user(user)
    url = f"/api/v1/workflows/{doubler.pk}/schedule"
    assert api.get(url).status_code == read
    # A viewer's invalid write is a 403 too: permission is checked before the body.
    body = {"cron": "bad"} if write == 403 else {"cron": "0 10 * * *", "inputs": {"n": 2}}
    assert api.put(url, body, content_type="application/json").status_code == write
    assert api.delete(url).status_code == (204 if write == 200 else write)
    assert Client().get(url).status_code == 401
