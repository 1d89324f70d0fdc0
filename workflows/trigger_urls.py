"""``/api/v1/workflows/<id>/webhook`` and ``/schedule``: trigger settings (``workflows/trigger_api.py``)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from workflows.trigger_api import ScheduleView, WebhookRotateView, WebhookView

urlpatterns: list[URLPattern | URLResolver] = [
    path("workflows/<int:pk>/webhook", WebhookView.as_view(), name="workflow_webhook_settings"),
    path("workflows/<int:pk>/webhook/rotate", WebhookRotateView.as_view(), name="workflow_webhook_rotate"),
    path("workflows/<int:pk>/schedule", ScheduleView.as_view(), name="workflow_schedule"),
]
