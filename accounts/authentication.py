"""DRF authentication by API key.

* ``Authorization: Bearer sk_…`` — a secret key. It acts as the member who created it,
  limited to the key's project (``request.auth`` is the key); if that person has left the
  project, the key stops working.
* ``x-synchronise-public-key: pk_…`` — a publishable key, accepted only by views that set
  ``allows_publishable_key = True`` (the run endpoints), and only from allowed origins.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts import services
from accounts.models import ApiKey, ApiKeyKind, Membership

PUBLIC_KEY_HEADER = "x-synchronise-public-key"


class SecretKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <secret key>'.")
        key = services.api_key_authenticate(raw=header[1], kind=ApiKeyKind.SECRET)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        user = key.created_by
        if user is None or not user.is_active or not Membership.objects.filter(project=key.project, user=user).exists():
            raise exceptions.AuthenticationFailed("The member who created this key no longer has access.")
        return user, key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class PublishableKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        raw = request.headers.get(PUBLIC_KEY_HEADER)
        if not raw:
            return None
        view = request.parser_context.get("view") if request.parser_context else None
        if not getattr(view, "allows_publishable_key", False):
            raise exceptions.PermissionDenied("A publishable key may only run components and workflows.")
        key = services.api_key_authenticate(raw=raw.strip(), kind=ApiKeyKind.PUBLISHABLE)
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked publishable key.")
        if not key.allows_origin(request.headers.get("Origin")):
            raise exceptions.PermissionDenied("This origin is not allowed to use this publishable key.")
        return AnonymousUser(), key

    def authenticate_header(self, request: Request) -> str:
        # Without a challenge DRF would turn a refused key's 401 into a 403 when this class comes first.
        return f'PublicKey header="{PUBLIC_KEY_HEADER}"'


def request_api_key(request: Request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None
