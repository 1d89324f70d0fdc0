"""The cloud-function registry: named server functions with declared parameters and required roles.

Apps register theirs with ``@cloud_function`` in their own ``cloud.py``; this module never
imports them. Parameters are declared as DRF fields, so validation errors name the field
exactly as the REST API's do.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rest_framework import serializers

if TYPE_CHECKING:
    from accounts.models import ApiKey


@dataclass
class Result:
    """What a cloud function returns. ``filters``/``recipients`` describe the change it made, if any:
    after commit, subscribers of the wired functions among ``recipients`` are told to refresh."""

    data: Any = None
    status: int = 200
    filters: dict[str, Any] | None = None
    recipients: list[int] | None = None


class CloudError(Exception):
    """An error reply: ``status`` is HTTP-like, ``code`` a stable machine name."""

    def __init__(self, message: str, *, status: int = 400, code: str = "bad_request", **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


@dataclass
class Call:
    """The context of one call, given to the function as ``call``."""

    user: Any  # a User, or AnonymousUser for publishable-key callers
    api_key: ApiKey | None = None
    progress_sink: Callable[[dict[str, Any]], None] | None = None

    def progress(self, step: int, steps: int, message: str = "") -> None:
        """Stream a 206 progress message to the caller (dropped where the face cannot stream)."""
        if self.progress_sink:
            self.progress_sink({"status": 206, "data": {"step": step, "steps": steps, "message": message}})

    def log(self, line: str) -> None:
        """Stream a 100 log line to the caller."""
        if self.progress_sink:
            self.progress_sink({"status": 100, "data": {"message": str(line)}})


@dataclass
class CloudFunction:
    name: str
    handler: Callable[..., Result]
    params: dict[str, serializers.Field] = field(default_factory=dict)
    roles: tuple[str, ...] = ()
    login_required: bool = True
    publishable: bool = False
    description: str = ""

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """The validated parameters; raises ``CloudError`` (400, ``invalid_params``) naming each bad one.

        Undeclared parameters are rejected too: a typo should not be silently ignored.
        """
        if not isinstance(params, dict):
            raise CloudError("params must be an object", code="invalid_params", errors={"params": ["not an object"]})
        unknown = sorted(set(params) - set(self.params))
        serializer = type(f"{self.name}Params", (serializers.Serializer,), dict(self.params))(data=params)
        errors: dict[str, Any] = {}
        if not serializer.is_valid():
            errors.update(serializer.errors)
        for name in unknown:
            errors[name] = ["unknown parameter"]
        if errors:
            names = ", ".join(sorted(errors))
            raise CloudError(f"invalid parameters: {names}", code="invalid_params", errors=errors)
        return dict(serializer.validated_data)


registry: dict[str, CloudFunction] = {}


def cloud_function(
    name: str,
    *,
    params: dict[str, serializers.Field] | None = None,
    roles: tuple[str, ...] = (),
    login_required: bool = True,
    publishable: bool = False,
) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Register ``handler(call, **params) -> Result`` under ``name``.

    ``roles``: the caller must hold one of these groups (superusers pass). ``publishable``:
    callable with a publishable key (the public client), not only by signed-in users.
    """

    def register(handler: Callable[..., Result]) -> Callable[..., Result]:
        if name in registry:
            raise ValueError(f"cloud function {name!r} is registered twice")
        registry[name] = CloudFunction(
            name=name,
            handler=handler,
            params=dict(params or {}),
            roles=roles,
            login_required=login_required,
            publishable=publishable,
            description=(handler.__doc__ or "").strip().split("\n")[0],
        )
        return handler

    return register


def lookup(name: str) -> CloudFunction:
    """The function called ``name``; raises ``CloudError`` (404) suggesting close names."""
    function = registry.get(name) if isinstance(name, str) else None
    if function is None:
        close = difflib.get_close_matches(str(name), registry.keys(), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise CloudError(
            f"unknown cloud function {name!r}{hint}", status=404, code="unknown_function", suggestions=close
        )
    return function
