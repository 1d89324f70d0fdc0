"""The WebSocket face of cloud functions (DESIGN.md §4), at ``/ws/``.

Authenticated by the session, or by a publishable key in the query string (``?key=pk_…``;
browsers cannot set headers on a WebSocket) for the public client, or by a secret key in an
``Authorization: Bearer sk_…`` header for programs such as the CLI. Bad input — too large,
not JSON, unknown type, too many messages — gets an error reply; the socket stays open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Collection
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import async_to_sync
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from accounts import services as account_services
from accounts.models import ApiKey, ApiKeyKind
from realtime import calls
from realtime.hub import hub
from realtime.origin import bearer_token
from realtime.registry import Call, CloudError
from realtime.subscriptions import subscription_key
from synchronise.lib import jsonlimits

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = getattr(settings, "REALTIME_MAX_MESSAGE_BYTES", 64 * 1024)
MAX_REQUEST_ID_LENGTH = 100
MAX_SUBSCRIPTIONS = 500


class TokenBucket:
    """``rate`` messages per second on average, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class CloudConsumer(AsyncWebsocketConsumer):
    user_id: int | None = None  # the signed-in user's id, read once at connect

    # --- the ASGI loop ------------------------------------------------------------------------
    #
    # Channels' generic loop gives every socket a channel of its own on the channel layer (a
    # receive loop: tasks and a queue per socket) and closes stale database connections on a
    # thread before every handler. This consumer needs neither: updates come from this process's
    # hub (realtime/hub.py), not through a channel per socket, and every database access below
    # goes through `database_sync_to_async`, which closes stale connections around each call
    # (the disconnect handler still does too). Measured in bench/realtime.py.

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        # Updates (one frame per socket per change) skip Channels' session wrapper around `send`:
        # it only ever acts on HTTP responses (saving the session, setting its cookie), yet reads
        # the lazy session twice per WebSocket frame. Any other wrapper, or none, is kept.
        self.frame_send = getattr(getattr(send, "__self__", None), "real_send", send)
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.api_key: ApiKey | None = None
        self.by_request: dict[str, str] = {}  # request_id → subscription key
        self.by_key: dict[str, set[str]] = {}  # subscription key → request_ids on this socket
        self.tasks: set[asyncio.Task[None]] = set()
        self.bucket = TokenBucket(
            rate=getattr(settings, "REALTIME_MESSAGES_PER_SECOND", 20),
            burst=getattr(settings, "REALTIME_MESSAGE_BURST", 60),
        )
        raw_key = parse_qs(self.scope.get("query_string", b"").decode()).get("key", [""])[0]
        bearer = bearer_token(self.scope)
        if bearer is not None:
            # A secret key, as the REST API takes it (the CLI follows executions this way). Browsers
            # cannot set this header on a WebSocket, so no other site can ride on it; the socket
            # acts as the key's creator within the key's project, as a request with the key does.
            self.user, self.api_key = await database_sync_to_async(self._secret_key)(bearer)
            if self.api_key is None:
                await self.close(code=4401)
                return
        elif raw_key:
            # A key socket may come from any site (see realtime/origin.py): never trust its cookies.
            self.user = AnonymousUser()
            self.api_key = await database_sync_to_async(self._publishable_key)(raw_key)
            if self.api_key is None:
                await self.close(code=4403)
                return
        self.user_id = getattr(self.user, "pk", None)
        # Anonymous sockets are accepted: they may call public functions and get 401 otherwise.
        await hub.ensure_started()
        await self.accept()

    def _secret_key(self, raw: str) -> tuple[Any, ApiKey | None]:
        key = account_services.api_key_authenticate(raw=raw, kind=ApiKeyKind.SECRET)
        user = key.created_by if key is not None else None
        if key is None or user is None or not user.is_active or not key.project.memberships.filter(user=user).exists():
            return AnonymousUser(), None
        return user, key

    def _publishable_key(self, raw: str) -> ApiKey | None:
        key = account_services.api_key_authenticate(raw=raw, kind=ApiKeyKind.PUBLISHABLE)
        headers = dict(self.scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode() or None
        return key if key is not None and key.allows_origin(origin) else None

    async def disconnect(self, code: int) -> None:
        for task in getattr(self, "tasks", ()):
            task.cancel()
        for key in list(getattr(self, "by_key", {})):
            hub.unsubscribe(self, key)
        self.by_key, self.by_request = {}, {}

    # --- incoming ---------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send_error(None, 400, "bad_message", "send JSON text frames")
            return
        if len(text_data.encode()) > MAX_MESSAGE_BYTES:
            await self.send_error(None, 413, "message_too_large", f"messages are limited to {MAX_MESSAGE_BYTES} bytes")
            return
        if not self.bucket.take():
            await self.send_error(None, 429, "rate_limited", "too many messages; slow down")
            return
        try:
            message = jsonlimits.loads(text_data, where="the message")
        except jsonlimits.TooDeep as error:
            await self.send_error(None, 400, "bad_message", str(error))
            return
        except ValueError:
            await self.send_error(None, 400, "bad_message", "not valid JSON")
            return
        if not isinstance(message, dict):
            await self.send_error(None, 400, "bad_message", "a message is a JSON object")
            return
        kind = message.get("type")
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "cloud.run":
            await self.on_run(message)
        elif kind == "cloud.unsubscribe":
            await self.on_unsubscribe(message)
        else:
            await self.send_error(message.get("request_id"), 400, "bad_message", f"unknown message type {kind!r}")

    async def on_run(self, message: dict[str, Any]) -> None:
        request_id = message.get("request_id")
        if not isinstance(request_id, (str, int)) or len(str(request_id)) > MAX_REQUEST_ID_LENGTH:
            await self.send_error(None, 400, "bad_message", "request_id must be a string or number")
            return
        request_id = str(request_id)
        function = message.get("function")
        params = message.get("params") or {}
        if not isinstance(function, str) or not isinstance(params, dict):
            await self.send_error(request_id, 400, "bad_message", "function must be a name and params an object")
            return
        # The original client put `realtime` inside params; accept both places.
        realtime = message.get("realtime", params.pop("realtime", False))
        skip_execution = bool(message.get("skip_execution", params.pop("skip_execution", False)))
        if realtime:
            ignore = realtime.get("ignore", []) if isinstance(realtime, dict) else []
            if not isinstance(ignore, list) or not all(isinstance(i, str) for i in ignore):
                await self.send_error(request_id, 400, "bad_message", "realtime.ignore must be a list of names")
                return
            if len(self.by_request) >= MAX_SUBSCRIPTIONS and request_id not in self.by_request:
                await self.send_error(request_id, 429, "too_many_subscriptions", "unsubscribe first")
                return
            await self.subscribe(request_id, subscription_key(function, params, ignore))
        if skip_execution:
            await self.send_json({"type": "cloud.result", "request_id": request_id, "status": 204, "data": None})
            return
        task = asyncio.create_task(self.execute(request_id, function, params))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def execute(self, request_id: str, function: str, params: dict[str, Any]) -> None:
        started = time.perf_counter()

        def stream(payload: dict[str, Any]) -> None:
            async_to_sync(self.send_json)({"type": "cloud.result", "request_id": request_id, **payload})

        call = Call(user=self.user, api_key=self.api_key, progress_sink=stream)
        try:
            result = await database_sync_to_async(calls.run)(function, params, call)
        except CloudError as error:
            await self.send_error(request_id, error.status, error.code, error.message, **error.extra)
            return
        except Exception:
            logger.exception("cloud function %s failed", function)
            await self.send_error(request_id, 500, "server_error", "the function failed")
            return
        await self.send_json(
            {
                "type": "cloud.result",
                "request_id": request_id,
                "status": result.status,
                "data": result.data,
                "execution_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        )

    async def on_unsubscribe(self, message: dict[str, Any]) -> None:
        request_id = str(message.get("request_id", ""))
        key = self.by_request.pop(request_id, None)
        if key is None:
            return
        ids = self.by_key.get(key, set())
        ids.discard(request_id)
        if not ids:
            self.by_key.pop(key, None)
            hub.unsubscribe(self, key)

    async def subscribe(self, request_id: str, key: str) -> None:
        previous = self.by_request.get(request_id)
        if previous == key:
            return
        if previous is not None:
            await self.on_unsubscribe({"request_id": request_id})
        self.by_request[request_id] = key
        if key not in self.by_key:
            self.by_key[key] = set()
            hub.subscribe(self, key)
        self.by_key[key].add(request_id)

    # --- updates, from this process's hub -----------------------------------------------------

    async def deliver_update(self, key: str, recipients: Collection[int] | None) -> None:
        """Tell the page to call again: only the recipients' sockets, once per subscribed request."""
        if recipients is not None and (self.user_id is None or self.user_id not in recipients):
            return
        for request_id in sorted(self.by_key.get(key, ())):
            # What send_json would send, without building an encoder per message: this runs once
            # per socket per change.
            text = f'{{"type":"cloud.data_update","request_id":{json.dumps(request_id)}}}'
            await self.frame_send({"type": "websocket.send", "text": text})

    # --- outgoing ---------------------------------------------------------------------------

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, default=str, separators=(",", ":")))

    async def send_error(self, request_id: str | None, status: int, code: str, message: str, **extra: Any) -> None:
        await self.send_json(
            {
                "type": "cloud.result",
                "request_id": request_id,
                "status": status,
                "code": code,
                "message": message,
                **extra,
            }
        )
