"""Subscription identity."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

# Parameters that change how a call is made, never what it returns.
CONTROL_PARAMS = frozenset({"realtime", "skip_execution"})


def identity_params(params: Mapping[str, Any], ignore: Iterable[str] = ()) -> dict[str, Any]:
    skip = CONTROL_PARAMS | set(ignore)
    return {name: value for name, value in sorted(params.items()) if name not in skip}


def subscription_key(function: str, params: Mapping[str, Any], ignore: Iterable[str] = ()) -> str:
    """Function + sorted parameters (minus control and ignored keys). The user is not part of
    the key: one published key reaches every user subscribed to the same call, and each socket
    keeps only updates addressed to its own user."""
    canonical = json.dumps(
        [function, identity_params(params, ignore)], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
