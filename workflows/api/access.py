"""Who reaches which workflows and executions through the API.

* People (a session) reach the workflows and executions of their projects; a secret key acts as
  the member who made it, limited to the key's project. Anything else is a 404: existence does
  not leak. ``view`` reads and runs, ``edit`` changes (403 below that).
* A publishable key reaches only the run endpoints, only for workflows marked ``public`` in its
  project (104 otherwise), and may then read the executions it started itself.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from django.db.models import Model, OuterRef, QuerySet, Subquery
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.access import ServiceErrorsMixin
from accounts.authentication import request_api_key
from accounts.models import ApiKey, ApiKeyKind, Membership, Project, ProjectQuerySet, permission_allows
from components.errors import RunError

M = TypeVar("M", bound=Model)


def publishable_key(request: Request) -> ApiKey | None:
    key = request_api_key(request)
    return key if key is not None and key.kind == ApiKeyKind.PUBLISHABLE else None


def scoped_projects(request: Request) -> ProjectQuerySet:
    """The projects a person (or a secret key) reaches; none for a publishable key."""
    key = request_api_key(request)
    if key is not None and key.kind == ApiKeyKind.PUBLISHABLE:
        return Project.objects.none()
    projects = Project.objects.visible_to(request.user)
    return projects.filter(pk=key.project_id) if key is not None else projects


def with_requester_permission(queryset: QuerySet[M], request: Request) -> QuerySet[M]:
    """Annotate ``requester_permission``: the requester's membership permission on the row's project."""
    user_pk: Any = getattr(request.user, "pk", None)
    own = Membership.objects.filter(project=OuterRef("project_id"), user_id=user_pk)
    return cast("QuerySet[M]", queryset.annotate(requester_permission=Subquery(own.values("permission")[:1])))


def require(obj: Any, needed: str) -> None:
    """Raise a 403 unless the annotated ``requester_permission`` allows ``needed``."""
    held = getattr(obj, "requester_permission", None)
    if held is None or not permission_allows(held, needed):
        raise exceptions.PermissionDenied(f"this needs '{needed}' permission on the project")


class ApiErrorsMixin(ServiceErrorsMixin):
    """Service errors as 400/403/404 (see ``accounts.api.access``), and a refused run (``RunError``,
    e.g. a replay over quota) as its own status with its ``{code, message, …}`` body."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, RunError):
            return Response(exc.as_dict(), status=exc.http_status)
        return super().handle_exception(exc)
