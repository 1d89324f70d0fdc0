"""The one HTTP client for requests made on a user's behalf, behind an SSRF guard.

Every outbound request that a user can aim (``http`` components, ``ctx.http`` from sandboxed
code, webhooks, connectors) goes through :func:`request`. The policy (docs/credentials-and-http.md):

- ``http`` and ``https`` only, to a host name or an IP literal;
- the host is resolved **once**, and **every** address it resolves to must be public (IPv4-mapped
  IPv6 is unwrapped; the ranges in ``BLOCKED_NETWORKS`` are refused even where Python calls them
  global, such as 6to4 ``2002::/16``, which can embed ``127.0.0.1``);
- the connection goes to one of those checked addresses, never to a second lookup's answer; TLS is
  still verified against the host name of the URL (SNI and certificate);
- redirects are followed by hand, each hop checked like the first, at most
  ``OUTBOUND_MAX_REDIRECTS``; credentials-bearing headers do not follow a redirect to another origin;
- proxy environment variables and ``.netrc`` are ignored;
- the response body is streamed and abandoned past ``max_bytes`` (decoded size, so a compressed
  bomb stops too); the whole request, redirects included, ends by ``timeout`` seconds.

``OUTBOUND_ALLOW`` (``host:port`` pairs) exempts exactly those destinations from the address
check, as written in the URL: ``127.0.0.1:8080`` does not let ``localhost:8080``,
``2130706433:8080`` or ``127.0.0.1:8081`` through.

The transport technique (pin the checked address into urllib3's pool key, keep ``Host``, SNI and
certificate checks on the original name) is the one of ``requests-hardened`` (Saleor); its
adapter checks only the first resolved address and can exempt only *all* loopback addresses,
so we keep our own adapter and reuse its maintained list of extra blocked ranges.
"""

from __future__ import annotations

import ipaddress
import json as jsonlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests_hardened.ip_filter import EXTRA_BLOCKED_NET_RANGES

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Not global, or global in name only: each can reach this machine, its network or a translator to it.
BLOCKED_NETWORKS: tuple[IPNetwork, ...] = (
    *(
        ipaddress.ip_network(cidr)
        for cidr in (
            "0.0.0.0/8",  # "this network"; 0.0.0.0 connects to the local host on Linux
            "100.64.0.0/10",  # carrier-grade NAT, often internal workloads
            "192.0.0.0/24",  # IETF protocol assignments
            "198.18.0.0/15",  # benchmarking
            "224.0.0.0/4",  # multicast
            "::/96",  # IPv4-compatible IPv6 (deprecated; ::127.0.0.1)
            "64:ff9b::/96",  # NAT64
            "64:ff9b:1::/48",  # local-use NAT64
            "2001::/32",  # Teredo, embeds an IPv4 address
            "2002::/16",  # 6to4, embeds an IPv4 address (Python 3.11 calls it global)
            "fc00::/7",  # unique local
            "fe80::/10",  # link-local
            "ff00::/8",  # multicast
        )
    ),
    *EXTRA_BLOCKED_NET_RANGES,
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers that may follow a redirect to another origin; anything else may carry a credential.
CROSS_ORIGIN_HEADERS = frozenset({"accept", "accept-encoding", "accept-language", "user-agent", "idempotency-key"})
CHUNK = 64 * 1024


class OutboundError(Exception):
    """The request could not be completed; ``reason`` is safe to show to the user who made it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutboundBlocked(OutboundError):
    """The destination is not allowed (scheme, private or reserved address, malformed URL)."""


class OutboundTooLarge(OutboundError):
    """The response body passed ``max_bytes`` (``limit``)."""

    def __init__(self, reason: str, *, limit: int) -> None:
        super().__init__(reason)
        self.limit = limit


class OutboundTimeout(OutboundError):
    """Resolving, connecting or the whole exchange took longer than allowed."""


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    reason: str
    headers: CaseInsensitiveDict[str]
    content: bytes
    url: str  # the final URL, after redirects
    elapsed_ms: float = 0.0
    redirects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def encoding(self) -> str:
        content_type = self.headers.get("content-type", "")
        for part in content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip("\"'")
        return "utf-8"

    @property
    def text(self) -> str:
        try:
            return self.content.decode(self.encoding, errors="replace")
        except LookupError:  # an unknown charset name
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return jsonlib.loads(self.text)


@dataclass(frozen=True)
class Destination:
    """A checked destination: the host as the URL names it and the addresses to connect to."""

    scheme: str
    host: str  # lower-case, without brackets: what requests puts in urllib3's pool key
    port: int
    addresses: tuple[str, ...]
    exempt: bool = False


def address_is_public(address: IPAddress) -> bool:
    """Whether connecting to ``address`` can only reach the public internet."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        return False
    return not any(address in network for network in BLOCKED_NETWORKS if network.version == address.version)


def _canonical_host(host: str) -> str:
    host = host.strip().strip("[]").lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


_allow_cache: dict[tuple[str, ...], frozenset[tuple[str, int]]] = {}


def _allowed_destinations() -> frozenset[tuple[str, int]]:
    entries = tuple(getattr(settings, "OUTBOUND_ALLOW", ()) or ())
    parsed = _allow_cache.get(entries)
    if parsed is None:
        pairs = set()
        for entry in entries:
            host, sep, port = entry.strip().rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ImproperlyConfigured(f"OUTBOUND_ALLOW entries are host:port, got {entry!r}")
            pairs.add((_canonical_host(host), int(port)))
        parsed = _allow_cache[entries] = frozenset(pairs)
    return parsed


_resolvers: dict[int, ThreadPoolExecutor] = {}
_resolvers_lock = threading.Lock()


def _resolver() -> ThreadPoolExecutor:
    # getaddrinfo has no timeout of its own; a pool per process, since threads do not survive a fork
    # (Celery's prefork workers import this module before forking).
    pid = os.getpid()
    with _resolvers_lock:
        executor = _resolvers.get(pid)
        if executor is None:
            executor = _resolvers[pid] = ThreadPoolExecutor(max_workers=8, thread_name_prefix="outbound-dns")
        return executor


def _resolve(host: str, port: int, timeout: float) -> tuple[str, ...]:
    future = _resolver().submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeout:
        raise OutboundTimeout(f"resolving {host} took longer than {timeout:g} s") from None
    except (socket.gaierror, UnicodeError):
        raise OutboundError(f"{host} could not be resolved") from None
    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in addresses:
            addresses.append(str(sockaddr[0]))
    if not addresses:
        raise OutboundError(f"{host} could not be resolved")
    return tuple(addresses)


def check_url(url: str, *, timeout: float | None = None) -> Destination:
    """Resolve ``url``'s host once and check every address; returns where to connect.

    Raises ``OutboundBlocked`` for another scheme, a malformed URL or a non-public address,
    ``OutboundError`` when the host does not resolve, ``OutboundTimeout`` when resolving is too slow.
    Sends nothing.
    """
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError as error:
        raise OutboundBlocked(f"malformed URL: {error}") from None
    if scheme not in ("http", "https"):
        raise OutboundBlocked("only http and https URLs may be requested")
    if not host:
        raise OutboundBlocked("the URL has no host")
    port = port or (443 if scheme == "https" else 80)
    exempt = (_canonical_host(host), port) in _allowed_destinations()
    if timeout is None:
        timeout = float(getattr(settings, "OUTBOUND_CONNECT_TIMEOUT", 5))
    addresses = _resolve(host, port, timeout)
    if not exempt:
        for address in addresses:
            if not address_is_public(ipaddress.ip_address(address.split("%", 1)[0])):
                # The user learns that the name is refused, not which internal address it has.
                logger.warning("outbound request to %s:%s refused: it resolves to %s", host, port, address)
                what = "is" if _canonical_host(host) == address else "resolves to"
                raise OutboundBlocked(f"{host} {what} a private, loopback or reserved address")
    return Destination(scheme=scheme, host=host, port=port, addresses=addresses, exempt=exempt)


class _PinnedAdapter(HTTPAdapter):
    """Connects to one checked address for one checked destination, whatever DNS says meanwhile."""

    def __init__(self, destination: Destination, address: str) -> None:
        super().__init__(max_retries=0)
        self.destination = destination
        self.address = address

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        destination = self.destination
        port = host_params["port"] or (443 if host_params["scheme"] == "https" else 80)
        wanted = (destination.scheme, destination.host, destination.port)
        if (host_params["scheme"], host_params["host"], port) != wanted:
            # Only reachable if requests and our check parsed the URL differently: refuse, do not guess.
            raise OutboundBlocked("the request does not match the checked destination")
        host_header = f"[{destination.host}]" if ":" in destination.host else destination.host
        if host_params["port"] is not None:
            host_header += f":{host_params['port']}"
        request.headers["Host"] = host_header
        if destination.scheme == "https":
            # Certificate and SNI for the URL's host name, not for the pinned address.
            tls = cast("dict[str, Any]", pool_kwargs)  # urllib3 takes these; the stubs do not list them
            tls["assert_hostname"] = destination.host
            tls["server_hostname"] = destination.host
        host_params["host"] = f"[{self.address}]" if ":" in self.address else self.address
        host_params["port"] = destination.port
        return host_params, pool_kwargs


def _is_connect_failure(error: requests.ConnectionError) -> bool:
    """Nothing was sent: the next address may be tried."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


def _send(
    session: requests.Session,
    prepared: requests.PreparedRequest,
    destination: Destination,
    *,
    deadline: float,
    connect_timeout: float,
    verify: bool | str,
) -> requests.Response:
    last: Exception | None = None
    for address in destination.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        adapter = _PinnedAdapter(destination, address)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            return session.send(
                prepared,
                stream=True,
                timeout=(min(connect_timeout, remaining), remaining),
                verify=verify,
                allow_redirects=False,
                proxies={},
            )
        except requests.ConnectionError as error:
            if isinstance(error, requests.exceptions.SSLError) or not _is_connect_failure(error):
                raise
            last = error
    if isinstance(last, requests.ConnectTimeout) or last is None:
        raise OutboundTimeout(f"connecting to {destination.host} timed out")
    raise OutboundError(f"could not connect to {destination.host}:{destination.port}")


def _read_body(response: requests.Response, *, max_bytes: int, deadline: float) -> bytes:
    """The decoded body, read as it comes; raises ``OutboundTooLarge`` or ``OutboundTimeout`` on the way."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes and not response.headers.get("content-encoding"):
        raise OutboundTooLarge(f"the response is {int(length)} bytes; the limit is {max_bytes}", limit=max_bytes)
    raw = response.raw
    chunks: list[bytes] = []
    total = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OutboundTimeout("the response did not arrive in time")
        # Each read waits at most until the deadline, so a server that trickles bytes cannot stretch it.
        sock = getattr(raw.connection, "sock", None)
        if sock is not None:
            sock.settimeout(remaining)
        chunk = raw.read1(CHUNK, decode_content=True)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > max_bytes:
            raise OutboundTooLarge(f"the response is larger than {max_bytes} bytes", limit=max_bytes)
        chunks.append(chunk)


def _redirect(
    method: str, status: int, url: str, location: str, headers: CaseInsensitiveDict[str]
) -> tuple[str, str, bool, CaseInsensitiveDict[str]]:
    """The next hop: (method, url, keep the body, headers), as browsers and requests do it."""
    target = urljoin(url, location.strip())
    keep_body = status in (307, 308)
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method = "GET"
    next_headers = CaseInsensitiveDict(headers)
    if not keep_body:
        for name in ("content-type", "content-length", "transfer-encoding"):
            next_headers.pop(name, None)
    old, new = urlsplit(url), urlsplit(target)
    if (old.scheme, old.hostname, old.port) != (new.scheme.lower(), new.hostname, new.port):
        next_headers = CaseInsensitiveDict(
            {name: value for name, value in next_headers.items() if name.lower() in CROSS_ORIGIN_HEADERS}
        )
    next_headers.pop("host", None)
    return method, target, keep_body, next_headers


def _host_of(url: str) -> str:
    try:
        return _canonical_host(urlsplit(url).hostname or "")
    except ValueError:
        return ""  # malformed: check_url refuses it next


def _default(name: str, fallback: int) -> int:
    return int(getattr(settings, name, fallback))


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | list[tuple[str, Any]] | str | bytes | None = None,
    timeout: float | None = None,
    connect_timeout: float | None = None,
    max_bytes: int | None = None,
    max_redirects: int | None = None,
    check_host: Callable[[str], None] | None = None,
) -> OutboundResponse:
    """Send one request through the SSRF guard and read the whole (capped) response.

    ``json`` (not ``None``) is sent as a JSON body, ``data`` as a form (mapping) or as is (text,
    bytes). Defaults come from the ``OUTBOUND_*`` settings. Any status is a response, not an error.
    ``check_host`` is called with the host name (lower-case, IDNA-encoded, IP literals without
    brackets) of the first destination and of every redirect, before anything is sent there; it
    raises ``OutboundBlocked`` (or a subclass) to refuse one, e.g. a credential's allowed hosts.

    Raises ``OutboundBlocked`` (destination refused, before anything is sent), ``OutboundTooLarge``,
    ``OutboundTimeout`` and ``OutboundError`` (unresolvable, unreachable, TLS, protocol errors).
    """
    method = method.upper()
    if method not in METHODS:
        raise OutboundBlocked(f"method {method} is not allowed; use one of {', '.join(sorted(METHODS))}")
    timeout = float(timeout if timeout is not None else _default("OUTBOUND_TIMEOUT", 20))
    connect_timeout = float(connect_timeout if connect_timeout is not None else _default("OUTBOUND_CONNECT_TIMEOUT", 5))
    max_bytes = max_bytes if max_bytes is not None else _default("OUTBOUND_MAX_BYTES", 10 * 1024 * 1024)
    max_redirects = max_redirects if max_redirects is not None else _default("OUTBOUND_MAX_REDIRECTS", 5)
    verify: bool | str = getattr(settings, "OUTBOUND_CA_BUNDLE", "") or True
    started = time.monotonic()
    deadline = started + timeout
    current_headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(headers or {})
    body_json, body_data = json, data
    hops: list[str] = []
    with requests.Session() as session:
        session.trust_env = False  # no proxies, CA bundles or .netrc credentials from the environment
        session.headers["User-Agent"] = f"Synchronise ({getattr(settings, 'SITE_URL', '')})"
        while True:
            try:
                prepared = session.prepare_request(
                    requests.Request(
                        method, url, headers=current_headers, params=params, json=body_json, data=body_data
                    )
                )
            except requests.exceptions.InvalidHeader:
                # requests' message quotes the value, which may hold a substituted secret.
                raise OutboundBlocked(
                    "malformed request: a header name or value has line breaks or is invalid"
                ) from None
            except (requests.RequestException, ValueError) as error:
                raise OutboundBlocked(f"malformed request: {error}") from None
            assert prepared.url is not None  # prepare_request always sets it
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OutboundTimeout(f"the request took longer than {timeout:g} s")
            if check_host is not None:
                check_host(_host_of(prepared.url))
            destination = check_url(prepared.url, timeout=min(connect_timeout, remaining))
            response = _exchange(session, prepared, destination, deadline, connect_timeout, verify)
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECT_STATUSES and location and max_redirects > 0:
                    if len(hops) >= max_redirects:
                        raise OutboundError(f"more than {max_redirects} redirects")
                    hops.append(prepared.url)
                    method, url, keep_body, current_headers = _redirect(
                        method, response.status_code, prepared.url, location, CaseInsensitiveDict(prepared.headers)
                    )
                    params = None  # already part of the URL we were sent to
                    if not keep_body:
                        body_json = body_data = None
                    continue
                content = b"" if method == "HEAD" else _guard_read(response, max_bytes=max_bytes, deadline=deadline)
                return OutboundResponse(
                    status=response.status_code,
                    reason=response.reason or "",
                    headers=CaseInsensitiveDict(response.headers),
                    content=content,
                    url=prepared.url,
                    elapsed_ms=round((time.monotonic() - started) * 1000, 3),
                    redirects=hops,
                )
            finally:
                response.close()


def _exchange(
    session: requests.Session,
    prepared: requests.PreparedRequest,
    destination: Destination,
    deadline: float,
    connect_timeout: float,
    verify: bool | str,
) -> requests.Response:
    """Send and wait for the status line and headers, translating transport errors."""
    try:
        return _send(session, prepared, destination, deadline=deadline, connect_timeout=connect_timeout, verify=verify)
    except requests.exceptions.SSLError as error:
        raise OutboundError(f"TLS with {destination.host} failed: {_root_cause(error)}") from None
    except requests.Timeout:
        raise OutboundTimeout(f"{destination.host} did not answer in time") from None
    except requests.RequestException as error:
        raise OutboundError(f"the request to {destination.host} failed: {_root_cause(error)}") from None


def _guard_read(response: requests.Response, *, max_bytes: int, deadline: float) -> bytes:
    try:
        return _read_body(response, max_bytes=max_bytes, deadline=deadline)
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        raise OutboundTimeout("the response did not arrive in time") from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise OutboundError(f"reading the response failed: {_root_cause(error)}") from None


def _root_cause(error: BaseException) -> str:
    """The innermost reason, short: urllib3 wraps the useful part several layers deep."""
    while True:
        inner = getattr(error, "reason", None) or (error.args[0] if error.args else None)
        if not isinstance(inner, BaseException) or inner is error:
            return str(error)[:300]
        error = inner
