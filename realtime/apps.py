from __future__ import annotations

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from realtime.publish import deliver
        from synchronise.lib.events import install_sink

        install_sink(deliver)
        # Each app registers its cloud functions in its own `cloud.py` (like `admin.py`).
        autodiscover_modules("cloud")
