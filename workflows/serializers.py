"""The shapes of the workflows API: what it accepts (validated here, at the edge) and what it answers.

Writes go through ``workflows.services`` / ``workflows.runs`` / ``workflows.transfer``; these
serializers only check shapes and turn rows into JSON.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Project
from synchronise.lib.queryparams import IdField
from workflows import definition as definitions
from workflows.models import Status as ExecutionStatus
from workflows.models import StepRun, StepStatus, Trigger, Workflow, WorkflowExecution, WorkflowVersion

SETTINGS_FIELDS = (
    "public",
    "concurrency_limit",
    "rate_limit_per_minute",
    "timeout_seconds",
    "retention_days",
    "max_payload_bytes",
)
MAX_SYNC_TIMEOUT = 120.0
DEFAULT_SYNC_TIMEOUT = 30.0


def definition_errors(error: ValidationError) -> Any:
    """``definitions.clean``'s errors, keyed by the path inside the definition (``steps[0].id``)."""
    if not hasattr(error, "error_dict"):
        return error.messages
    found: dict[str, list[str]] = {}
    for where, messages in error.message_dict.items():
        # DRF files a value of the wrong kind (a text for a list) under non_field_errors.
        found.setdefault(where.removesuffix(".non_field_errors"), []).extend(messages)
    return found["definition"] if set(found) == {"definition"} else found


def check_definition_shape(value: Any) -> Any:
    """``value`` unchanged if it has a definition's shape; raises DRF's ``ValidationError`` naming each bad field."""
    try:
        definitions.clean(value)
    except ValidationError as error:
        raise serializers.ValidationError(definition_errors(error)) from None
    return value


class WorkflowProblemSerializer(serializers.Serializer[Any]):
    """Something that keeps a draft from being published or run."""

    step = serializers.CharField(allow_null=True, help_text="The step's id; null for the workflow's outputs.")
    field = serializers.CharField(help_text="Where in the step (or workflow): inputs.city, run_if, outputs.total, …")
    message = serializers.CharField()


class WorkflowSerializer(serializers.ModelSerializer[Workflow]):
    """A workflow: identity, settings, and the draft ``definition`` with its ``problems``."""

    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.none(), help_text="The project it belongs to; set once, at creation."
    )
    definition = serializers.JSONField(
        required=False, help_text="The draft: {inputs, steps, outputs, defaults} (see docs/workflows-api.md)."
    )
    problems = WorkflowProblemSerializer(many=True, read_only=True)
    # The field is popped from the class by DRF's metaclass, so Serializer.is_valid() stays a method.
    is_valid = serializers.BooleanField(read_only=True, help_text="Whether the draft has no problems.")  # type: ignore[assignment]
    latest_version = serializers.SerializerMethodField(help_text="The newest published version's number.")

    class Meta:
        model = Workflow
        fields = (
            "id", "project", "name", "description", "definition", "problems", "is_valid", "latest_version",
            *SETTINGS_FIELDS, "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = ("id", "problems", "is_valid", "latest_version", "created_at", "updated_at")

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        help_text = fields["project"].help_text
        if self.instance is not None:  # a workflow never moves to another project
            fields["project"] = serializers.PrimaryKeyRelatedField(read_only=True, help_text=help_text)
        else:  # only the requester's projects may be named (the view passes them)
            projects: QuerySet[Project] | None = self.context.get("projects")  # `or` would run the query
            if projects is None:
                projects = Project.objects.none()
            fields["project"] = serializers.PrimaryKeyRelatedField(queryset=projects, help_text=help_text)
        return fields

    def validate_definition(self, value: Any) -> Any:
        return check_definition_shape(value)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_latest_version(self, workflow: Workflow) -> int | None:
        if hasattr(workflow, "latest_version_number"):  # annotated by the list's queryset
            return workflow.latest_version_number
        return workflow.versions.values_list("number", flat=True).first()


class WorkflowVersionSerializer(serializers.ModelSerializer[WorkflowVersion]):
    class Meta:
        model = WorkflowVersion
        fields = ("number", "changelog", "definition", "created_at")


class WorkflowPublishSerializer(serializers.Serializer[Any]):
    changelog = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class WorkflowDuplicateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=120, required=False, help_text="Default: the name with ' (copy)'.")


class WorkflowValidateSerializer(serializers.Serializer[Any]):
    definition = serializers.JSONField(required=False, help_text="The definition to check; default: the draft.")

    def validate_definition(self, value: Any) -> Any:
        return check_definition_shape(value)


class WorkflowValidationSerializer(serializers.Serializer[Any]):
    """The answer of ``validate``: the definition as it would be saved, and its problems."""

    definition = serializers.JSONField()
    problems = WorkflowProblemSerializer(many=True)
    is_valid = serializers.BooleanField()  # type: ignore[assignment]  # popped by DRF's metaclass, as above


class WorkflowPublishRefusedSerializer(serializers.Serializer[Any]):
    definition = serializers.ListField(child=serializers.CharField(), help_text="Each problem, in words.")
    problems = WorkflowProblemSerializer(many=True)


class WorkflowStepRunSerializer(serializers.ModelSerializer[StepRun]):
    """One attempt of one step (of one item, for ``for_each``)."""

    status = serializers.ChoiceField(choices=StepStatus.choices, read_only=True)

    class Meta:
        model = StepRun
        fields = (
            "id", "step", "item", "items", "attempt", "status", "reused", "inputs", "outputs", "logs", "error",
            "created_at", "started_at", "finished_at", "next_attempt_at", "duration_ms",
        )  # fmt: skip
        read_only_fields = fields


class WorkflowExecutionSerializer(serializers.ModelSerializer[WorkflowExecution]):
    """One run of a workflow. ``steps`` lists its step runs when one execution is read (or run);
    it is null in lists, which stay light."""

    version = serializers.IntegerField(
        source="version.number", allow_null=True, default=None, read_only=True, help_text="null: the draft ran."
    )
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, read_only=True)
    trigger = serializers.ChoiceField(choices=Trigger.choices, read_only=True)
    steps = serializers.SerializerMethodField()

    class Meta:
        model = WorkflowExecution
        fields = (
            "id", "workflow", "project", "version", "status", "trigger", "inputs", "outputs", "error",
            "source", "restart_from", "created_at", "started_at", "finished_at", "duration_ms", "steps",
        )  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(WorkflowStepRunSerializer(many=True, allow_null=True))
    def get_steps(self, execution: WorkflowExecution) -> list[dict[str, Any]] | None:
        if not self.context.get("steps"):
            return None
        rows = sorted(execution.step_runs.all(), key=lambda row: row.pk)  # prefetched by the views
        return list(WorkflowStepRunSerializer(rows, many=True).data)


class ExecutionFilterSerializer(serializers.Serializer[Any]):
    """The query string of ``GET /api/v1/workflow-executions/``."""

    workflow = IdField(required=False)
    project = IdField(required=False)
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, required=False)
    trigger = serializers.ChoiceField(choices=Trigger.choices, required=False)
    created_after = serializers.DateTimeField(required=False, help_text="ISO 8601, inclusive.")
    created_before = serializers.DateTimeField(required=False, help_text="ISO 8601, exclusive.")


class WorkflowFilterSerializer(serializers.Serializer[Any]):
    project = IdField(required=False)


class RunQuerySerializer(serializers.Serializer[Any]):
    """The query string of the run endpoints."""

    version = serializers.CharField(
        required=False, allow_blank=True, help_text="A version number, or 'draft' (editors); default: the latest."
    )
    timeout = serializers.FloatField(
        required=False,
        min_value=0,
        default=DEFAULT_SYNC_TIMEOUT,
        help_text=f"Seconds to wait for the end (default {DEFAULT_SYNC_TIMEOUT:g}, at most {MAX_SYNC_TIMEOUT:g}).",
    )
    # `async` is a Python keyword, hence the declared name.
    run_async = serializers.BooleanField(required=False, default=False)

    def to_internal_value(self, data: Any) -> Any:
        data = {key: data[key] for key in ("version", "timeout") if key in data} | (
            {"run_async": data["async"]} if "async" in data else {}
        )
        values = super().to_internal_value(data)
        values["timeout"] = min(values["timeout"], MAX_SYNC_TIMEOUT)
        return values


class RestartSerializer(serializers.Serializer[Any]):
    step = serializers.CharField(max_length=64, help_text="Run this step and what depends on it again.")


class RerunFailedSerializer(serializers.Serializer[Any]):
    limit = serializers.IntegerField(
        min_value=1, max_value=100, default=100, help_text="Replay at most this many (the newest first)."
    )


class RerunSkippedSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField(help_text="Failures left out: they failed on bad input (101, 102).")
    executions = serializers.ListField(child=serializers.IntegerField(), help_text="The newest of them (ids).")
    reason = serializers.CharField()


class RerunAnswerSerializer(serializers.Serializer[Any]):
    started = WorkflowExecutionSerializer(many=True, help_text="The replays, queued.")
    skipped = RerunSkippedSerializer()
    message = serializers.CharField(help_text="What was done and why failures were skipped, in one sentence.")


class ExportQuerySerializer(serializers.Serializer[Any]):
    components = serializers.ChoiceField(
        choices=[("embedded", "embedded"), ("reference", "reference")],
        default="embedded",
        help_text="embedded: copy each component in; reference: point at them (import in the same project only).",
    )
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="Export this published version; default: the draft."
    )


class ImportSerializer(serializers.Serializer[Any]):
    project = serializers.IntegerField(min_value=1, help_text="The project to import into (needs 'edit').")
    document = serializers.JSONField(help_text="A document made by the export (format synchronise.workflow).")
    name = serializers.CharField(max_length=120, required=False, help_text="Default: the document's name.")


class ImportResultSerializer(serializers.Serializer[Any]):
    workflow = WorkflowSerializer()
    components = serializers.ListField(
        child=serializers.IntegerField(), help_text="The components the import created (embedded ones)."
    )
    missing_credentials = serializers.ListField(
        child=serializers.CharField(), help_text="Credentials the workflow's components use that the project lacks."
    )
