"""Talking to the real consumer through Channels' WebsocketCommunicator, as a signed-in user."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.utils.module_loading import import_string

from synchronise.asgi import application


def session_cookie(user: Any) -> bytes:
    """A real session for ``user`` in the configured session store, as a Cookie header value."""
    store = import_string(settings.SESSION_ENGINE + ".SessionStore")()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}".encode()


class Socket:
    """One browser tab's socket."""

    def __init__(self, user: Any = None, *, query: str = "", origin: str = "http://localhost") -> None:
        self.user = user
        self.path = "/ws/" + (f"?{query}" if query else "")
        self.headers = [(b"origin", origin.encode()), (b"host", b"localhost")]
        self.pending: list[dict[str, Any]] = []

    async def connect(self) -> bool:
        if self.user is not None:
            self.headers.append((b"cookie", await sync_to_async(session_cookie)(self.user)))
        self.communicator = WebsocketCommunicator(application, self.path, headers=self.headers)
        connected, _ = await self.communicator.connect(timeout=5)
        return bool(connected)

    async def send(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = 5) -> dict[str, Any]:
        if self.pending:
            return self.pending.pop(0)
        return json.loads(await self.communicator.receive_from(timeout=timeout))

    async def run(
        self, function: str, params: dict[str, Any] | None = None, request_id: str = "1", **extra: Any
    ) -> dict[str, Any]:
        await self.send(
            {"type": "cloud.run", "function": function, "params": params or {}, "request_id": request_id, **extra}
        )
        while True:
            reply = json.loads(await self.communicator.receive_from(timeout=5))
            if reply.get("request_id") == request_id and reply.get("status") not in (100, 206):
                return reply
            self.pending.append(reply)  # other messages (updates, progress) wait for receive()

    async def nothing_within(self, seconds: float = 0.5) -> bool:
        return not self.pending and await self.communicator.receive_nothing(timeout=seconds)

    async def close(self) -> None:
        await self.communicator.disconnect()


async def settle(seconds: float = 0.1) -> None:
    await asyncio.sleep(seconds)
