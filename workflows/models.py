"""Workflows (a DAG of component steps), their immutable versions, triggers, and executions.

The database is the source of truth for every execution: a ``WorkflowExecution`` row and one
``StepRun`` row per step attempt (per item for ``for_each``). Celery messages only carry ids.
See docs/workflows.md for the state machine.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from accounts.models import ApiKey, Project


class WorkflowQuerySet(models.QuerySet["Workflow"]):
    def visible_to(self, user: object) -> WorkflowQuerySet:
        """Workflows of the projects the user is a member of."""
        return self.filter(project__in=Project.objects.visible_to(user))  # type: ignore[arg-type]


class Workflow(models.Model):
    """A workflow's identity, settings and draft definition (see ``workflows/definition.py``)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=5000)
    public = models.BooleanField(default=False, help_text="May be run with the project's publishable key.")
    definition = models.JSONField(default=dict, blank=True, help_text="The draft: inputs, steps, outputs.")
    problems = models.JSONField(
        default=list, blank=True, help_text="What makes the draft invalid: [{step, field, message}]."
    )
    # Settings
    concurrency_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Executions running at once; more wait in the queue."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Executions started per minute; more wait in the queue."
    )
    timeout_seconds = models.PositiveIntegerField(default=3600, help_text="Wall time of a whole execution.")
    retention_days = models.PositiveIntegerField(default=30, help_text="Executions older than this are pruned.")
    max_payload_bytes = models.PositiveIntegerField(
        default=65536, help_text="Stored inputs/outputs/logs per step above this are truncated."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkflowQuerySet.as_manager()

    class Meta:
        ordering = ("project", "name", "id")
        indexes: ClassVar = [models.Index(fields=["project", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_valid(self) -> bool:
        return not self.problems

    def latest_version(self) -> WorkflowVersion | None:
        return self.versions.order_by("-number").first()


class WorkflowVersion(models.Model):
    """An immutable, valid snapshot of a workflow's definition."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    changelog = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("workflow", "-number")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["workflow", "number"], name="one_workflow_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.workflow} v{self.number}"


class Webhook(models.Model):
    """The webhook trigger of a workflow: ``/hooks/<id>/<token>``; the token is stored hashed."""

    class Respond(models.TextChoices):
        SYNC = "sync", "With the workflow's outputs (202 after the timeout)"
        ACCEPTED = "accepted", "Always 202 with the execution id"

    workflow = models.OneToOneField(Workflow, on_delete=models.CASCADE, related_name="webhook")
    enabled = models.BooleanField(default=True)
    token_digest = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12, help_text="The first characters, to recognise it.")
    methods = models.JSONField(default=list, help_text='Allowed HTTP methods, e.g. ["POST"].')
    respond = models.CharField(max_length=8, choices=Respond.choices, default=Respond.SYNC)
    timeout_seconds = models.PositiveIntegerField(default=30)
    signature_credential = models.CharField(
        max_length=64, blank=True, help_text="A project credential holding the HMAC-SHA256 key; blank: unsigned."
    )
    signature_header = models.CharField(max_length=100, default="X-Signature-256", blank=True)
    rotated_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"webhook of {self.workflow}"


class Schedule(models.Model):
    """The cron trigger of a workflow, mirrored into django-celery-beat's ``PeriodicTask``."""

    workflow = models.OneToOneField(Workflow, on_delete=models.CASCADE, related_name="schedule")
    enabled = models.BooleanField(default=True)
    cron = models.CharField(max_length=120, help_text="Five fields: minute hour day-of-month month day-of-week.")
    timezone = models.CharField(max_length=64, default="UTC")
    inputs = models.JSONField(default=dict, blank=True, help_text="The inputs each scheduled run gets.")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.cron} ({self.timezone}) for {self.workflow}"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    TIMED_OUT = "timed_out", "Timed out"


FINISHED = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT})


class Trigger(models.TextChoices):
    API = "api", "API"
    LEGACY = "legacy", "Legacy /workflow/run"
    WEBHOOK = "webhook", "Webhook"
    SCHEDULE = "schedule", "Schedule"
    EDITOR = "editor", "Editor"
    REPLAY = "replay", "Replay"
    RESTART = "restart", "Restart from a step"


class ExecutionQuerySet(models.QuerySet["WorkflowExecution"]):
    def visible_to(self, user: object) -> ExecutionQuerySet:
        return self.filter(project__in=Project.objects.visible_to(user))  # type: ignore[arg-type]

    def active(self) -> ExecutionQuerySet:
        return self.exclude(status__in=FINISHED)


class WorkflowExecution(models.Model):
    """One run of a workflow. ``plan`` is the definition it runs, with each step's component version
    resolved at start, so later edits never change a running or finished execution."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="workflow_executions")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="executions")
    version = models.ForeignKey(WorkflowVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    plan = models.JSONField(help_text="The definition run, component versions resolved.")
    plan_digest = models.CharField(
        max_length=64, blank=True, default="", editable=False, help_text="SHA-256 of the plan (engine.plan_digest)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.API)
    inputs = models.JSONField(default=dict, blank=True, help_text="As validated, secrets masked.")
    outputs = models.JSONField(default=dict, blank=True)
    error = models.JSONField(null=True, blank=True, help_text="{code, message, step?}")
    source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Replayed/restarted."
    )
    restart_from = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True, help_text="The sender's, for webhooks.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)

    objects = ExecutionQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes: ClassVar = [
            models.Index(fields=["workflow", "-created_at"]),
            models.Index(fields=["project", "-created_at"]),
            models.Index(fields=["status", "workflow"]),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["workflow", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_execution_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.workflow} #{self.pk} {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # a for_each item waiting for a parallelism slot
    WAITING = "waiting", "Waiting to retry"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"
    TIMED_OUT = "timed_out", "Timed out"


STEP_DONE = frozenset(
    {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED, StepStatus.TIMED_OUT}
)


class StepRun(models.Model):
    """One attempt of one step (of one item, for ``for_each``). Every attempt of a step and item
    shares the idempotency key, so a retried or reclaimed call is recognisable downstream."""

    execution = models.ForeignKey(WorkflowExecution, on_delete=models.CASCADE, related_name="step_runs")
    step = models.CharField(max_length=64)
    item = models.PositiveIntegerField(default=0, help_text="The for_each index; 0 otherwise.")
    items = models.PositiveIntegerField(default=1, help_text="How many items the step has (1 without for_each).")
    attempt = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=StepStatus.choices, default=StepStatus.QUEUED)
    idempotency_key = models.CharField(max_length=200)
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    interruptions = models.PositiveSmallIntegerField(default=0, help_text="Attempts lost with their worker.")
    reused = models.BooleanField(default=False, help_text="Copied from the source execution (restart).")
    inputs = models.JSONField(default=dict, blank=True, help_text="Resolved, secrets masked.")
    outputs = models.JSONField(default=dict, blank=True)
    logs = models.JSONField(default=list, blank=True)
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ("execution", "id")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["execution", "step", "item", "attempt"], name="one_step_attempt")
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "lease_expires_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        item = f"[{self.item}]" if self.items > 1 else ""
        return f"{self.step}{item} attempt {self.attempt} {self.status}"

    @property
    def is_done(self) -> bool:
        return self.status in STEP_DONE
