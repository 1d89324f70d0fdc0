"""Sealing the OAuth2 secrets with the credentials' key ring (components/credentials.py).

- The access token is the credential's value: ``Credential.ciphertext``, sealed as every value is.
- The refresh token is sealed for the same row and the field ``refresh_token``
  (``components_credential:<id>:<project>:<name>:refresh_token``), so it cannot stand in for the
  access token, nor be moved to another row, and the other way round.
- A provider app's client secret is sealed for its row and the field ``client_secret``
  (``components_oauth2app:<id>:<slug>:client_secret``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from components.credentials import KeyRing, decrypt, encrypt, key_id_of, key_ring, seal, unseal
from components.models import Credential
from components.oauth2.models import OAuth2App, OAuth2Connection

# Field names bound into the associated data, not secrets themselves.
REFRESH_TOKEN = "refresh_token"  # noqa: S105
CLIENT_SECRET = "client_secret"  # noqa: S105


def _app_data(app: OAuth2App) -> bytes:
    if app.pk is None:
        raise ValueError("a client secret is encrypted for its row: save the app first")
    return f"{OAuth2App._meta.db_table}:{app.pk}:{app.slug}:{CLIENT_SECRET}".encode()


def app_secret(app: OAuth2App) -> str:
    """The app's client secret ('' when none is stored); raises ``UndecryptableCredential``."""
    if not app.client_secret_ciphertext:
        return ""
    return unseal(app.client_secret_ciphertext, _app_data(app), name=f"OAuth2 app {app.slug}")


def app_secret_seal(app: OAuth2App, secret: str) -> str:
    """The stored form of ``secret`` for this (saved) app row."""
    return seal(secret, _app_data(app))


def refresh_token_of(connection: OAuth2Connection, credential: Credential | None = None) -> str:
    """The plaintext refresh token ('' when there is none). Host side only, for the token endpoint."""
    if not connection.refresh_ciphertext:
        return ""
    return decrypt(credential or connection.credential, field=REFRESH_TOKEN, stored=connection.refresh_ciphertext)


def refresh_token_seal(credential: Credential, token: str | None) -> str:
    return encrypt(credential, token, field=REFRESH_TOKEN) if token else ""


@dataclass(frozen=True)
class Counts:
    rotated: int
    already_current: int


def oauth2_secrets_rotate(*, ring: KeyRing | None = None, everything: bool = False) -> Counts:
    """Re-seal refresh tokens and client secrets not under the current key (``everything``: all),
    row by row in short transactions, like ``credentials_rotate`` (which calls this)."""
    ring = ring or key_ring()
    rotated = current = 0
    for pk in OAuth2Connection.objects.exclude(refresh_ciphertext="").order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            connection = OAuth2Connection.objects.select_for_update().select_related("credential").filter(pk=pk).first()
            if connection is None or not connection.refresh_ciphertext:
                continue
            if key_id_of(connection.refresh_ciphertext) == ring.current and not everything:
                current += 1
                continue
            credential = connection.credential
            plain = decrypt(credential, ring=ring, field=REFRESH_TOKEN, stored=connection.refresh_ciphertext)
            sealed = encrypt(credential, plain, ring=ring, field=REFRESH_TOKEN)
            OAuth2Connection.objects.filter(pk=pk).update(refresh_ciphertext=sealed)
            rotated += 1
    for pk in OAuth2App.objects.exclude(client_secret_ciphertext="").order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            app = OAuth2App.objects.select_for_update().filter(pk=pk).first()
            if app is None or not app.client_secret_ciphertext:
                continue
            if key_id_of(app.client_secret_ciphertext) == ring.current and not everything:
                current += 1
                continue
            plain = unseal(app.client_secret_ciphertext, _app_data(app), name=f"OAuth2 app {app.slug}", ring=ring)
            OAuth2App.objects.filter(pk=pk).update(client_secret_ciphertext=seal(plain, _app_data(app), ring=ring))
            rotated += 1
    return Counts(rotated=rotated, already_current=current)
