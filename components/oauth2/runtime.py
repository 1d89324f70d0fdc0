"""OAuth2 credentials during a run: a fresh access token before a request carries one, one refresh
and one retry after a 401, and the run's error when the connection is gone.

The run's ``Secrets`` (``credential_values``) hold each OAuth2 credential's access token like any
value; :class:`OAuth2Runtime` replaces it in place when it refreshes, so substitution and masking
see the new token. A revoked or expired connection fails only the runs whose requests carry it
(code 490, ``reason: oauth2_reconnect``); a token endpoint that cannot be reached is 502
(``reason: oauth2_refresh``), which a workflow retries by default.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from components import errors
from components.errors import RunError
from components.oauth2.models import ConnectionStatus, OAuth2Connection
from components.oauth2.services import (
    REFRESH_MARGIN,
    Fresh,
    OAuth2Reconnect,
    OAuth2RefreshFailed,
    oauth2_refresh,
)

if TYPE_CHECKING:
    from components.http_component import HttpRunResult

UNAUTHORIZED = 401


class OAuth2Runtime:
    """The OAuth2 credentials of one run (``secrets.oauth2`` of a ``credentials.Secrets``), loaded at
    their first use."""

    def __init__(self, secrets: dict[str, str], *, project_id: int) -> None:
        self.secrets = secrets
        self.project_id = project_id
        self.names: frozenset[str] = getattr(secrets, "oauth2", frozenset())
        self._ids: dict[str, int] = {}
        self._expires: dict[str, datetime.datetime | None] = {}
        self._retried: set[str] = set()

    def carried(self, names: Iterable[str]) -> set[str]:
        return set(names) & self.names

    def _load(self, names: set[str]) -> None:
        missing = names - self._ids.keys()
        if not missing:
            return
        rows = OAuth2Connection.objects.filter(
            credential__project_id=self.project_id, credential__name__in=missing, credential__kind="oauth2"
        ).select_related("credential")
        now = timezone.now()
        for connection in rows:
            name = connection.credential.name
            self._ids[name] = connection.credential_id
            status = connection.status(now)
            if status == ConnectionStatus.REVOKED:
                raise OAuth2Reconnect(name, f"was revoked ({connection.revoked_reason or 'by the provider'})")
            if status == ConnectionStatus.EXPIRED:
                raise OAuth2Reconnect(name, "expired and has no refresh token")
            self._expires[name] = connection.expires_at
        for name in missing - self._ids.keys():
            raise OAuth2Reconnect(name, "has no connection")

    def _take(self, name: str, access_token: str, expires_at: datetime.datetime | None) -> bool:
        self._expires[name] = expires_at
        changed = self.secrets.get(name) != access_token
        self.secrets[name] = access_token
        return changed

    def prepare(self, names: Iterable[str]) -> bool:
        """Before a request that carries ``names``: refresh those expiring within ``REFRESH_MARGIN``.
        Returns whether a value changed (render the request again). Raises ``OAuth2Reconnect`` and
        ``OAuth2RefreshFailed``."""
        wanted = self.carried(names)
        if not wanted:
            return False
        self._load(wanted)
        changed = False
        now = timezone.now()
        for name in sorted(wanted):
            expires = self._expires.get(name)
            if expires is not None and expires - REFRESH_MARGIN <= now:
                fresh = self._refresh(name)
                changed = self._take(name, fresh.access_token, fresh.expires_at) or changed
        return changed

    def after_unauthorized(self, names: Iterable[str]) -> bool:
        """After a 401 to a request that carried ``names``: refresh each once per run. Returns whether
        sending again may help. Raises ``OAuth2Reconnect`` and ``OAuth2RefreshFailed``."""
        wanted = self.carried(names) - self._retried
        if not wanted:
            return False
        self._load(wanted)
        for name in sorted(wanted):
            self._retried.add(name)
            fresh = self._refresh(name, force=True)
            self._take(name, fresh.access_token, fresh.expires_at)
        return True

    def _refresh(self, name: str, *, force: bool = False) -> Fresh:
        try:
            return oauth2_refresh(credential_id=self._ids[name], force=force, seen_token=self.secrets.get(name))
        except OAuth2Connection.DoesNotExist:
            raise OAuth2Reconnect(name, "was disconnected during the run") from None


def run_error(error: OAuth2Reconnect | OAuth2RefreshFailed) -> RunError:
    """The run's error for a connection that cannot give a token."""
    if isinstance(error, OAuth2Reconnect):
        return RunError(errors.OAUTH2_RECONNECT, str(error), reason="oauth2_reconnect", credential=error.name)
    return RunError(502, str(error), reason="oauth2_refresh", credential=error.name)


def _named(names: Iterable[str], text: str) -> set[str]:
    return {name for name in names if re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text)}


def send_http(
    secrets: dict[str, str],
    *,
    project_id: int,
    spec: Mapping[str, Any],
    secret_values: Iterable[Any],
    send: Callable[[], HttpRunResult],
    logs: list[str],
) -> HttpRunResult:
    """Run an ``http`` component's request (``send``) with its OAuth2 credentials fresh: refreshed
    before when due, refreshed once and sent once more after a 401. The credentials are those its
    spec or its ``secret`` inputs (``secret_values``) name. Raises ``RunError`` (490 or 502)."""
    names: frozenset[str] = getattr(secrets, "oauth2", frozenset())
    carried = _named(names, json.dumps(spec) + json.dumps(list(secret_values))) if names else set()
    if not carried:
        return send()
    runtime = OAuth2Runtime(secrets, project_id=project_id)
    try:
        runtime.prepare(carried)
        result = send()
        # A 401 answer, or a 2xx refusal the spec maps to 401 (Slack's ``ok: false, token_expired``).
        refused = result.status == UNAUTHORIZED or (result.error or {}).get("code") == UNAUTHORIZED
        if refused and runtime.after_unauthorized(carried):
            logs.extend(result.request_log)
            logs.append(f"401: refreshed the OAuth2 credential {', '.join(sorted(carried))}; sending again")
            result = send()
    except (OAuth2Reconnect, OAuth2RefreshFailed) as error:
        raise run_error(error) from None
    return result
