from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from accounts.roles import ensure_roles

        # The dashboard's chart panels, each app's `dashboard.py` (accounts/dashboard.py).
        autodiscover_modules("dashboard")

        # Permissions are created by post_migrate too; run after every app has migrated.
        post_migrate.connect(ensure_roles, dispatch_uid="accounts.ensure_roles")
