"""A real HTTP server on loopback that stands in for third-party APIs, and a tripwire for tests
that must never reach anything but loopback.

Routes (any method):

- ``/echo``: 200 with ``{method, path, query, headers, body, json}`` of the request;
- ``/status/<code>``: that status with ``{"error": {"message": "failed with <code>"}}``;
- ``/redirect?to=<url>&code=302``: a redirect;
- ``/big?bytes=N``: N bytes with a Content-Length; ``/gzip?bytes=N``: N zero bytes, gzip-encoded;
- ``/forever``: a body that never ends (bounded to 30 s so a broken client cannot keep it going);
- ``/slow?seconds=S``: answers after S seconds; ``/trickle?seconds=S``: one byte every 0.1 s for S s;
- ``/stall?after=S``: one byte, another after S seconds, then nothing;
- ``/headers?Name=value``: 200 with those response headers;
- ``/flaky/<key>?fail=N&code=503&retry_after=S``: the first N calls for that key fail with ``code``.

Every request is recorded in ``server.requests``.
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _any(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        record = {
            "method": self.command,
            "path": parts.path,
            "query": query,
            "headers": dict(self.headers.items()),
            "body": body,
        }
        self.server.requests.append(record)
        route = parts.path.strip("/").split("/")
        handler = getattr(self, f"route_{route[0]}", None)
        if handler is None:
            return self._json(404, {"error": {"message": "no such route"}})
        return handler(route[1:], query, record)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def route_echo(self, rest: list[str], query: dict[str, Any], record: dict[str, Any]) -> None:
        try:
            parsed = json.loads(record["body"]) if record["body"] else None
        except ValueError:
            parsed = None
        self._json(200, {**record, "json": parsed})

    def route_status(self, rest: list[str], query: dict[str, Any], record: dict[str, Any]) -> None:
        code = int(rest[0])
        self._json(code, {"error": {"message": f"failed with {code}"}})

    def route_redirect(self, rest: list[str], query: dict[str, Any], record: dict[str, Any]) -> None:
        self.send_response(int(query.get("code", 302)))
        self.send_header("Location", query["to"])
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_big(self, rest: list[str], query: dict[str, Any], record: dict[str, Any]) -> None:
        size = int(query["bytes"])
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self._write_slowly(b"x" * size)

    def route_gzip(self, rest: list[str], query: dict[str, Any], record: dict[str, Any]) -> None:
        data = gzip.compress(b"\0" * int(query["bytes"]))
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self._write_slowly(data)

    def route_forever(self, rest: list[str], query: dict[str, Any], record: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        deadline = time.monotonic() + 30
        chunk = b"y" * 65536
        while time.monotonic() < deadline:
            if not self._write_slowly(chunk):
                return

    def route_slow(self, rest: list[str], query: dict[str, Any], record: dict[str, Any]) -> None:
        self.server.stopping.wait(float(query.get("seconds", 5)))
        self._json(200, {"slow": True})

    def route_trickle(self, rest: list[str], query: dict[str, Any], record: dict[str, Any]) -> None:
        seconds = float(query.get("seconds", 10))
        count = int(seconds * 10)
        self.send_response(200)
        self.send_header("Content-Length", str(count))
        self.end_headers()
        for _ in range(count):
            if not self._write_slowly(b"z") or self.server.stopping.wait(0.1):
                return

    def route_stall(self, rest: list[str], query: dict[str, Any], record: dict[str, Any]) -> None:
        """One byte now, one after ``after`` seconds, then silence until the server stops."""
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        if self._write_slowly(b"a") and not self.server.stopping.wait(float(query.get("after", 0.8))):
            self._write_slowly(b"b")
            self.server.stopping.wait(30)

    def route_flaky(self, rest: list[str], query: dict[str, Any], record: dict[str, Any]) -> None:
        """``/flaky/<key>?fail=N&code=503&retry_after=S``: the first N calls for a key fail."""
        with self.server.lock:
            seen = self.server.counts[rest[0]] = self.server.counts.get(rest[0], 0) + 1
        if seen <= int(query.get("fail", 1)):
            headers = {"Retry-After": str(query["retry_after"])} if "retry_after" in query else {}
            return self._json(int(query.get("code", 503)), {"error": {"message": f"call {seen} fails"}}, headers)
        return self._json(200, {"count": seen})

    def route_headers(self, rest: list[str], query: dict[str, Any], record: dict[str, Any]) -> None:
        self._json(200, {"ok": True}, headers={k: str(v) for k, v in query.items()})

    def _write_slowly(self, data: bytes) -> bool:
        """False once the client has gone."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            return False
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[dict[str, Any]]
    stopping: threading.Event
    counts: dict[str, int]
    lock: threading.Lock


@dataclass
class FakeApi:
    host: str
    port: int
    scheme: str
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def destination(self) -> str:
        """The ``host:port`` entry for ``OUTBOUND_ALLOW``."""
        return f"{self.host}:{self.port}"

    def url(self, path: str = "/echo") -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"


@contextmanager
def serve(*, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> Iterator[FakeApi]:
    """Run the fake API on a free loopback port until the block ends."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.requests = []
    server.stopping = threading.Event()
    server.counts, server.lock = {}, threading.Lock()
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    api = FakeApi(host=host, port=server.server_address[1], scheme="https" if tls else "http")
    api.requests = server.requests
    try:
        yield api
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def tls_context(directory: Path, *, hostname: str) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for ``hostname`` from a fresh CA; returns it and the CA's PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Synchronise test CA"))
        .issuer_name(name("Synchronise test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )  # digital signature, cert sign, crl sign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name(hostname))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_path, cert_path, key_path = directory / "ca.pem", directory / f"{hostname}.pem", directory / f"{hostname}.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, ca_path


def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """From now on, this test's sockets may connect to loopback only; returns the refused attempts.

    A guard that let a request through would otherwise send traffic to a private or metadata
    address; with this in place the attempt fails the test instead of leaving the machine.
    """
    refused: list[Any] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            if not ip.is_loopback:
                refused.append(address)
                raise AssertionError(f"the test tried to connect to {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return refused
