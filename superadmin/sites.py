from __future__ import annotations

from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class SuperadminSite(admin.AdminSite):
    site_header = "Synchronise superadmin"
    site_title = "Synchronise superadmin"
    index_title = "Platform administration"

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # Admin sign-in goes through allauth (its rate limits, social login, verification):
        # anonymous visitors are sent to the allauth login page. A signed-in person who is not
        # staff gets a 403 that says what the superadmin is, instead of the generic "your
        # permission on this project" page (issue 15).
        user = request.user
        if user.is_authenticated and not (user.is_active and user.is_staff):
            return render(request, "superadmin/not_staff.html", {"title": "Staff only"}, status=403)
        return secure_admin_login(super().login)(request, extra_context)
