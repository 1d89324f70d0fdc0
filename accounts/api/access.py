"""Who may reach what through the API: scoping to the requester, permission levels, service errors.

Every project-scoped API view goes through ``ProjectScopedMixin``, so the rules live here once:

* a project is found only among the requester's projects (``Project.objects.visible_to``); with a
  secret key, only among the key's project. Anything else is a 404, so existence never leaks;
* each action names the membership permission it needs (``required_permission``); too low is a 403;
* services raise Django's ``ValidationError`` / ``PermissionDenied`` / ``DoesNotExist``; they become
  DRF's 400 (naming the field) / 403 / 404 here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404
from rest_framework import exceptions, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from accounts.authentication import request_api_key
from accounts.models import ApiKeyKind, Membership, Permission, Project, ProjectQuerySet, User, permission_allows

if TYPE_CHECKING:
    from rest_framework.generics import GenericAPIView
    from rest_framework.views import APIView

    _ViewBase = GenericAPIView[Any]
else:
    _ViewBase = object


def translate_service_error(exc: Exception) -> Exception:
    """The DRF exception that says the same as a Django exception raised by a service."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail: Any = {
                (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): messages
                for field, messages in exc.message_dict.items()
            }
        else:
            detail = {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
        return exceptions.ValidationError(detail)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, ObjectDoesNotExist):
        return exceptions.NotFound()
    return exc


def request_user(request: Request) -> User:
    """The person acting: the signed-in user, or the creator of the secret key used.

    For views that require authentication; raises ``NotAuthenticated`` otherwise.
    """
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated()
    return user


class ServiceErrorsMixin(_ViewBase):
    """Turns the Django exceptions that services raise into API responses."""

    def handle_exception(self, exc: Exception) -> Response:
        return super().handle_exception(translate_service_error(exc))

    @property
    def actor(self) -> User:
        return request_user(self.request)


class RejectsApiKey(permissions.BasePermission):
    """For actions only a signed-in person may take (a key is limited to its own project)."""

    message = "This action cannot be taken with an API key; sign in instead."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request_api_key(request) is None


def with_requester_permission(projects: ProjectQuerySet, user: Any) -> ProjectQuerySet:
    """Annotate ``requester_permission``: the user's membership permission, ``None`` if not a member."""
    user_pk: Any = getattr(user, "pk", None)
    own = Membership.objects.filter(project=OuterRef("pk"), user_id=user_pk)
    return projects.annotate(requester_permission=Subquery(own.values("permission")[:1]))


class ProjectScopedMixin(ServiceErrorsMixin):
    """Scoping and permission levels for views under ``/projects/``.

    ``required_permission`` maps an action to the membership permission it needs; unlisted
    actions need ``view``. Nested views (``project_url_kwarg`` in the URL) are checked before
    the handler runs, so a view member's invalid write is a 403, never a 400.
    """

    project_url_kwarg = "project_pk"
    required_permission: ClassVar[Mapping[str, str]] = {}

    def scoped_projects(self) -> ProjectQuerySet:
        """The projects this request may reach, annotated with ``requester_permission``."""
        key = request_api_key(self.request)
        if key is not None and key.kind == ApiKeyKind.PUBLISHABLE:
            # A publishable key acts for nobody: it reaches its project, with no member permission.
            projects = Project.objects.filter(pk=key.project_id)
        else:
            projects = Project.objects.visible_to(self.request.user)
            if key is not None:
                projects = projects.filter(pk=key.project_id)
        return with_requester_permission(projects, self.request.user)

    def needed_permission(self) -> str:
        action: str | None = getattr(self, "action", None)
        return self.required_permission.get(action or "", Permission.VIEW)

    def check_project_permission(self, project: Project, needed: str | None = None) -> None:
        """Raise ``PermissionDenied`` unless the requester's permission on ``project`` allows ``needed``."""
        needed = needed or self.needed_permission()
        held = getattr(project, "requester_permission", None)
        if held is None or not permission_allows(held, needed):
            raise exceptions.PermissionDenied(f"this needs '{needed}' permission on the project")

    def get_project(self) -> Project:
        """The project of a nested URL, or a 404."""
        if not hasattr(self, "_project"):
            self._project = get_object_or_404(self.scoped_projects(), pk=self.kwargs[self.project_url_kwarg])
        return self._project

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.project_url_kwarg in self.kwargs:
            self.check_project_permission(self.get_project())

    @property
    def is_schema_generation(self) -> bool:
        # drf-spectacular instantiates views without a request's URL to read their querysets.
        return bool(getattr(self, "swagger_fake_view", False))
