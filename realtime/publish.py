"""Turns a published change into ``cloud.data_update`` messages (installed as the events sink).

Runs after commit in whatever process made the change — web, worker or admin — and goes
through the channel layer, so sockets on every server hear it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from realtime.hub import HUBS_GROUP
from realtime.models import RealtimeSubscription
from realtime.subscriptions import subscription_key

logger = logging.getLogger(__name__)


def build_params(wiring: RealtimeSubscription, filters: Mapping[str, Any]) -> dict[str, Any] | None:
    """The subscription's parameters for this change; ``None`` (and an error logged) if a filter is missing."""
    params: dict[str, Any] = {}
    for name, spec in wiring.params.items():
        if "value" in spec:
            params[name] = spec["value"]
        elif spec["filter"] in filters:
            params[name] = filters[spec["filter"]]
        else:
            logger.error(
                "realtime wiring %s: room %r published without filter %r for parameter %r",
                wiring.pk, wiring.room, spec["filter"], name,
            )  # fmt: skip
            return None
    return params


def updates_for(room: str, filters: Mapping[str, Any]) -> list[str]:
    """The subscription keys that a change to ``room`` with ``filters`` refreshes."""
    keys = []
    for wiring in RealtimeSubscription.objects.filter(room=room, enabled=True):
        params = build_params(wiring, filters)
        if params is not None:
            keys.append(subscription_key(wiring.function, params))
    return keys


def deliver(room: str, filters: Mapping[str, Any], recipients: list[int] | None) -> None:
    """One message per server process (each one's hub fans out to its own sockets)."""
    layer = get_channel_layer()
    keys = updates_for(room, filters)
    if layer is None or not keys:
        return
    async_to_sync(layer.group_send)(HUBS_GROUP, {"type": "rt.update", "keys": keys, "recipients": recipients})
