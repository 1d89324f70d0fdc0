"""A small but real OpenID Connect authorization server on loopback, for social-login tests.

It implements what allauth's generic ``openid_connect`` provider uses: discovery
(``/.well-known/openid-configuration``), the authorization code flow with PKCE (S256),
client authentication (``client_secret_post`` or ``client_secret_basic``), an RS256-signed
ID token whose key is published at ``/jwks``, and ``/userinfo``. ``/authorize`` approves at
once, as the configured ``identity``, so no login form stands between the test and the callback.

Every request is recorded in ``requests`` (method, path), and every token exchange in
``token_requests`` (the form it posted), so tests can check what the client really did.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CODE_LIFETIME_SECONDS = 60
TOKEN_LIFETIME_SECONDS = 300


@dataclass
class Grant:
    """What ``/authorize`` handed out, to be redeemed once at ``/token``."""

    client_id: str
    redirect_uri: str
    scope: str
    identity: dict[str, Any]
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    expires_at: float


@dataclass
class OIDCProvider:
    """The server's state; ``identity`` is who the next ``/authorize`` signs in as."""

    client_id: str = "synchronise-test"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    identity: dict[str, Any] = field(
        default_factory=lambda: {"sub": "1001", "email": "olivia@example.com", "email_verified": True}
    )
    url: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    _grants: dict[str, Grant] = field(default_factory=dict)
    _access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.kid = secrets.token_hex(8)
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    # --- documents --------------------------------------------------------------------

    def configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "email", "email_verified", "name"],
        }

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {
            **grant.identity,
            "iss": self.url,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "jti": secrets.token_hex(8),
        }
        if grant.nonce:
            claims["nonce"] = grant.nonce
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})

    # --- endpoints (each returns status, headers, body) -------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if query.get("client_id") != self.client_id:
            return HTTPStatus.BAD_REQUEST, {}, {"error": "unauthorized_client"}
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://127.0.0.1:", "http://localhost:")):
            return HTTPStatus.BAD_REQUEST, {}, {"error": "invalid_request", "error_description": "redirect_uri"}
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            return self._redirect_error(redirect_uri, query, "invalid_request")
        method = query.get("code_challenge_method")
        if query.get("code_challenge") and method != "S256":
            return self._redirect_error(redirect_uri, query, "invalid_request")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = Grant(
                client_id=self.client_id,
                redirect_uri=redirect_uri,
                scope=query["scope"],
                identity=dict(self.identity),
                code_challenge=query.get("code_challenge"),
                code_challenge_method=method,
                nonce=query.get("nonce"),
                expires_at=time.monotonic() + CODE_LIFETIME_SECONDS,
            )
        params = {"code": code}
        if "state" in query:
            params["state"] = query["state"]
        return HTTPStatus.FOUND, {"Location": f"{redirect_uri}?{urlencode(params)}"}, None

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, str], Any]:
        self.token_requests.append(dict(form))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if client_id != self.client_id or not secrets.compare_digest(client_secret or "", self.client_secret):
            return HTTPStatus.UNAUTHORIZED, {}, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return HTTPStatus.BAD_REQUEST, {}, {"error": "unsupported_grant_type"}
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)  # a code is good once
        if grant is None or grant.expires_at < time.monotonic() or grant.client_id != client_id:
            return HTTPStatus.BAD_REQUEST, {}, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return HTTPStatus.BAD_REQUEST, {}, {"error": "invalid_grant", "error_description": "redirect_uri"}
        if grant.code_challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode("ascii")).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.code_challenge:
                return HTTPStatus.BAD_REQUEST, {}, {"error": "invalid_grant", "error_description": "code_verifier"}
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._access_tokens[access_token] = grant.identity
        body = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "scope": grant.scope,
            "id_token": self.id_token(grant),
        }
        return HTTPStatus.OK, {"Cache-Control": "no-store"}, body

    def userinfo(self, authorization: str) -> tuple[int, dict[str, str], Any]:
        token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
        identity = self._access_tokens.get(token)
        if identity is None:
            return HTTPStatus.UNAUTHORIZED, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, {}
        return HTTPStatus.OK, {}, identity

    @staticmethod
    def _redirect_error(redirect_uri: str, query: dict[str, str], error: str) -> tuple[int, dict[str, str], Any]:
        params = {"error": error, **({"state": query["state"]} if "state" in query else {})}
        return HTTPStatus.FOUND, {"Location": f"{redirect_uri}?{urlencode(params)}"}, None


def _handler(provider: OIDCProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            provider.requests.append(("GET", url.path))
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            auth = self.headers.get("Authorization", "")
            if url.path == "/.well-known/openid-configuration":
                self._send(HTTPStatus.OK, {}, provider.configuration())
            elif url.path == "/jwks":
                self._send(HTTPStatus.OK, {}, provider.jwks())
            elif url.path == "/authorize":
                self._send(*provider.authorize(query))
            elif url.path == "/userinfo":
                self._send(*provider.userinfo(auth))
            else:
                self._send(HTTPStatus.NOT_FOUND, {}, {"error": "not_found"})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            provider.requests.append(("POST", url.path))
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if url.path == "/token":
                self._send(*provider.token(form, self.headers.get("Authorization", "")))
            elif url.path == "/userinfo":
                self._send(*provider.userinfo(self.headers.get("Authorization", "")))
            else:
                self._send(HTTPStatus.NOT_FOUND, {}, {"error": "not_found"})

        def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test's own assertions say what happened

    return Handler


@contextmanager
def oidc_provider(**options: Any) -> Iterator[OIDCProvider]:
    """Serve an ``OIDCProvider`` on a free loopback port for the duration of the block."""
    provider = OIDCProvider(**options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    server.daemon_threads = True
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="oidc-provider", daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
