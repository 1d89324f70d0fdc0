"""OAuth2 connections of credentials and the provider apps superadmin configures.

Imported by ``components.models`` so they belong to the ``components`` app. A credential of kind
``oauth2`` keeps its current access token in ``Credential.ciphertext`` (sealed exactly like any
credential value); the rest of the connection is an :class:`OAuth2Connection` row.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone


class ConnectionStatus(models.TextChoices):
    CONNECTED = "connected", "Connected"
    EXPIRED = "expired", "Expired"  # the access token expired and there is no refresh token
    REVOKED = "revoked", "Revoked"  # the provider refused the refresh token: reconnect


class OAuth2Connection(models.Model):
    """The OAuth2 side of a credential: provider, scopes, the sealed refresh token, expiry, status."""

    credential = models.OneToOneField("components.Credential", on_delete=models.CASCADE, related_name="oauth2")
    provider = models.CharField(max_length=64, help_text="A slug of components/oauth2/providers.py or an OAuth2 app.")
    scopes = models.JSONField(default=list, blank=True)
    refresh_ciphertext = models.TextField(
        blank=True, help_text="The refresh token, sealed for this credential's row and the field 'refresh_token'."
    )
    token_type = models.CharField(max_length=32, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="When the access token expires; empty: never.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=300, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    connected_at = models.DateTimeField(default=timezone.now)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.credential_id} via {self.provider}"

    @property
    def has_refresh_token(self) -> bool:
        return bool(self.refresh_ciphertext)

    def status(self, now: datetime.datetime | None = None) -> ConnectionStatus:
        """``revoked`` once the provider refused the refresh token; ``expired`` when the access token
        ran out and nothing can renew it; ``connected`` otherwise (a refresh may still be due)."""
        if self.revoked_at is not None:
            return ConnectionStatus.REVOKED
        now = now or timezone.now()
        if self.expires_at is not None and self.expires_at <= now and not self.refresh_ciphertext:
            return ConnectionStatus.EXPIRED
        return ConnectionStatus.CONNECTED


class ClientAuth(models.TextChoices):
    BASIC = "basic", "HTTP Basic (client_secret_basic)"
    POST = "post", "In the form body (client_secret_post)"


class OAuth2App(models.Model):
    """A provider app registered by the operator: client id and sealed secret for a built-in provider
    (``github``, ``google``…), or a custom OAuth2 provider with its own endpoints.

    Environment variables (``OAUTH_<PROVIDER>_CLIENT_ID`` / ``_CLIENT_SECRET``) win over a row for the
    same built-in provider (docs/oauth2.md)."""

    slug = models.SlugField(
        max_length=64, unique=True, help_text="github, google, … or a new slug for a custom provider."
    )
    label = models.CharField(max_length=100, blank=True, help_text="Shown on the Connect button; custom providers.")
    client_id = models.CharField(max_length=500)
    client_secret_ciphertext = models.TextField(blank=True, editable=False)
    authorize_url = models.URLField(max_length=500, blank=True, help_text="Custom providers only.")
    token_url = models.URLField(max_length=500, blank=True, help_text="Custom providers only.")
    scopes = models.CharField(max_length=1000, blank=True, help_text="Default scopes, separated by spaces.")
    pkce = models.BooleanField(default=True, help_text="Custom providers: send a PKCE (S256) challenge.")
    client_auth = models.CharField(max_length=8, choices=ClientAuth.choices, default=ClientAuth.BASIC)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("slug",)
        verbose_name = "OAuth2 provider app"

    def __str__(self) -> str:
        return self.label or self.slug
