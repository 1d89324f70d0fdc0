"""``/api/v1/workflows/``: workflows, their versions, validation, re-running failures, export and import."""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db.models import Max, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Permission
from workflows import runs, services, transfer
from workflows import serializers as s
from workflows.api.access import ApiErrorsMixin, require, scoped_projects, with_requester_permission
from workflows.models import Workflow, WorkflowExecution

NOT_FOUND = OpenApiResponse(description="Not one of your workflows.")


@extend_schema(tags=["workflows"])
@extend_schema_view(
    list=extend_schema(
        summary="List your workflows",
        description="The workflows of your projects (with a secret key: of its project).",
        parameters=[s.WorkflowFilterSerializer],
    ),
    create=extend_schema(
        summary="Create a workflow",
        description=(
            "Needs 'edit' on the project. A definition of the wrong shape is a 400 naming the field; "
            "a definition that does not make sense yet (unknown step, wrong type) is saved, with `problems`."
        ),
    ),
    retrieve=extend_schema(summary="Read a workflow", responses={200: s.WorkflowSerializer, 404: NOT_FOUND}),
    partial_update=extend_schema(summary="Change a workflow's draft or settings", description="Needs 'edit'."),
    destroy=extend_schema(
        summary="Delete a workflow",
        description="Needs 'edit'. Its versions, triggers and executions go with it.",
        responses={204: OpenApiResponse(description="Deleted.")},
    ),
)
class WorkflowViewSet(
    ApiErrorsMixin,
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Workflow],
):
    """Workflows of your projects. ``view`` reads (and runs, validates, exports); ``edit`` changes."""

    serializer_class = s.WorkflowSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_converter = "int"
    required_permission = {
        "partial_update": Permission.EDIT,
        "destroy": Permission.EDIT,
        "publish": Permission.EDIT,
        "duplicate": Permission.EDIT,
        "rerun_failed": Permission.EDIT,
    }

    def get_queryset(self) -> QuerySet[Workflow]:
        workflows: QuerySet[Workflow] = Workflow.objects.filter(project__in=scoped_projects(self.request))
        workflows = with_requester_permission(workflows, self.request)
        if self.action == "list":
            filters = s.WorkflowFilterSerializer(data=self.request.query_params)
            filters.is_valid(raise_exception=True)
            if "project" in filters.validated_data:
                workflows = workflows.filter(project_id=filters.validated_data["project"])
            workflows = workflows.annotate(latest_version_number=Max("versions__number"))
        return workflows.order_by("project_id", "name", "id")

    def get_object(self) -> Workflow:
        workflow = super().get_object()
        require(workflow, self.required_permission.get(self.action or "", Permission.VIEW))
        return workflow

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "projects": scoped_projects(self.request)}

    def perform_create(self, serializer: s.WorkflowSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        serializer.instance = services.workflow_create(project=data.pop("project"), actor=self.actor, **data)

    def perform_update(self, serializer: s.WorkflowSerializer) -> None:  # type: ignore[override]
        workflow = cast("Workflow", serializer.instance)
        serializer.instance = services.workflow_update(workflow=workflow, actor=self.actor, **serializer.validated_data)

    def perform_destroy(self, instance: Workflow) -> None:
        services.workflow_delete(workflow=instance, actor=self.actor)

    @extend_schema(
        summary="Publish the draft as the next version",
        description="Needs 'edit'. A draft with problems is refused (400) with the list of problems.",
        request=s.WorkflowPublishSerializer,
        responses={201: s.WorkflowVersionSerializer, 400: s.WorkflowPublishRefusedSerializer},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: int) -> Response:
        workflow = self.get_object()
        body = s.WorkflowPublishSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            version = services.workflow_publish(workflow=workflow, actor=self.actor, **body.validated_data)
        except ValidationError as error:
            workflow.refresh_from_db(fields=["problems"])
            messages = error.message_dict.get("definition", error.messages)
            refused = {"definition": messages, "problems": workflow.problems}
            return Response(refused, status=status.HTTP_400_BAD_REQUEST)
        return Response(s.WorkflowVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Copy the workflow",
        description="Needs 'edit'. The copy has the draft and settings, in the same project; no versions.",
        request=s.WorkflowDuplicateSerializer,
        responses={201: s.WorkflowSerializer},
    )
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: int) -> Response:
        workflow = self.get_object()
        body = s.WorkflowDuplicateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        copy = services.workflow_duplicate(workflow=workflow, actor=self.actor, **body.validated_data)
        return Response(s.WorkflowSerializer(copy).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="The published versions", responses=s.WorkflowVersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request: Request, pk: int) -> Response:
        workflow = self.get_object()
        return Response(s.WorkflowVersionSerializer(workflow.versions.order_by("-number"), many=True).data)

    @extend_schema(
        summary="Check a definition without saving it",
        description=(
            "The problems of the posted `definition` (default: the saved draft) against the project's "
            "components. A definition of the wrong shape is a 400 naming the field."
        ),
        request=s.WorkflowValidateSerializer,
        responses={200: s.WorkflowValidationSerializer},
    )
    @action(detail=True, methods=["post"])
    def validate(self, request: Request, pk: int) -> Response:
        workflow = self.get_object()
        body = s.WorkflowValidateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        definition = body.validated_data.get("definition", workflow.definition)
        cleaned, problems = services.check(workflow.project, definition)
        return Response({"definition": cleaned, "problems": problems, "is_valid": not problems})

    @extend_schema(
        summary="Replay the failed executions",
        description=(
            "Needs 'edit'. Replays the newest failed or timed-out executions that were not replayed or "
            "restarted yet, each with its inputs; failures of bad inputs (101, 102) are left out, and "
            "`skipped` counts them and `message` says why."
        ),
        request=s.RerunFailedSerializer,
        responses={201: s.RerunAnswerSerializer},
    )
    @action(detail=True, methods=["post"], url_path="rerun-failed", pagination_class=None)
    def rerun_failed(self, request: Request, pk: int) -> Response:
        workflow = self.get_object()
        body = s.RerunFailedSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rerun = runs.executions_rerun_failed(workflow=workflow, actor=self.actor, **body.validated_data)
        rows = WorkflowExecution.objects.filter(pk__in=[e.pk for e in rerun.started]).select_related("version")
        skipped = {"count": rerun.skipped, "executions": rerun.skipped_ids, "reason": runs.SKIPPED_REASON}
        answer = {"started": s.WorkflowExecutionSerializer(rows, many=True).data, "skipped": skipped}
        return Response({**answer, "message": rerun.message}, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Export as a JSON document",
        description=(
            "The draft (or `?version=`) with its components embedded (default) or by reference "
            "(`?components=reference`, importable in the same project only). Credentials are never "
            "exported: only their names, as `{{ secrets.NAME }}` references."
        ),
        parameters=[s.ExportQuerySerializer],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["get"])
    def export(self, request: Request, pk: int) -> Response:
        workflow = self.get_object()
        query = s.ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        document = transfer.workflow_export(workflow=workflow, **query.validated_data)
        filename = f"workflow-{workflow.pk}.json"
        return Response(document, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    @extend_schema(
        summary="Import a JSON document",
        description=(
            "Needs 'edit' on `project`. Embedded components are created there and published; references "
            "must name components of that project. Everything is checked first; on any error (400, keyed "
            "by the path in the document) nothing is written."
        ),
        request=s.ImportSerializer,
        responses={201: s.ImportResultSerializer},
    )
    @action(detail=False, methods=["post"], url_path="import")
    def import_document(self, request: Request) -> Response:
        body = s.ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = scoped_projects(request).filter(pk=body.validated_data["project"]).first()
        if project is None:
            return Response({"project": ["unknown project"]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            result = transfer.workflow_import(
                project=project,
                actor=self.actor,
                document=body.validated_data["document"],
                name=body.validated_data.get("name"),
            )
        except ValidationError as error:
            return Response({"document": error.message_dict}, status=status.HTTP_400_BAD_REQUEST)
        answer = {
            "workflow": s.WorkflowSerializer(result.workflow).data,
            "components": [component.pk for component in result.components],
            "missing_credentials": result.missing_credentials,
        }
        return Response(answer, status=status.HTTP_201_CREATED)
