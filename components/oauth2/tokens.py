"""Token endpoint calls (authorization code and refresh grants) and the shapes of their answers.

Every call goes through ``synchronise.lib.outbound`` (the SSRF guard), without following
redirects. Nothing here logs a request or an answer: both carry secrets.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

from components.oauth2.providers import Client
from synchronise.lib import outbound

MAX_ANSWER_BYTES = 256 * 1024
MAX_TOKEN_CHARS = 16 * 1024  # a credential value may be up to 64 KiB; a token this long is a broken answer
# The refusals that mean "this refresh token is dead": RFC 6749's, GitHub's and Slack's words for it.
REVOKED_ERRORS = frozenset({"invalid_grant", "bad_refresh_token", "invalid_refresh_token"})


class TokenEndpointError(Exception):
    """The provider refused the grant (``error``: ``invalid_grant``, ``invalid_client``…); the message is
    the provider's code and description, which never contain a token."""

    def __init__(self, error: str, description: str = "", *, status: int | None = None) -> None:
        self.error = error[:100]
        self.description = description[:300]
        self.status = status
        super().__init__(f"{self.error}: {self.description}" if self.description else self.error)

    @property
    def revoked(self) -> bool:
        """The refresh token (or code) is no longer good: only connecting again helps."""
        return self.error in REVOKED_ERRORS


class TokenEndpointUnavailable(Exception):
    """The token endpoint could not be reached or gave an answer that is not a token: try later."""


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_in: float | None = None
    scopes: list[str] | None = None
    token_type: str = "bearer"  # noqa: S105  # a token type, not a token


def _client_auth(client: Client, form: dict[str, str], headers: dict[str, str]) -> None:
    if client.provider.client_auth == "basic":
        # RFC 6749 §2.3.1: both parts form-encoded before the Basic encoding.
        pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form["client_id"] = client.client_id
        form["client_secret"] = client.client_secret


def _parse(response: outbound.OutboundResponse) -> dict[str, Any]:
    """The answer as a dict: JSON, or form-encoded (GitHub without ``Accept: application/json``)."""
    text = response.content.decode("utf-8", "replace")
    parsed: Any
    try:
        parsed = json.loads(text) if text.strip() else {}
    except ValueError:
        parsed = dict(parse_qsl(text)) if "=" in text else None
    if not isinstance(parsed, dict):
        raise TokenEndpointUnavailable(f"the token endpoint answered {response.status} without a token")
    return parsed


def _expires_in(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def _token_set(client: Client, answer: dict[str, Any]) -> TokenSet:
    source = answer
    if client.provider.answer == "slack" and not answer.get("access_token"):
        # Only user scopes were asked for: the token is the user's, under "authed_user".
        user = answer.get("authed_user")
        source = user if isinstance(user, dict) else {}
    access = source.get("access_token")
    if not isinstance(access, str) or not access or len(access) > MAX_TOKEN_CHARS:
        raise TokenEndpointUnavailable("the token endpoint's answer has no access token")
    refresh = source.get("refresh_token")
    scope = source.get("scope")
    # Slack separates scopes with commas, everyone else with spaces.
    scopes = scope.replace(",", " ").split() if isinstance(scope, str) else None
    return TokenSet(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and 0 < len(refresh) <= MAX_TOKEN_CHARS else None,
        expires_in=_expires_in(source.get("expires_in")),
        scopes=scopes,
        token_type=str(source.get("token_type") or "bearer")[:32],
    )


def _post(client: Client, form: dict[str, str]) -> TokenSet:
    headers = {"Accept": "application/json"}  # GitHub answers form-encoded otherwise
    _client_auth(client, form, headers)
    as_json = client.provider.token_body == "json"  # noqa: S105  # a format, not a password
    body: dict[str, Any] = {"json": form} if as_json else {"data": form}
    try:
        response = outbound.request(
            "POST", client.provider.token_url, headers=headers, max_bytes=MAX_ANSWER_BYTES, max_redirects=0, **body
        )
    except outbound.OutboundError as error:
        raise TokenEndpointUnavailable(f"the token endpoint could not be reached: {error.reason}") from None
    if response.status >= 500:
        raise TokenEndpointUnavailable(f"the token endpoint answered {response.status}")
    answer = _parse(response)
    # GitHub answers errors with 200 {"error": …}; Slack with 200 {"ok": false, "error": …}.
    if answer.get("error") or answer.get("ok") is False or not 200 <= response.status < 300:
        code = answer.get("error")
        description = answer.get("error_description")
        raise TokenEndpointError(
            str(code) if code else f"http_{response.status}",
            str(description) if isinstance(description, str) else "",
            status=response.status,
        )
    return _token_set(client, answer)


def exchange_code(client: Client, *, code: str, redirect_uri: str, code_verifier: str | None) -> TokenSet:
    """Redeem an authorization code. Raises ``TokenEndpointError`` or ``TokenEndpointUnavailable``."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if code_verifier:
        form["code_verifier"] = code_verifier
    return _post(client, form)


def refresh(client: Client, *, refresh_token: str) -> TokenSet:
    """A new access token for a refresh token (the answer may carry a new refresh token: rotation).
    Raises ``TokenEndpointError`` (``revoked`` for ``invalid_grant``) or ``TokenEndpointUnavailable``."""
    return _post(client, {"grant_type": "refresh_token", "refresh_token": refresh_token})
