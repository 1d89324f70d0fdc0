"""Running a workflow: ``POST /api/v1/workflows/{id}/run`` and the original ``POST /workflow/run``.

Both start through ``workflows.runs.execution_start``; a refused start (``RunError``) answers with
the error's HTTP status and ``{code, message, …}`` body (101/102 bad inputs, 104 unknown workflow
or version, 105 not allowed, 108 over quota → 429).
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import PublishableKeyAuthentication, SecretKeyAuthentication, request_api_key
from accounts.models import User
from components import errors
from components.errors import RunError
from workflows import runs
from workflows import serializers as s
from workflows.api.access import publishable_key, scoped_projects
from workflows.models import Trigger, Workflow, WorkflowExecution

RUN_PARAMETERS = [
    OpenApiParameter("async", OpenApiTypes.BOOL, description="Answer 202 with the queued execution at once."),
    OpenApiParameter("version", OpenApiTypes.STR, description="A version number, or 'draft' (editors only)."),
    OpenApiParameter("timeout", OpenApiTypes.FLOAT, description="Seconds to wait (default 30, at most 120)."),
]
RUN_ERROR = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="`{code, message, …}`: 101/102 bad inputs (400), 104 unknown (404), 105 not allowed (403), "
    "108 over quota (429).",
)


def runnable_workflow(request: Request, pk: Any) -> Workflow:
    """The workflow to run, or ``RunError`` 104 (unknown or not yours: existence does not leak).

    A publishable key runs only the ``public`` workflows of its project.
    """
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise RunError(errors.UNKNOWN_ID, f"unknown workflow {str(pk)[:40]}") from None
    key = publishable_key(request)
    if key is not None:
        workflows = Workflow.objects.filter(project_id=key.project_id, public=True)
    else:
        workflows = Workflow.objects.filter(project__in=scoped_projects(request))
    found = workflows.select_related("project").filter(pk=pk).first()
    if found is None:
        raise RunError(errors.UNKNOWN_ID, f"unknown workflow {pk}")
    return found


def _version(raw: str | None) -> int | str | None:
    if raw in (None, ""):
        return None
    if raw == runs.DRAFT:
        return runs.DRAFT
    if not raw.isdigit() or int(raw) < 1:
        raise RunError(errors.UNKNOWN_ID, f"no version {raw[:40]}: give a version number or 'draft'")
    return int(raw)


def _body(request: Request) -> Any:
    """The posted inputs: JSON as sent; a form's fields as single values."""
    data = request.data
    return data.dict() if isinstance(data, QueryDict) else data


def execution_body(execution: WorkflowExecution) -> dict[str, Any]:
    """The execution with its step runs, read again (the engine changed it in other processes)."""
    fresh = WorkflowExecution.objects.select_related("version").prefetch_related("step_runs").get(pk=execution.pk)
    return dict(s.WorkflowExecutionSerializer(fresh, context={"steps": True}).data)


class WorkflowRunView(APIView):
    """``POST /api/v1/workflows/{id}/run``: the body is the inputs."""

    authentication_classes = (SecretKeyAuthentication, PublishableKeyAuthentication, SessionAuthentication)
    permission_classes = (AllowAny,)  # who may run is `runnable_workflow`'s business: 104 otherwise
    allows_publishable_key = True
    trigger = Trigger.API

    @extend_schema(
        tags=["workflows"],
        summary="Run a workflow",
        description=(
            "The body is the inputs. Waits for the end up to `timeout` seconds and answers 200 with the "
            "execution (`status`, `outputs`, `error`, `steps`) — also when the workflow failed: read "
            "`status` and `error` — or 202 with it while it still runs (follow it at "
            "`/api/v1/workflow-executions/{id}/`). With `async=1`, 202 at once. A publishable key runs "
            "only the workflows marked `public` of its project."
        ),
        request=OpenApiTypes.OBJECT,
        parameters=RUN_PARAMETERS,
        responses={
            200: s.WorkflowExecutionSerializer,
            202: s.WorkflowExecutionSerializer,
            400: RUN_ERROR,
            403: RUN_ERROR,
            404: RUN_ERROR,
            429: RUN_ERROR,
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        return self.run(request, pk, _body(request))

    def run(self, request: Request, pk: Any, inputs: Any) -> Response:
        query = s.RunQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = query.validated_data
        try:
            if not isinstance(inputs, dict):
                raise RunError(errors.INCORRECT_INPUT, "the body must be a JSON object of inputs")
            workflow = runnable_workflow(request, pk)
            version = _version(options.get("version"))  # the draft: editors only (runs.execution_start)
            execution = runs.execution_start(
                workflow=workflow,
                inputs=dict(inputs),
                trigger=Trigger.EDITOR if version == runs.DRAFT else self.trigger,
                version=version,
                user=request.user if isinstance(request.user, User) else None,
                api_key=request_api_key(request),
            )
        except RunError as error:
            return Response(error.as_dict(), status=error.http_status)
        if options["run_async"]:
            # 202 at once, however far a fast worker got before the answer was read.
            return Response(execution_body(execution), status=status.HTTP_202_ACCEPTED)
        return self.answer(runs.execution_wait(execution, timeout=options["timeout"]))

    def answer(self, execution: WorkflowExecution) -> Response:
        body = execution_body(execution)
        finished = body["status"] in runs.FINISHED
        return Response(body, status=status.HTTP_200_OK if finished else status.HTTP_202_ACCEPTED)


class LegacyWorkflowRunView(WorkflowRunView):
    """The original ``POST /workflow/run`` with ``x-synchronise-public-key`` and ``{id, …inputs}``.

    Answers as the original ``/component/run`` does: 200 with the execution when it succeeded,
    the error's status with ``{code, message, …, execution}`` when it failed, 202 while it runs.
    """

    trigger = Trigger.LEGACY

    @extend_schema(
        tags=["workflows"],
        summary="Run a workflow (original route)",
        description=(
            "The body is `{id, …inputs}`; authenticate with `x-synchronise-public-key` (workflows marked "
            "`public`) or as for the API. 200 with the execution when it succeeded; the error's status "
            "with `{code, message, …, execution}` when it failed; 202 while it still runs."
        ),
        request=OpenApiTypes.OBJECT,
        parameters=RUN_PARAMETERS,
        responses={
            200: s.WorkflowExecutionSerializer,
            202: s.WorkflowExecutionSerializer,
            400: RUN_ERROR,
            403: RUN_ERROR,
            404: RUN_ERROR,
            429: RUN_ERROR,
        },
    )
    def post(self, request: Request, pk: int | None = None) -> Response:
        inputs = _body(request)
        if not isinstance(inputs, dict) or inputs.get("id") in (None, ""):
            error = RunError(errors.MISSING_ID, "the workflow id is missing")
            return Response(error.as_dict(), status=error.http_status)
        inputs = dict(inputs)
        return self.run(request, inputs.pop("id"), inputs)

    def answer(self, execution: WorkflowExecution) -> Response:
        body = execution_body(execution)
        if body["status"] not in runs.FINISHED:
            return Response(body, status=status.HTTP_202_ACCEPTED)
        error = body["error"]
        if body["status"] != "succeeded":
            error = error or {"code": errors.EXECUTION_FAILED, "message": f"the execution {body['status']}"}
            return Response({**error, "execution": body}, status=errors.http_status(error["code"]))
        return Response(body, status=status.HTTP_200_OK)
