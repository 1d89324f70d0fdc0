"""The seccomp policy: which system calls the zygote and each job may not make.

A deny-list (default: allow) so that CPython keeps working unmodified, built once in the zygote with
libseccomp (through ``pyseccomp``, which also handles the architecture check and x32 on x86_64) and
exported as raw BPF; a job installs its program with one ``prctl`` call, which costs microseconds.
Denied calls fail with ``EPERM`` (``clone3`` with ``ENOSYS`` so that libc falls back to ``clone``),
except a call from a foreign architecture, which kills the process.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from types import ModuleType
from typing import Any

# Both the zygote and the jobs: no new programs, no network, no debugging of other processes, no
# namespaces or mounts, no kernel objects shared between processes of the same uid (SysV IPC, POSIX
# message queues, keyrings) that could carry state from one job to the next, no identity changes.
COMMON_DENY = """
execve execveat
socket socketpair connect bind listen accept accept4
ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd
mount umount2 pivot_root chroot unshare setns move_mount open_tree fsopen fsconfig fsmount fspick
mount_setattr
bpf io_uring_setup io_uring_enter io_uring_register perf_event_open userfaultfd fanotify_init
keyctl add_key request_key
setuid setgid setreuid setregid setresuid setresgid setgroups setfsuid setfsgid capset
kexec_load kexec_file_load init_module finit_module delete_module reboot swapon swapoff acct
quotactl quotactl_fd syslog vhangup iopl ioperm modify_ldt lookup_dcookie name_to_handle_at
open_by_handle_at personality uselib ustat sysfs settimeofday clock_settime clock_adjtime adjtimex
shmget shmat shmdt shmctl msgget msgsnd msgrcv msgctl semget semop semctl semtimedop
mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr
memfd_secret
""".split()  # noqa: SIM905 - a line per group of related calls reads better than a list

# Newer than the libseccomp in Debian 12 knows by name; numbers for x86_64.
COMMON_DENY_X86_64_NUMBERS = {"statmount": 457, "listmount": 458, "open_tree_attr": 467}

# A job additionally: no processes or threads, no signals at all (not even to itself: nothing in the
# runtime needs one, and it keeps the zygote and other jobs of the same uid out of reach on kernels
# whose Landlock cannot scope signals), no leaving the zygote's process group, no changing anyone's
# limits or scheduling, no anonymous executable files.
CHILD_DENY = """
clone fork vfork
kill tkill tgkill rt_sigqueueinfo rt_tgsigqueueinfo pidfd_send_signal pidfd_open
setsid setpgid
setpriority sched_setaffinity sched_setscheduler sched_setparam sched_setattr ioprio_set
migrate_pages move_pages process_madvise memfd_create
""".split()  # noqa: SIM905 - as above

CLONE_THREAD = 0x00010000
# fcntl/ioctl commands that make the kernel deliver SIGIO/SIGURG (or lease breaks) to a chosen pid.
F_SETOWN, F_SETSIG, F_SETOWN_EX, F_SETLEASE = 8, 10, 15, 1024
FIOSETOWN, SIOCSPGRP = 0x8901, 0x8902

PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_MODE_FILTER = 2


def _add(seccomp: ModuleType, flt: Any, action: int, name: str, *args: object) -> bool:
    number = seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
    if number < 0:
        return False  # not a system call on this architecture (or unknown to this libseccomp)
    flt.add_rule(action, number, *args)
    return True


def build(seccomp: ModuleType, *, child: bool) -> bytes:
    """The BPF program (``struct sock_filter[]`` bytes) for the zygote or, with ``child``, a job."""
    eperm = seccomp.ERRNO(errno.EPERM)
    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    flt.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    for name in COMMON_DENY:
        _add(seccomp, flt, eperm, name)
    if platform.machine() == "x86_64":
        for number in COMMON_DENY_X86_64_NUMBERS.values():
            flt.add_rule(eperm, number)
    _add(seccomp, flt, seccomp.ERRNO(errno.ENOSYS), "clone3")
    if child:
        for name in CHILD_DENY:
            _add(seccomp, flt, eperm, name)
        _add(seccomp, flt, eperm, "prlimit64", seccomp.Arg(0, seccomp.NE, 0))
        for command in (F_SETOWN, F_SETSIG, F_SETOWN_EX, F_SETLEASE):
            _add(seccomp, flt, eperm, "fcntl", seccomp.Arg(1, seccomp.EQ, command))
        for request in (FIOSETOWN, SIOCSPGRP):
            _add(seccomp, flt, eperm, "ioctl", seccomp.Arg(1, seccomp.EQ, request))
    else:
        # The zygote forks (clone without CLONE_THREAD) but never starts a thread.
        _add(seccomp, flt, eperm, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, CLONE_THREAD))
    read_fd, write_fd = os.pipe()
    try:
        with open(write_fd, "wb", closefd=True) as sink:
            flt.export_bpf(sink)
        program = b""
        while chunk := os.read(read_fd, 1 << 16):
            program += chunk
    finally:
        os.close(read_fd)
    if not program or len(program) % 8:
        raise OSError(errno.EINVAL, "libseccomp exported no BPF program")
    return program


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl
_prctl.restype = ctypes.c_int
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]


def install(program: bytes) -> None:
    """Load ``program`` for this thread (the caller is single-threaded) for good; needs NO_NEW_PRIVS."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    if _prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_SECCOMP): {os.strerror(err)}")


def _prctl_flag(option: int, value: int, what: str) -> None:
    if _prctl(option, value, None, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({what}): {os.strerror(err)}")


def no_new_privs() -> None:
    """``PR_SET_NO_NEW_PRIVS``: no exec can ever grant privileges again; Landlock and seccomp need it."""
    _prctl_flag(PR_SET_NO_NEW_PRIVS, 1, "NO_NEW_PRIVS")


def not_dumpable() -> None:
    """No core dumps, and /proc/<pid> of this process (and its children) belongs to root."""
    _prctl_flag(PR_SET_DUMPABLE, 0, "DUMPABLE")
