"""Declarative HTTP components: spec validation, rendering, mapping, errors, against a real loopback API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from components.credentials import MASK
from components.http_component import HttpRunResult, run_http_component, validate_http_spec
from tests import connector_replay, fake_api, smtp_server
from tests.fake_api import FakeApi

SECRETS = {"API_TOKEN": "tok-s3cr3t-value", "OTHER": "other-secret-value"}


@pytest.fixture(autouse=True)
def tripwire(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    return fake_api.loopback_only(monkeypatch)


@pytest.fixture
def api(settings) -> Iterator[FakeApi]:  # type: ignore[no-untyped-def]
    with fake_api.serve() as server:
        settings.OUTBOUND_ALLOW = [server.destination]
        yield server


def run(spec: dict[str, Any], inputs: dict[str, Any] | None = None, **options: Any) -> HttpRunResult:
    options.setdefault("idempotency_key", "execution-42")
    return run_http_component(spec, inputs or {}, SECRETS, **options)


# --- Validation ------------------------------------------------------------------------------


def test_a_minimal_spec_is_normalised():
    assert validate_http_spec({"url": "https://api.example.com/items", "method": "post"}) == {
        "method": "POST",
        "url": "https://api.example.com/items",
        "query": {},
        "headers": {},
        "body": None,
        "outputs": {},
        "error_message": "",
        "ok_when": "",
        "fail_when": "",
        "retry_after": "",
        "error_statuses": {},
        "paginate": None,
        "sign": None,
        "auth": None,
    }


def messages(spec: Any, **options: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        validate_http_spec(spec, **options)
    return caught.value.messages


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, "url: "),
        ({"url": "https://x.test", "method": "TRACE"}, "method: "),
        ({"url": "ftp://x.test/"}, "url: an http:// or https:// URL"),
        ({"url": "https://x.test", "headers": {"Bad Header": "x"}}, "headers.Bad Header: not a valid header name"),
        ({"url": "https://x.test", "headers": {"X": ["list"]}}, "headers.X: "),
        ({"url": "https://x.test", "body": {"type": "xml", "value": ""}}, "body.type: "),
        (
            {"url": "https://x.test", "body": {"type": "form", "value": "a=b"}},
            "body.value: an object of text templates",
        ),
        ({"url": "https://x.test", "body": {"type": "raw", "value": {}}}, "body.value: a text template"),
        ({"url": "https://x.test/{{ inputs.id "}, "url: "),
        ({"url": "https://x.test/{% for i in range(9) %}x{% endfor %}"}, "url: only {{ expressions }}"),
        ({"url": "https://x.test/{{ config }}"}, "url: unknown name config"),
        ({"url": "https://x.test", "query": {"q": "{{ secrets.lower }}"}}, "query.q: lower is not a credential name"),
        (
            {"url": "https://x.test", "body": {"type": "json", "value": {"a": [1, "{{ inputs.x + }}"]}}},
            "body.value.a.1: ",
        ),
        ({"url": "https://x.test", "outputs": {"id": "json.id"}}, "outputs.id: status, headers.<Name>, body"),
        ({"url": "https://x.test", "outputs": {"all": "items"}}, "outputs.all: items is the paginated list"),
        ({"url": "https://x.test", "ok_when": "status"}, "ok_when: body or body.<path>"),
        ({"url": "https://x.test", "retry_after": "headers.Retry-After"}, "retry_after: body or body.<path>"),
        ({"url": "https://x.test", "ok_when": "body.ok", "fail_when": "body.errors"}, "fail_when: ok_when or"),
        ({"url": "https://x.test", "error_statuses": {"x": 401}}, "error_statuses: needs error_message"),
        ({"url": "https://x.test", "error_message": "body.e", "error_statuses": {"x": 200}}, "error_statuses.x: "),
        ({"url": "https://x.test", "body": {"type": "multipart", "value": []}}, "body.value: an object of text"),
        ({"url": "https://x.test", "body": {"type": "json", "value": 1, "extra": 2}}, "body.extra: unknown field"),
        ({"url": "https://x.test", "paginate": {"next": {"link": True}}}, "paginate.items: "),
        ({"url": "https://x.test", "paginate": {"items": "status", "next": {"link": True}}}, "paginate.items: body"),
        ({"url": "https://x.test", "paginate": {"items": "body", "next": {}}}, "paginate.next: either link"),
        (
            {"url": "https://x.test", "paginate": {"items": "body", "next": {"cursor": "body.c"}}},
            "paginate.next.param: ",
        ),
        (
            {"url": "https://x.test", "paginate": {"items": "body", "next": {"link": True}, "max_pages": 101}},
            "paginate.max_pages: a number from 1 to 100",
        ),
        (
            {"url": "https://x.test", "paginate": {"items": "body", "next": {"link": True}, "max_pages": "{{ x }}"}},
            "paginate.max_pages: unknown name x",
        ),
        ({"url": "https://x.test", "sign": {"header": "X-Sig"}}, "sign.secret: "),
        ({"url": "https://x.test", "auth": {"type": "digest"}}, "auth.type: one of none, bearer, basic"),
        ({"url": "https://x.test", "headers": "X-A: 1"}, "headers: an object of templates, or one template"),
        ({"url": "https://x.test", "query": ["a"]}, "query: an object of templates, or one template"),
        ({"url": "https://x.test", "auth": {"type": "{{ inputs.a "}}, "auth.type: "),
        ({"url": "https://x.test", "body": {"type": "{{ nope }}"}}, "body.type: unknown name nope"),
        ({"url": "https://x.test", "sign": {"header": "X Sig", "secret": "k"}}, "sign.header: not a valid header"),
        ({"url": "https://x.test", "sign": {"header": "X-Sig", "secret": "k", "algorithm": "md5"}}, "sign.algorithm: "),
        ({"url": "https://x.test", "body": {"type": "email", "value": {"to": "a@b.c"}}}, "url: an email goes to smtp"),
        (
            {"url": "smtps://mail.test", "body": {"type": "email", "value": {"to": "a@b.c", "x": "1"}}},
            "body.value.x: unknown field",
        ),
        (
            {"url": "smtps://mail.test", "body": {"type": "email", "value": {"to": "a@b.c"}}},
            "body.value.from: required",
        ),
        ({"url": "https://x.test", "outputs": {"1id": "body.id"}}, "outputs.1id: letters, digits"),
        ({"url": "https://x.test", "error_message": "status"}, "error_message: body or body.<path>"),
        ({"url": "https://x.test", "timeout": 5}, "timeout: unknown field"),
        ("https://x.test", "an object with"),
    ],
)
def test_invalid_specs_name_the_field(spec, expected):
    assert any(message.startswith(expected) for message in messages(spec)), messages(spec)


def test_references_are_checked_against_the_declared_interface():
    spec = {"url": "https://x.test/{{ inputs.id }}/{{ inputs['kind'] }}", "outputs": {"name": "body.name"}}
    found = messages(spec, inputs=[{"name": "id", "type": "text"}], outputs=[{"name": "id", "type": "text"}])

    assert "url: no input named kind" in found
    assert "outputs.name: no output named name" in found
    assert validate_http_spec(spec, inputs=[{"name": "id"}, {"name": "kind"}], outputs=[{"name": "name"}])


# --- Running ---------------------------------------------------------------------------------


def test_a_request_is_rendered_sent_and_mapped(api):
    spec = {
        "method": "POST",
        "url": api.url("/echo") + "?fixed=1",
        "query": {"q": "{{ inputs.q }}", "tags": "{{ inputs.tags }}", "skip": "{{ inputs.absent }}"},
        "headers": {"Authorization": "Bearer {{ secrets.API_TOKEN }}", "X-Count": "{{ inputs.count }}"},
        "body": {
            "type": "json",
            "value": {"count": "{{ inputs.count }}", "label": "n={{ inputs.count }}", "list": ["{{ inputs.tags }}"]},
        },
        "outputs": {
            "method": "body.method",
            "count": "body.json.count",
            "first_tag": "body.json.list.0.0",
            "status": "status",
            "type": "headers.content-type",
        },
    }
    result = run(spec, {"q": "a b", "tags": ["x", "y"], "count": 3})

    assert result.error is None
    assert result.outputs == {
        "method": "POST",
        "count": 3,  # one expression: the native int, not "3"
        "first_tag": "x",
        "status": 200,
        "type": "application/json",
    }
    (sent,) = api.requests
    assert sent["headers"]["Authorization"] == "Bearer tok-s3cr3t-value"
    assert sent["headers"]["X-Count"] == "3"
    assert sent["headers"]["Idempotency-Key"] == "execution-42"
    assert sent["query"] == {"fixed": "1", "q": "a b", "tags": ["x", "y"]}
    assert json.loads(sent["body"]) == {"count": 3, "label": "n=3", "list": [["x", "y"]]}


def test_secrets_are_masked_in_the_log_and_in_outputs(api):
    spec = {
        "url": api.url("/echo"),
        "query": {"token": "{{ secrets.API_TOKEN }}"},
        "headers": {"X-Custom": "{{ secrets.OTHER }}"},
        "outputs": {"echoed": "body.query.token", "everything": "body"},
    }
    result = run(spec)

    assert result.outputs is not None
    assert result.outputs["echoed"] == MASK
    log = "\n".join(result.request_log)
    flat = json.dumps(result.outputs)
    for value in SECRETS.values():
        assert value not in log
        assert value not in flat
    assert "← 200 OK" in log


def test_form_and_raw_bodies(api):
    outputs = {"body": "body.body", "type": "body.headers.Content-Type"}
    form_body = {"type": "form", "value": {"a": "{{ inputs.a }}", "n": 2}}
    form = run({"method": "POST", "url": api.url(), "body": form_body, "outputs": outputs}, {"a": "x&y"})
    assert form.outputs == {"body": "a=x%26y&n=2", "type": "application/x-www-form-urlencoded"}

    raw_body = {"type": "raw", "value": "<a>{{ inputs.a }}</a>", "content_type": "application/xml"}
    raw = run({"method": "PUT", "url": api.url(), "body": raw_body, "outputs": outputs}, {"a": 5})
    assert raw.outputs == {"body": "<a>5</a>", "type": "application/xml"}


def test_a_given_idempotency_key_is_kept(api):
    run({"url": api.url(), "headers": {"idempotency-key": "mine-{{ inputs.n }}"}}, {"n": 1})
    assert api.requests[0]["headers"]["idempotency-key"] == "mine-1"
    assert "Idempotency-Key" not in api.requests[0]["headers"]


def test_a_missing_output_path_is_left_out_and_logged(api):
    result = run({"url": api.url(), "outputs": {"method": "body.method", "nope": "body.not.there"}})

    assert result.outputs == {"method": "GET"}
    assert any("output nope: body.not.there is not in the response" in line for line in result.request_log)


# --- Error mapping ---------------------------------------------------------------------------


def test_a_remote_error_maps_to_its_status_and_message(api):
    result = run({"url": api.url("/status/404"), "error_message": "body.error.message", "outputs": {"x": "status"}})

    assert result.outputs is None
    assert result.error == {"code": 404, "message": "failed with 404", "status": 404, "reason": "validation"}


def test_without_a_message_path_the_reason_is_the_message(api):
    result = run({"url": api.url("/status/500")})
    assert result.error == {"code": 500, "message": "Internal Server Error", "status": 500, "reason": "remote"}

    result = run({"url": api.url("/status/429"), "error_message": "body.missing"})
    assert result.error == {"code": 429, "message": "Too Many Requests", "status": 429, "reason": "rate_limit"}


def test_a_secret_echoed_in_an_error_is_masked(api):
    spec = {
        "url": api.url("/redirect"),
        "query": {"to": "/status/401?{{ secrets.API_TOKEN }}"},
        "error_message": "body",
    }
    result = run(spec)
    assert result.error is not None
    assert result.error["code"] == 401
    assert SECRETS["API_TOKEN"] not in json.dumps(result.error) + "\n".join(result.request_log)


def test_a_blocked_destination_is_an_error_and_nothing_is_sent(settings, tripwire):
    settings.OUTBOUND_ALLOW = []
    for url in ("http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:1/", "http://[::ffff:10.0.0.1]/"):
        result = run({"url": url, "headers": {"Authorization": "{{ secrets.API_TOKEN }}"}})
        assert result.error is not None
        assert result.error["code"] == 502
        assert result.error["reason"] == "blocked"
    assert tripwire == []


def test_a_redirect_to_a_private_address_is_an_error(api):
    result = run({"url": api.url("/redirect"), "query": {"to": "http://169.254.169.254/latest/meta-data/"}})
    assert result.error is not None
    assert (result.error["code"], result.error["reason"]) == (502, "blocked")


def test_a_slow_api_times_out(api):
    result = run({"url": api.url("/slow"), "query": {"seconds": "10"}}, timeout=1)
    assert result.error is not None
    assert (result.error["code"], result.error["reason"]) == (109, "timeout")  # as a code step's wall time


def test_a_response_over_the_cap_is_an_error(api):
    result = run({"url": api.url("/forever")}, max_bytes=100_000)
    assert result.error is not None
    assert (result.error["code"], result.error["reason"]) == (502, "too_large")


def test_an_unknown_secret_is_named_and_nothing_is_sent(api):
    result = run({"url": api.url(), "headers": {"Authorization": "Bearer {{ secrets.NOT_SET }}"}})

    assert result.error is not None
    assert result.error["code"] == 400
    assert "unknown credential NOT_SET" in result.error["message"]
    assert api.requests == []


# --- Secrets reach only where the author put them --------------------------------------------


def test_a_secret_input_carries_a_credential_only_when_declared_secret(api):
    spec = {"url": api.url(), "headers": {"X-Token": "{{ inputs.token }}"}}
    inputs = {"token": "{{ secrets.API_TOKEN }}"}

    run(spec, inputs, secret_inputs=["token"])
    run(spec, inputs)  # a text input: the reference stays text and is not substituted

    assert api.requests[0]["headers"]["X-Token"] == "tok-s3cr3t-value"
    assert api.requests[1]["headers"]["X-Token"] == "{{ secrets.API_TOKEN }}"


def test_secrets_cannot_be_listed(api):
    for expression in ("secrets|list", "secrets|join(',')", "secrets|first"):
        result = run({"url": api.url(), "query": {"all": "{{ " + expression + " }}"}})
        assert result.error is not None
        assert "secrets cannot be listed" in result.error["message"]
    assert api.requests == []


# --- The template sandbox --------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "'x' * 100000000",
        "[1] * 100000000",
        "'%999999999d' % 1",
        "'x'.ljust(1000000000)",
        "'{:>999999999}'.format(1)",
        "range(1000000000)|list",
        "9 ** 99999999",
        "'ab'|replace('a', 'aaaaaaaaaa')|replace('a', 'aaaaaaaaaa')|replace('a', 'aaaaaaaaaa')|replace('a', "
        "'aaaaaaaaaa')|replace('a', 'aaaaaaaaaa')|replace('a', 'aaaaaaaaaa')|replace('a', 'aaaaaaaaaa')",
    ],
)
def test_templates_cannot_exhaust_the_worker(api, expression):
    result = run({"url": api.url(), "query": {"q": "{{ " + expression + " }}"}})
    assert result.error is not None
    assert result.error["code"] == 400
    assert api.requests == []


@pytest.mark.parametrize(
    "expression",
    ["inputs.__class__.__mro__", "''.__class__.__subclasses__()", "inputs.update({'a': 1})", "lipsum.__globals__"],
)
def test_templates_cannot_reach_python_internals(api, expression):
    result = run({"url": api.url(), "query": {"q": "x{{ " + expression + " }}"}}, {"a": 0})
    if result.error is None:
        assert api.requests[0]["query"]["q"] == "x"  # rendered as nothing
    else:
        assert result.error["code"] == 400


def test_credential_headers_written_in_the_spec_are_masked_in_the_log(api):
    """A token typed into the spec is no credential ``mask`` knows; the header's name gives it away."""
    headers = {"X-Gitlab-Token": "typed-in-gl", "Api-Key": "typed-in-k", "X-Hub-Signature-256": "sha256=ab"}
    result = run({"url": api.url("/echo"), "headers": headers, "outputs": {}})

    log = "\n".join(result.request_log)
    assert "typed-in-gl" not in log
    assert "typed-in-k" not in log
    assert '"X-Gitlab-Token": "••••••"' in log
    assert '"X-Hub-Signature-256": "sha256=ab"' in log  # a signature proves, it does not open
    assert api.requests[-1]["headers"]["X-Gitlab-Token"] == "typed-in-gl"  # masked in the log only


# --- Error reasons, ok_when / fail_when / error_statuses -------------------------------------


@contextmanager
def replaying(settings, *exchanges: dict[str, Any]) -> Iterator[connector_replay.Replay]:  # type: ignore[no-untyped-def]
    with connector_replay.serve(list(exchanges)) as replay:
        settings.OUTBOUND_ALLOW = [replay.destination]
        yield replay
    assert replay.problems == []
    assert replay.unused == []


def answer(status: int, payload: Any = None, **headers: str) -> dict[str, Any]:
    return {"request": {}, "response": {"status": status, "json": payload, "headers": headers}}


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, "validation"),
        (401, "auth"),
        (403, "auth"),
        (404, "validation"),
        (409, "validation"),
        (422, "validation"),
        (429, "rate_limit"),
        (500, "remote"),
        (503, "remote"),
    ],
)
def test_a_failed_answer_names_its_reason(settings, status, reason):
    with replaying(settings, answer(status, {"error": {"message": "no"}}, **{"Retry-After": "7"})) as replay:
        result = run({"url": replay.base_url + "/x", "error_message": "body.error.message"})
    assert result.error == {"code": status, "status": status, "reason": reason, "message": "no", "retry_after": 7.0}


def test_ok_when_fails_a_2xx_answer_that_says_it_failed(settings):
    spec = {
        "method": "POST",
        "url": "{{ inputs.base }}/api/chat.postMessage",
        "outputs": {"ts": "body.ts"},
        "ok_when": "body.ok",
        "error_message": "body.error",
        "error_statuses": {"invalid_auth": 401, "ratelimited": 429},
    }
    with replaying(
        settings,
        answer(200, {"ok": True, "ts": "1.2"}),
        answer(200, {"ok": False, "error": "channel_not_found"}),
        answer(200, {"ok": False, "error": "invalid_auth"}),
        answer(200, {"ok": False, "error": "ratelimited"}, **{"Retry-After": "30"}),
        answer(200, {"no": "ok field"}),
    ) as replay:
        results = [run(spec, {"base": replay.base_url}) for _ in range(5)]
    assert results[0].outputs == {"ts": "1.2"}
    assert [r.error for r in results[1:]] == [
        {"code": 400, "status": 200, "reason": "validation", "message": "channel_not_found"},
        {"code": 401, "status": 200, "reason": "auth", "message": "invalid_auth"},
        {"code": 429, "status": 200, "reason": "rate_limit", "message": "ratelimited", "retry_after": 30.0},
        {
            "code": 400,
            "status": 200,
            "reason": "validation",
            "message": "the answer says it failed (body.ok is not true)",
        },
    ]


def test_fail_when_fails_a_2xx_answer_with_errors(settings):
    spec = {
        "method": "POST",
        "url": "{{ inputs.base }}/graphql",
        "body": {"type": "json", "value": {"query": "{ viewer { id } }"}},
        "outputs": {"id": "body.data.viewer.id"},
        "fail_when": "body.errors",
        "error_message": "body.errors.0.message",
    }
    with replaying(
        settings,
        answer(200, {"data": {"viewer": {"id": "u1"}}, "errors": []}),
        answer(200, {"data": None, "errors": [{"message": "Argument 'title' is required"}]}),
    ) as replay:
        ok, bad = run(spec, {"base": replay.base_url}), run(spec, {"base": replay.base_url})
    assert ok.outputs == {"id": "u1"}
    assert bad.error == {"code": 400, "status": 200, "reason": "validation", "message": "Argument 'title' is required"}


# --- Multipart and signing -------------------------------------------------------------------


def test_a_multipart_body_sends_its_fields(settings):
    spec = {
        "method": "POST",
        "url": "{{ inputs.base }}/messages",
        "headers": {"Content-Type": "text/plain"},  # replaced: the boundary is ours
        "body": {"type": "multipart", "value": {"to": "{{ inputs.to }}", "subject": "Hi {{ inputs.name }}"}},
        "outputs": {"id": "body.id"},
    }
    expected = {"method": "POST", "path": "/messages", "form": {"to": ["a@x.test", "b@x.test"], "subject": "Hi Zoë"}}
    with replaying(settings, {"request": expected, "response": {"status": 200, "json": {"id": "m1"}}}) as replay:
        result = run(spec, {"base": replay.base_url, "to": ["a@x.test", "b@x.test"], "name": "Zoë"})
    assert result.outputs == {"id": "m1"}
    assert replay.received[0]["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")


def test_a_signed_request_carries_the_hmac_of_the_exact_body(settings):
    import hashlib
    import hmac

    spec = {
        "method": "POST",
        "url": "{{ inputs.base }}/hook",
        "body": {"type": "json", "value": {"event": "{{ inputs.event }}", "n": 1}},
        "sign": {"header": "X-Signature-256", "secret": "{{ secrets.API_TOKEN }}", "prefix": "sha256="},
    }
    with replaying(settings, answer(204)) as replay:
        result = run(spec, {"base": replay.base_url, "event": "créé"})
    assert result.error is None
    sent = replay.received[0]
    expected = hmac.new(SECRETS["API_TOKEN"].encode(), sent["body"], hashlib.sha256).hexdigest()
    assert sent["headers"]["X-Signature-256"] == f"sha256={expected}"
    assert json.loads(sent["body"]) == {"event": "créé", "n": 1}
    assert SECRETS["API_TOKEN"] not in "\n".join(result.request_log)


# --- Pagination ------------------------------------------------------------------------------


def page(path: str, query: dict[str, str], payload: Any, **headers: str) -> dict[str, Any]:
    return {
        "request": {"method": "GET", "path": path, "query": query},
        "response": {"status": 200, "json": payload, "headers": headers},
    }


def test_pagination_follows_the_link_header(settings):
    spec = {
        "url": "{{ inputs.base }}/repos/o/r/issues",
        "query": {"per_page": "2"},
        "paginate": {"items": "body", "next": {"link": True}},
        "outputs": {"issues": "items", "last_status": "status"},
    }
    nxt = '<{{ replay }}/repositories/1/issues?per_page=2&page=2>; rel="next", <{{ replay }}/x?page=9>; rel="last"'
    with replaying(
        settings,
        page("/repos/o/r/issues", {"per_page": "2"}, [{"n": 1}, {"n": 2}], Link=nxt),
        page("/repositories/1/issues", {"page": "2"}, [{"n": 3}], Link='<{{ replay }}/x?page=1>; rel="prev"'),
    ) as replay:
        result = run(spec, {"base": replay.base_url})
    assert result.outputs == {"issues": [{"n": 1}, {"n": 2}, {"n": 3}], "last_status": 200}
    assert "  2 page(s), 3 item(s)" in result.request_log


def test_link_pages_keep_an_api_key_sent_as_a_query_parameter(settings):
    spec = {
        "url": "{{ inputs.base }}/items",
        "auth": {"type": "query", "name": "key", "credential": "{{ secrets.API_TOKEN }}"},
        "paginate": {"items": "body", "next": {"link": True}},
        "outputs": {"all": "items"},
    }
    key = SECRETS["API_TOKEN"]
    with replaying(
        settings,
        page("/items", {"key": key}, [1], Link='</items?page=2>; rel="next"'),
        page("/items", {"key": key, "page": "2"}, [2]),
    ) as replay:
        assert run(spec, {"base": replay.base_url}).outputs == {"all": [1, 2]}


def test_pagination_by_cursor_stops_when_the_cursor_is_gone_or_more_is_false(settings):
    spec = {
        "url": "{{ inputs.base }}/v0/app/table",
        "query": {"pageSize": "2", "offset": "{{ inputs.start }}"},
        "paginate": {"items": "body.records", "next": {"cursor": "body.offset", "param": "offset"}},
        "outputs": {"records": "items"},
    }
    with replaying(
        settings,
        page("/v0/app/table", {"pageSize": "2"}, {"records": [1, 2], "offset": "itrA"}),
        page("/v0/app/table", {"pageSize": "2", "offset": "itrA"}, {"records": [3], "offset": ""}),
    ) as replay:
        assert run(spec, {"base": replay.base_url}).outputs == {"records": [1, 2, 3]}
    spec = {
        "url": "{{ inputs.base }}/v1/invoices",
        "paginate": {
            "items": "body.data",
            "next": {"cursor": "body.data.-1.id", "param": "starting_after", "more": "body.has_more"},
            "max_pages": "{{ inputs.pages }}",
        },
        "outputs": {"invoices": "items", "more": "body.has_more"},
    }
    with replaying(
        settings,
        page("/v1/invoices", {}, {"data": [{"id": "in_1"}], "has_more": True}),
        page("/v1/invoices", {"starting_after": "in_1"}, {"data": [{"id": "in_2"}], "has_more": False}),
    ) as replay:
        assert run(spec, {"base": replay.base_url, "pages": 5}).outputs == {
            "invoices": [{"id": "in_1"}, {"id": "in_2"}],
            "more": False,
        }
    with replaying(settings, page("/v1/invoices", {}, {"data": [{"id": "in_1"}], "has_more": True})) as replay:
        capped = run(spec, {"base": replay.base_url, "pages": 1})  # max_pages: the second page is not asked for
    assert capped.outputs == {"invoices": [{"id": "in_1"}], "more": True}


def test_pagination_stays_on_the_first_origin_and_fails_on_a_failed_page(settings):
    spec = {
        "url": "{{ inputs.base }}/a",
        "paginate": {"items": "body", "next": {"link": True}},
        "headers": {"Authorization": "Bearer {{ secrets.API_TOKEN }}"},
        "outputs": {"all": "items"},
    }
    with replaying(settings, page("/a", {}, [1], Link='<https://elsewhere.test/a?page=2>; rel="next"')) as replay:
        result = run(spec, {"base": replay.base_url})
    assert result.error is not None
    assert (result.error["code"], result.error["reason"]) == (502, "blocked")
    with replaying(
        settings,
        page("/a", {}, [1], Link='</a?page=2>; rel="next"'),  # relative to the page's URL
        {
            "request": {"path": "/a", "query": {"page": "2"}},
            "response": {"status": 429, "headers": {"Retry-After": "5"}},
        },
    ) as replay:
        result = run(spec, {"base": replay.base_url})
    assert result.error is not None
    assert (result.error["code"], result.error["reason"], result.error["retry_after"]) == (429, "rate_limit", 5.0)


# --- Email by SMTP ---------------------------------------------------------------------------


def email_spec(scheme: str = "smtp") -> dict[str, Any]:
    return {
        "method": "POST",
        "url": scheme + "://{{ inputs.host }}:{{ inputs.port }}",
        "body": {
            "type": "email",
            "value": {
                "from": "Ops <ops@example.com>",
                "to": "{{ inputs.to }}",
                "subject": "{{ inputs.subject }}",
                "text": "Hello {{ inputs.name }}",
                "html": "<p>Hello {{ inputs.name }}</p>",
                "username": "{{ inputs.username }}",
                "password": "{{ inputs.password }}",
            },
        },
        "outputs": {"accepted": "body.accepted", "status": "status"},
    }


def mail(server: smtp_server.SmtpServer, **inputs: Any) -> dict[str, Any]:
    return {
        "host": server.host,
        "port": server.port,
        "to": "bob@example.com",
        "subject": "Hi",
        "name": "Bob",
        "username": "ops",
        "password": "{{ secrets.API_TOKEN }}",
        **inputs,
    }


# With implicit TLS the whole session is TLS, but aiosmtpd counts only STARTTLS as TLS and warns.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize(("tls", "scheme"), [("starttls", "smtp"), ("implicit", "smtps")])
def test_an_email_is_sent_over_verified_tls_with_a_credential(settings, tls, scheme):
    with smtp_server.serve(tls=tls, users={"ops": SECRETS["API_TOKEN"]}) as server:
        settings.OUTBOUND_ALLOW, settings.OUTBOUND_CA_BUNDLE = [server.destination], server.ca_file
        result = run(
            email_spec(scheme),
            mail(server, to=["bob@example.com", "Carol <carol@example.com>"]),
            secret_inputs=["password"],
        )
    assert result.error is None, result.error
    assert result.outputs == {"accepted": ["bob@example.com", "carol@example.com"], "status": 250}
    server.check(
        [
            {
                "from": "ops@example.com",
                "to": ["bob@example.com", "carol@example.com"],
                "login": "ops",
                "headers": {"Subject": "Hi", "To": "bob@example.com, Carol <carol@example.com>"},
                "text": "Hello Bob",
                "html": "<p>Hello Bob</p>",
            }
        ]
    )
    assert SECRETS["API_TOKEN"] not in "\n".join(result.request_log)


def test_an_email_fails_clearly(settings, tmp_path):
    with smtp_server.serve(users={"ops": "right"}, refuse=["nobody@example.com"]) as server:
        settings.OUTBOUND_ALLOW, settings.OUTBOUND_CA_BUNDLE = [server.destination], server.ca_file
        wrong = run(email_spec(), mail(server), secret_inputs=["password"])
        refused = run(email_spec(), mail(server, to="nobody@example.com", password="right"))
        injected = run(email_spec(), mail(server, subject="Hi\r\nBcc: eve@example.com", password="right"))
        bad_address = run(email_spec(), mail(server, to="not an address"))
        settings.OUTBOUND_CA_BUNDLE = str(fake_api.tls_context(tmp_path, hostname="localhost")[1])  # another CA
        untrusted = run(email_spec(), mail(server, password="right"))
        settings.OUTBOUND_ALLOW = []
        blocked = run(email_spec(), mail(server, password="right"))
    assert (wrong.error["code"], wrong.error["reason"]) == (401, "auth")
    assert SECRETS["API_TOKEN"] not in json.dumps(wrong.error)
    assert (refused.error["code"], refused.error["reason"]) == (400, "validation")
    assert "nobody@example.com: 550" in refused.error["message"]
    assert (injected.error["code"], injected.error["reason"]) == (400, "validation")
    assert bad_address.error["message"].startswith("body.value.to: ")
    assert (untrusted.error["code"], untrusted.error["reason"]) == (502, "unreachable")
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.error["message"]
    assert (blocked.error["code"], blocked.error["reason"]) == (502, "blocked")
    assert server.messages == []


def test_an_email_is_not_sent_without_starttls(settings):
    with smtp_server.serve(tls="none", users=None) as server:
        settings.OUTBOUND_ALLOW = [server.destination]
        result = run(email_spec(), mail(server, username="", password=""))
    assert result.error is not None
    assert (result.error["code"], result.error["reason"]) == (502, "blocked")
    assert "STARTTLS" in result.error["message"]
    assert server.messages == []


# --- Run-time choices: method, body type, auth, paging ---------------------------------------

GENERIC = {
    "method": "{{ inputs.method }}",
    "url": "{{ inputs.url }}",
    "body": {"type": "{{ inputs.body_type }}", "value": "{{ inputs.body }}", "content_type": "{{ inputs.ct }}"},
    "auth": {
        "type": "{{ inputs.auth }}",
        "credential": "{{ inputs.key }}",
        "username": "{{ inputs.user }}",
        "name": "{{ inputs.auth_name }}",
    },
    "paginate": {
        "items": "{{ inputs.items or 'body' }}",
        "next": {
            "link": "{{ inputs.paging == 'link' }}",
            "cursor": "{{ inputs.cursor if inputs.paging == 'cursor' }}",
            "param": "{{ inputs.param }}",
        },
    },
    "outputs": {"body": "body", "items": "items"},
}


@pytest.mark.parametrize(
    ("choices", "request_"),
    [
        ({"method": "delete", "body_type": "none", "auth": "none"}, {"method": "DELETE"}),
        (
            {
                "method": "POST",
                "body_type": "json",
                "body": {"a": [1]},
                "auth": "bearer",
                "key": "{{ secrets.API_TOKEN }}",
            },
            {
                "method": "POST",
                "json": {"a": [1]},
                "headers": {"Authorization": "Bearer tok-s3cr3t-value", "Content-Type": "application/json"},
            },
        ),
        (
            {
                "method": "PUT",
                "body_type": "form",
                "body": {"a": "x y", "b": [1, 2]},
                "auth": "basic",
                "user": "ann",
                "key": "pw",
            },
            {"form": {"a": "x y", "b": ["1", "2"]}, "headers": {"Authorization": "Basic YW5uOnB3"}},
        ),
        (
            {
                "method": "PATCH",
                "body_type": "raw",
                "body": "<a/>",
                "ct": "application/xml",
                "auth": "header",
                "auth_name": "X-Key",
                "key": "k1",
            },
            {"body": "<a/>", "headers": {"Content-Type": "application/xml", "X-Key": "k1"}},
        ),
        ({"method": "GET", "body_type": "", "auth": "query", "key": "k2"}, {"query": {"api_key": "k2"}}),
    ],
)
def test_method_body_type_and_auth_may_be_chosen_at_run_time(settings, choices, request_):
    with replaying(
        settings, {"request": {"path": "/r", **request_}, "response": {"status": 200, "json": {"ok": 1}}}
    ) as replay:
        result = run(GENERIC, {"url": replay.base_url + "/r", "paging": "none", **choices}, secret_inputs=["key"])
    assert result.outputs == {"body": {"ok": 1}}  # paging off: no items
    assert SECRETS["API_TOKEN"] not in "\n".join(result.request_log)


def test_run_time_choices_that_make_no_sense_are_named(settings):
    inputs = {"url": "https://x.test/", "method": "GET", "paging": "none", "auth": "none", "body_type": "none"}
    for change, expected in [
        ({"method": "TRACE"}, "method: 'TRACE' is not one of"),
        ({"body_type": "xml"}, "body.type: 'xml' is not one of"),
        ({"auth": "digest"}, "auth.type: 'digest' is not one of"),
        ({"auth": "bearer", "key": ""}, "auth.credential: bearer authentication needs a credential"),
        ({"paging": "cursor", "cursor": "body.next"}, "paginate.next.param: "),
        ({"paging": "link", "items": "data"}, "paginate.items: 'data' is not body"),
    ]:
        result = run(GENERIC, {**inputs, **change})
        assert result.error is not None
        assert (result.error["reason"], expected in result.error["message"]) == ("template", True), result.error


def test_paging_chosen_at_run_time(settings):
    with replaying(
        settings,
        page("/r", {}, {"data": [1], "next": "c2"}),
        page("/r", {"after": "c2"}, {"data": [2]}),
    ) as replay:
        inputs = {
            "url": replay.base_url + "/r",
            "method": "GET",
            "body_type": "none",
            "auth": "none",
            "paging": "cursor",
            "cursor": "body.next",
            "param": "after",
            "items": "body.data",
        }
        result = run(GENERIC, inputs)
    assert result.outputs == {"body": {"data": [2]}, "items": [1, 2]}


def test_an_smtp_server_that_never_answers_times_out_with_109(settings):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    settings.OUTBOUND_ALLOW = [f"127.0.0.1:{port}"]
    try:
        spec = {**email_spec(), "url": "smtp://127.0.0.1:{{ inputs.port }}"}
        result = run(spec, {"port": port, "to": "a@example.com", "subject": "Hi", "name": "A"}, timeout=1)
    finally:
        thread.join(2)
        for sock in accepted:
            sock.close()
        listener.close()
    assert result.error is not None
    assert (result.error["code"], result.error["reason"]) == (109, "timeout")
