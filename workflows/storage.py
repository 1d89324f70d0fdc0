"""Bounded storage of executions: payload caps per step and retention per workflow."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.utils import timezone

from workflows import statements
from workflows.models import StepRun, Workflow, WorkflowExecution

TRUNCATED = "_truncated"


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str).encode())


def truncated(value: Any, limit: int) -> Any:
    """``value`` if its JSON fits in ``limit`` bytes, else a marker with its size and a preview."""
    size = _size(value)
    if size <= limit:
        return value
    preview = json.dumps(value, separators=(",", ":"), default=str)[: max(limit // 2, 0)]
    return {TRUNCATED: True, "bytes": size, "preview": preview}


def bound_payloads(execution: WorkflowExecution) -> int:
    """Truncate what the execution's step runs store beyond the workflow's ``max_payload_bytes``
    (done when it finishes: until then later steps may read every output). The execution's own
    outputs are what its caller gets, and stay whole (the sandbox caps them). Returns rows changed."""
    limit = execution.workflow.max_payload_bytes
    # A character takes at most 12 bytes in ``_size``'s JSON (an escaped surrogate pair): a row
    # with no field longer than this in the database is within the limit, and is not read at all.
    suspects = statements.oversized_step_runs(execution.pk, limit // 12)
    if not suspects:
        return 0
    changed = 0
    for row in StepRun.objects.filter(pk__in=suspects).only("id", "inputs", "outputs", "logs"):
        fields = {}
        for name in ("inputs", "outputs"):
            value = getattr(row, name)
            bounded = truncated(value, limit)
            if bounded is not value:
                fields[name] = bounded
        if _size(row.logs) > limit:
            kept: list[str] = []
            used = 0
            for line in reversed(row.logs):
                used += len(line.encode()) + 4
                if used > limit:
                    break
                kept.append(line)
            fields["logs"] = [f"[{len(row.logs) - len(kept)} earlier lines truncated]", *reversed(kept)]
        if fields:
            StepRun.objects.filter(pk=row.pk).update(**fields)
            changed += 1
    return changed


def prune() -> int:
    """Delete finished executions older than their workflow's retention; returns how many."""
    deleted = 0
    now = timezone.now()
    for workflow_id, days in Workflow.objects.values_list("pk", "retention_days"):
        cutoff = now - timedelta(days=days)
        old = WorkflowExecution.objects.filter(
            workflow_id=workflow_id, created_at__lt=cutoff, finished_at__isnull=False
        )
        deleted += old.delete()[1].get("workflows.WorkflowExecution", 0)
    return deleted
