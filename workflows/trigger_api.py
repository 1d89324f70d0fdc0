"""``/api/v1/workflows/{id}/webhook`` and ``/api/v1/workflows/{id}/schedule``: trigger settings.

Members read them (``view``) and change them (``edit``, checked before the body is, so a viewer's
bad write is a 403, not a 400); anyone else gets a 404. A secret key reaches its own project only;
a publishable key none. The webhook's token is never readable: it is in the answer once, when a
``PUT`` creates the webhook (201) and after ``POST …/webhook/rotate``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.access import ServiceErrorsMixin
from accounts.authentication import request_api_key
from accounts.models import ApiKeyKind, Permission, Project
from accounts.services import require_permission
from workflows import triggers
from workflows.models import Schedule, Webhook, Workflow

NOT_FOUND = OpenApiResponse(description="Not one of your workflows, or it has no such trigger.")


class WebhookSerializer(serializers.Serializer[Webhook]):
    """A workflow's webhook; the token itself is never shown, only its first characters."""

    enabled = serializers.BooleanField(read_only=True)
    token_prefix = serializers.CharField(read_only=True, help_text="The token's first characters, to recognise it.")
    methods = serializers.ListField(child=serializers.CharField(), help_text='Allowed HTTP methods, e.g. ["POST"].')
    respond = serializers.ChoiceField(choices=Webhook.Respond.choices)
    timeout_seconds = serializers.IntegerField(help_text="How long a `sync` webhook waits for the outputs.")
    signature_credential = serializers.CharField(allow_blank=True, help_text="A project credential: the HMAC key.")
    signature_header = serializers.CharField(allow_blank=True, help_text="Carries `sha256=<hex HMAC of the body>`.")
    rotated_at = serializers.DateTimeField(read_only=True)


class WebhookSettingsSerializer(serializers.Serializer[Any]):
    """What a ``PUT`` may set; omitted fields keep their value (defaults for a new webhook)."""

    enabled = serializers.BooleanField(required=False, default=True)
    methods = serializers.ListField(child=serializers.CharField(max_length=10), required=False, max_length=5)
    respond = serializers.ChoiceField(choices=Webhook.Respond.choices, required=False)
    timeout_seconds = serializers.IntegerField(required=False, min_value=1, max_value=120)
    signature_credential = serializers.CharField(required=False, allow_blank=True, max_length=64)
    signature_header = serializers.CharField(required=False, allow_blank=True, max_length=100)


class WebhookSecretSerializer(WebhookSerializer):
    """The webhook with its URL, answered once: after it is created or its token rotated."""

    url = serializers.CharField(read_only=True, help_text="The full URL with the token. Shown only this once.")
    token = serializers.CharField(read_only=True)


class ScheduleSerializer(serializers.Serializer[Schedule]):
    enabled = serializers.BooleanField()
    cron = serializers.CharField(help_text="minute hour day-of-month month day-of-week (Sunday is 0), or @daily …")
    timezone = serializers.CharField(help_text="An IANA time zone, e.g. Europe/Paris.")
    inputs = serializers.JSONField(help_text="The inputs of every scheduled run.")
    description = serializers.CharField(read_only=True, help_text="The cron in words.")
    next_runs = serializers.ListField(
        child=serializers.DateTimeField(), read_only=True, help_text="The next five runs, in the time zone."
    )


class ScheduleSettingsSerializer(serializers.Serializer[Any]):
    cron = serializers.CharField(max_length=120)
    timezone = serializers.CharField(max_length=64, required=False, default="UTC")
    inputs = serializers.JSONField(required=False, default=dict)
    enabled = serializers.BooleanField(required=False, default=True)


class _TriggerView(ServiceErrorsMixin, GenericAPIView[Workflow]):
    queryset = Workflow.objects.none()  # for the schema: the path's {id} is a workflow's

    def get_queryset(self) -> QuerySet[Workflow]:
        key = request_api_key(self.request)
        if key is not None and key.kind == ApiKeyKind.PUBLISHABLE:
            return Workflow.objects.none()
        projects = Project.objects.visible_to(self.request.user)
        if key is not None:
            projects = projects.filter(pk=key.project_id)
        return Workflow.objects.filter(project__in=projects).select_related("project")

    def workflow(self, needed: str = Permission.VIEW) -> Workflow:
        """The workflow of the URL, if the requester may ``needed`` it (404 / 403 otherwise)."""
        workflow = self.get_object()
        require_permission(workflow.project, self.actor, needed)
        return workflow


def _webhook_data(request: Request, webhook: Webhook, token: str | None = None) -> dict[str, Any]:
    data = dict(WebhookSerializer(webhook).data)
    if token is not None:
        data["token"] = token
        data["url"] = request.build_absolute_uri(triggers.webhook_path(webhook.workflow_id, token))
    return data


@extend_schema(tags=["workflows"])
class WebhookView(_TriggerView):
    serializer_class = WebhookSerializer

    @extend_schema(summary="Read a workflow's webhook settings", responses={200: WebhookSerializer, 404: NOT_FOUND})
    def get(self, request: Request, pk: int) -> Response:
        webhook = Webhook.objects.filter(workflow=self.workflow()).first()
        if webhook is None:
            return Response({"detail": "This workflow has no webhook."}, status=status.HTTP_404_NOT_FOUND)
        return Response(_webhook_data(request, webhook))

    @extend_schema(
        summary="Enable the webhook or change its settings",
        description=(
            "Needs 'edit'. Creates the webhook if there is none: the answer is then a 201 with its `url` "
            "and `token`, shown this once. Otherwise a 200 without them. `enabled: false` switches it off."
        ),
        request=WebhookSettingsSerializer,
        responses={200: WebhookSerializer, 201: WebhookSecretSerializer, 404: NOT_FOUND},
    )
    def put(self, request: Request, pk: int) -> Response:
        workflow = self.workflow(Permission.EDIT)
        body = WebhookSettingsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        settings = dict(body.validated_data)
        enabled = settings.pop("enabled")
        if enabled or not Webhook.objects.filter(workflow=workflow).exists():
            webhook, token = triggers.webhook_enable(workflow=workflow, actor=self.actor, **settings)
        else:
            webhook, token = triggers.webhook_update(workflow=workflow, actor=self.actor, **settings), None
        if not enabled:
            triggers.webhook_disable(workflow=workflow, actor=self.actor)
            webhook.refresh_from_db()
        answer = status.HTTP_201_CREATED if token else status.HTTP_200_OK
        return Response(_webhook_data(request, webhook, token), status=answer)

    @extend_schema(
        summary="Disable the webhook",
        description="Needs 'edit'. Its URL answers 404 until it is enabled again (with the same token).",
        responses={204: OpenApiResponse(description="Disabled."), 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        workflow = self.workflow(Permission.EDIT)
        if not Webhook.objects.filter(workflow=workflow).exists():
            return Response({"detail": "This workflow has no webhook."}, status=status.HTTP_404_NOT_FOUND)
        triggers.webhook_disable(workflow=workflow, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["workflows"])
class WebhookRotateView(_TriggerView):
    serializer_class = WebhookSecretSerializer

    @extend_schema(
        summary="Give the webhook a new token",
        description=(
            "Needs 'edit'. The old URL stops working at once. The answer carries the new `url` and "
            "`token`; they are never shown again. Creates the webhook (POST only) if there is none."
        ),
        request=None,
        responses={200: WebhookSecretSerializer, 404: NOT_FOUND},
    )
    def post(self, request: Request, pk: int) -> Response:
        workflow = self.workflow(Permission.EDIT)
        webhook, token = triggers.webhook_rotate(workflow=workflow, actor=self.actor)
        return Response(_webhook_data(request, webhook, token))


@extend_schema(tags=["workflows"])
class ScheduleView(_TriggerView):
    serializer_class = ScheduleSerializer

    @extend_schema(
        summary="Read a workflow's schedule, with its next runs",
        responses={200: ScheduleSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, pk: int) -> Response:
        schedule = Schedule.objects.filter(workflow=self.workflow()).first()
        if schedule is None:
            return Response({"detail": "This workflow has no schedule."}, status=status.HTTP_404_NOT_FOUND)
        return Response(triggers.schedule_data(schedule))

    @extend_schema(
        summary="Set the schedule",
        description=(
            "Needs 'edit'. Five cron fields in `timezone`; each run gets `inputs`. The first run is the "
            "first slot after now. Errors name `cron`, `timezone` or `inputs`."
        ),
        request=ScheduleSettingsSerializer,
        responses={200: ScheduleSerializer, 201: ScheduleSerializer, 404: NOT_FOUND},
    )
    def put(self, request: Request, pk: int) -> Response:
        workflow = self.workflow(Permission.EDIT)
        body = ScheduleSettingsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        existed = Schedule.objects.filter(workflow=workflow).exists()
        schedule = triggers.schedule_set(workflow=workflow, actor=self.actor, **body.validated_data)
        answer = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(triggers.schedule_data(schedule), status=answer)

    @extend_schema(
        summary="Delete the schedule",
        description="Needs 'edit'.",
        responses={204: OpenApiResponse(description="Deleted."), 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        workflow = self.workflow(Permission.EDIT)
        if not triggers.schedule_clear(workflow=workflow, actor=self.actor):
            return Response({"detail": "This workflow has no schedule."}, status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
