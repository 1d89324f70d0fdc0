"""A small client for the Synchronise REST API (depends only on ``requests``)."""

from __future__ import annotations

import time
from typing import Any

import requests

__all__ = ["Synchronise", "SynchroniseError"]


class SynchroniseError(Exception):
    """An error answer: ``code`` is Synchronise's error code (101 wrong input, 108 quota, ≥ 200 from the
    component, …), ``status`` the HTTP status and ``body`` the whole JSON answer."""

    def __init__(self, code: int | None, message: str, status: int, body: Any) -> None:
        super().__init__(f"{code}: {message}" if code is not None else message)
        self.code = code
        self.message = message
        self.status = status
        self.body = body


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
        params: dict[str, Any] = {"timeout": timeout}
        if version is not None:
            params["version"] = version
        body = self.client.request(
            "POST", f"components/{component_id}/run", json=inputs or {}, params=params, timeout=timeout + 10
        )
        if body.get("status") != "succeeded":
            raise SynchroniseError(None, f"execution {body.get('id')} is still {body.get('status')}", 202, body)
        return dict(body["outputs"])

    def run_async(
        self, component_id: int, inputs: dict[str, Any] | None = None, *, version: int | None = None
    ) -> dict[str, Any]:
        """Start a run; returns the queued execution (``id``, ``status``)."""
        params: dict[str, Any] = {"async": 1}
        if version is not None:
            params["version"] = version
        return self.client.request("POST", f"components/{component_id}/run", json=inputs or {}, params=params)


class Executions(_Resource):
    def get(self, execution_id: int) -> dict[str, Any]:
        return self.client.request("GET", f"executions/{execution_id}/")

    def wait(self, execution_id: int, *, timeout: float = 30, interval: float = 0.2) -> dict[str, Any]:
        """The execution once finished; raises ``SynchroniseError`` with its error if it failed."""
        deadline = time.monotonic() + timeout
        while True:
            execution = self.get(execution_id)
            if execution["status"] not in ("queued", "running"):
                break
            if time.monotonic() > deadline:
                raise SynchroniseError(None, f"execution {execution_id} still {execution['status']}", 202, execution)
            time.sleep(interval)
        if execution.get("error"):
            error = execution["error"]
            raise SynchroniseError(error.get("code"), error.get("message", ""), 200, execution)
        return execution


class Synchronise:
    def __init__(self, key: str, base_url: str = "http://127.0.0.1:8000", *, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        if key.startswith("pk_"):
            self.session.headers["x-synchronise-public-key"] = key
        else:
            self.session.headers["Authorization"] = f"Bearer {key}"
        self.components = Components(self)
        self.executions = Executions(self)

    def request(self, method: str, path: str, *, timeout: float = 40, **kwargs: Any) -> dict[str, Any]:
        response = self.session.request(method, f"{self.base_url}/api/v1/{path}", timeout=timeout, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:500]}
        if response.status_code >= 400:
            detail = body.get("message") or body.get("detail") or response.reason
            raise SynchroniseError(body.get("code"), str(detail), response.status_code, body)
        return body
