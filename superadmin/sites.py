from __future__ import annotations

from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import HttpRequest, HttpResponse


class SuperadminSite(admin.AdminSite):
    site_header = "Synchronise superadmin"
    site_title = "Synchronise superadmin"
    index_title = "Platform administration"

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # Admin sign-in goes through allauth (its rate limits, social login, verification):
        # anonymous visitors are sent to the allauth login page, non-staff get a 403.
        return secure_admin_login(super().login)(request, extra_context)
