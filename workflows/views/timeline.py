"""An execution's steps as the pages show them: one entry per step of its plan, in run order, with
the step's overall status and its attempts (per item, for ``for_each``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from components.models import ComponentVersion
from synchronise.lib import jsonlimits
from workflows import definition as definitions
from workflows.models import StepRun, StepStatus, WorkflowExecution

ACTIVE = {StepStatus.PENDING, StepStatus.WAITING, StepStatus.QUEUED, StepStatus.RUNNING}


def pretty(value: Any) -> str:
    # Scrubbed: a row stored with a lone surrogate (SQLite keeps one) must not make the page fail.
    return jsonlimits.scrub(json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False, default=str))


@dataclass
class Attempt:
    """One step run, with its JSON pre-formatted for ``<pre>``."""

    row: StepRun
    inputs: str
    outputs: str
    error: str

    @classmethod
    def of(cls, row: StepRun) -> Attempt:
        return cls(
            row=row,
            inputs=pretty(row.inputs),
            outputs=pretty(row.outputs) if row.outputs else "",
            error=pretty(row.error) if row.error else "",
        )

    @property
    def logs(self) -> list[str]:
        return [line if isinstance(line, str) else json.dumps(line, default=str) for line in (self.row.logs or [])]


@dataclass
class StepSummary:
    id: str
    component: str
    status: str  # a StepStatus value, or "not_run" for a finished execution that never reached it
    items: int = 1
    attempts: int = 0
    duration_ms: float | None = None
    latest: list[Attempt] = field(default_factory=list)  # the last attempt of each item
    history: list[Attempt] = field(default_factory=list)  # earlier attempts, oldest first

    @property
    def status_label(self) -> str:
        labels = dict(StepStatus.choices)
        return labels.get(self.status, "not run" if self.status == "not_run" else self.status)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


def _status(latest: list[StepRun], execution: WorkflowExecution) -> str:
    if not latest:
        return StepStatus.PENDING if not execution.is_finished else "not_run"
    found = {row.status for row in latest}
    for status in (StepStatus.RUNNING, StepStatus.WAITING, StepStatus.QUEUED, StepStatus.PENDING):
        if status in found:
            return status
    for status in (StepStatus.FAILED, StepStatus.TIMED_OUT, StepStatus.CANCELLED):
        if status in found:
            return status
    if found == {StepStatus.SKIPPED}:
        return StepStatus.SKIPPED
    return StepStatus.SUCCEEDED


def _duration(latest: list[StepRun]) -> float | None:
    if len(latest) == 1:
        return latest[0].duration_ms
    started = [row.started_at for row in latest if row.started_at]
    finished = [row.finished_at for row in latest if row.finished_at]
    if not started or not finished or any(row.finished_at is None for row in latest):
        return None
    return (max(finished) - min(started)).total_seconds() * 1000


def step_order(plan: dict[str, Any]) -> list[str]:
    """The plan's step ids in an order where each follows its dependencies (declaration order
    for a plan with a cycle, which validation keeps from ever running)."""
    parsed = definitions.parse(plan)
    try:
        return definitions.topological(parsed)
    except ValueError:
        return [step.id for step in parsed.steps]


def summaries(execution: WorkflowExecution) -> list[StepSummary]:
    """Each step of the execution's plan with its runs (two queries)."""
    rows: dict[str, list[StepRun]] = {}
    for row in StepRun.objects.filter(execution=execution).order_by("item", "attempt", "id"):
        rows.setdefault(row.step, []).append(row)
    plan_steps = {step["id"]: step for step in execution.plan.get("steps", [])}
    # The plan pins each step's component version: its name and number, in one query.
    pinned = {
        pk: f"{name} v{number}"
        for pk, name, number in ComponentVersion.objects.filter(
            pk__in={s.get("version_id") for s in plan_steps.values()}
        ).values_list("pk", "component__name", "number")
    }
    found = []
    for step_id in step_order(execution.plan):
        runs = rows.get(step_id, [])
        last: dict[int, StepRun] = {}
        for row in runs:
            last[row.item] = row  # ordered by attempt: the last one wins
        latest = [last[item] for item in sorted(last)]
        spec = plan_steps.get(step_id, {})
        found.append(
            StepSummary(
                id=step_id,
                component=pinned.get(spec.get("version_id"), f"component {spec.get('component')}"),
                status=_status(latest, execution),
                items=max((row.items for row in runs), default=1),
                attempts=max((row.attempt for row in runs), default=0),
                duration_ms=_duration(latest),
                latest=[Attempt.of(row) for row in latest],
                history=[Attempt.of(row) for row in runs if row not in latest],
            )
        )
    return found
