"""Running untrusted component code: a warm pool of confined interpreters (docs/sandbox.md).

from components.sandbox import get_pool, Job, Limits
outcome = get_pool().run(Job(code, inputs, idempotency_key), limits=Limits(), on_log=..., http=...)
"""

from __future__ import annotations

from .jail.runtime import ALLOWED_MODULES
from .pool import Pool, SandboxUnavailable, get_pool
from .syntax import MAX_CODE_BYTES, check_syntax
from .types import Code, HttpRequest, HttpResponse, Job, Limits, Outcome

__all__ = [
    "ALLOWED_MODULES",
    "MAX_CODE_BYTES",
    "Code",
    "HttpRequest",
    "HttpResponse",
    "Job",
    "Limits",
    "Outcome",
    "Pool",
    "SandboxUnavailable",
    "check_syntax",
    "get_pool",
]
