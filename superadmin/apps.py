from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SuperadminConfig(AppConfig):
    """The app that holds the admin classes, templates and tools of the superadmin."""

    name = "superadmin"
    default = True
    default_auto_field = "django.db.models.BigAutoField"


class SuperadminSiteConfig(admin_apps.AdminConfig):
    """Installed in place of ``django.contrib.admin`` so ``admin.site`` is our site."""

    default = False
    default_site = "superadmin.sites.SuperadminSite"
