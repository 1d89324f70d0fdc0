"""How the OpenAPI schema describes our API-key authentication (imported by ``accounts.api.urls``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from accounts.authentication import PUBLIC_KEY_HEADER


class SecretKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.SecretKeyAuthentication"
    name = "secretKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sk_…",
            "description": (
                "A project's secret key: `Authorization: Bearer sk_…`. It acts as the member who created it, "
                "limited to its project, and stops working when revoked or when that member leaves."
            ),
        }


class PublishableKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.PublishableKeyAuthentication"
    name = "publishableKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": PUBLIC_KEY_HEADER,
            "description": (
                "A project's publishable key (`pk_…`): runs components and workflows only, from allowed origins."
            ),
        }
