"""Which browser origins may open ``/ws/``.

Sockets authenticated by the session cookie only from our own hosts (otherwise any site could
open a socket carrying a visitor's cookie: cross-site WebSocket hijacking). Sockets that present
a publishable key (``?key=pk_…``) from any origin: the consumer checks the key's own allow-list
and ignores the session for them. Sockets that present a secret key in ``Authorization: Bearer``
(programs such as the CLI; a browser cannot set that header on a WebSocket) from anywhere: the
consumer authenticates the key and ignores the session for them too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.security.websocket import AllowedHostsOriginValidator


def bearer_token(scope: dict[str, Any]) -> str | None:
    """The token of an ``Authorization: Bearer …`` header of the handshake, or ``None``."""
    header = dict(scope.get("headers", [])).get(b"authorization", b"").decode(errors="replace").split()
    if len(header) == 2 and header[0].lower() == "bearer":
        return header[1]
    return None


class OriginPolicy:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.same_site = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if parse_qs(scope.get("query_string", b"").decode()).get("key") or bearer_token(scope) is not None:
            return await self.inner(scope, receive, send)
        return await self.same_site(scope, receive, send)
