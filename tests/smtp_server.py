"""A real SMTP server on loopback (aiosmtpd) for the email transport's tests: STARTTLS or implicit
TLS with a certificate for ``localhost`` from a fresh test CA (point ``OUTBOUND_CA_BUNDLE`` at
``ca_file``), optional AUTH with given users, optional recipients it refuses; it records every
message it accepted.

In a connector case (``tests/payloads/connectors/smtp-send.json``): ``"smtp_server": {…}`` are the
keyword arguments of ``serve``, ``"messages"`` what the server must have received (``check``), and
``{{ smtp.host }}`` / ``{{ smtp.port }}`` in the inputs are filled in.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.fake_api import tls_context

HOST = "localhost"  # the certificate's name; the server listens on 127.0.0.1


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: Message
    login: str | None


@dataclass
class SmtpServer:
    port: int
    ca_file: str
    messages: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    host = HOST

    @property
    def destination(self) -> str:
        """For ``OUTBOUND_ALLOW``."""
        return f"{HOST}:{self.port}"

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{{ smtp.host }}", HOST).replace("{{ smtp.port }}", str(self.port))
        if isinstance(value, dict):
            return {key: self.fill(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [self.fill(inner) for inner in value]
        return value

    def check(self, expected: list[dict[str, Any]]) -> None:
        """Each received message matches the expected one: ``from``/``to`` (envelope), ``login``,
        and ``headers`` / ``text`` / ``html`` as given."""
        assert len(self.messages) == len(expected), [m.message["Subject"] for m in self.messages]
        for received, wanted in zip(self.messages, expected, strict=True):
            if "from" in wanted:
                assert received.sender == wanted["from"]
            if "to" in wanted:
                assert received.recipients == wanted["to"]
            if "login" in wanted:
                assert received.login == wanted["login"]
            for name, value in wanted.get("headers", {}).items():
                assert received.message[name] == value, name
            for subtype in ("plain", "html"):
                key = "text" if subtype == "plain" else "html"
                if key in wanted:
                    part = received.message.get_body(preferencelist=(subtype,))  # type: ignore[attr-defined]
                    assert part is not None, f"no {subtype} part"
                    assert part.get_content().rstrip("\r\n") == wanted[key], part.get_content()


class _Handler:
    def __init__(self, server: SmtpServer, refuse: list[str]) -> None:
        self.server = server
        self.refuse = refuse

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=default)
        login = session.auth_data.login.decode() if session.auth_data else None
        self.server.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, login))
        return "250 2.0.0 queued as 4ABC123"


class _Authenticator:
    def __init__(self, users: dict[str, str], server: SmtpServer) -> None:
        self.users = users
        self.server = server

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            self.server.logins.append(login)
            if self.users.get(login) == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(
    *,
    tls: str = "starttls",
    users: dict[str, str] | None = None,
    refuse: list[str] | None = None,
) -> Iterator[SmtpServer]:
    """``tls``: ``starttls`` (offered and required), ``implicit`` (TLS from the first byte) or
    ``none`` (no STARTTLS offered: the client must refuse to go on)."""
    with tempfile.TemporaryDirectory() as directory:
        context, ca_file = tls_context(Path(directory), hostname=HOST)
        server = SmtpServer(port=0, ca_file=str(ca_file))
        options: dict[str, Any] = {}
        if users is not None:
            # Implicit TLS is TLS from the first byte; aiosmtpd only counts STARTTLS as TLS for AUTH.
            options.update(
                authenticator=_Authenticator(users, server), auth_required=True, auth_require_tls=tls == "starttls"
            )
        if tls == "starttls":
            options.update(tls_context=context, require_starttls=True)
        elif tls == "implicit":
            options.update(ssl_context=context)
        server.port = _free_port()
        controller = Controller(
            _Handler(server, refuse or []), hostname="127.0.0.1", port=server.port, server_hostname=HOST, **options
        )
        controller.start()
        try:
            yield server
        finally:
            controller.stop()
