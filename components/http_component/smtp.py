"""Email by SMTP for ``http`` specs whose body is ``{"type": "email", …}`` and whose url is
``smtps://host[:465]`` (implicit TLS) or ``smtp://host[:587]`` (STARTTLS, required).

It keeps the outbound rules of every request made on a user's behalf: the host is resolved once and
every address checked by the SSRF guard (``outbound.check_url``, so ``OUTBOUND_ALLOW`` applies as
for HTTP), the connection goes to a checked address, TLS is always on and verified against the host
name (``OUTBOUND_CA_BUNDLE`` or certifi's bundle; a server without STARTTLS is refused before the
credentials go), a credential goes only to its allowed hosts, timeouts bound every step, and the
log and errors have the credentials masked (by the caller, ``run.py``).

The body's value (templates)::

    {"from": "Ops <ops@example.com>", "to": "a@example.com, b@example.com", "cc": "", "bcc": "",
     "reply_to": "", "subject": "…", "text": "…", "html": "", "username": "{{ inputs.username }}",
     "password": "{{ inputs.password }}"}

Output paths: ``status`` (250) and ``body.accepted`` (the recipients the server took),
``body.message_id``.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from components.credentials import CredentialHostRefused, host_guard
from components.http_component.answer import MISSING, TIMED_OUT, TRANSPORT_FAILED, Failed, walk
from synchronise.lib import outbound
from synchronise.lib.expressions import as_text, render

FIELDS = ("from", "to", "cc", "bcc", "reply_to", "subject", "text", "html", "username", "password")
REQUIRED = ("from", "to", "subject")
OUTPUT_PATHS = ("status", "body", "body.accepted", "body.message_id")
MAX_RECIPIENTS = 50
MAX_TEXT = 1_000_000
SENT = 250
HELO = "synchronise.invalid"  # not socket.getfqdn(): no lookup, and nothing about the worker's network


def check_spec(spec: dict[str, Any]) -> list[str]:
    """What is wrong with an email spec (validated as an http spec already), by field."""
    problems: list[str] = []
    url = spec["url"]
    if "{" not in url.split("://", 1)[0] and urlsplit(url).scheme.lower() not in ("smtp", "smtps"):
        problems.append("url: an email goes to smtp://host[:port] (STARTTLS) or smtps://host[:port] (TLS)")
    value = spec["body"]["value"]
    problems.extend(f"body.value.{name}: unknown field" for name in sorted(set(value) - set(FIELDS)))
    problems.extend(f"body.value.{name}: required" for name in REQUIRED if not value.get(name))
    if spec["query"] or spec["headers"]:
        problems.append("body.type: an email has no query or headers")
    for name, path in spec["outputs"].items():
        if path not in OUTPUT_PATHS:
            problems.append(f"outputs.{name}: one of {', '.join(OUTPUT_PATHS)} for an email")
    return problems


@dataclass
class Email:
    scheme: str
    host: str
    port: int
    message: EmailMessage
    recipients: list[str]
    username: str = ""
    password: str = field(default="", repr=False)


def _addresses(value: Any, name: str) -> list[tuple[str, str]]:
    """(display name, address) of each address in a comma-separated text or a list of them."""
    items = value if isinstance(value, list) else [value]
    found: list[tuple[str, str]] = []
    for display, address in getaddresses([as_text(item) for item in items if item not in (None, "")]):
        if not address:
            continue
        try:
            Address(addr_spec=address)
        except (ValueError, IndexError):
            address = ""
        if "@" not in address:
            raise Failed(400, f"body.value.{name}: {address or value!r} is not an email address", reason="validation")
        found.append((display, address))
    return found


def build(spec: dict[str, Any], context: Mapping[str, Any]) -> Email:
    """The message and where it goes; raises ``Failed`` (400, ``validation``) for a bad address or header."""
    url = render(spec["url"], context, native=False).strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps") or not parts.hostname:
        raise Failed(400, f"url: {scheme or url!r} is not smtp:// or smtps://host", reason="validation")
    values = {name: render(str(source), context) for name, source in spec["body"]["value"].items()}
    text = {name: as_text(value) if value is not None else "" for name, value in values.items()}
    message = EmailMessage()
    try:
        senders = _addresses(values.get("from"), "from")
        if len(senders) != 1:
            raise Failed(400, "body.value.from: one sender address", reason="validation")
        message["From"] = text["from"]
        recipients: list[str] = []
        for name, header in (("to", "To"), ("cc", "Cc"), ("bcc", None), ("reply_to", "Reply-To")):
            found = _addresses(values.get(name), name)
            if name != "reply_to":
                recipients.extend(address for _display, address in found)
            if found and header:
                message[header] = ", ".join(formataddr(pair) for pair in found)
        if not recipients or len(recipients) > MAX_RECIPIENTS:
            raise Failed(400, f"body.value.to: 1 to {MAX_RECIPIENTS} recipients", reason="validation")
        message["Subject"] = text["subject"]
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=senders[0][1].rpartition("@")[2])
        if len(text.get("text", "")) + len(text.get("html", "")) > MAX_TEXT:
            raise Failed(400, f"body.value.text: at most {MAX_TEXT} characters", reason="validation")
        message.set_content(text.get("text", ""))
        if text.get("html"):
            message.add_alternative(text["html"], subtype="html")
    except ValueError as error:  # a line break in a header, an unencodable address…
        raise Failed(400, f"the email could not be built: {error}", reason="validation") from None
    return Email(
        scheme=scheme,
        host=parts.hostname,
        port=parts.port or (465 if scheme == "smtps" else 587),
        message=message,
        recipients=recipients,
        username=text.get("username", ""),
        password=text.get("password", ""),
    )


def tls_context() -> ssl.SSLContext:
    import certifi

    return ssl.create_default_context(cafile=getattr(settings, "OUTBOUND_CA_BUNDLE", "") or certifi.where())


class _PinnedSMTP(smtplib.SMTP):
    """smtplib over a socket connected already (to a checked address); ``_host`` stays the name,
    which STARTTLS verifies the certificate against."""

    def __init__(self, connected: socket.socket, **kwargs: Any) -> None:
        self._connected = connected
        super().__init__(**kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return self._connected


def _connect(email: Email, timeout: float) -> socket.socket:
    """A TCP connection to one of the host's checked addresses (TLS-wrapped for smtps)."""
    host = f"[{email.host}]" if ":" in email.host else email.host
    connect_timeout = min(float(getattr(settings, "OUTBOUND_CONNECT_TIMEOUT", 5)), timeout)
    # The address checks of every outbound request; the port is explicit, the scheme only a vehicle.
    destination = outbound.check_url(f"https://{host}:{email.port}/", timeout=connect_timeout)
    last: OSError | None = None
    for address in destination.addresses:
        try:
            sock = socket.create_connection((address, email.port), timeout=connect_timeout)
            break
        except OSError as error:
            last = error
    else:
        raise outbound.OutboundError(f"{email.host}:{email.port} is unreachable: {last}")
    sock.settimeout(timeout)
    if email.scheme == "smtps":
        try:
            return tls_context().wrap_socket(sock, server_hostname=email.host)
        except BaseException:
            sock.close()
            raise
    return sock


def _error(error: smtplib.SMTPResponseException) -> Failed:
    text = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
    message = f"{error.smtp_code} {text}".strip()
    if isinstance(error, smtplib.SMTPAuthenticationError) or error.smtp_code in (530, 535, 534):
        return Failed(401, message, reason="auth", smtp_code=error.smtp_code)
    if error.smtp_code in (421, 450, 451, 452):
        return Failed(503, message, reason="remote", smtp_code=error.smtp_code)  # transient: retry later
    return Failed(400, message, reason="validation", smtp_code=error.smtp_code)


def _stage(client: smtplib.SMTP, deadline: float, timeout: float) -> None:
    """Give the next exchange what is left of the whole timeout, so the email as a whole ends by it."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Failed(TIMED_OUT, f"the SMTP exchange took longer than {timeout:g} s", reason="timeout")
    if client.sock is not None:
        client.sock.settimeout(remaining)


def send(
    email: Email,
    *,
    secrets: Mapping[str, str],
    used: set[str],
    timeout: float,
    outputs: Mapping[str, str],
    log: list[str],
) -> dict[str, Any]:
    """Send the message; the outputs (``status``, ``body.accepted``, ``body.message_id``). Raises ``Failed``."""
    started = time.monotonic()
    deadline = started + timeout
    mode = "TLS" if email.scheme == "smtps" else "STARTTLS"
    log.append(f"→ SMTP {email.scheme}://{email.host}:{email.port} ({mode}), {len(email.recipients)} recipient(s)")
    try:
        guard = host_guard(used, secrets)
        if guard is not None:
            guard(email.host)  # a credential goes to its allowed hosts only
        sock = _connect(email, timeout)
        # Given the host, smtplib connects at once (through _get_socket) and keeps the name for STARTTLS.
        with _PinnedSMTP(sock, host=email.host, port=email.port, local_hostname=HELO, timeout=timeout) as client:
            _stage(client, deadline, timeout)
            client.ehlo()
            if email.scheme == "smtp":
                if not client.has_extn("starttls"):
                    raise Failed(TRANSPORT_FAILED, "blocked: the server does not offer STARTTLS", reason="blocked")
                _stage(client, deadline, timeout)
                client.starttls(context=tls_context())
                _stage(client, deadline, timeout)
                client.ehlo()
            if email.username:
                _stage(client, deadline, timeout)
                client.login(email.username, email.password)
            _stage(client, deadline, timeout)
            refused = client.send_message(email.message, to_addrs=email.recipients)
    except Failed:
        raise
    except (TimeoutError, smtplib.SMTPServerDisconnected) as error:
        # smtplib reports a read that timed out as a lost connection.
        if isinstance(error, TimeoutError) or "timed out" in str(error) or time.monotonic() >= deadline:
            raise Failed(TIMED_OUT, f"the SMTP server did not answer within {timeout:g} s", reason="timeout") from None
        raise Failed(TRANSPORT_FAILED, f"{email.host}:{email.port}: {error}", reason="unreachable") from None
    except CredentialHostRefused as error:
        raise Failed(400, error.reason, reason="credential_host", credential=error.name) from None
    except outbound.OutboundTimeout as error:
        raise Failed(TIMED_OUT, error.reason, reason="timeout") from None
    except outbound.OutboundBlocked as error:
        raise Failed(TRANSPORT_FAILED, f"blocked: {error.reason}", reason="blocked") from None
    except outbound.OutboundError as error:
        raise Failed(TRANSPORT_FAILED, error.reason, reason="unreachable") from None
    except smtplib.SMTPRecipientsRefused as error:
        codes = ", ".join(f"{who}: {code}" for who, (code, _text) in error.recipients.items())
        raise Failed(400, f"every recipient was refused ({codes})", reason="validation") from None
    except smtplib.SMTPResponseException as error:
        raise _error(error) from None
    except (smtplib.SMTPException, ssl.SSLError, OSError) as error:
        raise Failed(TRANSPORT_FAILED, f"{email.host}:{email.port}: {error}", reason="unreachable") from None
    accepted = [address for address in email.recipients if address not in refused]
    elapsed = (time.monotonic() - started) * 1000
    log.append(f"← {SENT} accepted {len(accepted)} of {len(email.recipients)} recipient(s) in {elapsed:.0f} ms")
    answer = {"accepted": accepted, "message_id": str(email.message["Message-ID"])}
    found: dict[str, Any] = {}
    for name, path in outputs.items():
        value = SENT if path == "status" else walk(answer, path.removeprefix("body").lstrip("."))
        if value is not MISSING:
            found[name] = value
    return found
