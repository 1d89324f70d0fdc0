"""The OAuth2 providers a credential can connect to, and the client (id and secret) of each.

Built-in providers are the :data:`PROVIDERS` registry: endpoints, default scopes, PKCE, refresh,
how the client authenticates and how the token endpoint answers. A custom provider is an
:class:`~components.oauth2.models.OAuth2App` row in superadmin with its own endpoints.

Client ids and secrets: ``OAUTH_<PROVIDER>_CLIENT_ID`` / ``_CLIENT_SECRET`` in the environment
(``settings.OAUTH2_CLIENTS``) **win** over an OAuth2 app row for the same built-in provider: what
the operator deployed is authoritative, and superadmin shows that the environment is in effect.
A built-in provider's endpoints can be replaced for tests only, through
``settings.OAUTH2_PROVIDER_ENDPOINTS`` (never read from the environment).
"""

# ruff: noqa: S105, S106  # "token_url" and "token_body" name endpoints and formats, not passwords
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from django.conf import settings

from components.oauth2.models import OAuth2App

ClientAuthMethod = Literal["basic", "post"]
# How a token endpoint answers: "standard" (RFC 6749), "github" (errors in a 200 answer, form-encoded
# unless asked for JSON), "slack" ({"ok": false, "error"}; the bot token at the top, the user's in
# "authed_user").
Answer = Literal["standard", "github", "slack"]


@dataclass(frozen=True)
class Provider:
    slug: str
    label: str
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...] = ()
    pkce: bool = True  # sends an S256 code challenge (never "plain")
    refresh: bool = True  # may hand out refresh tokens
    client_auth: ClientAuthMethod = "post"
    token_body: Literal["form", "json"] = "form"  # Notion's token endpoint takes JSON
    scope_separator: str = " "
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    answer: Answer = "standard"
    builtin: bool = True


def _microsoft(path: str) -> str:
    return f"https://login.microsoftonline.com/{settings.OAUTH_MICROSOFT_TENANT}/oauth2/v2.0/{path}"


def _builtins() -> dict[str, Provider]:
    return {
        provider.slug: provider
        for provider in (
            Provider(
                slug="github",
                label="GitHub",
                authorize_url="https://github.com/login/oauth/authorize",
                token_url="https://github.com/login/oauth/access_token",
                scopes=("repo",),
                answer="github",
            ),
            Provider(
                slug="google",
                label="Google",
                authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
                token_url="https://oauth2.googleapis.com/token",
                scopes=(
                    "https://www.googleapis.com/auth/spreadsheets",
                    "https://www.googleapis.com/auth/calendar.events",
                ),
                # A refresh token is only given with offline access, and again only when consent is asked.
                authorize_params={"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"},
            ),
            Provider(
                slug="slack",
                label="Slack",
                authorize_url="https://slack.com/oauth/v2/authorize",
                token_url="https://slack.com/api/oauth.v2.access",
                scopes=("chat:write", "channels:read"),
                pkce=False,
                scope_separator=",",
                answer="slack",
            ),
            Provider(
                slug="microsoft",
                label="Microsoft",
                authorize_url=_microsoft("authorize"),
                token_url=_microsoft("token"),
                scopes=("offline_access", "User.Read"),
            ),
            Provider(
                slug="gitlab",
                label="GitLab",
                authorize_url="https://gitlab.com/oauth/authorize",
                token_url="https://gitlab.com/oauth/token",
                scopes=("api",),
            ),
            Provider(
                slug="notion",
                label="Notion",
                authorize_url="https://api.notion.com/v1/oauth/authorize",
                token_url="https://api.notion.com/v1/oauth/token",
                pkce=False,
                client_auth="basic",
                token_body="json",
                authorize_params={"owner": "user"},
            ),
            Provider(
                slug="hubspot",
                label="HubSpot",
                authorize_url="https://app.hubspot.com/oauth/authorize",
                token_url="https://api.hubapi.com/oauth/v1/token",
                scopes=("crm.objects.contacts.read", "crm.objects.contacts.write", "oauth"),
                pkce=False,
            ),
        )
    }


BUILTIN_SLUGS = ("github", "google", "slack", "microsoft", "gitlab", "notion", "hubspot")


def builtin(slug: str) -> Provider | None:
    """The built-in provider ``slug`` with the test-only endpoint overrides applied, or ``None``."""
    provider = _builtins().get(slug)
    if provider is None:
        return None
    override = settings.OAUTH2_PROVIDER_ENDPOINTS.get(slug) or {}
    return dataclasses.replace(
        provider,
        authorize_url=override.get("authorize_url", provider.authorize_url),
        token_url=override.get("token_url", provider.token_url),
    )


@dataclass(frozen=True)
class Client:
    """A provider and the client registered with it; ``source`` is ``environment`` or ``superadmin``."""

    provider: Provider
    client_id: str
    client_secret: str = field(repr=False)
    source: Literal["environment", "superadmin"]


def _custom(app: OAuth2App) -> Provider | None:
    if not (app.authorize_url and app.token_url):
        return None
    return Provider(
        slug=app.slug,
        label=app.label or app.slug,
        authorize_url=app.authorize_url,
        token_url=app.token_url,
        scopes=tuple(app.scopes.split()),
        pkce=app.pkce,
        client_auth="basic" if app.client_auth == "basic" else "post",
        builtin=False,
    )


def _app_provider(app: OAuth2App) -> Provider | None:
    """The provider an OAuth2 app stands for (a built-in one, its default scopes replaced when the
    app lists some, or a custom one), or ``None`` when disabled or incomplete."""
    if not app.enabled or not app.client_id:
        return None
    provider = builtin(app.slug)
    if provider is None:
        return _custom(app)
    return dataclasses.replace(provider, scopes=tuple(app.scopes.split())) if app.scopes.split() else provider


def _from_app(app: OAuth2App) -> Client | None:
    from components.oauth2.secrets import app_secret

    provider = _app_provider(app)
    if provider is None:
        return None
    return Client(provider=provider, client_id=app.client_id, client_secret=app_secret(app), source="superadmin")


def client_for(slug: str) -> Client | None:
    """The client for provider ``slug``: the environment's if set, else an enabled OAuth2 app's;
    ``None`` when the provider is unknown or not configured."""
    provider = builtin(slug)
    configured = settings.OAUTH2_CLIENTS.get(slug)
    if provider is not None and configured:
        return Client(provider=provider, client_id=configured[0], client_secret=configured[1], source="environment")
    app = OAuth2App.objects.filter(slug=slug).first()
    return _from_app(app) if app is not None else None


def available() -> list[Provider]:
    """The providers people can connect to now: configured built-ins in registry order, then enabled
    custom apps (one query; no secret is decrypted)."""
    apps = {app.slug: app for app in OAuth2App.objects.all()}
    found: list[Provider] = []
    for slug in BUILTIN_SLUGS:
        provider = builtin(slug) if slug in settings.OAUTH2_CLIENTS else None
        provider = provider or (_app_provider(apps[slug]) if slug in apps else None)
        if provider is not None:
            found.append(provider)
    found.extend(p for slug, app in apps.items() if slug not in BUILTIN_SLUGS and (p := _app_provider(app)))
    return found
