"""The zygote: a confined interpreter that forks one confined child per job.

Started by the host as a fresh ``python -I -S`` with an empty environment and no inherited
descriptors besides its control socket, inside bubblewrap's namespaces where bwrap is available
(see ``components/sandbox/pool.py``). Start-up, in order: import everything a job may use; build
the seccomp programs; drop to the sandbox uid; set NO_NEW_PRIVS; confine itself with Landlock;
install its own seccomp program; say hello. It then serves these requests on the control socket,
never anything else:

``F`` with two descriptors attached (SCM_RIGHTS): fork a child whose channel is those two pipe
ends; reply ``P`` + pid with a pidfd of the child attached (in a pid namespace the number means
nothing to the host, which signals and polls the child through the pidfd). The child confines
itself further and waits for its job, so the host can keep one spare child ready. ``W`` + pid:
reap that (already killed) child; reply ``S`` + pid, wait status, user/system CPU µs, max RSS KiB.
``K`` + pid: reap it whenever it has died; no reply. The pids are the zygote's own.

The zygote never sees a job's code, inputs or secrets: the host writes those to the child's own pipe,
and the child sets its CPU and memory limits from the job before running any of it.
"""

from __future__ import annotations

import array
import fcntl
import gc
import json
import os
import resource
import signal
import socket
import struct
import sys
from typing import Any, NoReturn

from . import landlock, runtime, syscalls

PID = struct.Struct("!i")
STATUS = struct.Struct("!iiqqq")  # pid, wait status, user µs, system µs, max RSS KiB
MAX_CONTROL_MESSAGE = 64
NOFILE = 32
CLOSE_ABOVE = 5
NAMESPACES = ("mnt", "pid", "net", "ipc", "uts", "cgroup", "user")


def _load_pyseccomp(path: str) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("pyseccomp", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load pyseccomp from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _address_space_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def current_namespaces() -> dict[str, str]:
    """Which namespaces this process is in (``"net:[4026532182]"``…): the host compares them with its
    own to report what bubblewrap put in force."""
    found = {}
    for name in NAMESPACES:
        try:
            found[name] = os.readlink(f"/proc/self/ns/{name}")
        except OSError:
            continue
    return found


def _readable_paths() -> list[str]:
    """What a job may read: the time-zone database (``zoneinfo``), nothing else."""
    import zoneinfo

    return [path for path in zoneinfo.TZPATH if os.path.isdir(path)]


def _drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or os.getgroups():
        raise OSError("could not drop privileges")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise OSError("regained root after dropping privileges")


def _set_child_limits() -> None:
    """The limits that do not depend on the job (CPU and memory are set when it arrives)."""
    for limit, value in (
        (resource.RLIMIT_NOFILE, (NOFILE, NOFILE)),
        (resource.RLIMIT_FSIZE, (0, 0)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NPROC, (0, 0)),
        (resource.RLIMIT_MEMLOCK, (0, 0)),
        (resource.RLIMIT_MSGQUEUE, (0, 0)),
    ):
        resource.setrlimit(limit, value)


class Zygote:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.control = socket.socket(fileno=int(config["control"]))
        self.layers: dict[str, Any] = {}
        self.problems: list[str] = []
        self.child_program = b""
        self.children: set[int] = set()
        self.abandoned: set[int] = set()
        self.devnull = -1
        self.baseline = 0
        self.landlock_abi = 0

    # -- start-up ---------------------------------------------------------------------------------

    def start(self) -> None:
        disabled = set(self.config.get("testing_disable", ()))
        os.environ.clear()  # started with none, but the interpreter may have set LC_CTYPE (PEP 538)
        runtime.preload()
        seccomp_program = b""
        if "seccomp" in disabled:
            self.problems.append("seccomp disabled for a test")
        else:
            try:
                pyseccomp = _load_pyseccomp(self.config["pyseccomp"])
                seccomp_program = syscalls.build(pyseccomp, child=False)
                self.child_program = syscalls.build(pyseccomp, child=True)
            except (OSError, ImportError, RuntimeError, AttributeError) as error:
                self.problems.append(f"seccomp unavailable: {error}")
        self.devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self.baseline = _address_space_bytes()
        self.layers["ns"] = current_namespaces()
        sys.path[:] = [p for p in sys.path if p != self.config["path"]]

        uid, gid = int(self.config["uid"]), int(self.config["gid"])
        if os.geteuid() == 0:
            _drop_privileges(uid, gid)
        self.layers["uid"] = os.getuid()
        syscalls.no_new_privs()
        syscalls.not_dumpable()

        self.landlock_abi = landlock.abi_version()
        self.layers["landlock_abi"] = self.landlock_abi
        if "landlock" in disabled:
            self.problems.append("Landlock disabled for a test")
            self.landlock_abi = 0
        elif self.landlock_abi < 1:
            self.problems.append("Landlock is not available in this kernel")
        else:
            try:
                self.layers["landlock"] = landlock.restrict_process(self.landlock_abi, _readable_paths())
            except OSError as error:
                self.problems.append(f"Landlock refused: {error}")
                self.landlock_abi = 0
        if seccomp_program:
            try:
                syscalls.install(seccomp_program)
                self.layers["seccomp"] = True
            except OSError as error:
                self.problems.append(f"seccomp refused: {error}")
                self.child_program = b""
        self.layers["problems"] = self.problems
        gc.freeze()  # the children share these pages copy-on-write; keep the collector off them

    # -- serving ----------------------------------------------------------------------------------

    def serve(self) -> NoReturn:
        if self.problems and not self.config.get("allow_unsafe"):
            self._send(b"R" + json.dumps(self.layers).encode())
            os._exit(3)
        self._send(b"H" + json.dumps(self.layers).encode())
        os.dup2(self.devnull, 2)  # nobody reads our stderr from now on: never block on a full pipe
        fd_size = array.array("i").itemsize
        while True:
            try:
                message, ancillary, flags, _ = self.control.recvmsg(
                    MAX_CONTROL_MESSAGE, socket.CMSG_SPACE(2 * fd_size), socket.MSG_CMSG_CLOEXEC
                )
            except OSError:
                self._shutdown()
            fds = array.array("i")
            for level, kind, data in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[: len(data) - (len(data) % fd_size)])
            if not message or flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC):
                self._shutdown()
            self._reap_abandoned()
            if message == b"F" and len(fds) == 2:
                self._fork(fds[0], fds[1])
            elif message[:1] in (b"W", b"K") and len(message) == 1 + PID.size and not fds:
                (pid,) = PID.unpack(message[1:])
                if pid not in self.children:
                    self._shutdown()
                self.children.discard(pid)
                if message[:1] == b"W":
                    self._reap(pid)
                else:
                    self.abandoned.add(pid)
                    self._reap_abandoned()
            else:
                self._shutdown()  # a host that speaks anything else is not our host

    def _send(self, message: bytes, fds: list[int] | None = None) -> None:
        try:
            if fds:
                self.control.sendmsg([message], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            else:
                self.control.sendall(message)
        except OSError:
            self._shutdown()

    def _fork(self, job_in: int, job_out: int) -> None:
        try:
            pid = os.fork()
        except OSError as error:
            os.close(job_in)
            os.close(job_out)
            self._send(b"E" + str(error).encode()[:200])
            return
        if pid == 0:
            self._become_child(job_in, job_out)
        os.close(job_in)
        os.close(job_out)
        self.children.add(pid)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # a kernel before 5.3: the host uses the pid (and refuses it in a pid namespace)
            self._send(b"P" + PID.pack(pid))
            return
        try:
            self._send(b"P" + PID.pack(pid), [pidfd])
        finally:
            os.close(pidfd)

    def _reap_abandoned(self) -> None:
        for pid in list(self.abandoned):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.abandoned.discard(pid)

    def _reap(self, pid: int) -> None:
        _, status, usage = os.wait4(pid, 0)
        self._send(
            b"S" + STATUS.pack(pid, status, int(usage.ru_utime * 1e6), int(usage.ru_stime * 1e6), int(usage.ru_maxrss))
        )

    def _become_child(self, job_in: int, job_out: int) -> NoReturn:
        try:
            self.control.detach()
            for fd in (0, 1, 2):
                os.dup2(self.devnull, fd)
            job_in = fcntl.fcntl(job_in, fcntl.F_DUPFD, 10)
            job_out = fcntl.fcntl(job_out, fcntl.F_DUPFD, 10)
            os.dup2(job_in, 3)
            os.dup2(job_out, 4)
            os.closerange(CLOSE_ABOVE, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
            _set_child_limits()
            landlock.scope_nested(self.landlock_abi)
            if self.child_program:
                syscalls.install(self.child_program)
            elif not self.config.get("allow_unsafe"):
                os._exit(72)
            runtime.warm_up()
        except BaseException:  # noqa: BLE001 - a child that cannot be confined never runs a job
            os._exit(71)
        runtime.serve(3, 4, self.baseline)

    def _shutdown(self) -> NoReturn:
        # The host is gone or misbehaving: take every job down with us (they share our process group).
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            os.killpg(0, signal.SIGKILL)
        finally:
            os._exit(0)


def main() -> NoReturn:
    config = json.loads(sys.argv[1])
    zygote = Zygote(config)
    try:
        zygote.start()
    except BaseException as error:  # noqa: BLE001 - reported to the host, which refuses to use us
        layers = {"problems": [f"zygote start-up failed: {type(error).__name__}: {error}"]}
        try:
            zygote.control.sendall(b"R" + json.dumps(layers).encode())
        finally:
            os._exit(4)
    zygote.serve()
