"""The authorization-code flow with PKCE (S256) and ``state`` that connects an OAuth2 credential.

:func:`begin` checks the request, keeps what the callback needs in the signed-in user's session
under a random ``state`` and returns the provider's authorize URL. :func:`finish` takes that entry
out of the session (so a ``state`` works once, and only in the session that started it), refuses
it when it is older than ``STATE_LIFETIME`` or belongs to another user, checks ``edit`` again,
redeems the code with the PKCE verifier and stores the tokens.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError

from accounts.models import Project, User
from accounts.services import require_permission
from components.models import Credential
from components.oauth2 import providers, tokens
from components.oauth2.services import oauth2_connection_store, validate_name

SESSION_KEY = "oauth2_pending"
STATE_LIFETIME = 600  # seconds between "Connect" and the provider's redirect back
MAX_PENDING = 10  # per session: abandoned attempts do not pile up
MAX_SCOPES = 50


class FlowError(Exception):
    """The callback cannot complete; the message is safe to show (it never holds a code or token)."""


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def parse_scopes(text: str | None, default: tuple[str, ...]) -> list[str]:
    """Scopes typed by the user (spaces, commas or new lines between them); empty: the provider's."""
    scopes = [part for part in (text or "").replace(",", " ").split() if part]
    if len(scopes) > MAX_SCOPES or any(len(scope) > 300 for scope in scopes):
        raise ValidationError({"scopes": [f"at most {MAX_SCOPES} scopes of up to 300 characters"]})
    return scopes or list(default)


def _pending(session: MutableMapping[str, Any]) -> dict[str, dict[str, Any]]:
    now = time.time()
    entries = session.get(SESSION_KEY) or {}
    return {state: entry for state, entry in entries.items() if entry.get("expires", 0) > now}


def begin(
    session: MutableMapping[str, Any],
    *,
    project: Project,
    actor: User,
    provider: str,
    name: str,
    scopes: str | None,
    redirect_uri: str,
) -> str:
    """The provider's authorize URL for connecting ``name``; the flow's secrets stay in ``session``.

    Raises ``Project.DoesNotExist``/``PermissionDenied`` (needs ``edit``) and ``ValidationError``
    naming the field (``provider``: unknown or not configured; ``name``; ``scopes``).
    """
    require_permission(project, actor, "edit")
    client = providers.client_for(provider)
    if client is None:
        raise ValidationError({"provider": [f"{provider or 'this provider'} is not configured (docs/oauth2.md)"]})
    validate_name(name)
    if Credential.objects.filter(project=project, name=name).exclude(kind="oauth2").exists():
        raise ValidationError({"name": [f"{name} is already a credential; pick another name or delete it first"]})
    chosen = parse_scopes(scopes, client.provider.scopes)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters of the unreserved set (RFC 7636: 43 to 128)
    pending = _pending(session)
    for stale in sorted(pending, key=lambda key: pending[key]["expires"])[: max(0, len(pending) - MAX_PENDING + 1)]:
        del pending[stale]
    pending[state] = {
        "project": project.pk,
        "user": actor.pk,
        "provider": client.provider.slug,
        "name": name,
        "scopes": chosen,
        "verifier": verifier if client.provider.pkce else "",
        "redirect_uri": redirect_uri,
        "expires": time.time() + STATE_LIFETIME,
    }
    session[SESSION_KEY] = pending
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        **client.provider.authorize_params,
    }
    if chosen:
        params["scope"] = client.provider.scope_separator.join(chosen)
    if client.provider.pkce:
        params.update(code_challenge=_challenge(verifier), code_challenge_method="S256")
    separator = "&" if "?" in client.provider.authorize_url else "?"
    return f"{client.provider.authorize_url}{separator}{urlencode(params)}"


def finish(session: MutableMapping[str, Any], *, actor: User, query: Mapping[str, str]) -> Credential:
    """Complete the flow from the provider's redirect (``query``: ``state`` and ``code`` or ``error``).

    Raises ``FlowError`` (unknown, replayed, expired or foreign ``state``; the provider's error;
    a refused code), ``Project.DoesNotExist``/``PermissionDenied`` (no longer an editor).
    """
    state = query.get("state") or ""
    pending = _pending(session)
    entry = pending.pop(state, None) if state else None
    session[SESSION_KEY] = pending  # the state is spent, whatever happens next
    if entry is None:
        raise FlowError("this authorization is unknown, expired or already used: connect again")
    if entry["user"] != actor.pk:
        raise FlowError("this authorization was started by someone else: connect again")
    project = Project.objects.visible_to(actor).filter(pk=entry["project"]).first()
    if project is None:
        raise Project.DoesNotExist("no such project")
    require_permission(project, actor, "edit")  # the membership may have changed since "Connect"
    if query.get("error"):
        description = (query.get("error_description") or "")[:200]
        raise FlowError(f"the provider refused: {query['error'][:100]}{': ' + description if description else ''}")
    code = query.get("code") or ""
    if not code:
        raise FlowError("the provider sent no authorization code: connect again")
    client = providers.client_for(entry["provider"])
    if client is None:
        raise FlowError(f"the provider {entry['provider']} is not configured any more")
    try:
        token_set = tokens.exchange_code(
            client, code=code, redirect_uri=entry["redirect_uri"], code_verifier=entry["verifier"] or None
        )
    except tokens.TokenEndpointError as error:
        raise FlowError(f"{client.provider.label} refused the authorization code ({error})") from None
    except tokens.TokenEndpointUnavailable as error:
        raise FlowError(f"{client.provider.label}: {error}") from None
    try:
        return oauth2_connection_store(
            project=project,
            actor=actor,
            name=entry["name"],
            provider=entry["provider"],
            scopes=entry["scopes"],
            token_set=token_set,
        )
    except ValidationError as error:
        raise FlowError("; ".join(error.messages)) from None
