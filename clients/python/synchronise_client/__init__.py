"""A small client for the Synchronise REST API (depends only on ``requests``).

::

    client = Synchronise("sk_…", base_url="https://synchronise.example.com")
    client.components.run(42, {"a": 1})                   # → the outputs
    client.workflows.run(7, {"city": "Lyon"})              # → the outputs
    execution = client.workflows.run_async(7, {"city": "Lyon"})
    client.executions.wait(execution)                      # → the finished execution
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests

__all__ = ["FINISHED", "Synchronise", "SynchroniseError"]

FINISHED = ("succeeded", "failed", "cancelled", "timed_out")

if TYPE_CHECKING:  # the package supports Python 3.9, where `int | …` cannot be evaluated at run time
    # An execution as the API returns it (a dict with ``id``), or a component execution's id.
    ExecutionRef = int | Mapping[str, Any]


class SynchroniseError(Exception):
    """An error answer: ``code`` is Synchronise's error code (101 wrong input, 102 missing input,
    104 unknown, 105 not allowed, 108 quota, ≥ 200 from the component, …), ``status`` the HTTP
    status and ``body`` the whole JSON answer (for a failed workflow: the execution, with its steps).
    ``code`` is ``None`` when a run was still going when the client stopped waiting (status 202)."""

    def __init__(self, code: int | None, message: str, status: int, body: Any) -> None:
        super().__init__(f"{code}: {message}" if code is not None else message)
        self.code = code
        self.message = message
        self.status = status
        self.body = body


def _outcome(execution: dict[str, Any], status: int) -> dict[str, Any]:
    """The execution if it succeeded; otherwise ``SynchroniseError`` with its error (or still running)."""
    state = execution.get("status")
    if state == "succeeded":
        return execution
    if state not in FINISHED:
        raise SynchroniseError(None, f"execution {execution.get('id')} is still {state}", 202, execution)
    error = execution.get("error") or {}
    message = error.get("message") or f"execution {execution.get('id')} {state}"
    if error.get("step"):
        message = f"{message} (step {error['step']})"
    raise SynchroniseError(error.get("code"), message, status, execution)


def _run_params(version: int | str | None, **extra: Any) -> dict[str, Any]:
    params = {key: value for key, value in extra.items() if value is not None}
    if version is not None:
        params["version"] = version
    return params


class _Resource:
    def __init__(self, client: Synchronise) -> None:
        self.client = client


class Components(_Resource):
    def run(
        self,
        component_id: int,
        inputs: dict[str, Any] | None = None,
        *,
        version: int | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        """Run and wait; returns the outputs. Raises ``SynchroniseError`` for an error, or when the
        run is still going after ``timeout`` seconds (code ``None``, status 202, ``body['id']``)."""
        body = self.client.request(
            "POST",
            f"components/{component_id}/run",
            json=inputs or {},
            params=_run_params(version, timeout=timeout),
            timeout=timeout + 10,
        )
        if body.get("status") != "succeeded":
            raise SynchroniseError(None, f"execution {body.get('id')} is still {body.get('status')}", 202, body)
        return dict(body["outputs"])

    def run_async(
        self, component_id: int, inputs: dict[str, Any] | None = None, *, version: int | None = None
    ) -> dict[str, Any]:
        """Start a run; returns the queued execution (``id``, ``status``)."""
        params = _run_params(version, **{"async": 1})
        return self.client.request("POST", f"components/{component_id}/run", json=inputs or {}, params=params)


class Workflows(_Resource):
    def run(
        self,
        workflow_id: int,
        inputs: dict[str, Any] | None = None,
        *,
        version: int | str | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        """Run and wait up to ``timeout`` seconds (at most 120); returns the workflow's outputs.

        ``version``: a published version's number, ``"draft"`` (editors), or ``None`` for the latest.
        Raises ``SynchroniseError``: the refusal's code (101/102 inputs, 104 unknown, 105 not allowed,
        108 quota) with its HTTP status; for a workflow that failed, its error's code with
        ``body`` the execution (``body["steps"]`` says what each step did); code ``None`` and status
        202 when it still runs (``body["id"]`` to follow it with ``client.workflow_executions``).
        """
        body = self.client.request(
            "POST",
            f"workflows/{workflow_id}/run",
            json=inputs if inputs is not None else {},
            params=_run_params(version, timeout=timeout),
            timeout=min(timeout, 120) + 10,
        )
        return dict(_outcome(body, 200)["outputs"])

    def run_async(
        self, workflow_id: int, inputs: dict[str, Any] | None = None, *, version: int | str | None = None
    ) -> dict[str, Any]:
        """Start a run; returns the queued execution (``id``, ``workflow``, ``status``, …), which
        ``client.executions.wait(execution)`` follows to its end."""
        params = _run_params(version, **{"async": 1})
        return self.client.request(
            "POST", f"workflows/{workflow_id}/run", json=inputs if inputs is not None else {}, params=params
        )

    def get(self, workflow_id: int) -> dict[str, Any]:
        return self.client.request("GET", f"workflows/{workflow_id}/")

    def rerun_failed(self, workflow_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
        """Replay the newest failed executions (needs 'edit'); returns the new executions (the API's
        ``started``; its ``skipped`` and ``message`` say which failures on bad input were left out)."""
        answer: Any = self.client.request("POST", f"workflows/{workflow_id}/rerun-failed/", json={"limit": limit})
        return list(answer["started"])

    def export(self, workflow_id: int, *, reference: bool = False, version: int | None = None) -> dict[str, Any]:
        """The workflow as a document (components embedded, or by reference); never credentials."""
        params = _run_params(version, components="reference" if reference else "embedded")
        return self.client.request("GET", f"workflows/{workflow_id}/export/", params=params)

    def import_document(self, project_id: int, document: Mapping[str, Any]) -> dict[str, Any]:
        """Create a workflow from an exported document; returns ``{workflow, components, missing_credentials}``."""
        return self.client.request(
            "POST", "workflows/import/", json={"project": project_id, "document": dict(document)}
        )


class WorkflowExecutions(_Resource):
    """Workflow executions by id: read, wait for, cancel, replay, restart from a step."""

    def get(self, execution_id: int) -> dict[str, Any]:
        """The execution with its step runs (``steps``)."""
        return self.client.request("GET", f"workflow-executions/{int(execution_id)}/")

    def list(self, **filters: Any) -> list[dict[str, Any]]:
        """The newest executions (one page); filters: workflow, project, status, trigger,
        created_after, created_before (ISO 8601), limit, offset."""
        return list(self.client.request("GET", "workflow-executions/", params=filters)["results"])

    def wait(self, execution_id: int, *, timeout: float = 30, interval: float = 0.1) -> dict[str, Any]:
        """The execution once finished. Raises ``SynchroniseError`` with its error if it did not
        succeed, or with code ``None`` (status 202) when it still runs after ``timeout`` seconds."""
        return _outcome(_poll(lambda: self.get(execution_id), timeout=timeout, interval=interval), 200)

    def cancel(self, execution_id: int) -> dict[str, Any]:
        """Stop it now (needs 'edit'); returns the execution (a finished one is left as it was)."""
        return self.client.request("POST", f"workflow-executions/{int(execution_id)}/cancel/")

    def replay(self, execution_id: int) -> dict[str, Any]:
        """A new execution with the same inputs and version (needs 'edit')."""
        return self.client.request("POST", f"workflow-executions/{int(execution_id)}/replay/")

    def restart(self, execution_id: int, step: str) -> dict[str, Any]:
        """A new execution that reuses what came before ``step`` and runs it and what follows again."""
        return self.client.request("POST", f"workflow-executions/{int(execution_id)}/restart/", json={"step": step})


class Executions(_Resource):
    """Executions of components and of workflows.

    Pass the execution as the API returned it (``run_async``'s answer): a workflow's execution
    (it has a ``workflow`` key) goes to the workflow endpoints, a component's to the component
    ones. A bare integer id is a component execution's, as it always was; use
    ``client.workflow_executions`` for workflow executions by id.
    """

    def _workflow_id(self, execution: ExecutionRef) -> int | None:
        if isinstance(execution, Mapping) and "workflow" in execution:
            return int(execution["id"])
        return None

    @staticmethod
    def _component_id(execution: ExecutionRef) -> int:
        return int(execution["id"]) if isinstance(execution, Mapping) else int(execution)

    def get(self, execution: ExecutionRef) -> dict[str, Any]:
        workflow_execution = self._workflow_id(execution)
        if workflow_execution is not None:
            return self.client.workflow_executions.get(workflow_execution)
        return self.client.request("GET", f"executions/{self._component_id(execution)}/")

    def wait(self, execution: ExecutionRef, *, timeout: float = 30, interval: float = 0.1) -> dict[str, Any]:
        """The execution once finished; raises ``SynchroniseError`` with its error if it failed."""
        return _outcome(_poll(lambda: self.get(execution), timeout=timeout, interval=interval), 200)

    def _workflow_only(self, execution: ExecutionRef, what: str) -> int:
        workflow_execution = self._workflow_id(execution)
        if workflow_execution is None:
            raise TypeError(
                f"only workflow executions can be {what}: pass the execution returned by "
                "client.workflows.run_async (or use client.workflow_executions with its id)"
            )
        return workflow_execution

    def cancel(self, execution: ExecutionRef) -> dict[str, Any]:
        return self.client.workflow_executions.cancel(self._workflow_only(execution, "cancelled"))

    def replay(self, execution: ExecutionRef) -> dict[str, Any]:
        return self.client.workflow_executions.replay(self._workflow_only(execution, "replayed"))

    def restart(self, execution: ExecutionRef, step: str) -> dict[str, Any]:
        return self.client.workflow_executions.restart(self._workflow_only(execution, "restarted"), step)


def _poll(read: Any, *, timeout: float, interval: float) -> dict[str, Any]:
    """Read until the execution has finished or ``timeout`` has passed; the last reading."""
    deadline = time.monotonic() + timeout
    while True:
        execution: dict[str, Any] = read()
        if execution.get("status") in FINISHED or time.monotonic() > deadline:
            return execution
        time.sleep(interval)
        interval = min(interval * 1.5, 1.0)


class Synchronise:
    def __init__(self, key: str, base_url: str = "http://127.0.0.1:8000", *, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        if key.startswith("pk_"):
            self.session.headers["x-synchronise-public-key"] = key
        else:
            self.session.headers["Authorization"] = f"Bearer {key}"
        self.components = Components(self)
        self.workflows = Workflows(self)
        self.executions = Executions(self)
        self.workflow_executions = WorkflowExecutions(self)

    def request(self, method: str, path: str, *, timeout: float = 40, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(method, f"{self.base_url}/api/v1/{path}", timeout=timeout, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:500]}
        if response.status_code >= 400:
            fields = body if isinstance(body, dict) else {"detail": body}
            detail = fields.get("message") or fields.get("detail")
            if not detail:  # a 400 naming the fields: {"project": ["unknown project"]}
                detail = "; ".join(f"{name}: {value}" for name, value in fields.items()) or response.reason
            raise SynchroniseError(fields.get("code"), str(detail), response.status_code, body)
        return body
