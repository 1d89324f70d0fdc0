"""Webhook and schedule triggers of a workflow: every change to them goes through these services.

* A **webhook** (``/hooks/<workflow_id>/<token>``, served by ``workflows/webhooks.py``) is stored
  with the sha256 digest of its token and the token's first characters; the token itself is
  returned once, by ``webhook_enable`` when it creates the webhook and by ``webhook_rotate``.
* A **schedule** is a ``Schedule`` row mirrored into django-celery-beat: one ``PeriodicTask``
  (task ``workflows.scheduled_run``, args ``[workflow_id]``) on a ``CrontabSchedule`` in the
  schedule's time zone. Beat reads those rows; ``scheduled_run`` calls ``schedule_fire``.

Missed runs (docs/workflows-triggers.md): beat runs a schedule whose slots passed while it was
down **once** when it comes back, never once per missed slot; a run that waits in the broker
longer than the gap between two slots (at most an hour) expires instead of piling up behind
the next one; and two runs of one schedule in the same minute are one execution (its
idempotency key is the minute), so a second beat started by mistake does not double the runs.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from celery.schedules import crontab
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone as django_timezone
from django_celery_beat import validators as beat_validators
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.tzcrontab import TzAwareCrontab

from accounts.models import Permission, Project, User
from accounts.services import member_ids, require_permission
from components.errors import INCORRECT_INPUT, MISSING_INPUT, RunError
from components.types import coerce_inputs
from synchronise.lib.compiled import instances, select_rows
from synchronise.lib.events import publish_change
from workflows.models import Schedule, Trigger, Webhook, Workflow, WorkflowExecution

logger = logging.getLogger(__name__)

# --- Webhooks ---------------------------------------------------------------------------------

TOKEN_PREFIX = "whk_"  # noqa: S105 - a label in front of the token, not a secret
TOKEN_PREFIX_LENGTH = 10  # what is stored and shown: "whk_" and six characters of the secret
WEBHOOK_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_WEBHOOK_TIMEOUT_SECONDS = 120
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,100}$")
WEBHOOK_SETTINGS = ("methods", "respond", "timeout_seconds", "signature_credential", "signature_header")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def webhook_path(workflow_id: int, token: str) -> str:
    """The path of a webhook (the full URL is the site's origin followed by it)."""
    return f"/hooks/{workflow_id}/{token}"


def _new_token(webhook: Webhook) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    webhook.token_digest = token_digest(token)
    webhook.token_prefix = token[:TOKEN_PREFIX_LENGTH]
    webhook.rotated_at = django_timezone.now()
    return token


def _clean_webhook_settings(webhook: Webhook, changes: dict[str, Any]) -> None:
    """Apply ``changes`` to ``webhook``; raises ``ValidationError`` naming each bad field."""
    unknown = set(changes) - set(WEBHOOK_SETTINGS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "unknown field"))
    problems: dict[str, list[str]] = {}
    if "methods" in changes:
        methods = changes["methods"]
        if not isinstance(methods, list | tuple) or not methods or not all(isinstance(m, str) for m in methods):
            problems["methods"] = [f"a non-empty list of HTTP methods among {', '.join(WEBHOOK_METHODS)}"]
        else:
            wanted = list(dict.fromkeys(m.strip().upper() for m in methods))
            bad = [m for m in wanted if m not in WEBHOOK_METHODS]
            if bad:
                problems["methods"] = [f"not allowed: {', '.join(bad)} (use {', '.join(WEBHOOK_METHODS)})"]
            else:
                webhook.methods = wanted
    if "respond" in changes:
        if changes["respond"] not in Webhook.Respond.values:
            problems["respond"] = [f"one of {', '.join(Webhook.Respond.values)}"]
        else:
            webhook.respond = changes["respond"]
    if "timeout_seconds" in changes:
        value = changes["timeout_seconds"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WEBHOOK_TIMEOUT_SECONDS:
            problems["timeout_seconds"] = [f"a whole number of seconds from 1 to {MAX_WEBHOOK_TIMEOUT_SECONDS}"]
        else:
            webhook.timeout_seconds = value
    if "signature_credential" in changes:
        name = changes["signature_credential"] or ""
        if not isinstance(name, str):
            problems["signature_credential"] = ["the name of a credential of the project, or empty"]
        elif name and not webhook.workflow.project.credentials.filter(name=name).exists():
            problems["signature_credential"] = [f"the project has no credential named {name!r}"]
        else:
            webhook.signature_credential = name
    if "signature_header" in changes:
        header = changes["signature_header"] or ""
        if not isinstance(header, str) or (header and not _HEADER_NAME.match(header)):
            problems["signature_header"] = ["an HTTP header name (letters, digits and dashes)"]
        else:
            webhook.signature_header = header
    if webhook.signature_credential and not webhook.signature_header:
        problems.setdefault("signature_header", []).append("required when signature_credential is set")
    if problems:
        raise ValidationError(problems)


def _publish(workflow: Workflow) -> None:
    """The workflow's page shows its triggers: its subscribers refresh."""
    publish_change(
        "createOrUpdateWorkflow",
        filters={"id": workflow.pk, "project_id": workflow.project_id},
        recipients=member_ids(workflow.project),
    )


@transaction.atomic
def webhook_enable(*, workflow: Workflow, actor: User, **settings: Any) -> tuple[Webhook, str | None]:
    """Turn the workflow's webhook on (needs ``edit``), with ``settings`` applied.

    Returns ``(webhook, token)``: the token only when this call created the webhook (it is never
    stored and cannot be shown again), ``None`` when an existing webhook was re-enabled with its
    token unchanged. Raises ``ValidationError`` naming a bad setting.
    """
    require_permission(workflow.project, actor, Permission.EDIT)
    webhook = Webhook.objects.select_for_update().filter(workflow=workflow).first()
    token = None
    if webhook is None:
        webhook = Webhook(workflow=workflow, methods=["POST"])
        token = _new_token(webhook)
    webhook.workflow = workflow
    webhook.enabled = True
    _clean_webhook_settings(webhook, settings)
    webhook.save()
    _publish(workflow)
    return webhook, token


@transaction.atomic
def webhook_update(*, workflow: Workflow, actor: User, **settings: Any) -> Webhook:
    """Change the settings of the workflow's webhook (needs ``edit``); ``Webhook.DoesNotExist``
    when it has none. Raises ``ValidationError`` naming a bad setting."""
    require_permission(workflow.project, actor, Permission.EDIT)
    webhook = Webhook.objects.select_for_update().get(workflow=workflow)
    webhook.workflow = workflow
    _clean_webhook_settings(webhook, settings)
    webhook.save()
    _publish(workflow)
    return webhook


@transaction.atomic
def webhook_rotate(*, workflow: Workflow, actor: User) -> tuple[Webhook, str]:
    """A new token for the workflow's webhook (needs ``edit``); the old URL stops working at once.
    Creates the webhook (enabled, ``POST`` only) if the workflow had none. Returns the new token,
    which is shown once."""
    require_permission(workflow.project, actor, Permission.EDIT)
    webhook = Webhook.objects.select_for_update().filter(workflow=workflow).first()
    if webhook is None:
        webhook = Webhook(workflow=workflow, methods=["POST"])
    token = _new_token(webhook)
    webhook.save()
    _publish(workflow)
    return webhook, token


@transaction.atomic
def webhook_disable(*, workflow: Workflow, actor: User) -> bool:
    """Turn the webhook off (needs ``edit``): its URL answers 404 until it is enabled again (with
    the same token; rotate to get a new one). Returns whether it was on."""
    require_permission(workflow.project, actor, Permission.EDIT)
    changed = Webhook.objects.filter(workflow=workflow, enabled=True).update(enabled=False)
    if changed:
        _publish(workflow)
    return bool(changed)


def webhook_authenticate(*, workflow_id: int, token: str) -> Webhook | None:
    """The enabled webhook of that workflow whose token is ``token``, else ``None``.

    The digests are compared in constant time, and a digest is computed and compared even when
    there is no webhook, so the answer's timing does not tell which part was wrong.
    """
    rows = select_rows(  # on every call: compiled once (synchronise/lib/compiled.py)
        "webhook",
        lambda: Webhook.objects.select_related("workflow__project").filter(workflow_id=0).order_by(),
        [0],
        [workflow_id],
    )
    webhook = None
    if rows:
        webhook, workflow, project = instances(rows[0], Webhook, Workflow, Project)
        workflow.project, webhook.workflow = project, workflow
    expected = webhook.token_digest if webhook is not None else "0" * 64
    matches = hmac.compare_digest(token_digest(token), expected)
    if webhook is None or not matches or not webhook.enabled:
        return None
    return webhook


def signature_valid(*, secret: str, body: bytes, header_value: str | None) -> bool:
    """Whether ``header_value`` is ``sha256=<hex HMAC-SHA256 of body under secret>``."""
    if not header_value:
        return False
    scheme, _, given = header_value.strip().partition("=")
    if scheme.lower() != "sha256" or not given:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


# --- Schedules --------------------------------------------------------------------------------

SCHEDULED_RUN_TASK = "workflows.scheduled_run"
CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
_CRON_FIELD_NAMES = {
    "minute": "minute",
    "hour": "hour",
    "day_of_month": "day of month",
    "month_of_year": "month",
    "day_of_week": "day of week",
}
_VALIDATORS = {
    "minute": beat_validators.minute_validator,
    "hour": beat_validators.hour_validator,
    "day_of_month": beat_validators.day_of_month_validator,
    "month_of_year": beat_validators.month_of_year_validator,
    "day_of_week": beat_validators.day_of_week_validator,
}
MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MIN_EXPIRY_SECONDS = 60
MAX_EXPIRY_SECONDS = 3600


@dataclass(frozen=True)
class Cron:
    """A validated five-field cron expression."""

    minute: str
    hour: str
    day_of_month: str
    month_of_year: str
    day_of_week: str

    def __str__(self) -> str:
        return " ".join(getattr(self, name) for name in CRON_FIELDS)

    def fields(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in CRON_FIELDS}


def parse_cron(expression: Any) -> Cron:
    """The cron expression, validated the way beat will read it; ``ValidationError`` on ``cron``.

    Five fields (minute hour day-of-month month day-of-week, Sunday is 0), or one of the macros
    ``@hourly @daily @weekly @monthly @yearly``. Like Celery (and unlike Vixie cron), a restricted
    day of month *and* day of week must both match.
    """
    if not isinstance(expression, str) or not expression.strip():
        raise ValidationError({"cron": ["five fields: minute hour day-of-month month day-of-week"]})
    text = MACROS.get(expression.strip().lower(), expression)
    parts = text.split()
    if len(parts) != len(CRON_FIELDS):
        raise ValidationError({"cron": [f"five fields: minute hour day-of-month month day-of-week (got {len(parts)})"]})
    cron = Cron(*parts)
    for name, value in cron.fields().items():
        try:
            _VALIDATORS[name](value)
        except ValidationError as invalid:
            raise ValidationError({"cron": [f"{_CRON_FIELD_NAMES[name]} {value!r}: {invalid.messages[0]}"]}) from None
    try:
        crontab(**cron.fields())  # what beat builds: Celery's parser has the last word
    except ValueError as invalid:
        hint = " (Sunday is 0)" if "> 6" in str(invalid) else ""
        raise ValidationError({"cron": [f"{invalid}{hint}"]}) from None
    return cron


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def parse_timezone(name: Any) -> ZoneInfo:
    """An IANA time zone (``Europe/Paris``, ``UTC``); ``ValidationError`` on ``timezone``."""
    if not isinstance(name, str) or name not in _zones():
        raise ValidationError({"timezone": [f"{name!r} is not an IANA time zone, e.g. 'UTC' or 'Europe/Paris'"]})
    return ZoneInfo(name)


def next_runs(cron: str, tz: str = "UTC", n: int = 5, *, after: datetime | None = None) -> list[datetime]:
    """The next ``n`` times (aware, in ``tz``) the schedule fires after ``after`` (default now),
    computed by the same Celery crontab arithmetic beat uses. Raises ``ValidationError``."""
    parsed, zone = parse_cron(cron), parse_timezone(tz)
    schedule = TzAwareCrontab(**parsed.fields(), tz=zone)
    cursor = (after or django_timezone.now()).astimezone(zone)
    found: list[datetime] = []
    for _ in range(max(0, min(n, 100))):
        at = cursor
        schedule.nowfun = lambda at=at: at  # Celery reads "now" to decide whether the hour is done
        start, delta, _now = schedule.remaining_delta(cursor, tz=zone)
        cursor = (start + delta).astimezone(zone)
        found.append(cursor)
    return found


def _expiry_seconds(cron: Cron, zone: str) -> int:
    """How long a sent run may wait for a worker: the shortest gap between its next slots."""
    runs = next_runs(str(cron), zone, 6)
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(runs)]
    shortest = min(gaps, default=MAX_EXPIRY_SECONDS)
    return int(max(MIN_EXPIRY_SECONDS, min(MAX_EXPIRY_SECONDS, shortest)))


def _clean_inputs(workflow: Workflow, inputs: Any) -> dict[str, Any]:
    inputs = {} if inputs is None else inputs
    if not isinstance(inputs, dict):
        raise ValidationError({"inputs": ["a JSON object of the workflow's inputs"]})
    latest = workflow.latest_version()
    if latest is not None:
        try:
            coerce_inputs(latest.definition.get("inputs", []), inputs)
        except RunError as error:
            raise ValidationError({"inputs": [f"{error.message} (checked against version {latest.number})"]}) from None
    try:
        json.dumps(inputs)
    except (TypeError, ValueError):
        raise ValidationError({"inputs": ["must be JSON"]}) from None
    return inputs


def _drop_if_unused(crontab_row: CrontabSchedule | None) -> None:
    if crontab_row is not None and not PeriodicTask.objects.filter(crontab=crontab_row).exists():
        crontab_row.delete()


@transaction.atomic
def schedule_set(
    *,
    workflow: Workflow,
    actor: User,
    cron: str,
    timezone: str = "UTC",
    inputs: dict[str, Any] | None = None,
    enabled: bool = True,
) -> Schedule:
    """Create or replace the workflow's schedule (needs ``edit``) and its beat entry.

    The next run is the first slot after now: saving never fires a run at once, even for a
    schedule that was off for a while. Raises ``ValidationError`` naming ``cron``, ``timezone``
    or ``inputs`` (checked against the latest published version, if there is one).
    """
    require_permission(workflow.project, actor, Permission.EDIT)
    problems: dict[str, list[str]] = {}
    parsed = zone = None
    try:
        parsed = parse_cron(cron)
    except ValidationError as invalid:
        problems.update(invalid.message_dict)
    try:
        zone = parse_timezone(timezone)
    except ValidationError as invalid:
        problems.update(invalid.message_dict)
    try:
        inputs = _clean_inputs(workflow, inputs)
    except ValidationError as invalid:
        problems.update(invalid.message_dict)
    if not isinstance(enabled, bool):
        problems["enabled"] = ["true or false"]
    if problems or parsed is None or zone is None:
        raise ValidationError(problems)

    schedule = Schedule.objects.select_for_update().filter(workflow=workflow).first() or Schedule(workflow=workflow)
    schedule.cron, schedule.timezone, schedule.inputs, schedule.enabled = str(parsed), timezone, inputs, enabled
    # Schedules with the same cron and zone share a row (filter().first(): the admin may have made twins).
    crontab_row = CrontabSchedule.objects.filter(**parsed.fields(), timezone=zone).first()
    if crontab_row is None:
        crontab_row = CrontabSchedule.objects.create(**parsed.fields(), timezone=zone)
    task = schedule.periodic_task if schedule.periodic_task_id else None
    if task is None:
        task = PeriodicTask.objects.filter(name=_task_name(workflow)).first() or PeriodicTask(name=_task_name(workflow))
    previous_crontab = task.crontab if task.crontab_id and task.crontab_id != crontab_row.pk else None
    task.task = SCHEDULED_RUN_TASK
    task.args = json.dumps([workflow.pk])
    task.kwargs = "{}"
    task.crontab = crontab_row
    task.interval = task.solar = task.clocked = None
    task.enabled = enabled
    task.one_off = False
    task.start_time = None
    task.expires = None
    task.expire_seconds = _expiry_seconds(parsed, timezone)
    task.last_run_at = None  # beat then counts from this save: no catch-up run for a changed schedule
    task.description = f"Schedule of workflow {workflow.pk} ({workflow.name})"[:200]
    task.save()  # save(), not update(): its signal tells a running beat to reload
    _drop_if_unused(previous_crontab)
    schedule.periodic_task = task
    schedule.full_clean(exclude=["workflow", "periodic_task"])
    schedule.save()
    _publish(workflow)
    return schedule


def _task_name(workflow: Workflow) -> str:
    return f"workflow-{workflow.pk}-schedule"


@transaction.atomic
def schedule_clear(*, workflow: Workflow, actor: User) -> bool:
    """Delete the workflow's schedule and its beat entry (needs ``edit``); whether there was one."""
    require_permission(workflow.project, actor, Permission.EDIT)
    schedule = Schedule.objects.select_for_update().filter(workflow=workflow).first()
    if schedule is None:
        return False
    task = schedule.periodic_task
    schedule.delete()
    if task is not None:
        crontab_row = task.crontab
        task.delete()  # delete(), not a queryset delete: its signal tells a running beat to reload
        _drop_if_unused(crontab_row)
    _publish(workflow)
    return True


def schedule_fire(*, workflow_id: int, now: datetime | None = None) -> WorkflowExecution | None:
    """Start the scheduled run of the workflow (called by the ``workflows.scheduled_run`` task).

    Never raises for a run that cannot start (schedule gone or off, no published version, a
    definition with problems, bad inputs, over quota): it logs why, names the workflow, records
    a failed execution with the error (so the refusal shows in the executions list), and returns
    ``None``. Runs
    of the same schedule in the same minute are one execution (its idempotency key is the minute).
    """
    from workflows.runs import execution_record_refused, execution_start

    schedule = Schedule.objects.select_related("workflow", "workflow__project").filter(workflow_id=workflow_id).first()
    if schedule is None or not schedule.enabled:
        logger.warning("scheduled run of workflow %s skipped: it has no enabled schedule", workflow_id)
        return None
    minute = (now or django_timezone.now()).astimezone(ZoneInfo("UTC")).replace(second=0, microsecond=0)
    key = f"schedule-{minute:%Y-%m-%dT%H:%MZ}"
    try:
        return execution_start(
            workflow=schedule.workflow,
            inputs=dict(schedule.inputs or {}),
            trigger=Trigger.SCHEDULE,
            idempotency_key=key,
        )
    except RunError as error:
        logger.warning(
            "scheduled run of workflow %s (%s, project %s) not started: %s %s",
            workflow_id,
            schedule.workflow.name,
            schedule.workflow.project_id,
            error.code,
            error.message,
        )
        if error.code not in (INCORRECT_INPUT, MISSING_INPUT):  # those are recorded by execution_start
            execution_record_refused(
                workflow=schedule.workflow,
                trigger=Trigger.SCHEDULE,
                inputs=dict(schedule.inputs or {}),
                error=error,
                idempotency_key=key,
            )
        return None


def schedule_data(schedule: Schedule, *, previews: int = 5) -> dict[str, Any]:
    """The schedule as the API and the UI show it, with its next runs."""
    runs = next_runs(schedule.cron, schedule.timezone, previews) if schedule.enabled else []
    return {
        "enabled": schedule.enabled,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "inputs": schedule.inputs,
        "description": describe_cron(schedule.cron),
        "next_runs": [run.isoformat() for run in runs],
    }


def describe_cron(cron: str) -> str:
    """The cron in words, e.g. "At 09:00 AM, Monday through Friday" (empty if it cannot say)."""
    import cron_descriptor

    try:
        return str(cron_descriptor.get_description(cron))
    except (
        cron_descriptor.FormatException,
        cron_descriptor.MissingFieldException,
        cron_descriptor.WrongArgumentException,
        ValueError,
    ):
        return ""  # a description is a nicety; the cron itself was validated by Celery's parser
