"""Landlock through ctypes (the PyPI ``landlock`` package covers file-system rules only).

The syscall numbers are the same on every architecture since Linux 5.13 (unified table).
"""

from __future__ import annotations

import ctypes
import os

SYS_CREATE_RULESET = 444
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1

# File-system rights (ABI 1 has bits 0-12, ABI 2 adds REFER, ABI 3 TRUNCATE, ABI 5 IOCTL_DEV).
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
_FS_ALL_LATEST = (1 << 16) - 1
# ABI 4: TCP bind and connect. ABI 6: abstract unix sockets and signals scoped to the domain.
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class LandlockError(OSError):
    pass


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise LandlockError(err, f"{what}: {os.strerror(err)}")
    return result


def abi_version() -> int:
    """The kernel's Landlock ABI, or 0 when Landlock is missing or disabled."""
    result = _libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(int(result), 0)


def handled_fs(abi: int) -> int:
    return _FS_BY_ABI.get(abi, _FS_ALL_LATEST)


def _create(abi: int, fs: int, net: int, scoped: int) -> int:
    attr = _RulesetAttr(fs, net, scoped)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    return _check(
        _libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)),
        "landlock_create_ruleset",
    )


def _restrict(ruleset_fd: int) -> None:
    try:
        _check(_libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset_fd)


def restrict_process(abi: int, read_only: list[str]) -> dict[str, bool]:
    """Confine this process (and every future child) for good.

    The file system becomes invisible except ``read_only`` paths (read files, list directories);
    from ABI 4 TCP bind/connect are refused; from ABI 6 signals and abstract unix sockets cannot
    leave the domain (so a confined process cannot signal its unconfined parent). Returns which of
    those parts are in force. Raises ``LandlockError`` if the kernel refuses.
    """
    if abi < 1:
        raise LandlockError(0, "Landlock is not available in this kernel")
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    ruleset = _create(abi, handled_fs(abi), net, scoped)
    try:
        for path in read_only:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                is_dir = os.path.isdir(path)
                rule = _PathBeneathAttr(FS_READ_FILE | (FS_READ_DIR if is_dir else 0), fd)
                _check(
                    _libc.syscall(
                        SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule), 0
                    ),
                    f"landlock_add_rule({path})",
                )
            finally:
                os.close(fd)
    except BaseException:
        os.close(ruleset)
        raise
    _restrict(ruleset)
    return {"filesystem": True, "tcp": bool(net), "signals": bool(scoped)}


def scope_nested(abi: int) -> bool:
    """A nested domain that only scopes signals and abstract sockets (ABI 6+): a job cannot signal
    the zygote that forked it. Returns False, doing nothing, on older kernels."""
    if abi < 6:
        return False
    _restrict(_create(abi, 0, 0, SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL))
    return True
