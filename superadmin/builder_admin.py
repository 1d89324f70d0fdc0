"""The builder's objects in the superadmin: components, workflows, executions and credentials.

Read-mostly, metadata only: names, projects, kinds, states and dates, never a credential's
value (nor its ciphertext), nor code, definitions, inputs or outputs (they are the projects'
data; the project pages show them to members). Deleting and cancelling go through the same
services as the UI and the API, with the admin as the actor (superusers act as a project's
owner, ``accounts.services.require_permission``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Project, User
from components import credentials
from components import services as component_services
from components.models import Component, Credential, Execution
from workflows import runs
from workflows import services as workflow_services
from workflows.models import Workflow, WorkflowExecution

T = TypeVar("T")


def acting(request: HttpRequest, what: str, action: Callable[[], T]) -> tuple[bool, T | None]:
    """Run a service call for the admin; a refusal becomes a message instead of an error page."""
    try:
        return True, action()
    except (PermissionDenied, Project.DoesNotExist) as error:
        messages.error(request, f"{what}: not allowed ({error or 'only superusers act on any project'}).")
    except ValidationError as error:
        messages.error(request, f"{what}: {'; '.join(error.messages)}")
    return False, None


def actor_of(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # admin views are for signed-in staff only
    return user


class MetadataAdmin(admin.ModelAdmin[Any]):
    """Lists and read-only detail pages: nothing is added or edited here."""

    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, set[str], Any]:
        # The confirmation page lists what goes with the object (versions, executions…), but the
        # service decides whether the admin may delete it, not the admin's per-model permissions
        # on those (executions, for one, are never deleted by hand).
        to_delete, model_count, _, protected = super().get_deleted_objects(objs, request)
        return to_delete, model_count, set(), protected

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # One by one through delete_model, i.e. through each model's service (never a bulk delete).
        for obj in queryset.select_related("project"):
            self.delete_model(request, obj)


@admin.register(Component)
class ComponentAdmin(MetadataAdmin):
    list_select_related = ("project", "created_by")
    list_display = ("name", "project", "kind", "connector", "public", "created_by", "updated_at")
    list_filter = ("kind", "public")
    search_fields = ("name", "project__name", "connector")
    fields = ("name", "project", "kind", "connector", "public", "description", "created_by", "created_at", "updated_at")
    readonly_fields = fields

    def delete_model(self, request: HttpRequest, obj: Component) -> None:
        delete = partial(component_services.component_delete, component=obj, actor=actor_of(request))
        acting(request, f"Component {obj.name}", delete)


@admin.register(Workflow)
class WorkflowAdmin(MetadataAdmin):
    list_select_related = ("project", "created_by")
    list_display = ("name", "project", "public", "created_by", "updated_at")
    list_filter = ("public",)
    search_fields = ("name", "project__name")
    fields = (
        "name", "project", "public", "description", "concurrency_limit", "rate_limit_per_minute",
        "timeout_seconds", "retention_days", "created_by", "created_at", "updated_at",
    )  # fmt: skip
    readonly_fields = fields

    def delete_model(self, request: HttpRequest, obj: Workflow) -> None:
        delete = partial(workflow_services.workflow_delete, workflow=obj, actor=actor_of(request))
        acting(request, f"Workflow {obj.name}", delete)


@admin.register(WorkflowExecution)
class WorkflowExecutionAdmin(MetadataAdmin):
    list_display = ("id", "workflow", "project", "status", "trigger", "user", "created_at", "duration_ms")
    list_filter = ("status", "trigger")
    list_select_related = ("workflow", "project", "user")
    search_fields = ("=id", "workflow__name", "project__name")
    date_hierarchy = "created_at"
    fields = (
        "id", "workflow", "project", "version", "status", "trigger", "user", "api_key", "source",
        "created_at", "started_at", "finished_at", "duration_ms",
    )  # fmt: skip
    readonly_fields = fields
    actions = ("cancel",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # executions go by their workflow's retention

    @admin.action(description="Cancel the selected executions")
    def cancel(self, request: HttpRequest, queryset: QuerySet[WorkflowExecution]) -> None:
        cancelled = 0
        for execution in queryset.select_related("project"):
            cancel = partial(runs.execution_cancel, execution=execution, actor=actor_of(request))
            _, stopped = acting(request, f"Execution {execution.pk}", cancel)
            cancelled += int(bool(stopped))
        messages.success(request, f"Cancelled {cancelled} running execution(s); finished ones are left as they are.")


@admin.register(Execution)
class ComponentRunAdmin(MetadataAdmin):
    list_display = ("id", "component", "project", "status", "trigger", "user", "created_at", "finished_at")
    list_filter = ("status", "trigger")
    list_select_related = ("component", "project", "user")
    search_fields = ("=id", "component__name", "project__name")
    date_hierarchy = "created_at"
    fields = (
        "id", "component", "project", "version", "status", "trigger", "user", "api_key",
        "created_at", "started_at", "finished_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Credential)
class CredentialAdmin(MetadataAdmin):
    """Names, kinds and allowed hosts only: the value (and its ciphertext) never reaches a page."""

    list_select_related = ("project", "created_by")
    list_display = ("name", "project", "kind", "hosts", "created_by", "updated_at")
    list_filter = ("kind",)
    search_fields = ("name", "project__name")
    fields = ("name", "project", "kind", "allowed_hosts", "created_by", "created_at", "updated_at")
    readonly_fields = fields

    @admin.display(description="Allowed hosts")
    def hosts(self, credential: Credential) -> str:
        return ", ".join(credential.allowed_hosts) or "any public host"

    def delete_model(self, request: HttpRequest, obj: Credential) -> None:
        delete = partial(credentials.credential_delete, project=obj.project, actor=actor_of(request), name=obj.name)
        acting(request, f"Credential {obj.name}", delete)
