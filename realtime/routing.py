"""WebSocket routes. The realtime consumer arrives with the realtime protocol."""

from __future__ import annotations

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
