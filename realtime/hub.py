"""One hub per server process: the local half of the realtime fan-out.

A change is published once to the ``rt.hubs`` group of the channel layer, so each server
process receives **one** message per change whatever the number of its sockets; its hub
then finds the local sockets subscribed to the changed calls and tells each directly. This
replaces a channel-layer group per subscription (a Redis round trip per subscribe, and one
queued message per socket per change), which is what made fan-out to thousands of sockets
take seconds (docs/realtime.md).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Collection
from typing import Any, Protocol

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

HUBS_GROUP = "rt.hubs"
# channels-redis forgets group members after `group_expiry` (a day by default): re-join well before.
REJOIN_SECONDS = 3600


class Subscriber(Protocol):
    async def deliver_update(self, key: str, recipients: Collection[int] | None) -> None: ...


class Hub:
    def __init__(self) -> None:
        self.subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self.channel = ""
        self.ready: asyncio.Event | None = None

    async def ensure_started(self) -> None:
        """Start listening in the running loop (once per loop; tests run several loops)."""
        loop = asyncio.get_running_loop()
        if self.loop is loop and self.task is not None and not self.task.done():
            assert self.ready is not None
            await self.ready.wait()
            return
        self.loop = loop
        self.subscribers.clear()  # subscribers of a finished loop are gone with it
        self.channel = f"rt.hub.{uuid.uuid4().hex}"
        self.ready = asyncio.Event()
        self.task = loop.create_task(self._listen())
        await self.ready.wait()

    async def _listen(self) -> None:
        layer = get_channel_layer()
        assert self.ready is not None
        if layer is None:
            self.ready.set()
            return
        await layer.group_add(HUBS_GROUP, self.channel)
        rejoin = asyncio.get_running_loop().create_task(self._rejoin(layer))
        self.ready.set()
        try:
            while True:
                try:
                    message = await layer.receive(self.channel)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("realtime hub: receiving failed; retrying")
                    await asyncio.sleep(1)
                    continue
                await self.dispatch(message)
        finally:
            rejoin.cancel()

    async def _rejoin(self, layer: Any) -> None:
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            try:
                await layer.group_add(HUBS_GROUP, self.channel)
            except Exception:
                logger.exception("realtime hub: re-joining %s failed", HUBS_GROUP)

    async def dispatch(self, message: dict[str, Any]) -> None:
        recipients = message.get("recipients")
        if recipients is not None:
            # Every local subscriber checks its user against this: a set, once per change.
            recipients = frozenset(recipients)
        for key in message.get("keys", ()):
            for subscriber in list(self.subscribers.get(key, ())):
                try:
                    await subscriber.deliver_update(key, recipients)
                except Exception:
                    logger.exception("realtime hub: delivering to a socket failed")

    def subscribe(self, subscriber: Subscriber, key: str) -> None:
        self.subscribers[key].add(subscriber)

    def unsubscribe(self, subscriber: Subscriber, key: str) -> None:
        local = self.subscribers.get(key)
        if local is not None:
            local.discard(subscriber)
            if not local:
                del self.subscribers[key]

    def subscriber_count(self, key: str) -> int:
        return len(self.subscribers.get(key, ()))


hub = Hub()
