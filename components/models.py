"""Components (typed units of work), their immutable versions, project credentials and executions."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from accounts.models import Project


class Kind(models.TextChoices):
    CODE = "code", "Python code"
    HTTP = "http", "HTTP request"
    BUILTIN = "builtin", "Built-in connector"


class ComponentQuerySet(models.QuerySet["Component"]):
    def visible_to(self, user: object) -> ComponentQuerySet:
        """Components of the projects the user is a member of."""
        return self.filter(project__in=Project.objects.visible_to(user))  # type: ignore[arg-type]


class Implementation(models.Model):
    """What a component does and its typed interface: the editable draft and every version share it."""

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.CODE)
    inputs = models.JSONField(default=list, blank=True, help_text="[{name, type, subtype?, optional?, …}]")
    outputs = models.JSONField(default=list, blank=True, help_text="[{name, type, subtype?, optional?, …}]")
    code = models.TextField(blank=True, help_text="kind=code: Python defining run(inputs, ctx).")
    http = models.JSONField(default=dict, blank=True, help_text="kind=http: the request template and mappings.")
    builtin = models.CharField(max_length=100, blank=True, help_text="kind=builtin: the connector's name.")

    class Meta:
        abstract = True


class Component(Implementation):
    """A component's identity and its draft. Runs take a published version; the editor runs the draft."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="components")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=5000)
    tags = models.JSONField(default=list, blank=True)
    icon = models.CharField(max_length=32, blank=True)
    public = models.BooleanField(default=False, help_text="May be run with the project's publishable key.")
    connector = models.CharField(
        max_length=100, blank=True, editable=False, help_text="The official connector it was installed from."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ComponentQuerySet.as_manager()

    class Meta:
        ordering = ("project", "name", "id")
        indexes: ClassVar = [models.Index(fields=["project", "name"])]

    def __str__(self) -> str:
        return self.name

    def latest_version(self) -> ComponentVersion | None:
        return self.versions.order_by("-number").first()


class ComponentVersion(Implementation):
    """An immutable snapshot of a component's implementation and interface."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    changelog = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("component", "-number")
        constraints: ClassVar = [models.UniqueConstraint(fields=["component", "number"], name="one_version_number")]

    def __str__(self) -> str:
        return f"{self.component} v{self.number}"


credential_name = RegexValidator(r"^[A-Z][A-Z0-9_]{0,63}$", "Use capitals, digits and underscores, e.g. STRIPE_KEY.")


class Credential(models.Model):
    """A project's named secret, encrypted at rest (AES-GCM, bound to this row); never shown again."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="credentials")
    name = models.CharField(max_length=64, validators=[credential_name])
    ciphertext = models.TextField(help_text="key id, nonce and AES-GCM ciphertext; see components/credentials.py")
    kind = models.CharField(
        max_length=8,
        choices=[("secret", "Secret"), ("oauth2", "OAuth2 connection")],
        default="secret",
        help_text="oauth2: the value is the access token of a connection (components/oauth2/).",
    )
    allowed_hosts = models.JSONField(
        default=list,
        blank=True,
        help_text="Host names (api.example.com, *.example.com) the value may be sent to; empty: any public host.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("project", "name")
        constraints: ClassVar = [models.UniqueConstraint(fields=["project", "name"], name="one_credential_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.project})"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    TIMED_OUT = "timed_out", "Timed out"


FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT)


class Trigger(models.TextChoices):
    API = "api", "API"
    EDITOR = "editor", "Editor"
    LEGACY = "legacy", "Legacy /component/run"
    WORKFLOW = "workflow", "Workflow step"


class Execution(models.Model):
    """One run of a component: the database is the source of truth for its state."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="executions")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="executions")
    version = models.ForeignKey(ComponentVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.API)
    inputs = models.JSONField(default=dict, blank=True, help_text="As validated, secrets masked.")
    outputs = models.JSONField(default=dict, blank=True)
    logs = models.JSONField(default=list, blank=True)
    error = models.JSONField(null=True, blank=True, help_text="{code, message, …}")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey("accounts.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    # Set when a worker claims the run: the longest it can legitimately take, plus a grace. A running
    # execution past it lost its worker (or the worker crashed); the repair loop fails it (124).
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes: ClassVar = [
            models.Index(fields=["component", "-created_at"]),
            models.Index(fields=["status", "lease_expires_at"], name="components_exec_lease"),
        ]

    def __str__(self) -> str:
        return f"{self.component} #{self.pk} {self.status}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


# The marketplace's listings, submissions, forks and collections (components/marketplace/), then
# OAuth2 connections and provider apps: each lives in its own module; importing them here makes
# them models of this app.
from components.marketplace.models import Collection as Collection  # noqa: E402
from components.marketplace.models import Fork as Fork  # noqa: E402
from components.marketplace.models import Listing as Listing  # noqa: E402
from components.marketplace.models import Submission as Submission  # noqa: E402
from components.oauth2.models import OAuth2App as OAuth2App  # noqa: E402
from components.oauth2.models import OAuth2Connection as OAuth2Connection  # noqa: E402
