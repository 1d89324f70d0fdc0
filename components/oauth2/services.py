"""State changes of OAuth2 credentials: store a connection, refresh it (under a row lock), mark it
revoked, disconnect it. The flow that obtains the first tokens is in ``components.oauth2.flow``.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Project, User
from accounts.services import require_permission
from components.credentials import CredentialError, decrypt, encrypt
from components.models import Credential, credential_name
from components.oauth2 import providers, tokens
from components.oauth2.models import ConnectionStatus, OAuth2App, OAuth2Connection
from components.oauth2.secrets import refresh_token_of, refresh_token_seal

logger = logging.getLogger(__name__)

# An access token this close to its expiry is refreshed before a request carries it.
REFRESH_MARGIN = datetime.timedelta(seconds=60)


class OAuth2Reconnect(CredentialError):
    """The connection cannot give an access token any more (revoked, or expired without a refresh
    token): only connecting again helps. Runs that need it fail with code 490."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"OAuth2 credential {name} {why}: reconnect it in the project's credentials")
        self.name = name


class OAuth2RefreshFailed(CredentialError):
    """The token endpoint could not be reached (or misbehaved) while refreshing: worth a retry later."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"OAuth2 credential {name} could not be refreshed: {why}")
        self.name = name


def validate_name(name: str) -> None:
    try:
        credential_name(name)
    except ValidationError as error:
        raise ValidationError({"name": error.messages}) from None


@transaction.atomic
def oauth2_connection_store(
    *, project: Project, actor: User, name: str, provider: str, scopes: list[str], token_set: tokens.TokenSet
) -> Credential:
    """Create or reconnect the OAuth2 credential ``name`` with fresh tokens (sealed like any value).

    Raises ``Project.DoesNotExist``/``PermissionDenied`` (needs ``edit``) and ``ValidationError``
    (``name``: bad format, or the name of a credential that is not an OAuth2 connection)."""
    require_permission(project, actor, "edit")
    validate_name(name)
    credential, created = Credential.objects.select_for_update().get_or_create(
        project=project, name=name, defaults={"ciphertext": "", "created_by": actor, "kind": "oauth2"}
    )
    if not created and credential.kind != "oauth2":
        raise ValidationError({"name": [f"{name} is already a credential that is not an OAuth2 connection"]})
    credential.ciphertext = encrypt(credential, token_set.access_token)
    credential.save(update_fields=["ciphertext", "updated_at"])
    now = timezone.now()
    expires = now + datetime.timedelta(seconds=token_set.expires_in) if token_set.expires_in else None
    OAuth2Connection.objects.update_or_create(
        credential=credential,
        defaults={
            "provider": provider,
            "scopes": token_set.scopes if token_set.scopes is not None else scopes,
            "refresh_ciphertext": refresh_token_seal(credential, token_set.refresh_token),
            "token_type": token_set.token_type,
            "expires_at": expires,
            "revoked_at": None,
            "revoked_reason": "",
            "connected_by": actor,
            "connected_at": now,
            "refreshed_at": None,
        },
    )
    return credential


@transaction.atomic
def oauth2_disconnect(*, project: Project, actor: User, name: str) -> None:
    """Forget the OAuth2 credential ``name`` and its tokens. Raises ``Credential.DoesNotExist`` when
    the project has no OAuth2 credential of that name, ``PermissionDenied`` below ``edit``."""
    require_permission(project, actor, "edit")
    deleted, _ = Credential.objects.filter(project=project, name=name, kind="oauth2").delete()
    if not deleted:
        raise Credential.DoesNotExist(f"no OAuth2 credential named {name}")


@dataclass(frozen=True)
class Fresh:
    """The current access token of a connection after :func:`oauth2_refresh`."""

    access_token: str
    expires_at: datetime.datetime | None
    refreshed: bool


def _due(connection: OAuth2Connection, now: datetime.datetime) -> bool:
    return connection.expires_at is not None and connection.expires_at - REFRESH_MARGIN <= now


def oauth2_refresh(*, credential_id: int, force: bool = False, seen_token: str | None = None) -> Fresh:
    """The credential's current access token, refreshed first when it expires within
    ``REFRESH_MARGIN`` (or, with ``force``, after the provider refused ``seen_token`` with a 401).

    The row is locked while the token endpoint is asked, so two workers never both spend one
    refresh token (providers that rotate them would take the second for a replay); a worker that
    waited finds the token its peer stored and uses it. Raises ``OAuth2Reconnect`` (revoked, or
    expired without a refresh token; a refusal with ``invalid_grant`` marks it ``revoked`` for
    good) and ``OAuth2RefreshFailed`` (token endpoint unreachable or misconfigured).
    """
    problem: CredentialError | None = None
    with transaction.atomic():
        connection = (
            OAuth2Connection.objects.select_for_update().select_related("credential").get(credential_id=credential_id)
        )
        credential = connection.credential
        current = decrypt(credential)
        now = timezone.now()
        status = connection.status(now)
        if status == ConnectionStatus.REVOKED:
            raise OAuth2Reconnect(credential.name, f"was revoked ({connection.revoked_reason or 'by the provider'})")
        wanted = _due(connection, now) or (force and (seen_token is None or seen_token == current))
        if not wanted:
            return Fresh(access_token=current, expires_at=connection.expires_at, refreshed=False)
        refresh_token = refresh_token_of(connection, credential)
        if not refresh_token:
            if status == ConnectionStatus.EXPIRED or force:
                why = "expired" if status == ConnectionStatus.EXPIRED else "was refused by the provider (401)"
                raise OAuth2Reconnect(credential.name, f"{why} and has no refresh token")
            return Fresh(access_token=current, expires_at=connection.expires_at, refreshed=False)
        client = providers.client_for(connection.provider)
        if client is None:
            raise OAuth2RefreshFailed(credential.name, f"the provider {connection.provider} is not configured any more")
        try:
            token_set = tokens.refresh(client, refresh_token=refresh_token)
        except tokens.TokenEndpointError as error:
            if not error.revoked:
                raise OAuth2RefreshFailed(credential.name, f"the provider answered {error}") from None
            # Stored, not rolled back: the refusal is final, and every later run must say so at once.
            connection.revoked_at = now
            connection.revoked_reason = f"{error.error} from {client.provider.label}"[:300]
            connection.save(update_fields=["revoked_at", "revoked_reason"])
            logger.info("OAuth2 credential %s (id %s) revoked: %s", credential.name, credential.pk, error.error)
            problem = OAuth2Reconnect(credential.name, f"was revoked by {client.provider.label} ({error.error})")
        except tokens.TokenEndpointUnavailable as error:
            raise OAuth2RefreshFailed(credential.name, str(error)) from None
        else:
            credential.ciphertext = encrypt(credential, token_set.access_token)
            credential.save(update_fields=["ciphertext"])  # updated_at: the user changed nothing
            connection.expires_at = (
                now + datetime.timedelta(seconds=token_set.expires_in) if token_set.expires_in else None
            )
            if token_set.refresh_token:  # rotation; otherwise the refresh token stays good
                connection.refresh_ciphertext = refresh_token_seal(credential, token_set.refresh_token)
            if token_set.scopes is not None:
                connection.scopes = token_set.scopes
            connection.token_type = token_set.token_type
            connection.refreshed_at = now
            connection.save(update_fields=["expires_at", "refresh_ciphertext", "scopes", "token_type", "refreshed_at"])
            return Fresh(access_token=token_set.access_token, expires_at=connection.expires_at, refreshed=True)
    raise problem


@transaction.atomic
def oauth2_app_set(
    *,
    slug: str,
    client_id: str,
    client_secret: str | None,
    label: str = "",
    authorize_url: str = "",
    token_url: str = "",
    scopes: str = "",
    pkce: bool = True,
    client_auth: str = "basic",
    enabled: bool = True,
) -> OAuth2App:
    """Create or change the OAuth2 app ``slug`` (superadmin's face and the tests use this).

    ``client_secret``: the new secret, sealed for the row; ``None`` keeps the stored one. A built-in
    provider's endpoints are fixed, so ``authorize_url``/``token_url`` are for custom providers only,
    and a custom provider needs both. Raises ``ValidationError`` naming the field."""
    from components.oauth2.secrets import app_secret_seal

    problems: dict[str, list[str]] = {}
    is_builtin = slug in providers.BUILTIN_SLUGS
    if is_builtin and (authorize_url or token_url):
        problems["authorize_url"] = [f"{slug} is a built-in provider: its endpoints cannot be changed"]
    if not is_builtin and not (authorize_url and token_url):
        problems["token_url"] = ["a custom provider needs its authorize URL and its token URL"]
    if not client_id:
        problems["client_id"] = ["a client id is needed"]
    if problems:
        raise ValidationError(problems)
    app, _ = OAuth2App.objects.select_for_update().update_or_create(
        slug=slug,
        defaults={
            "label": label,
            "client_id": client_id,
            "authorize_url": authorize_url,
            "token_url": token_url,
            "scopes": scopes,
            "pkce": pkce,
            "client_auth": client_auth,
            "enabled": enabled,
        },
    )
    if client_secret is not None:
        app.client_secret_ciphertext = app_secret_seal(app, client_secret) if client_secret else ""
        app.save(update_fields=["client_secret_ciphertext"])
    return app
