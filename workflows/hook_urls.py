"""``/hooks/<workflow_id>/<token>``: the webhook trigger (``workflows/webhooks.py``)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from workflows.webhooks import webhook

urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:workflow_id>/<str:token>", webhook, name="workflow_webhook"),
]
