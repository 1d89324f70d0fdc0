"""The realtime wiring: its defaults, and import/export as JSON for the superadmin."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from realtime.models import RealtimeSubscription, validate_param_spec

# room → [(function, params)]; created after migrate if missing, then edited in the superadmin.
DEFAULT_WIRING: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "createOrUpdateProject": [("getProject", {"id": {"filter": "id"}}), ("projectList", {})],
    "deleteProject": [("getProject", {"id": {"filter": "id"}}), ("projectList", {})],
    "updateMembers": [
        ("projectMembers", {"project_id": {"filter": "project_id"}}),
        ("getProject", {"id": {"filter": "project_id"}}),
        ("projectList", {}),
    ],
    "updateKeys": [("projectKeys", {"project_id": {"filter": "project_id"}})],
}


def register_default_wiring(room: str, subscriptions: list[tuple[str, dict[str, Any]]]) -> None:
    """Let an app add defaults for its own rooms (from its ``cloud.py``), created at the next migrate."""
    known = DEFAULT_WIRING.setdefault(room, [])
    for subscription in subscriptions:
        if subscription not in known:
            known.append(subscription)


def wiring_export() -> list[dict[str, Any]]:
    return [
        {"room": w.room, "function": w.function, "params": w.params, "enabled": w.enabled, "description": w.description}
        for w in RealtimeSubscription.objects.order_by("room", "function")
    ]


@transaction.atomic
def wiring_import(entries: Any, *, replace: bool = False) -> int:
    """Create or update wiring from exported JSON; with ``replace``, drop what the import lacks.

    All or nothing: an invalid entry raises ``ValidationError`` naming its index and field.
    """
    if not isinstance(entries, list):
        raise ValidationError("the wiring is a JSON list of {room, function, params}")
    seen = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("room"), str) or not entry.get("room"):
            raise ValidationError(f"entry {index}: room is required")
        if not isinstance(entry.get("function"), str) or not entry.get("function"):
            raise ValidationError(f"entry {index}: function is required")
        params = entry.get("params", {})
        try:
            validate_param_spec(params)
        except ValidationError as exc:
            raise ValidationError(f"entry {index}: params: {'; '.join(exc.messages)}") from None
        row, _ = RealtimeSubscription.objects.update_or_create(
            room=entry["room"],
            function=entry["function"],
            defaults={
                "params": params,
                "enabled": bool(entry.get("enabled", True)),
                "description": str(entry.get("description", ""))[:200],
            },
        )
        seen.append(row.pk)
    if replace:
        RealtimeSubscription.objects.exclude(pk__in=seen).delete()
    return len(seen)


def wiring_seed_defaults(**_: Any) -> int:
    """Create the default wiring that is missing; never touches existing rows.

    Runs after every ``migrate`` (and the test flushes that emit it), so the defaults exist
    from the first start. To switch a default off, disable it in the superadmin: a deleted
    default comes back at the next migrate.
    """
    created = 0
    for room, subscriptions in DEFAULT_WIRING.items():
        for function, spec in subscriptions:
            _row, was_created = RealtimeSubscription.objects.get_or_create(
                room=room, function=function, defaults={"params": spec}
            )
            created += was_created
    return created
