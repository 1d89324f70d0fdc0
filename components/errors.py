"""The error of a run, with the codes of DESIGN.md §2 (kept from the original product).

| code | meaning | HTTP |
|---|---|---|
| 101 | input of the wrong type (``incorrect: [{name, expected, given}]``) | 400 |
| 102 | missing required input (``missing: [names]``) | 400 |
| 103 / 104 | id missing / unknown component | 400 / 404 |
| 105 | not allowed | 403 |
| 106 / 107 | output of the wrong type / missing output | 502 |
| 108 | quota exceeded | 429 |
| 109 to 124 | limits and sandbox errors (see docs/sandbox.md) | 422 or 504 |
| 125 | JSON nested deeper than 64 levels: a request body; a run's outputs or a remote API's answer | 400 / 502 |
| 126 | the original routes only: the run still goes on when the answer's wait ends (docs/legacy-clients.md) | 500 |
| 490 | an OAuth2 credential the run needs was revoked or expired: reconnect it (docs/oauth2.md) | 422 |
| ≥ 200 | raised by the component's own code (``ComponentError``) | 422 |
"""

from __future__ import annotations

from typing import Any

INCORRECT_INPUT = 101
MISSING_INPUT = 102
MISSING_ID = 103
UNKNOWN_ID = 104
NOT_ALLOWED = 105
INCORRECT_OUTPUT = 106
MISSING_OUTPUT = 107
QUOTA_EXCEEDED = 108
WALL_TIME = 109
EXECUTION_FAILED = 124  # the run could not complete for a reason of ours (worker lost, …)
TOO_DEEP = 125  # JSON nested deeper than synchronise.lib.jsonlimits.MAX_DEPTH
STILL_RUNNING = 126  # the original routes: the run outlived the answer's wait (components/legacy.py)
OAUTH2_RECONNECT = 490  # an OAuth2 credential was revoked or expired without a refresh token

_HTTP_STATUS = {
    INCORRECT_INPUT: 400,
    MISSING_INPUT: 400,
    MISSING_ID: 400,
    UNKNOWN_ID: 404,
    NOT_ALLOWED: 403,
    INCORRECT_OUTPUT: 502,
    MISSING_OUTPUT: 502,
    QUOTA_EXCEEDED: 429,
    WALL_TIME: 504,
    EXECUTION_FAILED: 500,
    TOO_DEEP: 502,  # a run's outputs; a request body that deep is refused with 400 before any run
}


def http_status(code: int) -> int:
    """The HTTP status that fits an error code."""
    return _HTTP_STATUS.get(code, 422)


class RunError(Exception):
    """A run that did not produce valid outputs; ``as_dict()`` is the JSON body of the answer."""

    def __init__(self, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}

    @property
    def http_status(self) -> int:
        return http_status(self.code)
