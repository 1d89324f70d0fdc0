"""WebSocket routes."""

from __future__ import annotations

from django.urls import path

from realtime.consumer import CloudConsumer

websocket_urlpatterns = [path("ws/", CloudConsumer.as_asgi())]
