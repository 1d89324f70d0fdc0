"""``/api/v1/workflow-executions/``: read executions with their step runs; cancel, replay, restart."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import PublishableKeyAuthentication, SecretKeyAuthentication
from accounts.models import Permission
from workflows import runs
from workflows import serializers as s
from workflows.api.access import ApiErrorsMixin, publishable_key, require, scoped_projects, with_requester_permission
from workflows.api.runs import execution_body
from workflows.models import WorkflowExecution

READS = ("list", "retrieve")
PEOPLE_AND_SECRET_KEYS: Any = [{"secretKey": []}, {"cookieAuth": []}]  # security requirement objects


class MemberOrRunner(BasePermission):
    """People and secret keys; a publishable key only reads (the executions it started)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if publishable_key(request) is not None:
            return getattr(view, "action", None) in READS
        return bool(request.user and request.user.is_authenticated)


@extend_schema(tags=["workflow executions"])
@extend_schema_view(
    list=extend_schema(
        summary="List workflow executions",
        description=(
            "Newest first, paginated; `steps` is null here (read one execution for them). With a "
            "publishable key: only the executions it started."
        ),
        parameters=[s.ExecutionFilterSerializer],
    ),
    retrieve=extend_schema(
        summary="Read a workflow execution with its step runs",
        responses={200: s.WorkflowExecutionSerializer, 404: OpenApiResponse(description="Not yours.")},
    ),
)
class WorkflowExecutionViewSet(
    ApiErrorsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[WorkflowExecution]
):
    """Executions of your projects' workflows. ``view`` reads; ``edit`` cancels, replays and restarts."""

    serializer_class = s.WorkflowExecutionSerializer
    authentication_classes = (SecretKeyAuthentication, PublishableKeyAuthentication, SessionAuthentication)
    permission_classes = (MemberOrRunner,)
    allows_publishable_key = True
    lookup_value_converter = "int"

    def get_queryset(self) -> QuerySet[WorkflowExecution]:
        key = publishable_key(self.request)
        executions: QuerySet[WorkflowExecution] = WorkflowExecution.objects.select_related("version")
        if key is not None:
            executions = executions.filter(api_key=key)
        else:
            executions = executions.filter(project__in=scoped_projects(self.request))
            executions = with_requester_permission(executions, self.request)
        if self.action == "list":
            executions = self._filtered(executions)
        elif self.action == "retrieve":
            executions = executions.prefetch_related("step_runs")
        return executions.order_by("-created_at", "-id")

    def _filtered(self, executions: QuerySet[WorkflowExecution]) -> QuerySet[WorkflowExecution]:
        query = s.ExecutionFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        lookups = {
            "workflow": "workflow_id",
            "project": "project_id",
            "status": "status",
            "trigger": "trigger",
            "created_after": "created_at__gte",
            "created_before": "created_at__lt",
        }
        return executions.filter(**{lookups[name]: value for name, value in filters.items()})

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "steps": self.action != "list"}

    def _editable(self) -> WorkflowExecution:
        execution = self.get_object()
        require(execution, Permission.EDIT)
        return execution

    @extend_schema(
        summary="Cancel an execution",
        auth=PEOPLE_AND_SECRET_KEYS,
        description="Needs 'edit'. Works for queued, running and stuck executions; a finished one is left as it is.",
        request=None,
        responses={200: s.WorkflowExecutionSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: int) -> Response:
        execution = self._editable()
        runs.execution_cancel(execution=execution, actor=self.actor)
        return Response(execution_body(execution))

    @extend_schema(
        summary="Replay an execution",
        auth=PEOPLE_AND_SECRET_KEYS,
        description="Needs 'edit'. A new execution of the same plan with the same inputs.",
        request=None,
        responses={201: s.WorkflowExecutionSerializer},
    )
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk: int) -> Response:
        execution = self._editable()
        started = runs.execution_replay(execution=execution, actor=self.actor)
        return Response(execution_body(started), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Restart an execution from a step",
        auth=PEOPLE_AND_SECRET_KEYS,
        description=(
            "Needs 'edit'. A new execution that reuses the outputs of the steps `step` does not affect and "
            "runs `step` and everything after it again. The execution must have finished."
        ),
        request=s.RestartSerializer,
        responses={201: s.WorkflowExecutionSerializer},
    )
    @action(detail=True, methods=["post"])
    def restart(self, request: Request, pk: int) -> Response:
        execution = self._editable()
        body = s.RestartSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        started = runs.execution_restart(execution=execution, step=body.validated_data["step"], actor=self.actor)
        return Response(execution_body(started), status=status.HTTP_201_CREATED)
