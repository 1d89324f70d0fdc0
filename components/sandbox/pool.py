"""The host side: one warm zygote per worker process, one confined child per job.

``Pool.run()`` creates two fresh pipes, hands the child's ends to the zygote with a "fork now" (the
only thing the zygote ever hears), writes the job to the child's pipe itself, relays frames until the
child answers or a limit is hit, then kills and reaps the child. The wall-clock limit is enforced here;
CPU, memory, processes and files by the kernel in the child (see ``jail/zygote.py``). Where bwrap is
available the zygote starts inside bubblewrap's namespaces (``SANDBOX_BWRAP``, docs/sandbox.md).
"""

from __future__ import annotations

import array
import atexit
import base64
import binascii
import contextlib
import importlib.util
import json
import logging
import math
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .jail import frames
from .jail.runtime import HTTP_METHODS, MAX_ANSWER_BYTES, MAX_JOB_BYTES
from .jail.zygote import PID, STATUS, current_namespaces
from .syntax import MAX_CODE_BYTES
from .types import Code, HttpRequest, HttpResponse, Job, Limits, Outcome, _setting

logger = logging.getLogger(__name__)

LogCallback = Callable[[str], None]
ProgressCallback = Callable[[Any, str], None]
HttpCallback = Callable[[HttpRequest], HttpResponse]

_JAIL_PARENT = str(Path(__file__).resolve().parent)
_BWRAP_JAIL_PARENT = "/sandbox"  # where bwrap shows it to the zygote
_BOOTSTRAP = "import sys,json;sys.path.insert(0,json.loads(sys.argv[1])['path']);from jail.zygote import main;main()"
MAX_HTTP_REQUEST_BYTES = 16 * 1024 * 1024
MAX_SMALL_FRAME = 64 * 1024
CONTROL_TIMEOUT = 5.0
_FD_SIZE = array.array("i").itemsize
_UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid
BWRAP_MODES = {"auto": "auto", "0": "off", "off": "off", "1": "required", "required": "required"}
# What must differ from the host's for bwrap to count as in force (cgroup is best effort, user only
# appears when bwrap runs unprivileged).
_REQUIRED_NAMESPACES = {"mnt", "pid", "net", "ipc", "uts"}
_CHILD_CODES = frozenset({Code.MEMORY, Code.OUTPUT, Code.EXCEPTION, Code.SYNTAX, Code.NO_RUN})
_ERROR_EXTRAS: dict[str, tuple[type, ...]] = {
    "traceback": (str,),
    "type": (str,),
    "line": (int, type(None)),
    "col": (int, type(None)),
    "retry_after": (int, float),  # ComponentError(..., retry_after=): a component's code only
}
MAX_RETRY_AFTER = 86_400


class SandboxUnavailable(Exception):
    pass


class _Refused(SandboxUnavailable):
    """The zygote started and refused to run unconfined code."""


class _ZygoteGone(Exception):
    pass


class _ProtocolViolation(Exception):
    pass


@dataclass
class _Child:
    pid: int
    pidfd: int | None
    to_child: int  # the job, then HTTP answers
    from_child: int  # frames
    generation: int  # which zygote forked it (a restarted zygote does not know it)


@dataclass
class _Reaped:
    status: int
    cpu_ms: float
    max_rss_kb: int


def _error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": int(code), "message": message, **extra}


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def _receive_from(sock: socket.socket, size: int, *, credentials: bool = False) -> tuple[bytes, list[int], int | None]:
    """One message, the descriptors attached to it and, with ``credentials`` (``SO_PASSCRED`` set),
    the sender's pid translated by the kernel into this process's pid namespace."""
    room = socket.CMSG_SPACE(_FD_SIZE) + (socket.CMSG_SPACE(_UCRED.size) if credentials else 0)
    message, ancillary, _flags, _ = sock.recvmsg(size, room, socket.MSG_CMSG_CLOEXEC)
    fds: list[int] = []
    pid = None
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(array.array("i", data[: len(data) - len(data) % _FD_SIZE]))
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= _UCRED.size:
            pid = _UCRED.unpack(data[: _UCRED.size])[0]
    return message, fds, pid


def _interpreter_roots(python: str) -> list[str]:
    """What bwrap must show of the (resolved) interpreter ``python``: its prefix (the parent of its
    ``bin/``) and, when it is the one running here, ``sys.base_prefix``; nothing under /usr."""
    roots = [os.path.dirname(os.path.dirname(python))]
    if os.path.realpath(sys.executable) == python:
        roots.append(os.path.realpath(sys.base_prefix))
    return [root for root in dict.fromkeys(roots) if root != "/usr" and not root.startswith("/usr/")]


def _bwrap_arguments(bwrap: str, binds: list[tuple[str, str]]) -> list[str]:
    """bwrap's command line up to the program: an empty root holding /usr, ``binds`` (source, place)
    and the few files the interpreter needs, all read-only; a /dev of the basic devices; new mount,
    pid, net (a loopback only), ipc, uts and cgroup namespaces, and the /proc of the new pid namespace
    (the zygote measures its address space there). Launched by root, bwrap would hand the program all
    of root's capabilities: it keeps only the two that the zygote's own uid drop needs.

    Not used: ``--unshare-user`` (as root it would leave the zygote a user namespace in which only
    uid 0 is mapped, so it could not drop to ``SANDBOX_UID``; a non-root worker's bwrap adds one by
    itself); ``--die-with-parent`` (its signal comes when the *thread* that started bwrap ends, which
    would kill the zygote of a pool started from a short-lived thread; the zygote already ends when
    the host's end of its control socket closes); ``--new-session`` (the host starts bwrap in a new
    session already, without a terminal)."""
    arguments = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    arguments += ["--hostname", "sandbox", "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):  # merged /usr (Debian 12): /lib -> usr/lib…
            arguments += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            arguments += ["--ro-bind", top, top]
    for source, place in binds:
        arguments += ["--ro-bind", source, place]
    # ctypes.util.find_library (pyseccomp) asks ldconfig, which reads the cache; the host's time zone.
    # bwrap would create /etc (like any parent) root-only: searchable, so /etc/passwd is plainly absent.
    arguments += ["--perms", "0755", "--dir", "/etc"]
    for path in ("/etc/ld.so.cache", "/etc/localtime"):
        arguments += ["--ro-bind-try", path, path]
    arguments += ["--dev", "/dev", "--proc", "/proc", "--chdir", "/"]
    if os.geteuid() == 0:
        arguments += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return [*arguments, "--"]


class Pool:
    """A warm zygote and the jobs it forks. Thread-safe; start lazily, restarted when it dies.

    ``allow_unsafe`` runs code even when Landlock or seccomp is missing (loudly logged); without it
    such a pool refuses every job with code 123. ``bwrap`` is ``"auto"`` (start the zygote inside
    bubblewrap's namespaces when ``bwrap`` is on PATH and starts; otherwise warn once and run without),
    ``"off"`` or ``"required"`` (refuse every job with code 123 when it cannot be used); ``"0"`` and
    ``"1"`` mean the same as the last two. ``_testing_disable`` switches layers off so that the escape
    tests can show their probes would succeed without them; nothing else may pass it.
    """

    def __init__(
        self,
        *,
        python: str | None = None,
        uid: int = 65534,
        gid: int = 65534,
        allow_unsafe: bool = False,
        bwrap: str = "auto",
        start_timeout: float = 20.0,
        spares: int = 2,
        _testing_disable: tuple[str, ...] = (),
    ) -> None:
        if bwrap not in BWRAP_MODES:
            raise ValueError(f"bwrap must be one of {', '.join(BWRAP_MODES)}, got {bwrap!r}")
        self.python = python or sys.executable
        self.uid = uid
        self.gid = gid
        self.allow_unsafe = allow_unsafe
        self.bwrap = BWRAP_MODES[bwrap]
        self._bwrap_problem = ""  # why "auto" runs without bwrap (found once, then not tried again)
        self.start_timeout = start_timeout
        self.spares = max(1, spares)  # children kept forked and confined, waiting for a job
        self._testing_disable = _testing_disable
        self.owner_pid = os.getpid()
        self.layers: dict[str, Any] = {}
        self.starts = 0  # zygotes started so far; also the generation of the current one
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._zygote_pid: int | None = None  # as this process sees it (under bwrap, not bwrap's pid)
        self._control: socket.socket | None = None
        self._refusal = ""
        self._refused_until = 0.0
        self._spares: deque[_Child] = deque()
        self._awaiting: deque[tuple[int, int]] = deque()  # forks asked for: (to_child, from_child)
        atexit.register(self.close)
        me = weakref.ref(self)

        def forget_in_forked_child() -> None:
            pool = me()
            if pool is not None:
                pool._forget_after_fork()

        os.register_at_fork(after_in_child=forget_in_forked_child)

    @classmethod
    def from_settings(cls) -> Pool:
        return cls(
            uid=int(_setting("SANDBOX_UID", 65534)),
            gid=int(_setting("SANDBOX_GID", 65534)),
            allow_unsafe=bool(_setting("SANDBOX_ALLOW_UNSAFE", False)),
            bwrap=str(_setting("SANDBOX_BWRAP", "auto")),
            spares=int(_setting("SANDBOX_SPARES", 2)),
        )

    # -- the zygote ---------------------------------------------------------------------------------

    @property
    def zygote_pid(self) -> int | None:
        """The zygote's pid in this process's pid namespace (under bwrap, its process is bwrap's)."""
        return self._zygote_pid if self._process and self._process.poll() is None else None

    def start(self) -> None:
        """Start the zygote now (a worker can call this at start-up to take the cold start early).
        Raises ``SandboxUnavailable`` when it cannot start or refuses to run unconfined."""
        with self._lock:
            self._ensure_started()

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _ensure_started(self) -> None:
        if self._control is not None and self._process is not None and self._process.poll() is None:
            return
        self._stop()
        if time.monotonic() < self._refused_until:
            raise SandboxUnavailable(self._refusal)
        try:
            self._start_wrapped()
        except _Refused as error:
            # A machine without Landlock or seccomp will not grow them: do not pay a start per call.
            self._stop()
            self._refusal = str(error)
            self._refused_until = time.monotonic() + 10.0
            logger.error("sandbox unavailable: %s", error)
            raise
        except SandboxUnavailable as error:
            self._stop()
            logger.error("sandbox unavailable: %s", error)
            raise

    def _start_wrapped(self) -> None:
        """Start the zygote inside bwrap as ``self.bwrap`` says. In "auto", a bwrap that is missing or
        fails to start it is noted (one warning) and the zygote starts without it from then on."""
        if self.bwrap == "off" or self._bwrap_problem:
            self._start(None)
            return
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            problem = "bwrap is not on PATH"
        else:
            try:
                self._start(bwrap)
                return
            except _Refused:
                raise  # the zygote started (so bwrap works) and refused: not bwrap's doing
            except SandboxUnavailable as error:
                self._stop()
                problem = str(error)
        if self.bwrap == "required":
            raise _Refused(f"bubblewrap is required (SANDBOX_BWRAP=required) but cannot be used: {problem}")
        self._bwrap_problem = problem
        logger.warning("the sandbox runs without bubblewrap namespaces (SANDBOX_BWRAP=auto): %s", problem)
        self._start(None)

    def _start(self, bwrap: str | None) -> None:
        host_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The greeting then carries the zygote's pid as this process sees it (bwrap adds a pid namespace).
        host_end.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        spec = importlib.util.find_spec("pyseccomp")
        pyseccomp = spec.origin if spec and spec.origin else ""
        python, path, wrapper = self.python, _JAIL_PARENT, []
        if bwrap is not None:
            # The jail package and pyseccomp appear under /sandbox: no project path exists in there.
            python = os.path.realpath(self.python)  # the venv's python is a symlink into its prefix
            binds = [(root, root) for root in _interpreter_roots(python)]
            binds.append((str(Path(_JAIL_PARENT) / "jail"), f"{_BWRAP_JAIL_PARENT}/jail"))
            if pyseccomp:
                binds.append((pyseccomp, f"{_BWRAP_JAIL_PARENT}/pyseccomp.py"))
                pyseccomp = binds[-1][1]
            path, wrapper = _BWRAP_JAIL_PARENT, _bwrap_arguments(bwrap, binds)
        config = {
            "control": zygote_end.fileno(),
            "uid": self.uid,
            "gid": self.gid,
            "allow_unsafe": self.allow_unsafe,
            "pyseccomp": pyseccomp,
            "path": path,
            "testing_disable": list(self._testing_disable),
        }
        command = [*wrapper, python, "-I", "-S", "-B", "-X", "utf8", "-c", _BOOTSTRAP, json.dumps(config)]
        try:
            self._process = subprocess.Popen(
                command,
                env={},
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                close_fds=True,
                pass_fds=(zygote_end.fileno(),),
                start_new_session=True,
            )
        except OSError as error:
            host_end.close()
            raise SandboxUnavailable(f"cannot start the sandbox interpreter: {error}") from None
        finally:
            zygote_end.close()
        self._control = host_end
        self.starts += 1
        host_end.settimeout(self.start_timeout)
        try:
            hello, fds, self._zygote_pid = _receive_from(host_end, 1 << 16, credentials=True)
            host_end.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 0)
        except OSError as error:
            raise SandboxUnavailable(f"the sandbox did not start: {error}") from None
        _close_all(fds)
        kind, body = hello[:1], hello[1:]
        if kind not in (b"H", b"R"):
            raise SandboxUnavailable(f"the sandbox did not start: {self._stderr_tail() or 'no greeting'}")
        try:
            self.layers = json.loads(body)
        except ValueError:
            raise SandboxUnavailable("the sandbox sent a malformed greeting") from None
        theirs, ours = self.layers.pop("ns", None) or {}, current_namespaces()
        self.layers["namespaces"] = sorted(name for name, ns in theirs.items() if ns != ours.get(name))
        problems = list(self.layers.get("problems") or [])
        if kind == b"R":
            raise _Refused(
                "the sandbox refused to start: "
                + "; ".join(problems)
                + " (SANDBOX_ALLOW_UNSAFE=1 runs code without the missing layers: development machines only)"
            )
        missing = _REQUIRED_NAMESPACES - set(self.layers["namespaces"])
        if bwrap is not None and missing:
            raise SandboxUnavailable(f"bwrap started the sandbox without the {', '.join(sorted(missing))} namespaces")
        if problems:
            logger.critical(
                "SANDBOX_ALLOW_UNSAFE: component code runs WITHOUT full confinement (%s). "
                "Never run untrusted code like this.",
                "; ".join(problems),
            )
        if self.layers.get("uid") == 0:
            logger.critical("the sandbox runs jobs as root: set SANDBOX_UID to an unprivileged uid")
        host_end.settimeout(CONTROL_TIMEOUT)

    def _stderr_tail(self) -> str:
        """The last line the zygote printed before it died during start-up (a traceback's)."""
        process = self._process
        if process is None or process.stderr is None:
            return ""
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return ""
        try:
            return process.stderr.read(4096).decode("utf-8", "replace").strip().splitlines()[-1:][0]
        except (OSError, IndexError):
            return ""

    def _stop(self) -> None:
        for child in self._spares:
            for fd in (child.to_child, child.from_child, child.pidfd):
                if fd is not None:
                    os.close(fd)
        for to_child, from_child in self._awaiting:
            os.close(to_child)
            os.close(from_child)
        self._spares.clear()
        self._awaiting.clear()
        if self._control is not None:
            self._control.close()
            self._control = None
        process, self._process, self._zygote_pid = self._process, None, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its process group: the zygote and every job
        process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def _send(self, message: bytes, fds: list[int] | None = None) -> None:
        control = self._control
        if control is None:
            raise _ZygoteGone
        try:
            if fds:
                control.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            else:
                control.sendall(message)
        except OSError:
            raise _ZygoteGone from None

    def _receive(self) -> tuple[bytes, list[int]]:
        """A reply of the zygote and the descriptors that came with it (the caller closes them)."""
        control = self._control
        if control is None:
            raise _ZygoteGone
        try:
            reply, fds, _ = _receive_from(control, 256)
        except OSError:
            raise _ZygoteGone from None
        if not reply:
            _close_all(fds)
            raise _ZygoteGone
        return reply, fds

    def _request_fork(self) -> None:
        """Ask for a child without waiting for the answer (``_absorb_fork_reply`` reads it later)."""
        job_in_r, job_in_w = os.pipe2(os.O_CLOEXEC)
        job_out_r, job_out_w = os.pipe2(os.O_CLOEXEC)
        try:
            self._send(b"F", [job_in_r, job_out_w])
        except _ZygoteGone:
            os.close(job_in_w)
            os.close(job_out_r)
            raise
        finally:
            os.close(job_in_r)  # the zygote holds its own copies now (and closes them after forking)
            os.close(job_out_w)
        self._awaiting.append((job_in_w, job_out_r))

    def _absorb_fork_reply(self) -> None:
        reply, fds = self._receive()
        to_child, from_child = self._awaiting.popleft()
        pid_namespace = "pid" in self.layers.get("namespaces", ())
        if reply[:1] != b"P" or len(reply) != 1 + PID.size or len(fds) > 1 or (pid_namespace and not fds):
            _close_all([to_child, from_child, *fds])
            if reply[:1] == b"E":
                raise SandboxUnavailable(f"the sandbox could not fork: {reply[1:].decode('utf-8', 'replace')}")
            raise _ZygoteGone
        (pid,) = PID.unpack(reply[1:])  # the zygote's number for it: what "W"/"K" name
        pidfd: int | None = fds[0] if fds else None
        if pidfd is None:
            try:
                pidfd = os.pidfd_open(pid)  # no pid namespace: the zygote's numbers are ours
            except OSError:
                pidfd = None  # an old kernel: the pid stays ours (unreaped) until we ask to reap it
        os.set_blocking(to_child, False)
        os.set_blocking(from_child, False)
        self._spares.append(_Child(pid, pidfd, to_child, from_child, self.starts))

    def _take_child(self) -> _Child:
        """A confined child waiting for its job: the spare if one is ready, else a fresh fork."""
        with self._lock:
            for _attempt in (1, 2):
                self._ensure_started()
                try:
                    if not self._spares:
                        if not self._awaiting:
                            self._request_fork()
                        self._absorb_fork_reply()
                    return self._spares.popleft()
                except _ZygoteGone:
                    logger.warning("the sandbox zygote died; restarting it")
                    self._stop()
            raise SandboxUnavailable("the sandbox zygote keeps dying")

    def _prepare_spare(self) -> None:
        """Have the next children forked and confined while the caller gets on with the outcome.
        More than one: a child takes ~2 ms to fork and confine, longer than a worker's database
        work between two steps, so with one spare a chain of steps would often wait for it."""
        with self._lock:
            try:
                while self._control is not None and len(self._spares) + len(self._awaiting) < self.spares:
                    self._request_fork()
            except _ZygoteGone:
                self._stop()

    def _kill(self, child: _Child) -> None:
        with contextlib.suppress(ProcessLookupError):
            if child.pidfd is not None:
                signal.pidfd_send_signal(child.pidfd, signal.SIGKILL)
            else:
                os.kill(child.pid, signal.SIGKILL)

    def _release(self, child: _Child, *, want_status: bool) -> _Reaped | None:
        """Kill the child and have the zygote reap it: at once, returning its exit status and CPU
        time, when ``want_status``; otherwise whenever it has died (no waiting)."""
        self._kill(child)
        with self._lock:
            if child.generation != self.starts or self._control is None:
                return None  # its zygote is gone: the child was orphaned and is reaped by init
            try:
                if not want_status:
                    self._send(b"K" + PID.pack(child.pid))
                    return None
                self._send(b"W" + PID.pack(child.pid))
                while self._awaiting:  # answers to forks asked for earlier come first
                    self._absorb_fork_reply()
                reply, fds = self._receive()
            except (_ZygoteGone, SandboxUnavailable):
                self._stop()
                return None
        if reply[:1] != b"S" or len(reply) != 1 + STATUS.size or fds:
            _close_all(fds)
            with self._lock:
                self._stop()
            return None
        _, status, user_us, system_us, max_rss_kb = STATUS.unpack(reply[1:])
        return _Reaped(status, (user_us + system_us) / 1000, max_rss_kb)

    def _forget_after_fork(self) -> None:
        """In a forked copy of this process: drop the parent's descriptors without touching its zygote."""
        for child in self._spares:
            for fd in (child.to_child, child.from_child, child.pidfd):
                if fd is not None:
                    os.close(fd)
        for to_child, from_child in self._awaiting:
            os.close(to_child)
            os.close(from_child)
        self._spares.clear()
        self._awaiting.clear()
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None and self._process.stderr is not None:
            self._process.stderr.close()
        self._process = None
        self._zygote_pid = None
        self._lock = threading.Lock()

    # -- running a job ------------------------------------------------------------------------------

    def run(
        self,
        job: Job,
        *,
        limits: Limits | None = None,
        on_log: LogCallback | None = None,
        on_progress: ProgressCallback | None = None,
        http: HttpCallback | None = None,
    ) -> Outcome:
        """Run ``job`` in a fresh confined child and return its ``Outcome``; never raises for anything
        the code does, and returns within ``limits.wall_seconds`` plus the time spent in ``http``."""
        limits = limits or Limits()
        started = time.perf_counter()
        logs: list[str] = []

        def finish(outputs: dict[str, Any] | None, error: dict[str, Any] | None, reaped: _Reaped | None) -> Outcome:
            return Outcome(
                ok=error is None,
                outputs=outputs if error is None else None,
                error=error,
                logs=logs,
                duration_ms=(time.perf_counter() - started) * 1000,
                cpu_ms=reaped.cpu_ms if reaped else None,
                max_rss_kb=reaped.max_rss_kb if reaped else None,
            )

        if not isinstance(job.inputs, dict) or not isinstance(job.code, str):
            return finish(None, _error(Code.UNAVAILABLE, "inputs must be a JSON object, code a string"), None)
        if len(job.code.encode("utf-8", "surrogatepass")) > MAX_CODE_BYTES:
            return finish(None, _error(Code.UNAVAILABLE, f"the code is larger than {MAX_CODE_BYTES} bytes"), None)
        try:
            payload = frames.encode(
                frames.JOB,
                {
                    "code": job.code,
                    "inputs": job.inputs,
                    "idempotency_key": job.idempotency_key,
                    "output_bytes": limits.output_bytes,
                    "cpu_seconds": limits.cpu_seconds,
                    "memory_mb": limits.memory_mb,
                },
            )
        except (TypeError, ValueError, UnicodeEncodeError) as problem:
            return finish(None, _error(Code.UNAVAILABLE, f"the inputs are not JSON-serialisable: {problem}"), None)
        if len(payload) > MAX_JOB_BYTES:
            return finish(None, _error(Code.UNAVAILABLE, f"the job is larger than {MAX_JOB_BYTES} bytes"), None)
        try:
            child = self._take_child()
        except SandboxUnavailable as unavailable:
            return finish(None, _error(Code.UNAVAILABLE, str(unavailable)), None)

        session = _Session(self, child, limits, started, logs, on_log, on_progress, http)
        reaped: _Reaped | None = None
        outputs: dict[str, Any] | None = None
        error: dict[str, Any] | None = None
        try:
            outputs, error = session.relay(payload)
            if outputs is None and error is None:
                session.await_exit()
        finally:
            silent = outputs is None and error is None
            reaped = self._release(child, want_status=silent)
            for fd in (child.to_child, child.from_child, child.pidfd):
                if fd is not None:
                    os.close(fd)
            self._prepare_spare()
        if silent:
            error = session.classify_silent_end(reaped)
        if error is not None and error["code"] == Code.MEMORY:
            error["message"] = f"memory limit of {limits.memory_mb} MB exceeded"
        return finish(outputs, error, reaped)


class _Session:
    """The relay loop of one job: writes the job and HTTP answers, reads and checks frames."""

    def __init__(
        self,
        pool: Pool,
        child: _Child,
        limits: Limits,
        started: float,
        logs: list[str],
        on_log: LogCallback | None,
        on_progress: ProgressCallback | None,
        http: HttpCallback | None,
    ) -> None:
        self.pool = pool
        self.child = child
        self.limits = limits
        self.deadline = started + limits.wall_seconds
        self.logs = logs
        self.on_log = on_log
        self.on_progress = on_progress
        self.http = http
        self.log_used = 0
        self.http_calls = 0
        self.killed_by_host = False
        self.outbox = bytearray()
        self.reader = frames.FrameReader(
            {
                frames.LOG: limits.log_bytes + MAX_SMALL_FRAME,
                frames.PROGRESS: MAX_SMALL_FRAME,
                frames.HTTP: MAX_HTTP_REQUEST_BYTES,
                frames.RESULT: limits.output_bytes + len(b'{"outputs":}'),
                frames.ERROR: MAX_SMALL_FRAME,
            }
        )

    def relay(self, payload: bytes) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """``(outputs, None)``, ``(None, error)``, or ``(None, None)`` when the child ended silently."""
        child = self.child
        self.outbox += payload
        poller = select.poll()
        poller.register(child.from_child, select.POLLIN)
        poller.register(child.to_child, select.POLLOUT)
        writing = True
        while True:
            remaining = self.deadline - time.perf_counter()
            if remaining <= 0:
                self.killed_by_host = True
                return None, _error(Code.WALL_TIME, f"wall-time limit of {self.limits.wall_seconds:g} s exceeded")
            for fd, _events in poller.poll(math.ceil(remaining * 1000)):
                if fd == child.to_child:
                    if self._write():
                        continue
                    poller.unregister(child.to_child)
                    writing = False
                    continue
                try:
                    data = os.read(child.from_child, 1 << 16)
                except BlockingIOError:
                    continue
                if not data:
                    return None, None
                try:
                    for kind, frame in self.reader.feed(data):
                        final = self._handle(kind, frame)
                        if final is not None:
                            return final
                except frames.FrameTooLarge as error:
                    self.pool._kill(child)
                    self.killed_by_host = True
                    return None, self._too_large(error)
                except (frames.FrameError, _ProtocolViolation) as error:
                    self.pool._kill(child)
                    self.killed_by_host = True
                    return None, _error(Code.EXCEPTION, f"the code broke the sandbox channel: {error}")
            if self.outbox and not writing:
                poller.register(child.to_child, select.POLLOUT)
                writing = True

    def _write(self) -> bool:
        """Write what we can; True while there is more to write."""
        try:
            written = os.write(self.child.to_child, self.outbox[: 1 << 16])
        except BlockingIOError:
            return True
        except (BrokenPipeError, OSError):
            self.outbox.clear()  # the child is gone or stopped reading: its end shows up on the read side
            return False
        del self.outbox[:written]
        return bool(self.outbox)

    def _too_large(self, error: frames.FrameTooLarge) -> dict[str, Any]:
        if error.kind == frames.RESULT:
            return _error(Code.OUTPUT, f"outputs are larger than the limit of {self.limits.output_bytes} bytes")
        if error.kind == frames.LOG:
            self._log_overflow("")
            return _error(Code.LOGS, f"log limit of {self.limits.log_bytes} bytes exceeded")
        return _error(Code.EXCEPTION, f"the code broke the sandbox channel: {error}")

    def _handle(self, kind: int, frame: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None] | None:
        if kind == frames.LOG:
            line = frame.get("line")
            if set(frame) != {"line"} or not isinstance(line, str):
                raise _ProtocolViolation("malformed log frame")
            if not self._log(line):
                return self._stop(_error(Code.LOGS, f"log limit of {self.limits.log_bytes} bytes exceeded"))
            return None
        if kind == frames.PROGRESS:
            step, message = frame.get("step"), frame.get("message")
            if set(frame) != {"step", "message"} or not isinstance(message, str):
                raise _ProtocolViolation("malformed progress frame")
            if isinstance(step, bool) or not isinstance(step, int | float | str):
                raise _ProtocolViolation("malformed progress frame")
            self.log_used += len(message.encode()) + len(str(step))
            if self.log_used > self.limits.log_bytes:
                self._log_overflow("")
                return self._stop(_error(Code.LOGS, f"log limit of {self.limits.log_bytes} bytes exceeded"))
            if self.on_progress is not None:
                self.on_progress(step, message)
            return None
        if kind == frames.HTTP:
            self.http_calls += 1
            if self.http_calls > self.limits.http_calls:
                return self._stop(_error(Code.HTTP_CALLS, f"more than {self.limits.http_calls} HTTP calls"))
            self.outbox += self._serve_http(_parse_http(frame))
            return None
        if kind == frames.RESULT:
            outputs = frame.get("outputs")
            if set(frame) != {"outputs"} or not isinstance(outputs, dict):
                raise _ProtocolViolation("malformed result frame")
            return outputs, None
        return None, _child_error(frame)

    def _stop(self, error: dict[str, Any]) -> tuple[None, dict[str, Any]]:
        self.pool._kill(self.child)
        self.killed_by_host = True
        return None, error

    def _emit(self, line: str) -> None:
        self.logs.append(line)
        if self.on_log is not None:
            self.on_log(line)

    def _log(self, line: str) -> bool:
        size = len(line.encode())
        if self.log_used + size > self.limits.log_bytes:
            self._log_overflow(line)
            return False
        self.log_used += size
        self._emit(line)
        return True

    def _log_overflow(self, line: str) -> None:
        room = max(self.limits.log_bytes - self.log_used, 0)
        head = line.encode()[:room].decode("utf-8", "ignore")
        if head:
            self._emit(head)
        self.log_used = self.limits.log_bytes
        self._emit(f"[log limit of {self.limits.log_bytes} bytes reached: the run was stopped]")

    def _serve_http(self, request: HttpRequest) -> bytes:
        if self.http is None:
            response = HttpResponse(status=0, headers={}, error="ctx.http is not available here")
        else:
            try:
                response = self.http(request)
            except Exception:
                logger.exception("the ctx.http callback failed")
                response = HttpResponse(status=0, headers={}, error="the HTTP request failed")
        answer = {
            "status": int(response.status),
            "headers": {str(k): str(v) for k, v in response.headers.items()},
            "body": base64.b64encode(response.body).decode("ascii"),
            "error": response.error or None,
        }
        encoded = frames.encode(frames.ANSWER, answer)
        if len(encoded) > MAX_ANSWER_BYTES:
            encoded = frames.encode(
                frames.ANSWER, {"status": 0, "headers": {}, "body": "", "error": "the response is too large"}
            )
        return encoded

    def await_exit(self) -> None:
        """After the channel closed: give the child a moment to end by itself, so that its own exit
        status (a CPU-limit signal, a runtime failure) is what gets classified."""
        if self.child.pidfd is None:
            return
        poller = select.poll()
        poller.register(self.child.pidfd, select.POLLIN)
        remaining = min(self.deadline - time.perf_counter(), 1.0)
        if remaining <= 0 or not poller.poll(math.ceil(remaining * 1000)):
            self.killed_by_host = True

    def classify_silent_end(self, reaped: _Reaped | None) -> dict[str, Any]:
        """The error for a child that closed its channel without a result."""
        if reaped is None:
            return _error(Code.EXCEPTION, "the sandboxed process ended without a result")
        status = reaped.status
        cpu_limit_ms = self.limits.cpu_seconds * 1000
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and reaped.cpu_ms >= cpu_limit_ms - 50):
                return _error(Code.CPU_TIME, f"CPU-time limit of {self.limits.cpu_seconds} s exceeded")
            if sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS) and reaped.max_rss_kb * 1024 >= (
                self.limits.memory_mb * 1024 * 1024 * 0.8
            ):
                return _error(Code.MEMORY, "memory limit exceeded")
            if sig == signal.SIGKILL and self.killed_by_host:
                return _error(Code.EXCEPTION, "the code closed its channel and was stopped")
            return _error(Code.EXCEPTION, f"the sandboxed process died ({signal.Signals(sig).name})")
        exit_code = os.WEXITSTATUS(status)
        if exit_code == 75:
            return _error(Code.MEMORY, "memory limit exceeded")
        if exit_code in (71, 72):
            return _error(Code.UNAVAILABLE, "the job process could not be confined")
        return _error(Code.EXCEPTION, f"the code ended the process (exit status {exit_code}) without a result")


def _child_error(frame: dict[str, Any]) -> dict[str, Any]:
    code, message = frame.get("code"), frame.get("message")
    if isinstance(code, bool) or not isinstance(code, int) or not isinstance(message, str):
        raise _ProtocolViolation("malformed error frame")
    if code not in _CHILD_CODES and not 200 <= code <= 2_147_483_647:
        raise _ProtocolViolation(f"error code {code} cannot come from the code")
    extras = {k: v for k, v in frame.items() if k not in ("code", "message")}
    for key, value in extras.items():
        expected = _ERROR_EXTRAS.get(key)
        if expected is None or isinstance(value, bool) or not isinstance(value, expected):
            raise _ProtocolViolation(f"malformed error frame field {key!r}")
    if "retry_after" in extras and (code < 200 or not 0 <= extras["retry_after"] <= MAX_RETRY_AFTER):
        raise _ProtocolViolation("malformed error frame field 'retry_after'")  # NaN fails the range too
    return _error(code, message, **extras)


def _parse_http(frame: dict[str, Any]) -> HttpRequest:
    """A strictly checked ``HttpRequest`` from the child's frame (the child is not trusted)."""
    keys = {"method", "url", "headers", "params", "has_json", "json", "data"}
    method, url, headers = frame.get("method"), frame.get("url"), frame.get("headers")
    if set(frame) != keys or method not in HTTP_METHODS or not isinstance(url, str) or not isinstance(headers, dict):
        raise _ProtocolViolation("malformed HTTP request frame")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise _ProtocolViolation("malformed HTTP headers")
    params = frame["params"]
    if params is not None and not isinstance(params, dict):
        raise _ProtocolViolation("malformed HTTP params")
    has_json = frame["has_json"]
    if not isinstance(has_json, bool):
        raise _ProtocolViolation("malformed HTTP request frame")
    data_frame = frame["data"]
    data: str | bytes | dict[str, str] | None = None
    if data_frame is not None:
        if not isinstance(data_frame, dict) or set(data_frame) != {"kind", "value"}:
            raise _ProtocolViolation("malformed HTTP body")
        kind, value = data_frame["kind"], data_frame["value"]
        if kind == "text" and isinstance(value, str):
            data = value
        elif kind == "bytes" and isinstance(value, str):
            try:
                data = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise _ProtocolViolation("malformed HTTP body") from None
        elif kind == "form" and isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            data = value
        else:
            raise _ProtocolViolation("malformed HTTP body")
    return HttpRequest(
        method=method,
        url=url,
        headers=headers,
        params=params,
        json=frame["json"] if has_json else None,
        data=data,
    )


_pool: Pool | None = None
_pool_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    global _pool_lock
    _pool_lock = threading.Lock()  # a fork while another thread held it would leave it held forever


os.register_at_fork(after_in_child=_new_lock_after_fork)


def get_pool() -> Pool:
    """This process's pool (a new one after a fork: a worker never uses its parent's zygote)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.owner_pid != os.getpid():
            _pool = Pool.from_settings()
        return _pool
