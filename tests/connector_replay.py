"""A real HTTP server on loopback that replays the recorded exchanges of one connector case
(``tests/payloads/connectors/<action>.json``, described in docs/connectors.md).

Each request the connector sends is checked against the next recorded one, in order: method,
path, the recorded ``query`` and ``headers`` as a subset (header names in any case), and the body
when the recording has one (``json`` equal, ``form`` the url-encoded or multipart fields equal,
``body`` the text equal). The recorded response is answered either way, so the connector's outcome
shows what it would do; ``problems`` lists every mismatch and ``unused`` the exchanges never asked
for. A request beyond the recording gets 599 and a problem.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

BEYOND_RECORDING = 599

# Placeholders in a case's inputs and credentials: the replay server's base URL, host and port
# (webhook URLs and SMTP hosts are inputs, not a connector's base URL).
PLACEHOLDERS = ("{{ replay }}", "{{ replay.host }}", "{{ replay.port }}")


@dataclass
class Replay:
    host: str
    port: int
    exchanges: list[dict[str, Any]]
    received: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def destination(self) -> str:
        """For ``OUTBOUND_ALLOW``."""
        return f"{self.host}:{self.port}"

    @property
    def unused(self) -> list[dict[str, Any]]:
        return self.exchanges[len(self.received) :]

    def fill(self, value: Any) -> Any:
        """``value`` with the placeholders replaced, in every string of it."""
        if isinstance(value, str):
            return (
                value.replace("{{ replay }}", self.base_url)
                .replace("{{ replay.host }}", self.host)
                .replace("{{ replay.port }}", str(self.port))
            )
        if isinstance(value, dict):
            return {key: self.fill(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [self.fill(inner) for inner in value]
        return value


def _fields(query: str) -> dict[str, Any]:
    """Url-encoded fields: one value as text, a repeated one as a list."""
    parsed = parse_qs(query, keep_blank_values=True)
    return {key: values[0] if len(values) == 1 else values for key, values in parsed.items()}


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        value = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        if str(name) in fields:  # a repeated field: its values as a list, as for url-encoded ones
            before = fields[str(name)]
            fields[str(name)] = [*(before if isinstance(before, list) else [before]), value]
        else:
            fields[str(name)] = value
    return fields


def mismatches(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """How a received request differs from the recorded one (empty: it matches)."""
    found: list[str] = []
    if "method" in expected and expected["method"].upper() != actual["method"]:
        found.append(f"method: expected {expected['method']}, got {actual['method']}")
    if "path" in expected and unquote(expected["path"]) != unquote(actual["path"]):
        found.append(f"path: expected {expected['path']}, got {actual['path']}")
    query = _fields(actual["query"])
    for key, value in expected.get("query", {}).items():
        if query.get(key) != value:
            found.append(f"query.{key}: expected {value!r}, got {query.get(key)!r}")
    headers = {name.lower(): value for name, value in actual["headers"].items()}
    for name, value in expected.get("headers", {}).items():
        if headers.get(name.lower()) != value:
            found.append(f"headers.{name}: expected {value!r}, got {headers.get(name.lower())!r}")
    body: bytes = actual["body"]
    content_type = headers.get("content-type", "")
    if "json" in expected:
        try:
            sent = json.loads(body) if body else None
        except ValueError:
            sent = body.decode("utf-8", "replace")
        if sent != expected["json"]:
            found.append(f"json: expected {json.dumps(expected['json'])}, got {json.dumps(sent)}")
    if "form" in expected:
        if content_type.startswith("multipart/form-data"):
            fields = _multipart(content_type, body)
        else:
            fields = _fields(body.decode("utf-8", "replace"))
        if fields != expected["form"]:
            found.append(f"form: expected {expected['form']!r}, got {fields!r}")
    if "body" in expected and body.decode("utf-8", "replace") != expected["body"]:
        found.append(f"body: expected {expected['body']!r}, got {body.decode('utf-8', 'replace')!r}")
    return found


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _any(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        actual = {
            "method": self.command,
            "path": parts.path,
            "query": parts.query,
            "headers": dict(self.headers.items()),
            "body": self.rfile.read(length) if length else b"",
        }
        replay = self.server.replay
        with replay.lock:
            index = len(replay.received)
            replay.received.append(actual)
            if index >= len(replay.exchanges):
                replay.problems.append(f"request {index + 1} ({self.command} {parts.path}) is beyond the recording")
                self._answer({"status": BEYOND_RECORDING, "json": {"error": "beyond the recording"}})
                return
            exchange = replay.exchanges[index]
            replay.problems.extend(f"request {index + 1}: {m}" for m in mismatches(exchange["request"], actual))
        self._answer(exchange["response"])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any

    def _answer(self, response: dict[str, Any]) -> None:
        headers = {name.lower(): (name, value) for name, value in response.get("headers", {}).items()}
        if "json" in response:
            data = json.dumps(self.server.replay.fill(response["json"])).encode()
            headers.setdefault("content-type", ("Content-Type", "application/json; charset=utf-8"))
        else:
            data = str(self.server.replay.fill(response.get("body", ""))).encode()
            if data:
                headers.setdefault("content-type", ("Content-Type", "text/plain; charset=utf-8"))
        self.send_response(int(response.get("status", 200)))
        for name, value in headers.values():
            if name.lower() != "content-length":
                self.send_header(name, self.server.replay.fill(value))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    replay: Replay


@contextmanager
def serve(exchanges: list[dict[str, Any]]) -> Iterator[Replay]:
    """Replay ``exchanges`` on a free loopback port until the block ends."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.replay = Replay(host="127.0.0.1", port=server.server_address[1], exchanges=exchanges)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.replay
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
