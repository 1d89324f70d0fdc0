"""Forms of the workflow pages: each validates, calls one service and turns its errors into form errors."""

from __future__ import annotations

import datetime
import json
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Project, User
from workflows import services
from workflows.definition import RetrySerializer
from workflows.models import Status, Trigger, Workflow, WorkflowExecution

# The retry fields' bounds, as the definition's serializer checks them.
RETRY_LIMITS = {
    name: (getattr(field, "min_value", None), getattr(field, "max_value", None))
    for name, field in RetrySerializer().fields.items()
}


def _add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's ``ValidationError`` as form errors: known fields on the field, the rest on the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class _InProjectForm(forms.Form):
    """A form whose ``project`` is one of the projects given (those the user may edit)."""

    project = forms.ModelChoiceField(queryset=Project.objects.none(), empty_label=None)

    def __init__(self, *args: Any, projects: list[Project], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.filter(pk__in=[p.pk for p in projects])  # type: ignore[attr-defined]


class WorkflowCreateForm(_InProjectForm):
    name = forms.CharField(max_length=120)
    field_order = ("name", "project")

    def create(self, *, actor: User) -> Workflow | None:
        """The new (empty) workflow, or ``None`` with the service's errors on the form."""
        try:
            return services.workflow_create(
                project=self.cleaned_data["project"], actor=actor, name=self.cleaned_data["name"]
            )
        except ValidationError as error:
            _add_service_errors(self, error)
            return None


MAX_IMPORT_BYTES = 1_000_000


class WorkflowImportForm(_InProjectForm):
    """A workflow exported as JSON (``/api/v1/workflows/{id}/export``), imported into a project."""

    document = forms.FileField(label="Exported JSON", help_text="The file of a workflow's Export tab.")
    field_order = ("document", "project")

    def clean_document(self) -> Any:
        upload = self.cleaned_data["document"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_IMPORT_BYTES // 1000} KB.")
        try:
            return json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise forms.ValidationError("The file is not JSON.") from None

    def save(self, *, actor: User) -> Workflow | None:
        """The imported workflow, or ``None`` with the import's problems on the form (nothing written)."""
        from workflows.transfer import workflow_import

        try:
            result = workflow_import(
                project=self.cleaned_data["project"], actor=actor, document=self.cleaned_data["document"]
            )
        except ValidationError as error:
            problems = error.message_dict if hasattr(error, "error_dict") else {"document": error.messages}
            for path, messages in problems.items():
                for message in messages:
                    self.add_error(None, f"{path}: {message}")
            return None
        return result.workflow


def _limit(name: str) -> dict[str, Any]:
    low, high = RETRY_LIMITS[name]
    return {"min_value": low, "max_value": high}


class WorkflowSettingsForm(forms.Form):
    """The workflow's settings, and the retry policy and timeout its steps default to."""

    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)
    public = forms.BooleanField(
        required=False, help_text="Anyone with the project's publishable key may run its published versions."
    )
    concurrency_limit = forms.IntegerField(
        required=False, min_value=1, help_text="Executions running at once; more wait in the queue. Blank: no limit."
    )
    rate_limit_per_minute = forms.IntegerField(
        required=False,
        min_value=1,
        label="Rate limit per minute",
        help_text="Executions started per minute. Blank: no limit.",
    )
    timeout_seconds = forms.IntegerField(min_value=1, label="Execution timeout (seconds)")
    retention_days = forms.IntegerField(min_value=1, label="Keep executions for (days)")
    max_payload_bytes = forms.IntegerField(
        min_value=1024,
        label="Max payload (bytes)",
        help_text="Stored inputs, outputs and logs per step above this are truncated.",
    )
    retry_attempts = forms.IntegerField(label="Attempts", **_limit("attempts"))
    retry_backoff = forms.FloatField(label="First backoff (seconds)", **_limit("backoff"))
    retry_max_delay = forms.FloatField(label="Max delay (seconds)", **_limit("max_delay"))
    step_timeout = forms.FloatField(
        required=False,
        min_value=0.1,
        max_value=3600,
        label="Step timeout (seconds)",
        help_text="Blank: the component's own limit.",
    )

    WORKFLOW_FIELDS = (
        "name",
        "description",
        "public",
        "concurrency_limit",
        "rate_limit_per_minute",
        "timeout_seconds",
        "retention_days",
        "max_payload_bytes",
    )

    def __init__(self, *args: Any, read_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    @classmethod
    def initial_of(cls, workflow: Workflow) -> dict[str, Any]:
        defaults = (workflow.definition or {}).get("defaults") or {}
        retry = defaults.get("retry") or {}
        return {
            **{name: getattr(workflow, name) for name in cls.WORKFLOW_FIELDS},
            "retry_attempts": retry.get("attempts", 1),
            "retry_backoff": retry.get("backoff", 1.0),
            "retry_max_delay": retry.get("max_delay", 60.0),
            "step_timeout": defaults.get("timeout"),
        }

    def save(self, *, workflow: Workflow, actor: User) -> bool:
        data = self.cleaned_data
        definition = dict(workflow.definition or {})
        defaults = dict(definition.get("defaults") or {})
        retry = dict(defaults.get("retry") or {})
        retry.update(attempts=data["retry_attempts"], backoff=data["retry_backoff"], max_delay=data["retry_max_delay"])
        definition["defaults"] = {**defaults, "retry": retry, "timeout": data["step_timeout"]}
        try:
            services.workflow_update(
                workflow=workflow,
                actor=actor,
                definition=definition,
                **{name: data[name] for name in self.WORKFLOW_FIELDS},
            )
        except ValidationError as error:
            _add_service_errors(self, error)
            return False
        return True


DATE_INPUT = {"type": "date", "class": "input"}


class ExecutionFilterForm(forms.Form):
    """The filters of an execution list (a GET form: every field optional)."""

    status = forms.ChoiceField(choices=[("", "Any status"), *Status.choices], required=False)
    trigger = forms.ChoiceField(choices=[("", "Any trigger"), *Trigger.choices], required=False)
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs=DATE_INPUT))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs=DATE_INPUT))

    def __init__(self, *args: Any, workflows: QuerySet[Workflow] | None = None, **kwargs: Any) -> None:
        """``workflows``: on a project's list, also filter by one of these."""
        super().__init__(*args, **kwargs)
        if workflows is not None:
            self.fields = {
                "workflow": forms.ModelChoiceField(queryset=workflows, required=False, empty_label="Any workflow"),
                **self.fields,
            }

    def apply(self, executions: QuerySet[WorkflowExecution]) -> QuerySet[WorkflowExecution]:
        """The executions that pass the valid filters (an invalid one is ignored and shown as an error)."""
        data = self.cleaned_data if self.is_valid() else {}
        if data.get("workflow"):
            executions = executions.filter(workflow=data["workflow"])
        if data.get("status"):
            executions = executions.filter(status=data["status"])
        if data.get("trigger"):
            executions = executions.filter(trigger=data["trigger"])
        zone = timezone.get_current_timezone()
        if data.get("since"):
            executions = executions.filter(
                created_at__gte=datetime.datetime.combine(data["since"], datetime.time.min, zone)
            )
        if data.get("until"):
            end = datetime.datetime.combine(data["until"] + datetime.timedelta(days=1), datetime.time.min, zone)
            executions = executions.filter(created_at__lt=end)
        return executions

    def query(self) -> str:
        """The filters as a query string, for the live fragment's URL and pagination links."""
        data = self.cleaned_data if self.is_valid() else {}
        return urlencode({name: value for name, value in self.data.items() if name in self.fields and data.get(name)})
