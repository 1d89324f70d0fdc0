"""Syntax check of component code in the host: ``compile()`` only, nothing is executed."""

from __future__ import annotations

from typing import Any

from .jail.runtime import FILENAME

MAX_CODE_BYTES = 1_000_000


def check_syntax(code: str) -> dict[str, Any] | None:
    """``None`` when ``code`` compiles, else ``{"line", "col", "message"}`` (1-based, plus ``end_line``
    and ``end_col`` when Python knows them). Never runs the code; large or pathologically nested
    sources are reported rather than compiled."""
    if len(code.encode("utf-8", "surrogatepass")) > MAX_CODE_BYTES:
        return {"line": 1, "col": 1, "message": f"the code is larger than {MAX_CODE_BYTES} bytes"}
    if "\x00" in code:
        before = code[: code.index("\x00")]
        line = before.count("\n") + 1
        return {"line": line, "col": len(before) - (before.rfind("\n") + 1) + 1, "message": "the code contains a NUL"}
    try:
        compile(code, FILENAME, "exec", dont_inherit=True)
    except SyntaxError as error:
        return {
            "line": error.lineno or 1,
            "col": error.offset or 1,
            "end_line": error.end_lineno,
            "end_col": error.end_offset,
            "message": f"{type(error).__name__}: {error.msg}",
        }
    except (RecursionError, MemoryError, ValueError):
        return {"line": 1, "col": 1, "message": "the code is too deeply nested to compile"}
    return None
