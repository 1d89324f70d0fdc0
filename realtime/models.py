"""The realtime wiring: which subscribed calls must refresh when a room (a change) is published."""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models


def validate_param_spec(value: object) -> None:
    """``{"param": {"filter": "key"}}`` or ``{"param": {"value": <json>}}`` for each parameter."""
    if not isinstance(value, dict):
        raise ValidationError("params must be an object of parameter name → spec")
    for name, spec in value.items():
        if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in ("filter", "value"):
            raise ValidationError(f"parameter {name!r}: use {{'filter': '<key>'}} or {{'value': <value>}}")
        if "filter" in spec and not isinstance(spec["filter"], str):
            raise ValidationError(f"parameter {name!r}: the filter must name a key")


class RealtimeSubscription(models.Model):
    """When ``room`` is published, callers subscribed to ``function(params)`` get ``cloud.data_update``.

    Each parameter is either a fixed value or taken from the published ``filters``
    (e.g. ``createOrUpdateProject → getProject(id = filters.id)``).
    """

    room = models.CharField(max_length=100, db_index=True, help_text="The change, e.g. createOrUpdateProject.")
    function = models.CharField(max_length=100, help_text="The cloud function whose callers must refresh.")
    params = models.JSONField(default=dict, blank=True, validators=[validate_param_spec])
    enabled = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ("room", "function")
        constraints: ClassVar = [models.UniqueConstraint(fields=["room", "function"], name="one_wiring_per_pair")]

    def __str__(self) -> str:
        args = ", ".join(
            f"{name}={spec['filter'] if 'filter' in spec else repr(spec['value'])}"
            for name, spec in self.params.items()
        )
        return f"{self.room} → {self.function}({args})"
