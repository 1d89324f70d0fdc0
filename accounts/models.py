"""Users, plans, projects, members, invitations, API keys and usage.

Single-object rules are methods here; writes that span models or send anything live in
``accounts/services.py``.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, ClassVar, cast

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from synchronise.lib.compiled import instances, select_rows

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person. The email address is the login; there is no username."""

    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    name = models.CharField(max_length=150, blank=True)
    plan = models.ForeignKey("accounts.Plan", null=True, blank=True, on_delete=models.SET_NULL, related_name="users")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        ordering = ("email",)

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    def effective_plan(self) -> Plan:
        return self.plan or Plan.objects.default()


class FirstUserClaim(models.Model):
    """A single row, inserted once: whoever inserts it was the first user ever created.

    The primary key is fixed, so of two simultaneous first sign-ups exactly one insert
    succeeds on any database; the other gets an ``IntegrityError`` and stays a plain user.
    """

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    claimed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar = [models.CheckConstraint(condition=Q(id=1), name="first_user_claim_singleton")]

    def __str__(self) -> str:
        return f"first user: {self.user}"


class PlanQuerySet(models.QuerySet["Plan"]):
    def default(self) -> Plan:
        """The plan of users without one (created by migration; recreated if someone deleted it)."""
        return (
            Plan.objects.filter(is_default=True).first()
            or Plan.objects.get_or_create(slug="free", defaults={"name": "Free", "is_default": True})[0]
        )


class Plan(models.Model):
    """A monthly request quota and an API rate limit; it belongs to users, not projects."""

    UNLIMITED = -1

    name = models.CharField(max_length=80)
    slug = models.SlugField(unique=True)
    monthly_quota = models.IntegerField(
        null=True,
        blank=True,
        help_text="Requests per calendar month; -1 is unlimited; empty uses FREE_PLAN_MONTHLY_QUOTA.",
    )
    rate_limit = models.CharField(
        max_length=32, blank=True, help_text="Per API key, e.g. '600/min'; empty uses API_KEY_RATE_LIMIT."
    )
    is_default = models.BooleanField(default=False, help_text="Given to users without a plan.")
    # Limits of component runs in this plan's projects; empty uses the SANDBOX_* settings (and
    # OUTBOUND_MAX_BYTES for responses). The bounds are the sandbox's own (components.sandbox.Limits):
    # a plan outside them would make every run of its projects fail in the worker.
    run_wall_seconds = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Wall time per run, in seconds."
    )
    run_cpu_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(3600)],
        help_text="CPU time per run, in seconds (1 to 3600).",
    )
    run_memory_mb = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(16), MaxValueValidator(65536)],
        help_text="Memory per run, in MB (16 to 65536).",
    )
    run_http_calls = models.PositiveIntegerField(null=True, blank=True, help_text="ctx.http calls per run.")
    run_output_bytes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(2)],
        help_text="Largest outputs of a code run, in bytes of JSON (error 112).",
    )
    run_log_bytes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Log and progress bytes per code run (error 113)."
    )
    run_response_bytes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Largest HTTP response body of ctx.http (error 115) and http components (502 too_large), in bytes.",
    )

    objects = PlanQuerySet.as_manager()

    class Meta:
        ordering = ("name",)
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_plan"),
            models.CheckConstraint(condition=Q(monthly_quota__gte=-1), name="plan_quota_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def quota(self) -> int:
        """Requests allowed per month; ``Plan.UNLIMITED`` (-1) means no limit."""
        if self.monthly_quota is None:
            return int(settings.FREE_PLAN_MONTHLY_QUOTA)
        return self.monthly_quota

    @property
    def is_unlimited(self) -> bool:
        return self.quota == self.UNLIMITED

    @property
    def effective_rate_limit(self) -> str:
        return self.rate_limit or str(settings.API_KEY_RATE_LIMIT)


class Permission(models.TextChoices):
    VIEW = "view", "View"
    EDIT = "edit", "Edit"
    OWN = "own", "Own"


PERMISSION_RANK = {Permission.VIEW: 1, Permission.EDIT: 2, Permission.OWN: 3}


def permission_allows(held: str, needed: str) -> bool:
    return PERMISSION_RANK[Permission(held)] >= PERMISSION_RANK[Permission(needed)]


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible_to(self, user: User | AnonymousUser) -> ProjectQuerySet:
        """Projects the user is a member of (any permission)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)

    def with_permission(self, user: User | AnonymousUser, needed: str) -> ProjectQuerySet:
        if not user.is_authenticated:
            return self.none()
        allowed = [p for p in Permission.values if permission_allows(p, needed)]
        return self.filter(memberships__user=user, memberships__permission__in=allowed)

    def community(self) -> ProjectQuerySet:
        return self.filter(community=True)


class Project(models.Model):
    """Owns components, workflows, credentials and API keys; people reach it through memberships."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    icon = models.CharField(max_length=32, blank=True, help_text="An emoji or a short icon name.")
    color = models.CharField(max_length=7, default="#4f46e5")
    background_color = models.CharField(max_length=7, default="#eef2ff")
    community = models.BooleanField(default=False, help_text="Anyone signed in may join as an editor.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ("name", "id")
        permissions: ClassVar = [
            ("view_any_project", "Can read any project (support and validation)"),
            ("run_any_component", "Can run any component for validation"),
            ("publish_to_marketplace", "Can submit components to the marketplace"),
            ("validate_marketplace", "Can approve or reject marketplace submissions"),
        ]

    def __str__(self) -> str:
        return self.name

    def owner(self) -> User | None:
        # On every run's path (quota, rate limits): compiled once (synchronise/lib/compiled.py).
        rows = select_rows(
            "project-owner",
            lambda: (
                Membership.objects.filter(project_id=0, permission=Permission.OWN)
                .select_related("user__plan")
                .order_by()[:1]
            ),  # one owner per project: no ORDER BY
            [Permission.OWN.value, 0],  # the ORM orders a filter's keywords by name
            [Permission.OWN.value, self.pk],
        )
        if not rows:
            return None
        _membership, user, plan = instances(rows[0], Membership, User, Plan)
        user.plan = plan
        return cast("User", user)

    def permission_of(self, user: User | AnonymousUser) -> str | None:
        if not user.is_authenticated:
            return None
        return self.memberships.filter(user=user).values_list("permission", flat=True).first()


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    permission = models.CharField(max_length=4, choices=Permission.choices, default=Permission.VIEW)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("project", "user__email")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user"),
            # One owner per project: ownership moves by transfer, never by duplication.
            models.UniqueConstraint(fields=["project"], condition=Q(permission="own"), name="one_owner_per_project"),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.project} ({self.permission})"

    def allows(self, needed: str) -> bool:
        return permission_allows(self.permission, needed)


class Invitation(models.Model):
    """An invitation for an address that has no account yet; accepted when it signs up."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    permission = models.CharField(max_length=4, choices=Permission.choices, default=Permission.VIEW)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["project", "email"], condition=Q(accepted_at__isnull=True), name="one_open_invitation"
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.project}"


class ApiKeyKind(models.TextChoices):
    PUBLISHABLE = "publishable", "Publishable"
    SECRET = "secret", "Secret"


KEY_PREFIXES = {ApiKeyKind.PUBLISHABLE: "pk_", ApiKeyKind.SECRET: "sk_"}


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A project's API key. Only a SHA-256 digest is stored; the key is shown once, at creation.

    The keys are 256-bit random tokens, so a fast digest is enough: there is nothing to
    brute-force that a slow password hash would protect.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    kind = models.CharField(max_length=11, choices=ApiKeyKind.choices)
    name = models.CharField(max_length=80, blank=True)
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise the key.")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key.")
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text="Publishable keys only: origins allowed to use it (empty: any)."
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ("kind", "-created_at")
        verbose_name = "API key"
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(kind="publishable", revoked_at__isnull=True),
                name="one_publishable_key_per_project",
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.project})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows_origin(self, origin: str | None) -> bool:
        """Whether a browser ``Origin`` may use this key; no list means any origin."""
        if not self.allowed_origins:
            return True
        return origin is not None and origin.rstrip("/") in {o.rstrip("/") for o in self.allowed_origins}


def month_start(day: datetime.date | None = None) -> datetime.date:
    day = day or timezone.now().date()
    return day.replace(day=1)


class AccountUsage(models.Model):
    """Requests counted against one user's plan in one calendar month (all their projects)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage")
    month = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-month",)
        constraints: ClassVar = [models.UniqueConstraint(fields=["user", "month"], name="one_account_usage_per_month")]

    def __str__(self) -> str:
        return f"{self.user} {self.month:%Y-%m}: {self.count}"


class ProjectUsage(models.Model):
    """Requests made in one project in one calendar month."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="usage")
    month = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-month",)
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["project", "month"], name="one_project_usage_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.project} {self.month:%Y-%m}: {self.count}"
