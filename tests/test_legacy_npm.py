"""The original npm package ``synchronise@1.0.8``, from the npm registry and unchanged, run by Node
against a live platform (uvicorn + a Celery worker): its callbacks fire as they did with the
original product, for components and workflows, on success and on every kind of error.

The package hard-codes ``https://api.synchronise.io`` and calls it through ``request@2.69.0`` with
``rejectUnauthorized: false``. ``request`` honours ``HTTPS_PROXY``: the test runs a small CONNECT
proxy on loopback that accepts ``CONNECT api.synchronise.io:443`` only, ends TLS itself with a
self-signed certificate made here (accepted because of ``rejectUnauthorized: false``) and relays the
plain HTTP to the test server. The package is installed once into ``var/legacy-npm/`` (a cache).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accounts import services as account_services
from accounts.models import Plan
from components import services
from tests import servers
from tests.factories import make_component, make_workflow

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "synchronise@1.0.8"
CACHE = ROOT / "var" / "legacy-npm"
SCRIPT = Path(__file__).resolve().parent / "legacy_npm" / "run.js"
HOST = "api.synchronise.io"

NUMBER = {"type": "number", "subtype": "integer"}
ADD = (
    "def run(inputs, ctx):\n"
    "    if inputs['a'] < 0:\n"
    "        raise ComponentError('a must not be negative', 250)\n"
    "    return {'sum': inputs['a'] + inputs['b']}\n"
)


# --- The package, Node, and the way to api.synchronise.io -----------------------------------


def _needed(what: str) -> None:
    if os.environ.get("SYNCHRONISE_REQUIRE_SERVICES") or os.environ.get("CI"):
        pytest.fail(f"{what} is expected (SYNCHRONISE_REQUIRE_SERVICES) but missing", pytrace=False)
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="module")
def package() -> Path:
    """``var/legacy-npm`` with ``node_modules/synchronise`` 1.0.8 (installed from the registry once)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        _needed("Node and npm")
    CACHE.mkdir(parents=True, exist_ok=True)
    installed = CACHE / "node_modules" / "synchronise" / "package.json"
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test processes install once
        if not installed.exists() or json.loads(installed.read_text())["version"] != "1.0.8":
            (CACHE / "package.json").write_text('{"name": "legacy-npm-cache", "private": true}\n')
            done = subprocess.run(
                ["npm", "install", PACKAGE, "--no-audit", "--no-fund", "--no-save", "--prefix", str(CACHE)],
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
            assert done.returncode == 0, f"npm install {PACKAGE} failed:\n{done.stderr[-2000:]}"
    assert json.loads(installed.read_text())["version"] == "1.0.8"
    return CACHE


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for api.synchronise.io and its key, valid a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def _pipe(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


class ConnectProxy:
    """An HTTP proxy that only tunnels ``CONNECT api.synchronise.io:443``, ending TLS itself and
    relaying the plain bytes to ``upstream`` (host, port). Anything else is refused (403)."""

    def __init__(self, upstream: tuple[str, int], tls: ssl.SSLContext) -> None:
        self.upstream, self.tls = upstream, tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.tunnels: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _address = self.listener.accept()
                threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            if request_line.split()[:2] != ["CONNECT", f"{HOST}:443"]:
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            self.tunnels.append(request_line)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with (
                self.tls.wrap_socket(client, server_side=True) as secure,
                socket.create_connection(self.upstream) as upstream,
            ):
                back = threading.Thread(target=_pipe, args=(upstream, secure), daemon=True)
                back.start()
                _pipe(secure, upstream)
                back.join(120)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def platform(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple[str, ConnectProxy]]:  # type: ignore[no-untyped-def]
    """The web server (answering for api.synchronise.io too), a worker, and the proxy before them."""
    cert_file, key_file = self_signed(tmp_path_factory.mktemp("tls"))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    hosts = f"{HOST},127.0.0.1,localhost"
    with (
        django_db_blocker.unblock(),
        servers.asgi_server(ALLOWED_HOSTS=hosts) as url,
        servers.celery_worker(name="legacy-npm"),
    ):
        port = int(url.rsplit(":", 1)[1])
        proxy = ConnectProxy(("127.0.0.1", port), tls)
        try:
            yield url, proxy
        finally:
            proxy.close()


def run_package(package: Path, proxy: ConnectProxy, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the calls through the npm package in Node; which callback fired, with what."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "HTTPS_PROXY": proxy.url,
        "https_proxy": proxy.url,
        "NO_PROXY": "",
        "no_proxy": "",
    }
    done = subprocess.run(
        ["node", str(SCRIPT), str(package), json.dumps(calls)],
        capture_output=True, text=True, timeout=180, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    assert all(result["always"] == 1 for result in results), results
    return results


# --- The scenarios ---------------------------------------------------------------------------


@pytest.fixture
def adder(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project, actor=alice, name="Add", code=ADD, public=True,
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER}], outputs=[{"name": "sum", **NUMBER}],
    )  # fmt: skip


@pytest.fixture
def flow(alice, project, adder):  # type: ignore[no-untyped-def]
    return make_workflow(
        project=project, actor=alice, name="Add", public=True,
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER}],
        steps=[{"id": "add", "component": adder.pk, "inputs": {"a": "{{ input.a }}", "b": "{{ input.b }}"}}],
        outputs=[{"name": "sum", "value": "{{ steps.add.output.sum }}", **NUMBER}],
    )  # fmt: skip


def error_of(result: dict[str, Any], code: int) -> dict[str, Any]:
    assert result["fired"] == "error", result
    assert result["data"]["code"] == code, result
    assert isinstance(result["data"]["message"], str), result
    assert result["data"]["message"], result
    return result["data"]


@pytest.mark.parametrize("kind", ["Component", "Workflow"])
def test_the_npm_package_gets_outputs_and_every_error(package, platform, kind, alice, project, adder, flow):
    _url, proxy = platform
    pk = adder.pk if kind == "Component" else flow.pk
    revoked, revoked_raw = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    account_services.api_key_revoke(key=revoked, actor=alice)
    _key, key = account_services.api_key_create(project=project, actor=alice, kind="publishable")

    def call(params: dict[str, Any], *, id: Any = pk, pk_: str = key) -> dict[str, Any]:
        return {"key": pk_, "kind": kind, "id": id, "params": params}

    ok, wrong_type, missing, unknown, raised, bad_key, old_key = run_package(
        package,
        proxy,
        [
            call({"a": 1, "b": 2}),
            call({"a": 1, "b": "two"}),
            call({"a": 1}),
            call({"a": 1, "b": 2}, id=999999),
            call({"a": -1, "b": 2}),
            call({"a": 1, "b": 2}, pk_="pk_not_a_key"),
            call({"a": 1, "b": 2}, pk_=revoked_raw),
        ],
    )
    assert ok == {"fired": "success", "data": {"sum": 3}, "always": 1}  # data.sum is the number
    assert [item["name"] for item in error_of(wrong_type, 101)["incorrect"]] == ["b"]
    assert error_of(missing, 102)["missing"] == ["b"]
    error_of(unknown, 104)
    assert error_of(raised, 250)["message"] == "a must not be negative"  # the component's own
    error_of(bad_key, 105)
    error_of(old_key, 105)
    assert proxy.tunnels  # the package went through the proxy, to api.synchronise.io only
    assert all(line == f"CONNECT {HOST}:443 HTTP/1.1" for line in proxy.tunnels)

    account_services.user_set_plan(user=alice, plan=Plan.objects.create(name="Tiny", slug="tiny", monthly_quota=0))
    (quota,) = run_package(package, proxy, [call({"a": 1, "b": 2})])
    error_of(quota, 108)


def test_a_private_component_is_unknown_to_the_package(package, platform, alice, project, adder):
    _url, proxy = platform
    services.component_update(component=adder, actor=alice, public=False)
    _key, key = account_services.api_key_create(project=project, actor=alice, kind="publishable")
    (private,) = run_package(package, proxy, [{"key": key, "kind": "Component", "id": adder.pk, "params": {}}])
    error_of(private, 104)
