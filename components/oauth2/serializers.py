"""What the API says about an OAuth2 credential: provider, scopes, status and dates, never a token."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from components.oauth2.models import ConnectionStatus, OAuth2Connection


class OAuth2StatusSerializer(serializers.Serializer[Any]):
    provider = serializers.CharField(read_only=True)
    scopes = serializers.ListField(child=serializers.CharField(), read_only=True)
    status = serializers.ChoiceField(
        choices=ConnectionStatus.choices,
        read_only=True,
        help_text="connected; expired (the access token ran out and there is no refresh token); "
        "revoked (the provider refused the refresh token). Expired and revoked: reconnect.",
    )
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    has_refresh_token = serializers.BooleanField(read_only=True)
    connected_at = serializers.DateTimeField(read_only=True)
    refreshed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_reason = serializers.CharField(read_only=True)

    def to_representation(self, instance: OAuth2Connection) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["status"] = str(instance.status())
        return data


def oauth2_status(credential: Any) -> dict[str, Any] | None:
    """The ``oauth2`` field of a credential in the API (``None`` for a plain secret)."""
    connection = getattr(credential, "oauth2", None) if getattr(credential, "kind", "") == "oauth2" else None
    return OAuth2StatusSerializer(connection).data if connection is not None else None
