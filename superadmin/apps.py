from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class SuperadminConfig(AppConfig):
    """The app that holds the admin classes, templates and tools of the superadmin."""

    name = "superadmin"
    default = True
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.apps import apps

        # allauth's app is called "Accounts" like ours: the superadmin showed two "Accounts"
        # sections. Its models are the sign-in addresses (and social logins), so say that.
        apps.get_app_config("account").verbose_name = "Sign-in addresses"
        apps.get_app_config("socialaccount").verbose_name = "Social sign-in"


class SuperadminSiteConfig(admin_apps.AdminConfig):
    """Installed in place of ``django.contrib.admin`` so ``admin.site`` is our site."""

    default = False
    default_site = "superadmin.sites.SuperadminSite"
