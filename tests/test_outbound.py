"""The SSRF guard and the outbound HTTP client (synchronise/lib/outbound.py), against real loopback servers."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured

from synchronise.lib import outbound
from tests import fake_api
from tests.fake_api import FakeApi


@pytest.fixture(autouse=True)
def tripwire(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    return fake_api.loopback_only(monkeypatch)


@pytest.fixture
def api(settings) -> Iterator[FakeApi]:  # type: ignore[no-untyped-def]
    """A fake third-party API that this test, and only this test, may reach."""
    with fake_api.serve() as server:
        settings.OUTBOUND_ALLOW = [server.destination]
        yield server


@pytest.fixture
def other_api() -> Iterator[FakeApi]:
    """A second loopback server that is *not* allowed."""
    with fake_api.serve() as server:
        yield server


# --- Ordinary use ----------------------------------------------------------------------------


def test_it_fetches_from_an_allowed_server(api):
    response = outbound.request("GET", api.url("/echo"), params={"q": "a b", "n": 3})

    assert response.status == 200
    assert response.ok
    assert response.headers["content-type"] == "application/json"
    assert response.json()["query"] == {"q": "a b", "n": "3"}
    assert response.json()["method"] == "GET"
    assert '"method": "GET"' in response.text
    assert response.url == api.url("/echo?q=a+b&n=3")
    assert response.elapsed_ms > 0


def test_it_sends_headers_json_and_forms(api):
    sent = outbound.request("POST", api.url("/echo"), headers={"X-Thing": "1"}, json={"a": [1, 2]}).json()
    assert sent["headers"]["X-Thing"] == "1"
    assert sent["headers"]["Content-Type"] == "application/json"
    assert sent["json"] == {"a": [1, 2]}

    form = outbound.request("PUT", api.url("/echo"), data={"name": "Ada", "x": "1&2"}).json()
    assert form["method"] == "PUT"
    assert form["body"] == "name=Ada&x=1%262"

    raw = outbound.request("PATCH", api.url("/echo"), data="plain text", headers={"Content-Type": "text/plain"})
    assert raw.json()["body"] == "plain text"


def test_a_remote_error_status_is_a_response(api):
    response = outbound.request("GET", api.url("/status/503"))

    assert response.status == 503
    assert not response.ok
    assert response.reason == "Service Unavailable"
    assert response.json() == {"error": {"message": "failed with 503"}}


def test_head_reads_no_body_whatever_the_declared_length(api):
    response = outbound.request("HEAD", api.url("/big"), params={"bytes": 5_000_000}, max_bytes=1000)
    assert (response.status, response.content, response.headers["content-length"]) == (200, b"", "5000000")


def test_a_header_with_a_line_break_is_refused_without_echoing_it(api):
    with pytest.raises(outbound.OutboundBlocked) as caught:
        outbound.request("GET", api.url(), headers={"X-Token": "s3cret\r\nX-Injected: 1"})
    assert "s3cret" not in str(caught.value)
    assert api.requests == []


def test_it_refuses_methods_outside_http_apis(api):
    for method in ("CONNECT", "TRACE", "FOO"):
        with pytest.raises(outbound.OutboundBlocked, match="not allowed"):
            outbound.request(method, api.url())
    assert api.requests == []


# --- The SSRF matrix -------------------------------------------------------------------------

LOOPBACK_FORMS = [
    "127.0.0.1",
    "localhost",  # a DNS name that resolves to 127.0.0.1
    "2130706433",
    "0x7f000001",
    "127.1",
    "0177.0.0.1",
    "127.0.0.2",
    "[::ffff:127.0.0.1]",
    "[::1]",
]


@pytest.mark.parametrize("host", LOOPBACK_FORMS)
def test_loopback_is_refused_without_an_allowance(settings, other_api, host):
    settings.OUTBOUND_ALLOW = []
    url = f"http://{host}:{other_api.port}/echo"

    with pytest.raises(outbound.OutboundBlocked, match="private, loopback or reserved"):
        outbound.request("GET", url)
    assert other_api.requests == []


@pytest.mark.parametrize("host", [h for h in LOOPBACK_FORMS if h != "127.0.0.1"])
def test_an_allowance_exempts_exactly_its_host_and_port(api, host):
    """127.0.0.1:PORT is allowed; other spellings of it, and its other ports, are not."""
    with pytest.raises(outbound.OutboundBlocked):
        outbound.request("GET", f"http://{host}:{api.port}/echo")
    with pytest.raises(outbound.OutboundBlocked):
        outbound.request("GET", f"http://127.0.0.1:{api.port + 1}/echo")
    assert api.requests == []


PRIVATE_AND_RESERVED = [
    "0.0.0.0",  # noqa: S104 - a destination under test, nothing binds to it
    "0",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "169.254.169.254",
    "192.0.0.170",
    "198.18.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "[fd00::1]",
    "[fe80::1]",
    "[::]",
    "[::127.0.0.1]",
    "[2002:7f00:1::]",  # 6to4 wrapping 127.0.0.1: Python calls it global
    "[2001:0:7f00:1::]",  # Teredo
    "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    "[::ffff:10.0.0.1]",
    "[::ffff:169.254.169.254]",
    "[ff02::1]",
]


@pytest.mark.parametrize("host", PRIVATE_AND_RESERVED)
def test_private_and_reserved_addresses_are_refused(settings, tripwire, host):
    settings.OUTBOUND_ALLOW = []

    with pytest.raises(outbound.OutboundBlocked):
        outbound.request("GET", f"http://{host}/latest/meta-data/")
    with pytest.raises(outbound.OutboundBlocked):
        outbound.check_url(f"https://{host}:8443/")
    assert tripwire == []  # refused before any connection was attempted


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/", "file:///etc/passwd", "gopher://127.0.0.1:70/", "http:///nohost", "//127.0.0.1/", "x"],
)
def test_other_schemes_and_malformed_urls_are_refused(url):
    with pytest.raises(outbound.OutboundBlocked):
        outbound.request("GET", url)


def test_the_refusal_does_not_reveal_the_resolved_address(settings, other_api):
    settings.OUTBOUND_ALLOW = []
    with pytest.raises(outbound.OutboundBlocked) as caught:
        outbound.request("GET", f"http://localhost:{other_api.port}/")
    assert "127.0.0.1" not in str(caught.value)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "93.184.215.14"])
def test_public_addresses_pass_the_check(address):
    assert outbound.address_is_public(ipaddress.ip_address(address))


def test_a_malformed_allowance_is_a_configuration_error(settings):
    settings.OUTBOUND_ALLOW = ["127.0.0.1"]
    with pytest.raises(ImproperlyConfigured, match="host:port"):
        outbound.request("GET", "http://127.0.0.1:1/")


# --- Redirects -------------------------------------------------------------------------------


def test_a_redirect_to_a_blocked_address_is_refused(api, other_api):
    for target in (
        other_api.url("/echo"),  # loopback, but not allowed
        f"http://localhost:{api.port}/echo",  # the allowed server under another name
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        "file:///etc/passwd",
    ):
        with pytest.raises(outbound.OutboundBlocked):
            outbound.request("GET", api.url("/redirect"), params={"to": target})
    assert other_api.requests == []


def test_redirects_are_followed_hop_by_hop(api):
    response = outbound.request("GET", api.url("/redirect"), params={"to": "/redirect?to=/echo%3Fhop%3D2"})

    assert response.status == 200
    assert response.json()["query"] == {"hop": "2"}
    assert len(response.redirects) == 2


def three_hops_url(api: FakeApi) -> str:
    return api.url("/redirect?to=/redirect%3Fto%3D/echo")


def test_too_many_redirects_fail(api):
    three_hops = {"to": three_hops_url(api)}
    assert len(outbound.request("GET", api.url("/redirect"), params=three_hops).redirects) == 3
    with pytest.raises(outbound.OutboundError, match="more than 2 redirects"):
        outbound.request("GET", api.url("/redirect"), params=three_hops, max_redirects=2)


def test_with_redirects_off_the_redirect_is_the_answer(api, settings):
    settings.OUTBOUND_MAX_REDIRECTS = 0
    response = outbound.request("GET", api.url("/redirect"), params={"to": "http://169.254.169.254/"})

    assert response.status == 302
    assert response.headers["location"] == "http://169.254.169.254/"


def test_a_redirect_after_post_becomes_a_get_unless_307(api):
    seen = outbound.request("POST", api.url("/redirect"), params={"to": "/echo", "code": 303}, json={"a": 1}).json()
    assert (seen["method"], seen["body"]) == ("GET", "")

    seen = outbound.request("POST", api.url("/redirect"), params={"to": "/echo", "code": 307}, json={"a": 1}).json()
    assert (seen["method"], seen["json"]) == ("POST", {"a": 1})


def test_credentials_do_not_follow_a_redirect_to_another_origin(api, settings):
    with fake_api.serve() as second:
        settings.OUTBOUND_ALLOW = [api.destination, second.destination]
        headers = {"Authorization": "Bearer secret-token", "X-Api-Key": "k-123", "Accept": "application/json"}

        same = outbound.request("GET", api.url("/redirect"), params={"to": "/echo"}, headers=headers).json()
        other = outbound.request("GET", api.url("/redirect"), params={"to": second.url()}, headers=headers).json()

    assert same["headers"]["Authorization"] == "Bearer secret-token"
    assert "Authorization" not in other["headers"]
    assert "X-Api-Key" not in other["headers"]
    assert other["headers"]["Accept"] == "application/json"


# --- Size and time caps ----------------------------------------------------------------------


def test_a_body_that_never_ends_is_cut_off(api):
    started = time.monotonic()
    with pytest.raises(outbound.OutboundTooLarge):
        outbound.request("GET", api.url("/forever"), max_bytes=1_000_000)
    assert time.monotonic() - started < 5


def test_a_declared_length_over_the_cap_is_refused_before_reading(api):
    with pytest.raises(outbound.OutboundTooLarge, match="2000001 bytes"):
        outbound.request("GET", api.url("/big"), params={"bytes": 2_000_001}, max_bytes=2_000_000)
    assert len(outbound.request("GET", api.url("/big"), params={"bytes": 2_000_000}, max_bytes=2_000_000).content) == (
        2_000_000
    )


def test_the_cap_counts_decoded_bytes(api):
    """50 MB of zeros compress to ~50 kB: the cap applies to what they expand to."""
    with pytest.raises(outbound.OutboundTooLarge):
        outbound.request("GET", api.url("/gzip"), params={"bytes": 50_000_000}, max_bytes=1_000_000)
    small = outbound.request("GET", api.url("/gzip"), params={"bytes": 1000})
    assert small.content == b"\0" * 1000


def test_a_slow_server_times_out(api):
    started = time.monotonic()
    with pytest.raises(outbound.OutboundTimeout):
        outbound.request("GET", api.url("/slow"), params={"seconds": 10}, timeout=1)
    assert time.monotonic() - started < 3


def test_a_trickling_body_cannot_stretch_the_total_time(api):
    """A byte every 0.1 s never trips a per-read timeout; the total deadline still ends it."""
    started = time.monotonic()
    with pytest.raises(outbound.OutboundTimeout):
        outbound.request("GET", api.url("/trickle"), params={"seconds": 10}, timeout=1)
    assert time.monotonic() - started < 3


def test_a_stall_near_the_deadline_ends_at_the_deadline(api):
    """Each read may wait only for what is left of the total time, not for a fresh full timeout."""
    started = time.monotonic()
    with pytest.raises(outbound.OutboundTimeout):
        outbound.request("GET", api.url("/stall"), params={"after": 0.8}, timeout=1.2)
    assert time.monotonic() - started < 1.8


def test_a_server_that_never_accepts_hits_the_connect_timeout(settings):
    """A listener whose backlog is full drops new connection attempts: connecting hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{port}"]
    fillers = []
    try:
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(outbound.OutboundTimeout):
            outbound.request("GET", f"http://127.0.0.1:{port}/", connect_timeout=0.5, timeout=5)
        assert time.monotonic() - started < 2.5
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_a_closed_port_is_an_error(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{port}"]
    with pytest.raises(outbound.OutboundError, match="could not connect"):
        outbound.request("GET", f"http://127.0.0.1:{port}/")


# --- Environment and TLS ---------------------------------------------------------------------


def test_proxy_variables_are_ignored(api, other_api, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{other_api.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    assert outbound.request("GET", api.url()).status == 200
    assert other_api.requests == []
    assert len(api.requests) == 1


def test_tls_is_verified_against_the_host_name_while_connecting_to_the_checked_address(settings, tmp_path):
    context, ca = fake_api.tls_context(tmp_path / "good", hostname="localhost")
    with fake_api.serve(tls=context, host="localhost") as server:
        settings.OUTBOUND_ALLOW = [server.destination]

        with pytest.raises(outbound.OutboundError, match="certificate"):  # our CA is not trusted yet
            outbound.request("GET", server.url())

        settings.OUTBOUND_CA_BUNDLE = str(ca)
        response = outbound.request("GET", server.url())

    assert response.status == 200
    assert response.json()["headers"]["Host"] == f"localhost:{server.port}"


def test_a_certificate_for_another_name_is_refused(settings, tmp_path):
    context, ca = fake_api.tls_context(tmp_path / "wrong", hostname="api.example.test")
    with fake_api.serve(tls=context, host="localhost") as server:
        settings.OUTBOUND_ALLOW = [server.destination]
        settings.OUTBOUND_CA_BUNDLE = str(ca)

        with pytest.raises(outbound.OutboundError, match=r"certificate|hostname|match"):
            outbound.request("GET", server.url())
        assert server.requests == []
