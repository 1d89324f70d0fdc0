"""Running a workflow: ``POST /api/v1/workflows/{id}/run`` and the original ``POST /workflow/run``.

Both start through ``workflows.runs.execution_start``; on the API a refused start (``RunError``)
answers with the error's HTTP status and ``{code, message, …}`` body (101/102 bad inputs, 104
unknown workflow or version, 105 not allowed, 108 over quota → 429); the original route answers as
the original did (``components.legacy``: 200 with the outputs, 500 with the error).
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from django.http.response import HttpResponseBase
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
from components import errors, legacy
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
    def post(self, request: Request, pk: int) -> HttpResponseBase:
        return self.run(request, pk, _body(request))

    def run(self, request: Request, pk: Any, inputs: Any) -> HttpResponseBase:
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
            return self.refused(error)
        if options["run_async"]:
            # 202 at once, however far a fast worker got before the answer was read.
            return Response(execution_body(execution), status=status.HTTP_202_ACCEPTED)
        return self.answer(runs.execution_wait(execution, timeout=options["timeout"]), timeout=options["timeout"])

    def refused(self, error: RunError) -> HttpResponseBase:
        return Response(error.as_dict(), status=error.http_status)

    def answer(self, execution: WorkflowExecution, *, timeout: float) -> HttpResponseBase:
        body = execution_body(execution)
        finished = body["status"] in runs.FINISHED
        return Response(body, status=status.HTTP_200_OK if finished else status.HTTP_202_ACCEPTED)


class LegacyWorkflowRunView(WorkflowRunView):
    """The original ``POST /workflow/run`` with ``x-synchronise-public-key`` and ``{id, …inputs}``:
    200 with the workflow's outputs object, 500 with ``{code, message, …}`` for every failure,
    ``S_C`` for the Arduino (``components.legacy``, docs/legacy-clients.md)."""

    trigger = Trigger.LEGACY

    @extend_schema(
        tags=["workflows"],
        summary="Run a workflow (original route)",
        description=(
            "The original product's route, for its clients (npm `synchronise`, the browser client, "
            "Arduino). The body is `{id, …inputs}`; authenticate with `x-synchronise-public-key` "
            "(workflows marked `public`) or as for the API. **200 with the workflow's outputs object "
            "itself** when it succeeded; **500 with `{code, message, …}` on every failure** (103 no "
            "id, 104 unknown, 105 not allowed or a bad/revoked key, 101 `incorrect`, 102 `missing`, "
            "108 quota, a failed step's error with `step`, 126 still running after `timeout`, "
            "`rate_limited`…). A truthy `S_C` field (Arduino) prefixes the answer with `1` or `0` "
            "as `text/plain`. `?async=1` (not in the original) answers 202 with the execution. "
            "See docs/legacy-clients.md."
        ),
        request=OpenApiTypes.OBJECT,
        parameters=RUN_PARAMETERS,
        responses=legacy.schema_responses("the workflow", s.WorkflowExecutionSerializer),
    )
    def post(self, request: Request, pk: int | None = None) -> HttpResponseBase:
        try:
            workflow_id, inputs = legacy.split_body(_body(request), what="Workflow")
            if not request.user.is_authenticated and request_api_key(request) is None:
                raise RunError(errors.NOT_ALLOWED, legacy.NO_KEY_MESSAGE)
        except RunError as error:
            return self.refused(error)
        return self.run(request, workflow_id, inputs)

    def refused(self, error: RunError) -> HttpResponseBase:
        return legacy.refused(error, arduino=legacy.wants_arduino(self.request))

    def answer(self, execution: WorkflowExecution, *, timeout: float) -> HttpResponseBase:
        arduino = legacy.wants_arduino(self.request)
        fresh = WorkflowExecution.objects.get(pk=execution.pk)  # the engine changed it in other processes
        if fresh.status not in runs.FINISHED:
            follow = f"/api/v1/workflow-executions/{fresh.pk}/"
            return legacy.still_running(execution_id=fresh.pk, follow=follow, waited=timeout, arduino=arduino)
        return legacy.finished(status=fresh.status, outputs=fresh.outputs, error=fresh.error, arduino=arduino)

    # DRF's dispatch needs only an HttpResponse here (finalize_response), not its Response.
    def handle_exception(self, exc: Exception) -> HttpResponseBase:  # type: ignore[override]
        response = super().handle_exception(exc)  # re-raises what DRF does not answer (a bug: 500 page)
        return legacy.exception_answer(exc, response, arduino=legacy.wants_arduino(self.request))
