from __future__ import annotations

from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the finder components.usage asks before a component is deleted.
        from workflows import component_uses  # noqa: F401
