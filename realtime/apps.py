from __future__ import annotations

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate
        from django.utils.module_loading import autodiscover_modules

        from realtime.publish import deliver
        from realtime.wiring import wiring_seed_defaults
        from synchronise.lib.events import install_sink

        install_sink(deliver)
        post_migrate.connect(wiring_seed_defaults, sender=self, dispatch_uid="realtime.wiring_seed_defaults")
        # Each app registers its cloud functions in its own `cloud.py` (like `admin.py`).
        autodiscover_modules("cloud")
