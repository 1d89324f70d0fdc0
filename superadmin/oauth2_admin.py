"""OAuth2 provider apps in superadmin: client ids, write-only client secrets, custom providers.

Saving goes through ``components.oauth2.services.oauth2_app_set`` (the secret is sealed for the row);
a secret is never shown again. For a built-in provider whose ``OAUTH_<PROVIDER>_CLIENT_ID`` is set in
the environment, the environment wins and the list says so.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from components.models import OAuth2App
from components.oauth2.providers import BUILTIN_SLUGS
from components.oauth2.services import oauth2_app_set


class OAuth2AppForm(forms.ModelForm[OAuth2App]):
    authorize_url = forms.URLField(max_length=500, required=False, assume_scheme="https")
    token_url = forms.URLField(max_length=500, required=False, assume_scheme="https")
    client_secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        required=False,
        strip=False,
        help_text="Write-only: leave empty to keep the stored secret.",
    )

    class Meta:
        model = OAuth2App
        fields = (
            *("slug", "label", "client_id", "client_secret", "authorize_url", "token_url"),
            *("scopes", "pkce", "client_auth", "enabled"),
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        slug = cleaned.get("slug") or self.instance.slug or ""
        builtin = slug in BUILTIN_SLUGS
        if builtin and (cleaned.get("authorize_url") or cleaned.get("token_url")):
            self.add_error("authorize_url", f"{slug} is a built-in provider: its endpoints cannot be changed")
        if slug and not builtin and not (cleaned.get("authorize_url") and cleaned.get("token_url")):
            self.add_error("token_url", "a custom provider needs its authorize URL and its token URL")
        if self.instance.pk is None and not cleaned.get("client_secret"):
            self.add_error("client_secret", "a new app needs its client secret")
        return cleaned


@admin.register(OAuth2App)
class OAuth2AppAdmin(admin.ModelAdmin[OAuth2App]):
    form = OAuth2AppForm
    list_display = ("slug", "label", "client_id", "enabled", "in_effect")
    search_fields = ("slug", "label", "client_id")

    @admin.display(description="In effect")
    def in_effect(self, app: OAuth2App) -> str:
        if app.slug in settings.OAUTH2_CLIENTS:
            return f"no: OAUTH_{app.slug.upper()}_CLIENT_ID in the environment wins"
        return "yes" if app.enabled else "no: disabled"

    def get_readonly_fields(self, request: HttpRequest, obj: OAuth2App | None = None) -> tuple[str, ...]:
        return ("slug",) if obj is not None else ()  # a new slug is a new app

    def save_model(self, request: HttpRequest, obj: OAuth2App, form: forms.ModelForm[OAuth2App], change: bool) -> None:
        data = form.cleaned_data
        try:
            saved = oauth2_app_set(
                slug=data.get("slug") or obj.slug,
                client_id=data["client_id"],
                client_secret=data.get("client_secret") or None,
                label=data.get("label") or "",
                authorize_url=data.get("authorize_url") or "",
                token_url=data.get("token_url") or "",
                scopes=data.get("scopes") or "",
                pkce=bool(data.get("pkce")),
                client_auth=data.get("client_auth") or "basic",
                enabled=bool(data.get("enabled")),
            )
        except ValidationError as error:  # the form checked the same rules; a race is all that is left
            raise ValueError("; ".join(error.messages)) from None
        obj.pk = saved.pk
