"""``/api/v1/``: projects, members, invitations, API keys, usage and the signed-in account.

Views find objects through ``ProjectScopedMixin`` (``access.py``) and change them through
``accounts.services``; they never save a model themselves.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.api import serializers as s
from accounts.api.access import ProjectScopedMixin, RejectsApiKey, ServiceErrorsMixin, with_requester_permission
from accounts.authentication import request_api_key
from accounts.models import (
    ApiKey,
    Invitation,
    Membership,
    Permission,
    Project,
    ProjectQuerySet,
    ProjectUsage,
    month_start,
)

PROJECT_ID = OpenApiParameter("project_pk", OpenApiTypes.INT, OpenApiParameter.PATH, description="The project's id.")
NO_CONTENT = OpenApiResponse(description="Done.")


def _with_owner(projects: ProjectQuerySet) -> ProjectQuerySet:
    owners = Membership.objects.filter(permission=Permission.OWN).select_related("user")
    return projects.prefetch_related(Prefetch("memberships", queryset=owners, to_attr="owner_memberships"))


# --- projects -----------------------------------------------------------------------------


@extend_schema(tags=["projects"])
@extend_schema_view(
    list=extend_schema(summary="List your projects", description="With a secret key: only the key's project."),
    create=extend_schema(
        summary="Create a project",
        description="You become its owner. Only when signed in: an API key cannot create projects.",
        auth=[{"cookieAuth": []}],  # type: ignore[list-item]  # drf-spectacular takes security requirement objects
    ),
    retrieve=extend_schema(summary="Read a project"),
    partial_update=extend_schema(
        summary="Change a project", description="Needs 'edit'; making it community (or not) needs 'own'."
    ),
    destroy=extend_schema(
        summary="Delete a project",
        description="Needs 'own'. Type the project's name back as `confirm_name` (JSON body or query string).",
        parameters=[OpenApiParameter("confirm_name", OpenApiTypes.STR, required=False)],
        responses={204: NO_CONTENT},
    ),
)
class ProjectViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Project],
):
    """Projects you are a member of; outsiders get a 404 for any of them."""

    serializer_class = s.ProjectSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_converter = "int"
    required_permission = {"partial_update": Permission.EDIT, "destroy": Permission.OWN, "transfer": Permission.OWN}

    def get_queryset(self) -> ProjectQuerySet:
        if self.is_schema_generation:
            return Project.objects.none()
        return _with_owner(self.scoped_projects())

    def get_permissions(self) -> list[Any]:
        if self.action == "create":
            return [*super().get_permissions(), RejectsApiKey()]
        return list(super().get_permissions())

    def get_object(self) -> Project:
        project = super().get_object()
        self.check_project_permission(project)
        return project

    def _present(self, project: Project, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = _with_owner(with_requester_permission(Project.objects.filter(pk=project.pk), self.actor)).get()
        return Response(s.ProjectSerializer(fresh).data, status=status_code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = services.project_create(owner=self.actor, **serializer.validated_data)
        return self._present(project, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        project = self.get_object()
        serializer = self.get_serializer(project, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.project_update(project=project, actor=self.actor, **serializer.validated_data)
        return self._present(project)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        project = self.get_object()
        data = request.data if request.data else request.query_params
        serializer = s.ProjectDeleteSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        services.project_delete(
            project=project, actor=self.actor, confirm_name=serializer.validated_data["confirm_name"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Join a community project",
        description="Anyone signed in may join a community project as an editor; other projects are a 404.",
        request=None,
        responses={200: s.ProjectSerializer},
    )
    @action(detail=True, methods=["post"])
    def join(self, request: Request, pk: int) -> Response:
        joinable = Project.objects.community()
        key = request_api_key(request)
        if key is not None:
            joinable = joinable.filter(pk=key.project_id)
        project = get_object_or_404(joinable, pk=pk)
        services.project_join_community(project=project, user=self.actor)
        return self._present(project)

    @extend_schema(
        summary="Transfer ownership",
        description="Needs 'own'. The new owner must be a member; you stay on as an editor.",
        request=s.TransferSerializer,
        responses={200: s.ProjectSerializer},
    )
    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, pk: int) -> Response:
        project = self.get_object()
        serializer = s.TransferSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        who = serializer.validated_data["user"].strip()
        match = Q(user__email__iexact=who) | (Q(user_id=int(who)) if who.isdigit() and len(who) < 19 else Q())
        membership = Membership.objects.filter(match, project=project).select_related("user").first()
        if membership is None:
            raise serializers.ValidationError({"user": "the new owner must already be a member"})
        services.project_transfer_ownership(project=project, actor=self.actor, new_owner=membership.user)
        return self._present(project)


# --- members and invitations --------------------------------------------------------------


@extend_schema(parameters=[PROJECT_ID], tags=["members"])
@extend_schema_view(
    list=extend_schema(summary="List a project's members"),
    create=extend_schema(
        summary="Invite someone",
        description="Needs 'own'. A known address becomes a member at once; an unknown one is emailed an invitation.",
        request=s.InviteSerializer,
        responses={201: s.InviteResultSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a member's permission",
        description="Needs 'own'. Ownership moves only by transfer.",
        request=s.MemberPermissionSerializer,
        responses={200: s.MemberSerializer},
    ),
    destroy=extend_schema(
        summary="Remove a member, or leave",
        description="The owner removes anyone else; any member may remove themselves (leave).",
        responses={204: NO_CONTENT},
    ),
)
class MemberViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Membership],
):
    """A project's members, by user id. Any member may read; the owner manages them."""

    serializer_class = s.MemberSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_field = "user_id"
    lookup_url_kwarg = "user_id"
    lookup_value_converter = "int"
    required_permission = {"create": Permission.OWN, "partial_update": Permission.OWN}

    def get_queryset(self) -> Any:
        if self.is_schema_generation:
            return Membership.objects.none()
        return Membership.objects.filter(project=self.get_project()).select_related("user").order_by("user__email")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = s.InviteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.member_invite(project=self.get_project(), actor=self.actor, **serializer.validated_data)
        body = {
            "status": "added" if result.membership else "invited",
            "membership": result.membership,
            "invitation": result.invitation,
        }
        return Response(s.InviteResultSerializer(body).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        membership = self.get_object()
        serializer = s.MemberPermissionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.member_set_permission(
            project=self.get_project(), actor=self.actor, user=membership.user, **serializer.validated_data
        )
        return Response(s.MemberSerializer(membership).data)

    def perform_destroy(self, instance: Membership) -> None:
        services.member_remove(project=self.get_project(), actor=self.actor, user=instance.user)


@extend_schema(parameters=[PROJECT_ID], tags=["members"])
@extend_schema_view(
    list=extend_schema(summary="List open invitations"),
    destroy=extend_schema(summary="Cancel an invitation", description="Needs 'own'.", responses={204: NO_CONTENT}),
)
class InvitationViewSet(
    ProjectScopedMixin, mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet[Invitation]
):
    """Open invitations for addresses without an account. Any member may read; the owner cancels them."""

    serializer_class = s.InvitationSerializer
    lookup_value_converter = "int"
    required_permission = {"destroy": Permission.OWN}

    def get_queryset(self) -> Any:
        if self.is_schema_generation:
            return Invitation.objects.none()
        return Invitation.objects.filter(project=self.get_project(), accepted_at=None).select_related("invited_by")

    def perform_destroy(self, instance: Invitation) -> None:
        services.invitation_cancel(invitation=instance, actor=self.actor)


# --- API keys -----------------------------------------------------------------------------


@extend_schema(parameters=[PROJECT_ID], tags=["keys"])
@extend_schema_view(
    list=extend_schema(summary="List a project's API keys", description="Revoked keys included; never the key."),
    retrieve=extend_schema(summary="Read an API key"),
    create=extend_schema(
        summary="Create an API key",
        description=(
            "Needs 'edit'. The response carries the key itself, once: only its digest is stored. "
            "Creating a publishable key revokes the previous one (rotation)."
        ),
        request=s.ApiKeyCreateSerializer,
        responses={201: s.ApiKeyCreatedSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a publishable key's allowed origins",
        request=s.ApiKeyOriginsSerializer,
        responses={200: s.ApiKeySerializer},
    ),
    destroy=extend_schema(summary="Revoke an API key", responses={204: NO_CONTENT}),
)
class ApiKeyViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[ApiKey],
):
    """A project's API keys. Any member may read them (never the key itself); editors manage them."""

    serializer_class = s.ApiKeySerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_converter = "int"
    required_permission = {
        "create": Permission.EDIT,
        "partial_update": Permission.EDIT,
        "destroy": Permission.EDIT,
        "revoke": Permission.EDIT,
    }

    def get_queryset(self) -> Any:
        if self.is_schema_generation:
            return ApiKey.objects.none()
        return ApiKey.objects.filter(project=self.get_project()).select_related("created_by")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = s.ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, plaintext = services.api_key_create(
            project=self.get_project(), actor=self.actor, **serializer.validated_data
        )
        body = s.ApiKeyCreatedSerializer(key, context={"plaintext": plaintext}).data
        # The key is in this body only: nothing between here and the client may keep it.
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = self.get_object()
        serializer = s.ApiKeyOriginsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = services.api_key_update_origins(key=key, actor=self.actor, **serializer.validated_data)
        return Response(s.ApiKeySerializer(key).data)

    def perform_destroy(self, instance: ApiKey) -> None:
        services.api_key_revoke(key=instance, actor=self.actor)

    @extend_schema(
        summary="Revoke an API key",
        description="Needs 'edit'. The key stops working at once; revoking twice is harmless.",
        request=None,
        responses={200: s.ApiKeySerializer},
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = self.get_object()
        services.api_key_revoke(key=key, actor=self.actor)
        return Response(s.ApiKeySerializer(self.get_queryset().get(pk=key.pk)).data)


# --- the account --------------------------------------------------------------------------


@extend_schema(tags=["account"])
class UsageView(ServiceErrorsMixin, generics.GenericAPIView[Any]):
    serializer_class = s.UsageSerializer

    @extend_schema(
        summary="Your plan and this month's usage",
        description="With a secret key, the breakdown lists the key's project only.",
        parameters=[s.UsageQuerySerializer],
    )
    def get(self, request: Request) -> Response:
        query = s.UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        day = query.validated_day()
        user = self.actor
        usage = services.usage_of(user=user, day=day)
        month = month_start(day)
        owned = Project.objects.filter(memberships__user=user, memberships__permission=Permission.OWN)
        key = request_api_key(request)
        if key is not None:
            owned = owned.filter(pk=key.project_id)
        counts = dict(ProjectUsage.objects.filter(project__in=owned, month=month).values_list("project_id", "count"))
        body = {
            "month": f"{month:%Y-%m}",
            "plan": user.effective_plan(),
            "quota": usage.quota,
            "used": usage.used,
            "remaining": usage.remaining,
            "projects": [{"id": p.pk, "name": p.name, "used": counts.get(p.pk, 0)} for p in owned.only("id", "name")],
        }
        return Response(s.UsageSerializer(body).data)


@extend_schema(tags=["account"])
class MeView(ServiceErrorsMixin, generics.GenericAPIView[Any]):
    serializer_class = s.MeSerializer

    @extend_schema(summary="Who you are", description="With a key: the member who created it, and the key.")
    def get(self, request: Request) -> Response:
        serializer = s.MeSerializer(self.actor, context={"api_key": request_api_key(request)})
        return Response(serializer.data)
