"""Project credentials: encrypted at rest, write-only, substituted by the host, masked everywhere.

Storage: AES-256-GCM (``cryptography``) with a key ring from ``CREDENTIALS_KEYS``
(``keyid:base64key,…``; the first key encrypts, every key decrypts), never derived from
``SECRET_KEY``. A stored value is ``v1:<keyid>:<base64url(nonce ‖ ciphertext ‖ tag)>``; the
associated data names the table, the row id, the project id and the credential's name, so a value
copied into another row or project fails to decrypt. Without ``CREDENTIALS_KEYS`` a key is made
once and kept in ``DATA_DIR/credentials.key`` (mode 0600), with a warning: fine for one machine,
not for production.

Write-only: no function here returns a plaintext except :func:`credential_values`, which the
runner uses on the host to substitute ``{{ secrets.NAME }}`` (:func:`render_secrets`) and to
mask values (:func:`mask`) in logs, errors and stored inputs and outputs.

Allowed hosts: a credential may carry a list of hosts (``api.stripe.com``, ``*.example.com``); a
request that carries it goes to no other host, redirects included (:func:`host_guard`, given to
``outbound.request(check_host=…)``). An empty list is any public host.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import os
import re
import threading
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction

from accounts.models import Project, User
from accounts.services import require_permission
from components.masking import MASK as MASK  # re-exported: callers import it from here
from components.masking import MIN_MASKED_LENGTH, _map_strings
from components.masking import mask as mask
from components.models import Credential, credential_name
from synchronise.lib.compiled import instances, select_rows
from synchronise.lib.outbound import OutboundBlocked

logger = logging.getLogger(__name__)

FORMAT = "v1"
NONCE_BYTES = 12
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_VALUE_BYTES = 64 * 1024
SECRET_REFERENCE = re.compile(r"\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
LOCAL_KEY_ID = "local"
MAX_ALLOWED_HOSTS = 50
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


class CredentialError(Exception):
    """A credential cannot be used; the message names it and never contains a value."""


class UnknownSecret(CredentialError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown credential {name}: add it to the project's credentials")
        self.name = name


class UnnamedSecret(CredentialError):
    """A reference to a credential the component does not name: neither its code nor a ``secret``
    input does, so the reference came from data (an input, a response) and is not substituted."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"credential {name} is not named by this component: write {{{{ secrets.{name} }}}} in its code "
            "or pass it through an input of type secret"
        )
        self.name = name


class UndecryptableCredential(CredentialError):
    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"credential {name} cannot be decrypted ({why}); set it again")
        self.name = name


class CredentialHostRefused(CredentialError, OutboundBlocked):
    """A credential was about to be sent to a host outside its allowed hosts; nothing was sent there."""

    def __init__(self, name: str, host: str, allowed: Iterable[str]) -> None:
        super().__init__(
            f"credential {name} may only be sent to {', '.join(allowed)}, not to {host or 'this URL'}; "
            "change its allowed hosts in the project's credentials"
        )
        self.name = name
        self.host = host


# --- Key ring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRing:
    current: str
    keys: Mapping[str, AESGCM]


def generate_key_entry(key_id: str) -> str:
    """A new ``keyid:base64key`` entry for ``CREDENTIALS_KEYS``."""
    if not KEY_ID.match(key_id):
        raise ValueError("a key id is 1 to 32 letters, digits, '-' or '_'")
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


def _parse_entry(entry: str, *, where: str) -> tuple[str, bytes]:
    key_id, sep, encoded = entry.strip().partition(":")
    if not sep or not KEY_ID.match(key_id):
        raise ImproperlyConfigured(f"{where}: entries are keyid:base64key with an id of [A-Za-z0-9_-]{{1,32}}")
    try:
        padded = encoded.strip() + "=" * (-len(encoded.strip()) % 4)
        key = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{where}: the key of {key_id!r} is not base64") from None
    if len(key) != 32:
        raise ImproperlyConfigured(f"{where}: the key of {key_id!r} must be 32 bytes (AES-256), got {len(key)}")
    return key_id, key


def _local_key_entry(data_dir: Path) -> str:
    """The embedded default: one key made once per data directory, readable by its owner only."""
    path = data_dir / "credentials.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".credentials.key.{os.getpid()}.{threading.get_ident()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(generate_key_entry(LOCAL_KEY_ID) + "\n")
        try:
            os.link(temporary, path)  # atomic, and fails if another process won the race
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


_rings: dict[tuple[tuple[str, ...], str], KeyRing] = {}
_warned = False


def key_ring() -> KeyRing:
    """The configured key ring; raises ``ImproperlyConfigured`` on a malformed ``CREDENTIALS_KEYS``."""
    global _warned
    entries = tuple(getattr(settings, "CREDENTIALS_KEYS", ()) or ())
    cache_key = (entries, str(settings.DATA_DIR))
    ring = _rings.get(cache_key)
    if ring is not None:
        return ring
    where = "CREDENTIALS_KEYS"
    if not entries:
        where = str(Path(settings.DATA_DIR) / "credentials.key")
        entries = (_local_key_entry(Path(settings.DATA_DIR)),)
        if not _warned:
            logger.warning(
                "CREDENTIALS_KEYS is not set: credentials are encrypted with the key in %s. "
                "Set CREDENTIALS_KEYS in production (docs/credentials-and-http.md).",
                where,
            )
            _warned = True
    keys: dict[str, AESGCM] = {}
    for entry in entries:
        key_id, key = _parse_entry(entry, where=where)
        if key_id in keys:
            raise ImproperlyConfigured(f"{where}: key id {key_id!r} appears twice")
        keys[key_id] = AESGCM(key)
    ring = _rings[cache_key] = KeyRing(current=next(iter(keys)), keys=keys)
    return ring


# --- Encryption ------------------------------------------------------------------------------


def _associated_data(credential: Credential, field: str = "") -> bytes:
    if credential.pk is None:
        raise ValueError("a credential is encrypted for its row: save it first")
    # The value itself is bound to the row as it always was; any other field of the row (an OAuth2
    # refresh token) names itself too, so one field's ciphertext cannot stand in for another's.
    suffix = f":{field}" if field else ""
    return f"{Credential._meta.db_table}:{credential.pk}:{credential.project_id}:{credential.name}{suffix}".encode()


def seal(value: str, associated_data: bytes, *, ring: KeyRing | None = None) -> str:
    """``value`` encrypted with the current key, bound to ``associated_data`` (names row and field)."""
    ring = ring or key_ring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = ring.keys[ring.current].encrypt(nonce, value.encode(), associated_data)
    return f"{FORMAT}:{ring.current}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def unseal(stored: str, associated_data: bytes, *, name: str, ring: KeyRing | None = None) -> str:
    """The plaintext of a :func:`seal` result; raises ``UndecryptableCredential`` naming ``name``."""
    ring = ring or key_ring()
    parts = stored.split(":", 2)
    if len(parts) != 3 or parts[0] != FORMAT:
        raise UndecryptableCredential(name, "not a stored credential")
    key = ring.keys.get(parts[1])
    if key is None:
        raise UndecryptableCredential(name, f"key {parts[1]!r} is not in CREDENTIALS_KEYS")
    try:
        blob = base64.urlsafe_b64decode(parts[2])
        plain = key.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data)
    except (InvalidTag, binascii.Error, ValueError):
        raise UndecryptableCredential(name, "it does not belong to this row or was altered") from None
    return plain.decode()


def encrypt(credential: Credential, value: str, *, ring: KeyRing | None = None, field: str = "") -> str:
    """The stored form of ``value`` for this (saved) row, with the current key; ``field`` names a
    field other than the value (``refresh_token``)."""
    return seal(value, _associated_data(credential, field), ring=ring)


def key_id_of(stored: str) -> str:
    """The id of the key a stored value was encrypted with ('' if malformed)."""
    parts = stored.split(":", 2)
    return parts[1] if len(parts) == 3 and parts[0] == FORMAT else ""


def decrypt(credential: Credential, *, ring: KeyRing | None = None, field: str = "", stored: str | None = None) -> str:
    """The plaintext of this row's value (or of ``stored``, sealed for ``field``); raises
    ``UndecryptableCredential`` (unknown key, moved or altered value)."""
    stored = credential.ciphertext if stored is None else stored
    return unseal(stored, _associated_data(credential, field), name=credential.name, ring=ring)


# --- Services --------------------------------------------------------------------------------


@transaction.atomic
def credential_set(
    *, project: Project, actor: User, name: str, value: str | None, allowed_hosts: Iterable[str] | None = None
) -> Credential:
    """Create or change the project's credential ``name``; the value cannot be read back.

    ``value``: the new value, or ``None`` to keep the stored one (the credential must exist).
    ``allowed_hosts``: the hosts the value may be sent to (``api.example.com``, ``*.example.com``,
    an IP address; empty: any public host), or ``None`` to keep the stored list (a new credential:
    empty), so replacing a value never widens where it may go.

    Raises ``Project.DoesNotExist`` (not a member), ``PermissionDenied`` (below ``edit``) and
    ``ValidationError`` (``name``, ``value``, ``allowed_hosts``).
    """
    require_permission(project, actor, "edit")
    errors: dict[str, list[str]] = {}
    try:
        credential_name(name)
    except ValidationError as error:
        errors["name"] = error.messages
    if value is not None and (not isinstance(value, str) or not value):
        errors["value"] = ["a credential needs a value"]
    elif value is not None and len(value.encode()) > MAX_VALUE_BYTES:
        errors["value"] = [f"at most {MAX_VALUE_BYTES} bytes"]
    hosts: list[str] | None = None
    if allowed_hosts is not None:
        try:
            hosts = normalise_allowed_hosts(allowed_hosts)
        except ValidationError as error:
            errors["allowed_hosts"] = error.messages
    if errors:
        raise ValidationError(errors)
    rows = Credential.objects.select_for_update()
    if value is None:
        found = rows.filter(project=project, name=name).first()
        if found is None:
            raise ValidationError({"value": ["a credential needs a value"]})
        credential = found
    else:
        # The row's id is part of what the ciphertext is bound to, so a new row is saved first; the
        # transaction never lets anyone see it without its value.
        credential, _created = rows.get_or_create(
            project=project, name=name, defaults={"ciphertext": "", "created_by": actor}
        )
    if value is not None and credential.kind == "oauth2":
        # Its value is the access token the provider gave; only connecting again replaces it.
        raise ValidationError({"value": [f"{name} is an OAuth2 connection: reconnect it to change its tokens"]})
    fields = ["updated_at"]
    if value is not None:
        credential.ciphertext = encrypt(credential, value)
        fields.append("ciphertext")
    if hosts is not None:
        credential.allowed_hosts = hosts
        fields.append("allowed_hosts")
    credential.save(update_fields=fields)
    return credential


@transaction.atomic
def credential_delete(*, project: Project, actor: User, name: str) -> None:
    """Delete the project's credential ``name``; raises ``Credential.DoesNotExist`` if there is none."""
    require_permission(project, actor, "edit")
    deleted, _ = Credential.objects.filter(project=project, name=name).delete()
    if not deleted:
        raise Credential.DoesNotExist(f"no credential named {name}")


class Secrets(dict[str, str]):
    """Plaintext values by name, the allowed hosts of those that have a list (``allowed_hosts``) and
    the names that are OAuth2 connections (``oauth2``: their value is the current access token)."""

    def __init__(
        self,
        values: Mapping[str, str] | None = None,
        *,
        allowed_hosts: Mapping[str, Iterable[str]] | None = None,
        oauth2: Iterable[str] = (),
    ) -> None:
        super().__init__(values or {})
        self.allowed_hosts: dict[str, tuple[str, ...]] = {
            name: tuple(hosts) for name, hosts in (allowed_hosts or {}).items() if hosts
        }
        self.oauth2: frozenset[str] = frozenset(oauth2)


def credential_values(*, project: Project) -> Secrets:
    """Every credential of the project in plaintext, by name, with their allowed hosts. Host side
    only: for substitution (checked with :func:`host_guard`) and masking.

    Raises ``UndecryptableCredential`` when a value cannot be decrypted.
    """
    ring = key_ring()
    rows = select_rows(  # read by every run: compiled once (synchronise/lib/compiled.py)
        "project-credentials", lambda: Credential.objects.filter(project_id=0), [0], [project.pk]
    )
    credentials: list[Credential] = [instances(row, Credential)[0] for row in rows]
    return Secrets(
        {credential.name: decrypt(credential, ring=ring) for credential in credentials},
        allowed_hosts={credential.name: credential.allowed_hosts for credential in credentials},
        oauth2=[credential.name for credential in credentials if credential.kind == "oauth2"],
    )


# --- Allowed hosts ---------------------------------------------------------------------------


def _normal_host(host: str) -> str:
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")  # how requests sends it: xn--…
        except UnicodeError:
            return host  # matches no ASCII pattern: refused
    return host


def normalise_allowed_hosts(patterns: Iterable[str]) -> list[str]:
    """``patterns`` checked, lower-cased, IDNA-encoded and without duplicates.

    Each is a host name (``api.example.com``), a wildcard for its subdomains (``*.example.com``: not
    ``example.com`` itself) or an IP address; no scheme, port or path. Raises ``ValidationError``.
    """
    if isinstance(patterns, str | bytes) or not isinstance(patterns, Iterable):
        raise ValidationError("a list of host names")
    found: list[str] = []
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str) or not pattern.strip():
            raise ValidationError(f"{index}: a host name, e.g. api.example.com or *.example.com")
        wildcard = pattern.strip().startswith("*.")
        host = _normal_host(pattern.strip()[2:] if wildcard else pattern)
        is_ip = False
        try:
            ipaddress.ip_address(host)
            is_ip = True
        except ValueError:
            pass
        labels = host.split(".")
        valid = (is_ip and not wildcard) or (
            not is_ip and len(host) <= 253 and all(HOST_LABEL.match(label) for label in labels)
        )
        if not valid:
            raise ValidationError(
                f"{index}: {pattern.strip()[:100]!r} is not a host name; write api.example.com or *.example.com, "
                "without scheme, port or path"
            )
        normal = f"*.{host}" if wildcard else host
        if normal not in found:
            found.append(normal)
    if len(found) > MAX_ALLOWED_HOSTS:
        raise ValidationError(f"at most {MAX_ALLOWED_HOSTS} hosts")
    return found


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    """Whether ``host`` matches one of ``patterns`` (normalised ones: see :func:`normalise_allowed_hosts`)."""
    host = _normal_host(host)
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


def host_guard(names: Iterable[str], secrets: Mapping[str, str]) -> Callable[[str], None] | None:
    """For ``outbound.request(check_host=…)``: refuses (``CredentialHostRefused``) a destination outside
    the allowed hosts of any credential in ``names`` (those substituted into the request); ``None``
    when none of them has a list. ``secrets`` is what :func:`credential_values` returned."""
    allowed = getattr(secrets, "allowed_hosts", {})
    lists = {name: allowed[name] for name in sorted(set(names)) if name in allowed}
    if not lists:
        return None

    def check(host: str) -> None:
        for name, patterns in lists.items():
            if not host_allowed(host, patterns):
                raise CredentialHostRefused(name, host, patterns)

    return check


@dataclass(frozen=True)
class Rotation:
    rotated: int
    already_current: int


def credentials_rotate(*, everything: bool = False) -> Rotation:
    """Re-encrypt every credential not yet under the current key (``everything``: all of them).

    Row by row, each in its own transaction, so a long rotation holds no long lock and can be
    re-run after an interruption. ``updated_at`` is left alone: the secret did not change.
    Raises ``UndecryptableCredential`` for a row no key in the ring opens (nothing after it is done).
    """
    ring = key_ring()
    rotated = current = 0
    for pk in Credential.objects.order_by("pk").values_list("pk", flat=True).iterator():
        with transaction.atomic():
            credential = Credential.objects.select_for_update().filter(pk=pk).first()
            if credential is None:
                continue  # deleted meanwhile
            if key_id_of(credential.ciphertext) == ring.current and not everything:
                current += 1
                continue
            ciphertext = encrypt(credential, decrypt(credential, ring=ring), ring=ring)
            Credential.objects.filter(pk=pk).update(ciphertext=ciphertext)
            rotated += 1
    from components.oauth2.secrets import oauth2_secrets_rotate  # refresh tokens and provider app secrets

    more = oauth2_secrets_rotate(ring=ring, everything=everything)
    return Rotation(rotated=rotated + more.rotated, already_current=current + more.already_current)


# --- Masking and substitution ----------------------------------------------------------------

# mask() and the walk it shares with render_secrets live in components/masking.py.


class CredentialInAuthority(CredentialError):
    """A credential was put into a URL's host name or its ``user:password@`` part; nothing was
    looked up or sent."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"credential {name} is in the URL's host name or user:password@ part: a host name goes to DNS "
            "servers in clear and both are shown in errors, so neither may carry a credential; send it in a "
            "header (auth: basic for user:password), the query or the path"
        )
        self.name = name


def refuse_credential_in_authority(url: str, secrets: Mapping[str, str]) -> None:
    """Raise ``CredentialInAuthority`` when one of ``secrets`` (by name) is in the authority of ``url``
    (``user:password@host:port``), in any case, as is or percent-encoded. Called on a rendered URL
    before any DNS lookup. Found by position, not by parsing: a value with ``/`` or ``@`` in it
    would move the parsed authority's end into itself."""
    scheme = url.find("//")
    if scheme < 0:
        return
    start = scheme + 2
    ends = [position for position in (url.find(char, start) for char in "/?#\\") if position >= 0]
    end = min(ends, default=len(url))
    lowered = url.lower()
    for name, secret in secrets.items():
        if not isinstance(secret, str) or len(secret) < MIN_MASKED_LENGTH:
            continue
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            found = lowered.find(form.lower(), start)
            if 0 <= found < end:
                raise CredentialInAuthority(name)


def render_secrets(
    value: Any, secrets: Mapping[str, str], *, used: set[str] | None = None, named: Container[str] | None = None
) -> Any:
    """``value`` with ``{{ secrets.NAME }}`` replaced by the credential, in strings nested in dicts and lists.

    Only secret references are touched; raises ``UnknownSecret`` naming the first unknown NAME, and
    ``UnnamedSecret`` for a NAME outside ``named`` (when given: what the component names, see
    :func:`secret_names`). The names substituted are added to ``used`` (for :func:`host_guard`).
    """

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in secrets:
            raise UnknownSecret(name)
        if named is not None and name not in named:
            raise UnnamedSecret(name)
        if used is not None:
            used.add(name)
        return secrets[name]

    return _map_strings(value, lambda text: SECRET_REFERENCE.sub(substitute, text) if "{{" in text else text)


CODE_SECRET_NAME = re.compile(r"\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)")


def secret_names(code: str, secret_inputs: Iterable[Any]) -> set[str]:
    """The credentials a code component may have substituted: those its code names (``secrets.NAME``
    anywhere in it) and those its ``secret`` inputs carry. A reference arriving any other way (decoded
    from an input, built from one, echoed by a server) is data, not the author's intent."""
    names = set(CODE_SECRET_NAME.findall(code))

    def walk(item: Any) -> None:
        if isinstance(item, str):
            names.update(SECRET_REFERENCE.findall(item))
        elif isinstance(item, list):
            for inner in item:
                walk(inner)

    for value in secret_inputs:
        walk(value)
    return names
