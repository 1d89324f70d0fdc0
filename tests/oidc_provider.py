"""A small but real OpenID Connect authorization server on loopback, for social-login tests.

It implements what allauth's generic ``openid_connect`` provider uses: discovery
(``/.well-known/openid-configuration``), the authorization code flow with PKCE (S256),
client authentication (``client_secret_post`` or ``client_secret_basic``), an RS256-signed
ID token whose key is published at ``/jwks``, and ``/userinfo``. ``/authorize`` approves at
once, as the configured ``identity``, so no login form stands between the test and the callback.

It is also a plain OAuth2 server for OAuth2 credentials: ``openid`` is optional (no ID token
without it), every code exchange hands out a refresh token (``issue_refresh_tokens``) good for the
``refresh_token`` grant (rotated on use with ``rotate_refresh_tokens``; a spent or revoked one is
``invalid_grant``), access tokens expire after ``token_lifetime`` seconds, ``revoke_refresh_tokens``
and ``expire_access_tokens`` let a test pull the rug, and ``/resource`` is a protected API answering
401 to a missing, unknown or expired bearer token. A JSON token request (Notion's shape) is taken too.

Every request is recorded in ``requests`` (method, path), every token request in ``token_requests``
(the form it posted; ``authorization`` holds its Authorization header, if any), and every call of
``/resource`` in ``resource_requests`` (the bearer token and the answer), so tests can check what
the client really did.
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
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

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
    token_lifetime: int = TOKEN_LIFETIME_SECONDS
    issue_refresh_tokens: bool = True
    rotate_refresh_tokens: bool = True
    token_delay: float = 0.0  # seconds the token endpoint takes (concurrency tests)
    # How the token endpoint answers: "standard" (RFC 6749), "github" (errors with 200, their own
    # codes, form-encoded success) or "slack" ({"ok": …}; a user token under "authed_user").
    answer_style: str = "standard"
    refuse_with_200: bool = False  # /resource refuses a token as Slack's Web API does (200, ok: false)
    requests: list[tuple[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    resource_requests: list[tuple[str, int]] = field(default_factory=list)
    _grants: dict[str, Grant] = field(default_factory=dict)
    _access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    _expiry: dict[str, float] = field(default_factory=dict)  # access token → time.monotonic() deadline
    _refresh_tokens: dict[str, Grant] = field(default_factory=dict)
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
        if not redirect_uri.startswith(("http://127.0.0.1:", "http://localhost:", "http://testserver/")):
            return HTTPStatus.BAD_REQUEST, {}, {"error": "invalid_request", "error_description": "redirect_uri"}
        if query.get("response_type") != "code":
            return self._redirect_error(redirect_uri, query, "invalid_request")
        method = query.get("code_challenge_method")
        if query.get("code_challenge") and method != "S256":
            return self._redirect_error(redirect_uri, query, "invalid_request")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = Grant(
                client_id=self.client_id,
                redirect_uri=redirect_uri,
                scope=query.get("scope", ""),
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
        status, headers, body = self._token(form, authorization)
        refresh = form.get("grant_type") == "refresh_token"
        if self.answer_style == "github":
            if status != HTTPStatus.OK:
                words = {"invalid_grant": "bad_refresh_token" if refresh else "bad_verification_code"}
                return HTTPStatus.OK, {}, {"error": words.get(body["error"], body["error"])}
            encoded = urlencode({k: v for k, v in body.items() if k != "id_token"})
            return HTTPStatus.OK, {**headers, "Content-Type": "application/x-www-form-urlencoded"}, encoded
        if self.answer_style == "slack":
            if status != HTTPStatus.OK:
                words = {"invalid_grant": "invalid_refresh_token" if refresh else "invalid_code"}
                return HTTPStatus.OK, {}, {"ok": False, "error": words.get(body["error"], body["error"])}
            if refresh:  # a rotated token is answered at the top, as Slack does
                return status, headers, {"ok": True, **body, "token_type": "user"}
            user = {"id": "U0001", **{k: v for k, v in body.items() if k != "id_token"}, "token_type": "user"}
            return status, headers, {"ok": True, "app_id": "A0001", "authed_user": user, "team": {"id": "T0001"}}
        return status, headers, body

    def _token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, str], Any]:
        self.token_requests.append({**form, **({"authorization": authorization} if authorization else {})})
        if self.token_delay:
            time.sleep(self.token_delay)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
            client_id, client_secret = unquote_plus(client_id), unquote_plus(client_secret)
        if client_id != self.client_id or not secrets.compare_digest(client_secret or "", self.client_secret):
            return HTTPStatus.UNAUTHORIZED, {}, {"error": "invalid_client"}
        if form.get("grant_type") == "refresh_token":
            return self._refresh(form)
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
        return HTTPStatus.OK, {"Cache-Control": "no-store"}, self._tokens(grant, new_refresh_token=True)

    def _tokens(self, grant: Grant, *, new_refresh_token: bool) -> dict[str, Any]:
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._access_tokens[access_token] = grant.identity
            self._expiry[access_token] = time.monotonic() + self.token_lifetime
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "scope": grant.scope,
        }
        if "openid" in grant.scope.split():
            body["id_token"] = self.id_token(grant)
        if self.issue_refresh_tokens and new_refresh_token:
            refresh_token = secrets.token_urlsafe(32)
            with self._lock:
                self._refresh_tokens[refresh_token] = grant
            body["refresh_token"] = refresh_token
        return body

    def _refresh(self, form: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        token = form.get("refresh_token", "")
        with self._lock:  # a rotated refresh token is good once
            grant = (
                self._refresh_tokens.pop(token, None) if self.rotate_refresh_tokens else self._refresh_tokens.get(token)
            )
        if grant is None:
            return HTTPStatus.BAD_REQUEST, {}, {"error": "invalid_grant", "error_description": "refresh token"}
        body = self._tokens(grant, new_refresh_token=self.rotate_refresh_tokens)
        return HTTPStatus.OK, {"Cache-Control": "no-store"}, body

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token handed out so far is refused from now on (``invalid_grant``)."""
        with self._lock:
            self._refresh_tokens.clear()

    def expire_access_tokens(self) -> None:
        """Every access token handed out so far is refused from now on (401), as after an early expiry."""
        with self._lock:
            for token in self._expiry:
                self._expiry[token] = 0.0

    def refresh_grants(self) -> list[dict[str, str]]:
        """The ``refresh_token`` grant requests received so far."""
        return [form for form in self.token_requests if form.get("grant_type") == "refresh_token"]

    def _valid(self, authorization: str) -> dict[str, Any] | None:
        token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
        with self._lock:
            if self._expiry.get(token, 0.0) <= time.monotonic():
                return None
            return self._access_tokens.get(token)

    def resource(self, authorization: str) -> tuple[int, dict[str, str], Any]:
        """A protected API: who the bearer token belongs to, or 401."""
        identity = self._valid(authorization)
        token = authorization.removeprefix("Bearer ")
        if identity is None:
            self.resource_requests.append((token, HTTPStatus.UNAUTHORIZED))
            if self.refuse_with_200:  # as Slack's Web API does: 200 and ok: false
                return HTTPStatus.OK, {}, {"ok": False, "error": "token_expired"}
            return HTTPStatus.UNAUTHORIZED, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, {"error": "invalid"}
        self.resource_requests.append((token, HTTPStatus.OK))
        return HTTPStatus.OK, {}, {"ok": True, "sub": identity.get("sub"), "email": identity.get("email")}

    def userinfo(self, authorization: str) -> tuple[int, dict[str, str], Any]:
        identity = self._valid(authorization)
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
            elif url.path == "/resource":
                self._send(*provider.resource(auth))
            else:
                self._send(HTTPStatus.NOT_FOUND, {}, {"error": "not_found"})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            provider.requests.append(("POST", url.path))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            if self.headers.get("Content-Type", "").startswith("application/json"):
                form = {k: str(v) for k, v in json.loads(raw or "{}").items()}
            else:
                form = {k: v[0] for k, v in parse_qs(raw).items()}
            if url.path == "/token":
                self._send(*provider.token(form, self.headers.get("Authorization", "")))
            elif url.path == "/userinfo":
                self._send(*provider.userinfo(self.headers.get("Authorization", "")))
            elif url.path == "/resource":
                self._send(*provider.resource(self.headers.get("Authorization", "")))
            else:
                self._send(HTTPStatus.NOT_FOUND, {}, {"error": "not_found"})

        def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
            text = isinstance(body, str)  # already encoded, with its Content-Type in headers
            payload = b"" if body is None else body.encode() if text else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if body is not None and not text:
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
