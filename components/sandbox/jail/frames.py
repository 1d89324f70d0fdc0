"""Length-prefixed, typed frames: the only language spoken on a job's pipes.

A frame is ``>IB`` (payload length, one type byte) followed by a UTF-8 JSON object. The type byte
comes first so that a reader can refuse an oversized frame by its header, before reading it.
Readers are strict: an unknown type, a length above the reader's cap for that type, bytes that are
not UTF-8 JSON, or a payload that is not an object are all a ``FrameError``.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

HEADER = struct.Struct(">IB")

# Host -> child
JOB = ord("J")
ANSWER = ord("A")  # the host's reply to an HTTP request
# Child -> host
LOG = ord("L")
PROGRESS = ord("P")
HTTP = ord("H")
RESULT = ord("R")
ERROR = ord("E")

CHILD_TYPES = frozenset({LOG, PROGRESS, HTTP, RESULT, ERROR})
HOST_TYPES = frozenset({JOB, ANSWER})


class FrameError(Exception):
    """The peer sent something that is not a well-formed frame of an expected type and size."""


class FrameTooLarge(FrameError):
    def __init__(self, kind: int, length: int, cap: int) -> None:
        super().__init__(f"frame {chr(kind)!r} of {length} bytes exceeds the cap of {cap}")
        self.kind = kind
        self.length = length
        self.cap = cap


def dumps(payload: dict[str, Any]) -> bytes:
    """The compact JSON of ``payload``; raises ``TypeError``/``ValueError`` (NaN, cycles) or
    ``UnicodeEncodeError`` (lone surrogates) for what JSON cannot carry."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def encode(kind: int, payload: dict[str, Any]) -> bytes:
    body = dumps(payload)
    return HEADER.pack(len(body), kind) + body


def encode_raw(kind: int, body: bytes) -> bytes:
    return HEADER.pack(len(body), kind) + body


def decode_body(kind: int, body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise FrameError(f"frame {chr(kind)!r} is not UTF-8 JSON: {error}") from None
    if not isinstance(value, dict):
        raise FrameError(f"frame {chr(kind)!r} is not a JSON object")
    return value


class FrameReader:
    """Incremental parser: ``feed()`` bytes as they arrive, get back complete ``(type, payload)`` frames.

    ``caps`` maps each accepted type to its largest payload in bytes; any other type is refused.
    """

    def __init__(self, caps: dict[int, int]) -> None:
        self.caps = caps
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, dict[str, Any]]]:
        self._buffer += data
        frames: list[tuple[int, dict[str, Any]]] = []
        while len(self._buffer) >= HEADER.size:
            length, kind = HEADER.unpack_from(self._buffer)
            self._check(kind, length)
            end = HEADER.size + length
            if len(self._buffer) < end:
                break
            body = bytes(self._buffer[HEADER.size : end])
            del self._buffer[:end]
            frames.append((kind, decode_body(kind, body)))
        return frames

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def _check(self, kind: int, length: int) -> None:
        cap = self.caps.get(kind)
        if cap is None:
            raise FrameError(f"unexpected frame type {kind}")
        if length > cap:
            raise FrameTooLarge(kind, length, cap)


def read_exactly(fd: int, size: int) -> bytes:
    """``size`` bytes from a blocking ``fd``; raises ``EOFError`` if it closes first."""
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError("the channel closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, caps: dict[int, int]) -> tuple[int, dict[str, Any]]:
    """One frame from a blocking ``fd`` (the child's side), checked like ``FrameReader`` does."""
    length, kind = HEADER.unpack(read_exactly(fd, HEADER.size))
    FrameReader(caps)._check(kind, length)
    return kind, decode_body(kind, read_exactly(fd, length))


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
