"""Declarative HTTP components: spec validation, rendering, mapping, errors, against a real loopback API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from components.credentials import MASK
from components.http_component import HttpRunResult, run_http_component, validate_http_spec
from tests import fake_api
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
    assert result.error == {"code": 404, "message": "failed with 404", "status": 404}


def test_without_a_message_path_the_reason_is_the_message(api):
    result = run({"url": api.url("/status/500")})
    assert result.error == {"code": 500, "message": "Internal Server Error", "status": 500}

    result = run({"url": api.url("/status/429"), "error_message": "body.missing"})
    assert result.error == {"code": 429, "message": "Too Many Requests", "status": 429}


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
    assert (result.error["code"], result.error["reason"]) == (504, "timeout")


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
