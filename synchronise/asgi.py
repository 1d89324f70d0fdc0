"""ASGI entry point: HTTP through Django (webhooks around its middleware), WebSockets through Channels."""

from __future__ import annotations

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synchronise.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - needs Django set up first
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.cache import caches  # noqa: E402

from realtime.origin import OriginPolicy  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402
from workflows.webhook_asgi import WebhookFastPath  # noqa: E402

# Django keeps cache clients per async context, and every WebSocket reads its session through
# the cache (with REDIS_URL): without this, each open socket keeps a client of its own (a dozen
# objects, several KB) for as long as it lives. Created here, in the server's root context, the
# one client is inherited by every connection's context and shared (it is thread-safe).
caches["default"]

application = ProtocolTypeRouter(
    {
        "http": WebhookFastPath(django_asgi_app),  # /hooks/… around the middleware (see there)
        "websocket": OriginPolicy(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)


# The garbage collector, tuned for thousands of long-lived sockets (measured in bench/realtime.py).
# What exists now (Django, the URLconf, every import) never becomes garbage: frozen, it leaves
# every later collection's walk. Full collections walk every socket's objects (0.3-1 s with
# 5,000 sockets in one process, stalling every delivery meanwhile); at the default thresholds they
# came with every quarter of the sockets renewed (page loads) and during every ramp of
# connections. With these, the young generations still collect garbage cycles, after 50,000 new
# objects instead of 700, and a full collection is considered ~140 times less often.
gc.collect()
gc.freeze()
gc.set_threshold(50_000, 20, 10)
