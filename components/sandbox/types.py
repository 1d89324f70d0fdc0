"""The values that cross the sandbox's interface: what the host asks, what it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Code(IntEnum):
    """Error codes of a sandboxed run (``Outcome.error["code"]``); the code's own are 200 or more."""

    WALL_TIME = 109
    CPU_TIME = 110
    MEMORY = 111
    OUTPUT = 112  # too large, or not a JSON object
    LOGS = 113
    HTTP_CALLS = 114
    EXCEPTION = 120  # uncaught exception (also: the code broke the channel protocol)
    SYNTAX = 121
    NO_RUN = 122
    UNAVAILABLE = 123  # the sandbox could not start, refused to run unconfined, or refused the job


def _setting(name: str, default: Any) -> Any:
    """A ``SANDBOX_*`` setting when Django is configured, else ``default`` (the sandbox works without it)."""
    try:
        from django.conf import settings
    except ImportError:  # pragma: no cover - Django is always installed here
        return default
    return getattr(settings, name, default) if settings.configured else default


@dataclass(frozen=True)
class Job:
    code: str
    inputs: dict[str, Any]
    idempotency_key: str


@dataclass(frozen=True)
class Limits:
    """Per-run limits. Unset fields take the ``SANDBOX_*`` settings (documented in docs/sandbox.md)."""

    wall_seconds: float = field(default_factory=lambda: float(_setting("SANDBOX_WALL_SECONDS", 20)))
    cpu_seconds: int = field(default_factory=lambda: int(_setting("SANDBOX_CPU_SECONDS", 10)))
    memory_mb: int = field(default_factory=lambda: int(_setting("SANDBOX_MEMORY_MB", 256)))
    output_bytes: int = field(default_factory=lambda: int(_setting("SANDBOX_OUTPUT_BYTES", 1_000_000)))
    log_bytes: int = field(default_factory=lambda: int(_setting("SANDBOX_LOG_BYTES", 100_000)))
    http_calls: int = field(default_factory=lambda: int(_setting("SANDBOX_HTTP_CALLS", 20)))

    def __post_init__(self) -> None:
        if not self.wall_seconds > 0:
            raise ValueError("wall_seconds must be positive")
        if not 1 <= self.cpu_seconds <= 3600:
            raise ValueError("cpu_seconds must be between 1 and 3600")
        if not 16 <= self.memory_mb <= 65536:
            raise ValueError("memory_mb must be between 16 and 65536")
        if self.output_bytes < 2 or self.log_bytes < 0 or self.http_calls < 0:
            raise ValueError("output_bytes, log_bytes and http_calls must not be negative")


@dataclass
class Outcome:
    """What a run produced. ``error`` is ``{"code": int, "message": str, ...}`` when ``ok`` is false;
    code 120 adds ``traceback`` (the component's own lines only) and ``type``; 121 adds ``line``/``col``."""

    ok: bool
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    logs: list[str]
    duration_ms: float
    cpu_ms: float | None = None  # user + system CPU of the job process, when it could be reaped
    max_rss_kb: int | None = None


@dataclass(frozen=True)
class HttpRequest:
    """A ``ctx.http`` call, as validated by the host. ``data`` is text, bytes or form fields."""

    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, Any] | None = None
    json: Any = None
    data: str | bytes | dict[str, str] | None = None


@dataclass(frozen=True)
class HttpResponse:
    """The host's answer. A non-empty ``error`` makes ``ctx.http`` raise ``ConnectionError(error)``."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    error: str | None = None
