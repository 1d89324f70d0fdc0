"""A credential cannot leave masked output by being transformed on the way: base64 (a URL's
``user:secret@`` becomes ``Authorization: Basic …``), another case (a host name is lower-cased),
percent- or JSON-encoding; and a credential may not be part of a host name at all. Each bypass is
run for real: a component run in a project with credentials, against a loopback echo server."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from components import services
from components.credentials import MASK, CredentialInAuthority, credential_set, mask, refuse_credential_in_authority
from components.models import Execution
from components.runs import run_execute, run_start
from tests import fake_api

SECRET = "Sk-Live/9f+Qz7Xw%Lm2"  # mixed case and characters that percent- and JSON-encoding change


@pytest.fixture
def api(settings, monkeypatch) -> Iterator[fake_api.FakeApi]:
    fake_api.loopback_only(monkeypatch)
    with fake_api.serve() as server:
        settings.OUTBOUND_ALLOW = [server.destination]
        yield server


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host name this process asks DNS about (the real resolver still answers)."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def run(component: Any, capture: Callable[[], Any], inputs: dict[str, Any] | None = None) -> Execution:
    with capture():
        execution = run_start(component=component, inputs=inputs or {})
    run_execute(execution.pk)
    execution.refresh_from_db()
    return execution


def error_of(execution: Execution) -> dict[str, Any]:
    assert execution.error is not None
    return dict(execution.error)


def http_component(project: Any, actor: Any, spec: dict[str, Any], outputs: list[str]) -> Any:
    component = services.component_create(
        project=project,
        actor=actor,
        name="Echo",
        kind="http",
        outputs=[{"name": name, "type": "json"} for name in outputs],
        http=spec,
    )
    services.component_publish(component=component, actor=actor)
    return component


def code_component(project: Any, actor: Any, code: str) -> Any:
    component = services.component_create(project=project, actor=actor, name="Caller", code=code)
    services.component_publish(component=component, actor=actor)
    return component


def leaked_forms(secret: str, user: str = "") -> list[str]:
    """What a leak would look like: the secret in any case and encoding, and base64 of it."""
    forms = [secret, secret.lower(), secret.upper(), quote(secret, safe=""), quote_plus(secret)]
    forms += [json.dumps(secret)[1:-1], base64.b64encode(secret.encode()).decode()]
    if user:
        forms.append(base64.b64encode(f"{user}:{secret}".encode()).decode())
    return forms


def stored(execution: Execution) -> str:
    """Everything a run keeps and shows: inputs, outputs, error and logs."""
    return json.dumps([execution.inputs, execution.outputs, execution.error, execution.logs], ensure_ascii=False)


def assert_nothing_leaks(execution: Execution, secret: str = SECRET, user: str = "") -> None:
    text = stored(execution)
    for form in leaked_forms(secret, user):
        assert form not in text, f"{form!r} leaked"
        assert form.lower() not in text.lower(), f"{form!r} leaked in another case"


# --- (a) a credential in a URL's userinfo comes back as Authorization: Basic ---------------------
# Refused, like a host name: the spec's auth (basic) sends the same header, and its echo is masked.


@pytest.mark.parametrize("secret", [SECRET, "PlainUserinfoSecret9"])
def test_an_http_component_refuses_a_credential_in_url_userinfo(
    project, alice, api, lookups, django_capture_on_commit_callbacks, secret
):
    credential_set(project=project, actor=alice, name="TOKEN", value=secret)
    url = api.url("/echo").replace("http://", "http://robot:{{ secrets.TOKEN }}@")
    component = http_component(
        project, alice, {"url": url, "outputs": {"auth": "body.headers.Authorization"}}, ["auth"]
    )
    execution = run(component, django_capture_on_commit_callbacks)

    assert execution.status == "failed"
    assert error_of(execution)["code"] == 400
    assert "credential TOKEN is in the URL's host name or user:password@ part" in error_of(execution)["message"]
    assert api.requests == []  # nothing was sent
    assert lookups == []  # nor looked up
    assert_nothing_leaks(execution, secret=secret, user="robot")


@pytest.mark.parametrize("secret", [SECRET, "PlainUserinfoSecret9"])
def test_ctx_http_refuses_a_credential_in_url_userinfo(
    project, alice, api, lookups, django_capture_on_commit_callbacks, secret
):
    credential_set(project=project, actor=alice, name="TOKEN", value=secret)
    url = api.url("/echo").replace("http://", "http://robot:{{ secrets.TOKEN }}@")
    code = (
        "def run(inputs, ctx):\n"
        f"    answer = ctx.http('GET', {url!r})\n"
        "    return {'auth': answer.json()['headers']['Authorization']}\n"
    )
    execution = run(code_component(project, alice, code), django_capture_on_commit_callbacks)

    assert execution.status == "failed"
    assert "credential TOKEN is in the URL's host name or user:password@ part" in error_of(execution)["message"]
    assert api.requests == []
    assert lookups == []
    assert_nothing_leaks(execution, secret=secret, user="robot")


def test_basic_auth_of_the_spec_is_masked_when_echoed(project, alice, api, django_capture_on_commit_callbacks):
    credential_set(project=project, actor=alice, name="TOKEN", value=SECRET)
    spec = {
        "url": api.url("/echo"),
        "auth": {"type": "basic", "username": "someone-long", "credential": "{{ secrets.TOKEN }}"},
        "outputs": {"auth": "body.headers.Authorization"},
    }
    execution = run(http_component(project, alice, spec, ["auth"]), django_capture_on_commit_callbacks)

    assert execution.status == "succeeded", execution.error
    assert execution.outputs == {"auth": f"Basic {MASK}"}
    assert_nothing_leaks(execution, user="someone-long")


# --- (b) a credential in a host name comes back lower-cased in the error ------------------------


def test_an_http_component_refuses_a_credential_in_the_host_name_before_any_lookup(
    project, alice, api, lookups, django_capture_on_commit_callbacks
):
    credential_set(project=project, actor=alice, name="TOKEN", value="HostLabelSecret42")
    spec = {"url": "http://{{ secrets.TOKEN }}.example.invalid/echo", "outputs": {"status": "status"}}
    execution = run(http_component(project, alice, spec, ["status"]), django_capture_on_commit_callbacks)

    assert execution.status == "failed"
    assert error_of(execution)["code"] == 400
    assert "credential TOKEN is in the URL's host name or user:password@ part" in error_of(execution)["message"]
    assert not [host for host in lookups if "hostlabelsecret42" in host.lower()]  # never looked up
    assert api.requests == []
    assert_nothing_leaks(execution, secret="HostLabelSecret42")


def test_ctx_http_refuses_a_credential_in_the_host_name_before_any_lookup(
    project, alice, api, lookups, django_capture_on_commit_callbacks
):
    credential_set(project=project, actor=alice, name="TOKEN", value="HostLabelSecret43")
    code = (
        "def run(inputs, ctx):\n"
        "    answer = ctx.http('GET', 'http://{{ secrets.TOKEN }}.example.invalid/echo')\n"
        "    return {'error': answer.error}\n"
    )
    execution = run(code_component(project, alice, code), django_capture_on_commit_callbacks)

    assert execution.status == "failed"  # an unanswered ctx.http raises in the component's code
    assert "credential TOKEN is in the URL's host name or user:password@ part" in error_of(execution)["message"]
    assert not [host for host in lookups if "hostlabelsecret43" in host.lower()]
    assert_nothing_leaks(execution, secret="HostLabelSecret43")


def test_an_email_component_refuses_a_credential_in_the_smtp_host_before_any_lookup(
    project, alice, lookups, django_capture_on_commit_callbacks
):
    credential_set(project=project, actor=alice, name="TOKEN", value="MailHostSecret44")
    spec = {
        "method": "POST",
        "url": "smtp://{{ secrets.TOKEN }}.example.invalid:587",
        "body": {
            "type": "email",
            "value": {"from": "ops@example.com", "to": "a@example.com", "subject": "s", "text": "hi"},
        },
        "outputs": {"status": "status"},
    }
    execution = run(http_component(project, alice, spec, ["status"]), django_capture_on_commit_callbacks)

    assert execution.status == "failed"
    assert error_of(execution)["code"] == 400
    assert "credential TOKEN is in the URL's host name" in error_of(execution)["message"]
    assert not [host for host in lookups if "mailhostsecret44" in host.lower()]
    assert_nothing_leaks(execution, secret="MailHostSecret44")


def test_a_credential_typed_into_a_host_name_is_refused_too(
    project, alice, api, lookups, django_capture_on_commit_callbacks
):
    # Not substituted (the component's author typed the value): still never looked up, and the
    # resolver's error, which would name the host lower-cased, never happens.
    credential_set(project=project, actor=alice, name="TOKEN", value="TypedInHost77")
    spec = {"url": "http://TypedInHost77.example.invalid/echo", "outputs": {"status": "status"}}
    execution = run(http_component(project, alice, spec, ["status"]), django_capture_on_commit_callbacks)

    assert execution.status == "failed"
    assert "credential TOKEN is in the URL's host name" in error_of(execution)["message"]
    assert not [host for host in lookups if "typedinhost77" in host.lower()]
    assert_nothing_leaks(execution, secret="TypedInHost77")


# --- other transformed forms, through a run ---------------------------------------------------------


def test_upper_lower_and_percent_encoded_forms_are_masked_in_outputs_and_logs(
    project, alice, api, django_capture_on_commit_callbacks
):
    credential_set(project=project, actor=alice, name="TOKEN", value=SECRET)
    spec = {
        "url": api.url("/echo") + "/{{ secrets.TOKEN | urlencode }}",
        "query": {"upper": "{{ secrets.TOKEN | upper }}", "lower": "{{ secrets.TOKEN | lower }}"},
        "outputs": {"query": "body.query", "path": "body.path"},
    }
    execution = run(http_component(project, alice, spec, ["query", "path"]), django_capture_on_commit_callbacks)

    assert execution.status == "succeeded", execution.error
    sent = api.requests[-1]
    assert sent["query"] == {"upper": SECRET.upper(), "lower": SECRET.lower()}
    assert quote(SECRET) in sent["path"]
    assert execution.outputs == {"query": {"upper": MASK, "lower": MASK}, "path": f"/echo/{MASK}"}
    assert any("upper=" in line for line in execution.logs)  # the request line is logged, masked
    assert_nothing_leaks(execution)


def test_a_credential_typed_into_an_input_in_another_case_is_masked_in_outputs_and_logs(
    project, alice, django_capture_on_commit_callbacks
):
    credential_set(project=project, actor=alice, name="TOKEN", value=SECRET)
    component = services.component_create(
        project=project,
        actor=alice,
        name="Shout",
        code="def run(inputs, ctx):\n    print(inputs['note'])\n    return {'note': inputs['note']}\n",
        inputs=[{"name": "note", "type": "text"}],
        outputs=[{"name": "note", "type": "text"}],
    )
    services.component_publish(component=component, actor=alice)
    execution = run(component, django_capture_on_commit_callbacks, {"note": f"key={SECRET.upper()}"})

    assert execution.status == "succeeded", execution.error
    assert execution.outputs == {"note": f"key={MASK}"}
    assert execution.logs == [f"key={MASK}"]


# --- deep values (masking walks without recursion) ----------------------------------------------


def test_a_deeply_nested_answer_in_a_project_with_a_credential_finishes_the_run(
    project, alice, api, django_capture_on_commit_callbacks
):
    credential_set(project=project, actor=alice, name="TOKEN", value=SECRET)
    deep = "[" * 600 + json.dumps(SECRET) + "]" * 600  # the answer echoes it back in "json"
    spec = {
        "method": "POST",
        "url": api.url("/echo"),
        "headers": {"Content-Type": "application/json", "X-Key": "{{ secrets.TOKEN }}"},
        "body": {"type": "raw", "value": deep},
        "outputs": {"echoed": "body.json"},
    }
    execution = run(http_component(project, alice, spec, ["echoed"]), django_capture_on_commit_callbacks)

    # The run ends (it used to stay "running": masking crashed on recursion). The answer is refused
    # by the nesting limit (docs/components.md); masking itself walks any depth (the test below).
    assert execution.status == "failed"
    assert error_of(execution)["code"] == 125
    assert execution.finished_at is not None
    assert_nothing_leaks(execution)


def test_mask_walks_any_depth_without_recursion():
    deep: list[Any] = [SECRET.lower()]
    for _ in range(20_000):
        deep = [deep, {"k": (deep[-1] if isinstance(deep[-1], str) else "x")}]
    masked = mask(deep, [SECRET])
    for _ in range(20_000):
        masked = masked[0]
    assert masked == [MASK]


# --- mask() and refuse_credential_in_authority() on their own ------------------------------------


@pytest.mark.parametrize("prefix", ["", "a", "ab", "abc", "robot:", "x" * 50 + ":"])
@pytest.mark.parametrize("alphabet", [base64.b64encode, base64.urlsafe_b64encode])
def test_base64_of_anything_containing_the_secret_is_masked_whole(prefix, alphabet):
    for suffix in ("", "z", "zz", ":tail"):
        token = alphabet(f"{prefix}{SECRET}{suffix}".encode()).decode()
        assert mask(f"Authorization: Basic {token}.", [SECRET]) == f"Authorization: Basic {MASK}."
        assert mask(token.rstrip("="), [SECRET]) == MASK


@pytest.mark.parametrize(
    "form",
    [
        SECRET.lower(),
        SECRET.upper(),
        quote(SECRET, safe=""),
        quote(SECRET, safe="").lower(),  # %2f as well as %2F
        quote(SECRET),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        json.dumps('a "quoted" Sk-Live\\9f')[1:-1],
        SECRET.encode().hex(),
        SECRET.encode().hex().upper(),
    ],
)
def test_encoded_and_recased_forms_are_masked(form):
    secrets = [SECRET, 'a "quoted" Sk-Live\\9f']
    assert mask({"k": f"<{form}>"}, secrets) == {"k": f"<{MASK}>"}


def test_masking_keeps_ordinary_text_and_short_values():
    text = "Basic dXNlcjpvdGhlcg== and the word test"
    assert mask(text, [SECRET, "tes"]) == text
    assert mask({"a": (1, None, True)}, [SECRET]) == {"a": (1, None, True)}


def test_a_large_base64_body_is_masked_in_linear_time():
    import time

    blob = base64.b64encode(bytes(range(256)) * 4000).decode()  # ~1.4 MB, one base64 run
    started = time.monotonic()
    assert mask(blob, [SECRET]) == blob
    assert time.monotonic() - started < 5  # quadratic scanning would take minutes


@pytest.mark.parametrize(
    "url",
    [
        "https://hostlabelsecret42.example.com/",
        "https://api.example.com.HostLabelSecret42.net/x",
        "https://hostlabelsecret42:443/",
        "https://user:pw@HOSTLABELSECRET42.example.com/",
        "https://robot:HostLabelSecret42@api.example.com/",
        "https://robot:hostlabelsecret42@api.example.com/",
        f"https://robot:{SECRET}@api.example.com/",  # its "/" would end a parsed authority early
        f"https://robot:{quote(SECRET, safe='')}@api.example.com/",
    ],
)
def test_a_credential_in_a_url_authority_is_refused(url):
    secrets = {"TOKEN": "HostLabelSecret42", "OTHER": SECRET}
    with pytest.raises(CredentialInAuthority) as refused:
        refuse_credential_in_authority(url, secrets)
    assert "is in the URL's host name or user:password@ part" in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/HostLabelSecret42",
        "https://api.example.com/?key=HostLabelSecret42",
        "not a url HostLabelSecret42",
    ],
)
def test_a_credential_elsewhere_in_a_url_is_not_refused(url):
    refuse_credential_in_authority(url, {"TOKEN": "HostLabelSecret42"})
