"""The component runtime inside a job: reads the job, runs ``run(inputs, ctx)``, reports the outcome.

This runs in the forked child *after* it is confined (rlimits, Landlock, seccomp), so nothing here
is a security boundary: the import allow-list and the trimmed builtins define the contract, the
kernel enforces the policy. Every message leaves as a frame on the job's own pipe (fd 4) and every
answer arrives on fd 3; ``print`` and ``sys.stdout``/``sys.stderr`` become log lines.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import gc
import json
import linecache
import math
import os
import resource
import sys
import traceback
import types
from collections.abc import Callable
from typing import Any, NoReturn

from . import frames

FILENAME = "<component>"

# The curated, pure-Python or self-contained parts of the standard library a component may import.
# All are imported once in the zygote (a job cannot read the file system to import anything else).
ALLOWED_MODULES: tuple[str, ...] = (
    "abc",
    "base64",
    "binascii",
    "bisect",
    "calendar",
    "cmath",
    "collections",
    "collections.abc",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "enum",
    "fractions",
    "functools",
    "gzip",
    "hashlib",
    "heapq",
    "hmac",
    "html",
    "io",
    "ipaddress",
    "itertools",
    "json",
    "math",
    "numbers",
    "operator",
    "pprint",
    "random",
    "re",
    "secrets",
    "statistics",
    "string",
    "struct",
    "textwrap",
    "time",
    "types",
    "typing",
    "unicodedata",
    "urllib.parse",
    "uuid",
    "xml.etree.ElementTree",
    "zlib",
    "zoneinfo",
)
# Imported lazily by the modules above at call time, so they must be in memory before confinement.
_PRELOAD_EXTRA = ("_strptime", "locale", "xml.parsers.expat", "encodings.idna", "stringprep")
# Imported by C code (``datetime.strptime``) through the *caller's* ``__import__``, i.e. ours.
_INTERNAL_IMPORTS = frozenset({"_strptime"})
_REMOVED_BUILTINS = frozenset(
    {"open", "input", "breakpoint", "help", "exit", "quit", "copyright", "credits", "license", "__loader__", "__spec__"}
)

MAX_JOB_BYTES = 32 * 1024 * 1024
MAX_ANSWER_BYTES = 24 * 1024 * 1024
MAX_MESSAGE_CHARS = 4000
MAX_TRACEBACK_CHARS = 8000
MAX_RETRY_AFTER = 86_400  # seconds, as a workflow retry's max_delay
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

ERR_MEMORY = 111
ERR_OUTPUT = 112
ERR_EXCEPTION = 120
ERR_SYNTAX = 121
ERR_NO_RUN = 122


def preload() -> None:
    """Import every allowed module, every codec and what they import lazily; warm the caches that
    would otherwise read files later (hash algorithms, time zone of the C library)."""
    import importlib
    import pkgutil
    import time

    for name in (*ALLOWED_MODULES, *_PRELOAD_EXTRA):
        importlib.import_module(name)
    import encodings

    for info in pkgutil.iter_modules(encodings.__path__):
        try:
            importlib.import_module(f"encodings.{info.name}")
        except ImportError:  # Windows-only codecs (mbcs, oem)
            continue
    import hashlib

    for algorithm in sorted(hashlib.algorithms_guaranteed):
        hashlib.new(algorithm)
    time.localtime()
    time.strptime("2000-01-01", "%Y-%m-%d")


class ComponentError(Exception):
    """Raise from component code to fail the run with your own ``code`` (an integer, 200 or more);
    ``retry_after``: seconds a workflow should wait before retrying (a ``Retry-After`` passed on)."""

    def __init__(self, message: object = "", code: int = 200, retry_after: float | None = None) -> None:
        super().__init__(message, code)
        self.message = str(message)
        self.code = code
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


_synchronise_module = types.ModuleType("synchronise", "What component code can import from the platform.")
_synchronise_module.ComponentError = ComponentError  # type: ignore[attr-defined]


def _guarded_import(
    name: str,
    globals: dict[str, Any] | None = None,
    locals: dict[str, Any] | None = None,
    fromlist: tuple[str, ...] | list[str] | None = (),
    level: int = 0,
) -> types.ModuleType:
    if name == "synchronise" and level == 0:
        return _synchronise_module
    wanted = tuple(fromlist or ())
    allowed = level == 0 and (
        name in ALLOWED_MODULES
        or name in _INTERNAL_IMPORTS
        or (bool(wanted) and all(f"{name}.{item}" in ALLOWED_MODULES for item in wanted))
    )
    if not allowed:
        shown = "." * level + name
        raise ModuleNotFoundError(f"module {shown!r} is not available in the sandbox", name=name)
    return __import__(name, globals, locals, wanted, 0)


def _builtins() -> dict[str, Any]:
    namespace = {key: value for key, value in vars(builtins).items() if key not in _REMOVED_BUILTINS}
    namespace["__import__"] = _guarded_import
    namespace["ComponentError"] = ComponentError
    return namespace


def warm_up() -> None:
    """Exercise the paths every job takes (compiler, JSON, frames) so that a spare child has already
    paid for their copy-on-write and first-touch page faults before its job arrives."""
    compiled = compile("def run(inputs, ctx):\n    return {'ok': [1, 2.5, 'x']}\n", FILENAME, "exec", dont_inherit=True)
    namespace: dict[str, Any] = {"__builtins__": _builtins()}
    exec(compiled, namespace)  # noqa: S102 - our own constant snippet
    frames.encode(frames.RESULT, namespace["run"]({}, None))
    frames.decode_body(frames.JOB, b'{"code":"","inputs":{"a":[1,{"b":null}]},"idempotency_key":"k"}')


class Channel:
    """The job's end of its two pipes."""

    def __init__(self, fd_in: int, fd_out: int) -> None:
        self.fd_in = fd_in
        self.fd_out = fd_out

    def send(self, kind: int, payload: dict[str, Any]) -> None:
        frames.write_all(self.fd_out, frames.encode(kind, payload))

    def ask(self, kind: int, payload: dict[str, Any]) -> dict[str, Any]:
        self.send(kind, payload)
        _, answer = frames.read_frame(self.fd_in, {frames.ANSWER: MAX_ANSWER_BYTES})
        return answer


def _clean(text: str) -> str:
    """``text`` without lone surrogates, which UTF-8 (and so the channel) cannot carry."""
    return text.encode("utf-8", "replace").decode("utf-8")


class Response:
    """What ``ctx.http`` returns."""

    def __init__(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.status = status
        self.headers = {str(k).lower(): str(v) for k, v in headers.items()}
        self.content = content

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        charset = "utf-8"
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip("\"'")
        try:
            return self.content.decode(charset, "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def __repr__(self) -> str:
        return f"<Response {self.status}>"


def _http_data(data: object) -> dict[str, Any] | None:
    if data is None:
        return None
    if isinstance(data, str):
        return {"kind": "text", "value": data}
    if isinstance(data, bytes | bytearray | memoryview):
        return {"kind": "bytes", "value": base64.b64encode(bytes(data)).decode("ascii")}
    if isinstance(data, dict):
        return {"kind": "form", "value": {str(k): str(v) for k, v in data.items()}}
    raise TypeError("ctx.http(data=...) takes str, bytes or a dict of form fields")


def _http_params(params: object) -> dict[str, Any] | None:
    if params is None:
        return None
    if not isinstance(params, dict):
        raise TypeError("ctx.http(params=...) takes a dict")
    clean: dict[str, Any] = {}
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is not None and not isinstance(item, str | int | float):
                raise TypeError(f"ctx.http(params=...): {key!r} must be a string, a number or a list of them")
        clean[str(key)] = [None if v is None else str(v) for v in values] if isinstance(value, list | tuple) else value
    return clean


class Context:
    """The ``ctx`` argument of ``run(inputs, ctx)``."""

    def __init__(self, channel: Channel, idempotency_key: str) -> None:
        self._channel = channel
        self.idempotency_key = idempotency_key

    def log(self, *args: object, sep: str = " ") -> None:
        """Send one log line to the caller (streamed live)."""
        self._channel.send(frames.LOG, {"line": _clean(str(sep).join(str(a) for a in args))})

    def progress(self, step: int | float | str, message: str = "") -> None:
        """Report progress: ``step`` (a number such as 3 or 0.75, or a short label) and a message."""
        if isinstance(step, bool) or not isinstance(step, int | float | str):
            raise TypeError("ctx.progress(step, message): step must be a number or a string")
        if isinstance(step, float) and step != step:
            raise ValueError("ctx.progress(step, message): step must not be NaN")
        self._channel.send(frames.PROGRESS, {"step": step, "message": _clean(str(message))})

    def http(
        self,
        method: str,
        url: str,
        headers: dict[str, str | None] | None = None,
        json: Any = None,
        data: str | bytes | dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Response:
        """An HTTP request made by the platform on the component's behalf; raises ``ConnectionError``
        when the platform refuses or cannot complete it. ``{{ secrets.NAME }}`` in the URL, headers,
        parameters or body is replaced by the project's credential outside the sandbox."""
        if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
            raise ValueError(f"ctx.http: method must be one of {', '.join(sorted(HTTP_METHODS))}")
        if not isinstance(url, str):
            raise TypeError("ctx.http: url must be a string")
        if headers is not None and not isinstance(headers, dict):
            raise TypeError("ctx.http(headers=...) takes a dict")
        if json is not None and data is not None:
            raise ValueError("ctx.http: pass json= or data=, not both")
        request = {
            "method": method.upper(),
            "url": url,
            # None is "send no such header" (the platform's Idempotency-Key, say), not the text "None".
            "headers": {str(k): "" if v is None else str(v) for k, v in (headers or {}).items()},
            "params": _http_params(params),
            "has_json": json is not None,
            "json": json,
            "data": _http_data(data),
        }
        try:
            frames.dumps(request)
        except (TypeError, ValueError) as error:
            raise TypeError(f"ctx.http: the request is not JSON-serialisable: {error}") from None
        answer = self._channel.ask(frames.HTTP, request)
        if answer.get("error"):
            raise ConnectionError(str(answer["error"]))
        return Response(
            int(answer.get("status", 0)), dict(answer.get("headers") or {}), base64.b64decode(answer.get("body", ""))
        )

    def __repr__(self) -> str:
        return f"<ctx idempotency_key={self.idempotency_key!r}>"


class _LogWriter:
    """``sys.stdout``/``sys.stderr`` of a job: complete lines become ``ctx.log`` lines."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log
        self._pending = ""

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self._log(line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            line, self._pending = self._pending, ""
            self._log(line)

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True


def _error(code: int, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return frames.ERROR, {"code": code, "message": _clean(message[:MAX_MESSAGE_CHARS]), **extra}


def _describe(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the error itself
        text = "<unprintable>"
    name = type(error).__name__
    return f"{name}: {text}" if text else name


def _user_traceback(error: BaseException) -> str:
    entries = [entry for entry in traceback.extract_tb(error.__traceback__) if entry.filename == FILENAME]
    text = "".join(traceback.format_list(entries[-20:]))
    return _clean(text[-MAX_TRACEBACK_CHARS:])


def _failure(error: BaseException) -> tuple[int, dict[str, Any]]:
    if isinstance(error, ComponentError):
        code = error.code
        if not isinstance(code, int) or isinstance(code, bool) or not 200 <= code <= 2_147_483_647:
            return _error(ERR_EXCEPTION, f"ComponentError needs an integer code of 200 or more, got {code!r}")
        wait = error.retry_after
        if wait is None:
            return _error(code, error.message)
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= MAX_RETRY_AFTER:
            wanted = f"0 to {MAX_RETRY_AFTER} seconds"
            return _error(ERR_EXCEPTION, f"ComponentError retry_after must be {wanted}, got {wait!r}")
        return _error(code, error.message, retry_after=float(wait))
    if isinstance(error, MemoryError):
        return _error(ERR_MEMORY, "memory limit exceeded")
    return _error(ERR_EXCEPTION, _describe(error), traceback=_user_traceback(error), type=type(error).__name__)


def _outputs_frame(outputs: object, output_bytes: int) -> tuple[int, bytes] | tuple[int, dict[str, Any]]:
    if not isinstance(outputs, dict):
        return _error(ERR_OUTPUT, f"run() must return a dict of outputs, got {type(outputs).__name__}")
    bad_keys = [key for key in outputs if not isinstance(key, str)]
    if bad_keys:
        return _error(ERR_OUTPUT, f"output names must be strings, got {bad_keys[0]!r}")
    try:
        body = frames.dumps(outputs)
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as error:
        return _error(ERR_OUTPUT, f"outputs must be JSON-serialisable: {_describe(error)}")
    if len(body) > output_bytes:
        return _error(ERR_OUTPUT, f"outputs are {len(body)} bytes, more than the limit of {output_bytes}")
    return frames.RESULT, b'{"outputs":' + body + b"}"


def execute(job: dict[str, Any], channel: Channel) -> tuple[int, bytes] | tuple[int, dict[str, Any]]:
    """Run one job; returns the final frame (type and payload) to send."""
    code: str = job["code"]
    try:
        compiled = compile(code, FILENAME, "exec", dont_inherit=True)
    except SyntaxError as error:
        return _error(ERR_SYNTAX, f"{type(error).__name__}: {error.msg}", line=error.lineno, col=error.offset)
    except (ValueError, RecursionError, MemoryError) as error:
        return _error(ERR_SYNTAX, _describe(error), line=None, col=None)
    linecache.cache[FILENAME] = (len(code), None, code.splitlines(keepends=True), FILENAME)

    ctx = Context(channel, job["idempotency_key"])
    writer = _LogWriter(ctx.log)
    sys.stdout = sys.stderr = writer
    namespace: dict[str, Any] = {"__builtins__": _builtins(), "__name__": "component", "__doc__": None}
    try:
        exec(compiled, namespace)  # noqa: S102 - running the component is the point; the kernel confines it
        run = namespace.get("run")
        if not callable(run):
            return _error(ERR_NO_RUN, "the code must define a function run(inputs, ctx)")
        outputs = run(job["inputs"], ctx)
        writer.flush()
    except BaseException as error:  # noqa: BLE001 - whatever the code raises becomes its error
        failure = error
    else:
        try:
            return _outputs_frame(outputs, job["output_bytes"])
        except MemoryError:
            raise
        except BaseException as error:  # noqa: BLE001 - a dict subclass can raise anything while read
            return _error(ERR_OUTPUT, f"outputs could not be read: {_describe(error)}")
    # Let go of what the code built before describing the error: after a MemoryError we need room.
    namespace.clear()
    del compiled
    gc.collect()
    with contextlib.suppress(BaseException):  # a broken log line must not hide the real error
        writer.flush()
    return _failure(failure)


_JOB_FIELDS = {
    "code": str,
    "inputs": dict,
    "idempotency_key": str,
    "output_bytes": int,
    "cpu_seconds": int,
    "memory_mb": int,
}


def _read_job(fd_in: int) -> dict[str, Any]:
    _, job = frames.read_frame(fd_in, {frames.JOB: MAX_JOB_BYTES})
    if set(job) != set(_JOB_FIELDS) or any(not isinstance(job[k], t) for k, t in _JOB_FIELDS.items()):
        raise frames.FrameError("malformed job")
    return job


def _limit_resources(cpu_seconds: int, memory_mb: int, baseline: int) -> None:
    """CPU time counts from now (a spare child has used a little while waiting); the address space
    is what the interpreter had in the zygote plus the job's memory allowance."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = math.floor(usage.ru_utime + usage.ru_stime) + cpu_seconds
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    address_space = baseline + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))


def serve(fd_in: int, fd_out: int, baseline: int) -> NoReturn:
    """Wait for the job on ``fd_in``, limit CPU and memory, run it, write frames to ``fd_out``, and
    end the process. None of the job's code runs before its limits are set."""
    status = 0
    try:
        channel = Channel(fd_in, fd_out)
        job = _read_job(fd_in)
        _limit_resources(job["cpu_seconds"], job["memory_mb"], baseline)
        kind, payload = execute(job, channel)
        if isinstance(payload, bytes):
            frames.write_all(fd_out, frames.encode_raw(kind, payload))
        else:
            channel.send(kind, payload)
    except MemoryError:
        status = 75  # not even room to report it; the host reads the exit status
    except BaseException:  # noqa: BLE001 - the host turns a silent end into an error
        status = 70
    os._exit(status)
