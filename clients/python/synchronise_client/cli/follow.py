"""Watching an execution until it ends: over the realtime socket (``/ws/``, the secret key in
``Authorization: Bearer``), subscribed to ``getExecution`` or ``getWorkflowExecution``; each
``cloud.data_update`` means "look again", so the function is called again and its answer yielded.
Polling the REST API is the fallback when the socket cannot be opened (``--poll`` forces it)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from synchronise_client import FINISHED, Synchronise, SynchroniseError

COMPONENT, WORKFLOW = "component", "workflow"
FUNCTIONS = {COMPONENT: "getExecution", WORKFLOW: "getWorkflowExecution"}
REST = {COMPONENT: "executions", WORKFLOW: "workflow-executions"}
# Updates are hints; should one be lost, the execution is read again after this many seconds anyway.
QUIET_SECONDS = 5.0


@dataclass(frozen=True)
class Ref:
    """An execution: of a component (shown ``c12``) or of a workflow (``w12``)."""

    kind: str
    id: int

    def __str__(self) -> str:
        return f"{self.kind[0]}{self.id}"


def finished(snapshot: dict[str, Any]) -> bool:
    return snapshot.get("status") in FINISHED


def read(client: Synchronise, ref: Ref) -> dict[str, Any]:
    return client.request("GET", f"{REST[ref.kind]}/{ref.id}/")


def watch(
    client: Synchronise, ref: Ref, *, poll: bool = False, note: Callable[[str], None] | None = None
) -> Iterator[dict[str, Any]]:
    """Each new state of the execution, the first at once, the last a finished one. Falls back to
    polling when the socket cannot be opened, and says so through ``note``."""
    if not poll:
        try:
            socket = _open(client)
        except (OSError, ImportError, SocketRefused) as error:
            if note is not None:
                note(f"the realtime socket could not be opened ({error}); polling instead")
        else:
            with socket:
                yield from _over_socket(socket, ref)
            return
    yield from _polled(client, ref)


class SocketRefused(Exception):
    pass


def _open(client: Synchronise) -> Any:
    from websockets.exceptions import InvalidHandshake, InvalidStatus
    from websockets.sync.client import connect

    url = client.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/ws/"
    authorization = client.session.headers.get("Authorization", "")
    try:
        return connect(url, additional_headers={"Authorization": str(authorization)}, open_timeout=10)
    except InvalidStatus as error:
        raise SocketRefused(f"HTTP {error.response.status_code}") from None
    except InvalidHandshake as error:
        raise SocketRefused(str(error)) from None


def _over_socket(socket: Any, ref: Ref) -> Iterator[dict[str, Any]]:
    request = {
        "type": "cloud.run",
        "request_id": str(ref),
        "function": FUNCTIONS[ref.kind],
        "params": {"id": ref.id},
        "realtime": True,
    }
    socket.send(json.dumps(request))
    while True:
        try:
            message = json.loads(socket.recv(timeout=QUIET_SECONDS))
        except TimeoutError:
            socket.send(json.dumps(request))
            continue
        if message.get("request_id") != str(ref):
            continue
        if message.get("type") == "cloud.data_update":
            socket.send(json.dumps(request))  # "look again": the subscription is kept as it is
            continue
        if message.get("type") != "cloud.result" or message.get("status") in (100, 206):
            continue
        if message.get("status", 200) >= 400:
            # Unknown, or not this key's: the same answer as the API's, so the same error.
            raise SynchroniseError(message.get("code"), message.get("message", ""), message["status"], message)
        snapshot = message.get("data") or {}
        yield snapshot
        if finished(snapshot):
            return


def _polled(client: Synchronise, ref: Ref) -> Iterator[dict[str, Any]]:
    interval = 0.2
    while True:
        snapshot = read(client, ref)
        yield snapshot
        if finished(snapshot):
            return
        time.sleep(interval)
        interval = min(interval * 1.5, 2.0)


@dataclass
class LogTail:
    """The log lines of successive states of an execution, each line once: a component's
    ``logs``; a workflow's step runs' ``logs``, prefixed with the step's id."""

    seen: dict[Any, int] = field(default_factory=dict)

    def new_lines(self, snapshot: dict[str, Any]) -> list[str]:
        sources: list[tuple[Any, str, list[Any]]] = []
        if "workflow_id" in snapshot or "workflow" in snapshot:
            runs = snapshot.get("step_runs", snapshot.get("steps")) or []
            for run in runs:
                label = run.get("step", "")
                if run.get("items", 1) and run.get("items", 1) > 1:
                    label = f"{label}[{run.get('item')}]"
                if run.get("attempt", 1) and run.get("attempt", 1) > 1:
                    label = f"{label} attempt {run.get('attempt')}"
                sources.append((run.get("id"), f"[{label}] ", run.get("logs") or []))
        else:
            sources.append((None, "", snapshot.get("logs") or []))
        lines: list[str] = []
        for key, prefix, logs in sources:
            start = self.seen.get(key, 0)
            lines.extend(prefix + _text(line) for line in logs[start:])
            self.seen[key] = max(start, len(logs))
        return lines


def _text(line: Any) -> str:
    if isinstance(line, dict):
        return str(line.get("message") or line.get("line") or json.dumps(line))
    return str(line)
