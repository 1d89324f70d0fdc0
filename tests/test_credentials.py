"""Project credentials: encryption bound to the row, key rotation, write-only services, masking, substitution."""

from __future__ import annotations

import logging
import stat
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.management import call_command

from accounts.models import Project
from components import credentials
from components.credentials import (
    MASK,
    UndecryptableCredential,
    UnknownSecret,
    credential_delete,
    credential_set,
    credential_values,
    generate_key_entry,
    mask,
    render_secrets,
)
from components.models import Credential
from tests.factories import make_project, make_user

OLD = generate_key_entry("old")
NEW = generate_key_entry("new")


@pytest.fixture(autouse=True)
def keys(settings):  # type: ignore[no-untyped-def]
    settings.CREDENTIALS_KEYS = [OLD]


# --- Services and permissions ----------------------------------------------------------------


def test_a_value_round_trips_and_is_not_stored_in_clear(project, alice):
    credential = credential_set(project=project, actor=alice, name="STRIPE_KEY", value="sk_live_abc123")

    stored = Credential.objects.get(pk=credential.pk)
    assert stored.ciphertext.startswith("v1:old:")
    assert "sk_live_abc123" not in stored.ciphertext
    assert stored.created_by == alice
    assert credential_values(project=project) == {"STRIPE_KEY": "sk_live_abc123"}


def test_setting_again_replaces_the_value_in_the_same_row(project, alice, bob):
    first = credential_set(project=project, actor=alice, name="TOKEN", value="one-value")
    again = credential_set(project=project, actor=bob, name="TOKEN", value="two-value")

    assert again.pk == first.pk
    assert Credential.objects.filter(project=project).count() == 1
    assert credential_values(project=project) == {"TOKEN": "two-value"}
    assert again.created_by == alice


def test_two_encryptions_of_one_value_differ(project, alice):
    first = credential_set(project=project, actor=alice, name="TOKEN", value="same-value").ciphertext
    second = credential_set(project=project, actor=alice, name="TOKEN", value="same-value").ciphertext
    assert first != second  # a fresh nonce each time


def test_it_rejects_outsider(project, alice, charlie):
    with pytest.raises(Project.DoesNotExist):
        credential_set(project=project, actor=charlie, name="TOKEN", value="value")
    credential_set(project=project, actor=alice, name="TOKEN", value="value")
    with pytest.raises(Project.DoesNotExist):
        credential_delete(project=project, actor=charlie, name="TOKEN")
    assert Credential.objects.filter(project=project).count() == 1


def test_it_requires_edit_permission(alice):
    viewer = make_user(email="viewer@example.com")
    project = make_project(owner=alice, members={viewer: "view"})

    with pytest.raises(PermissionDenied):
        credential_set(project=project, actor=viewer, name="TOKEN", value="value")
    credential_set(project=project, actor=alice, name="TOKEN", value="value")
    with pytest.raises(PermissionDenied):
        credential_delete(project=project, actor=viewer, name="TOKEN")
    assert Credential.objects.filter(project=project).count() == 1


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [("lower", "value", "name"), ("1ABC", "value", "name"), ("A" * 65, "value", "name"), ("OK", "", "value")],
)
def test_it_validates_name_and_value(project, alice, name, value, field):
    with pytest.raises(ValidationError) as caught:
        credential_set(project=project, actor=alice, name=name, value=value)
    assert field in caught.value.message_dict
    assert not Credential.objects.exists()


def test_delete(project, alice, bob):
    credential_set(project=project, actor=alice, name="TOKEN", value="value")
    credential_delete(project=project, actor=bob, name="TOKEN")
    assert credential_values(project=project) == {}
    with pytest.raises(Credential.DoesNotExist):
        credential_delete(project=project, actor=bob, name="TOKEN")


# --- Binding to the row ----------------------------------------------------------------------


def test_a_value_copied_to_another_row_does_not_decrypt(project, alice):
    source = credential_set(project=project, actor=alice, name="SOURCE", value="the-real-secret")
    credential_set(project=project, actor=alice, name="TARGET", value="harmless")
    Credential.objects.filter(name="TARGET").update(ciphertext=source.ciphertext)

    with pytest.raises(UndecryptableCredential) as caught:
        credential_values(project=project)
    assert caught.value.name == "TARGET"
    assert "the-real-secret" not in str(caught.value)


def test_a_value_copied_to_another_project_does_not_decrypt(project, alice, charlie):
    source = credential_set(project=project, actor=alice, name="TOKEN", value="alice-secret")
    others = make_project(owner=charlie, name="Charlie's")
    credential_set(project=others, actor=charlie, name="TOKEN", value="charlie-secret")
    Credential.objects.filter(project=others).update(ciphertext=source.ciphertext)

    with pytest.raises(UndecryptableCredential):
        credential_values(project=others)
    assert credential_values(project=project) == {"TOKEN": "alice-secret"}


def test_a_renamed_row_does_not_decrypt(project, alice):
    credential_set(project=project, actor=alice, name="TOKEN", value="value")
    Credential.objects.filter(project=project).update(name="OTHER")
    with pytest.raises(UndecryptableCredential):
        credential_values(project=project)


def test_an_altered_value_does_not_decrypt(project, alice):
    stored = credential_set(project=project, actor=alice, name="TOKEN", value="value").ciphertext
    tampered = stored[:-6] + ("AAAAAA" if not stored.endswith("AAAAAA") else "BBBBBB")
    Credential.objects.filter(project=project).update(ciphertext=tampered)
    with pytest.raises(UndecryptableCredential):
        credential_values(project=project)


def test_the_key_is_not_derived_from_secret_key(project, alice, settings):
    credential_set(project=project, actor=alice, name="TOKEN", value="value")
    settings.SECRET_KEY = "something-else-entirely"
    assert credential_values(project=project) == {"TOKEN": "value"}


# --- Keys and rotation -----------------------------------------------------------------------


def test_rotation_moves_every_row_to_the_new_key(project, alice, settings):
    credential_set(project=project, actor=alice, name="ONE", value="first-secret")
    credential_set(project=project, actor=alice, name="TWO", value="second-secret")
    before = dict(Credential.objects.values_list("name", "updated_at"))

    settings.CREDENTIALS_KEYS = [NEW]  # the old key gone before rotating: the rows are unreadable
    with pytest.raises(UndecryptableCredential, match="'old' is not in CREDENTIALS_KEYS"):
        credential_values(project=project)

    settings.CREDENTIALS_KEYS = [NEW, OLD]
    assert credential_values(project=project) == {"ONE": "first-secret", "TWO": "second-secret"}
    out = StringIO()
    call_command("rotate_credentials", stdout=out)
    assert "2 credential(s) re-encrypted with key 'new'; 0 already used it." in out.getvalue()
    assert all(c.startswith("v1:new:") for c in Credential.objects.values_list("ciphertext", flat=True))
    assert dict(Credential.objects.values_list("name", "updated_at")) == before

    settings.CREDENTIALS_KEYS = [NEW]  # the old key removed afterwards
    assert credential_values(project=project) == {"ONE": "first-secret", "TWO": "second-secret"}

    out = StringIO()
    call_command("rotate_credentials", stdout=out)
    assert "0 credential(s) re-encrypted with key 'new'; 2 already used it." in out.getvalue()


def test_rotation_dry_run_counts_rows_per_key(project, alice, settings):
    credential_set(project=project, actor=alice, name="ONE", value="first-secret")
    settings.CREDENTIALS_KEYS = [NEW, OLD]
    credential_set(project=project, actor=alice, name="TWO", value="second-secret")

    out = StringIO()
    call_command("rotate_credentials", "--dry-run", stdout=out)
    assert "new: 1 credential(s), key current" in out.getvalue()
    assert "old: 1 credential(s), key in the ring" in out.getvalue()
    assert Credential.objects.get(name="ONE").ciphertext.startswith("v1:old:")


def test_generate_key_prints_a_usable_entry(settings):
    out = StringIO()
    call_command("rotate_credentials", "--generate-key", "k2026", stdout=out)
    entry = out.getvalue().strip()
    settings.CREDENTIALS_KEYS = [entry]
    assert credentials.key_ring().current == "k2026"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["nokey"], "keyid:base64key"),
        (["k1:not base64!"], "not base64"),
        (["k1:c2hvcnQ="], "32 bytes"),
        ([OLD, OLD], "appears twice"),
        (["bad id:" + OLD.split(":")[1]], "keyid:base64key"),
    ],
)
def test_a_malformed_key_ring_is_a_configuration_error(settings, entries, message):
    settings.CREDENTIALS_KEYS = entries
    with pytest.raises(ImproperlyConfigured, match=message):
        credentials.key_ring()


def test_without_keys_a_local_key_is_made_once_and_kept_private(
    project, alice, settings, tmp_path, monkeypatch, caplog
):
    settings.CREDENTIALS_KEYS = []
    settings.DATA_DIR = tmp_path
    monkeypatch.setattr(credentials, "_warned", False)

    with caplog.at_level(logging.WARNING, logger="components.credentials"):
        credential_set(project=project, actor=alice, name="TOKEN", value="value")
    key_file = tmp_path / "credentials.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().startswith("local:")
    assert "CREDENTIALS_KEYS is not set" in caplog.text
    assert list(tmp_path.iterdir()) == [key_file]  # no temporary file left behind

    credentials._rings.clear()  # as a fresh process would: the same file, the same key
    assert credential_values(project=project) == {"TOKEN": "value"}

    # Moving to CREDENTIALS_KEYS: the file's line goes after the new key, then rotate.
    settings.CREDENTIALS_KEYS = [NEW, key_file.read_text().strip()]
    call_command("rotate_credentials", stdout=StringIO())
    settings.CREDENTIALS_KEYS = [NEW]
    assert credential_values(project=project) == {"TOKEN": "value"}


# --- Masking ---------------------------------------------------------------------------------


def test_mask_replaces_secrets_in_nested_strings():
    value = {
        "url": "https://api.example.com/?key=hunter22&x=1",
        "headers": [("Authorization", "Bearer hunter22")],
        "nested": {"hunter22": ["no", "still hunter22 here"]},
        "count": 3,
        "none": None,
    }
    masked = mask(value, ["hunter22"])

    assert masked == {
        "url": f"https://api.example.com/?key={MASK}&x=1",
        "headers": [("Authorization", f"Bearer {MASK}")],
        "nested": {MASK: ["no", f"still {MASK} here"]},
        "count": 3,
        "none": None,
    }
    assert value["url"] == "https://api.example.com/?key=hunter22&x=1"  # the original is untouched


def test_mask_leaves_short_values_alone_and_prefers_the_longest_secret():
    assert mask("abc is a word", ["abc"]) == "abc is a word"
    assert mask("token: abcd-efgh", ["abcd", "abcd-efgh"]) == f"token: {MASK}"


def test_mask_catches_url_and_json_encoded_forms():
    secret = 'p@ss w/"q"'
    assert secret not in mask(f"https://x.test/?pw={secret.replace(' ', '+')}", [secret])
    assert mask("https://x.test/?pw=p%40ss%20w%2F%22q%22", [secret]) == f"https://x.test/?pw={MASK}"
    assert mask('{"pw": "p@ss w/\\"q\\""}', [secret]) == f'{{"pw": "{MASK}"}}'


def test_mask_with_no_secrets_returns_the_value():
    value = {"a": ["b"]}
    assert mask(value, []) is value


# --- Substitution ----------------------------------------------------------------------------


def test_render_secrets_substitutes_references_in_nested_strings():
    secrets = {"API_TOKEN": "tok-123", "USER": "ada"}
    value = {
        "Authorization": "Bearer {{ secrets.API_TOKEN }}",
        "body": ["{{secrets.USER}}:{{  secrets.API_TOKEN  }}", 7, None],
        "other": "{{ inputs.x }} stays",
    }

    assert render_secrets(value, secrets) == {
        "Authorization": "Bearer tok-123",
        "body": ["ada:tok-123", 7, None],
        "other": "{{ inputs.x }} stays",
    }
    assert render_secrets(None, secrets) is None
    assert render_secrets("https://x.test/?k={{ secrets.API_TOKEN }}", secrets) == "https://x.test/?k=tok-123"


def test_an_unknown_secret_is_named():
    with pytest.raises(UnknownSecret, match="unknown credential MISSING_ONE") as caught:
        render_secrets({"h": ["{{ secrets.MISSING_ONE }}"]}, {"OTHER": "value"})
    assert caught.value.name == "MISSING_ONE"


# --- Allowed hosts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (["API.Stripe.com", "api.stripe.com."], ["api.stripe.com"]),
        (["*.Example.com", "example.com"], ["*.example.com", "example.com"]),
        (["127.0.0.1", "[::1]", "2001:DB8::1"], ["127.0.0.1", "::1", "2001:db8::1"]),
        (["bücher.example"], ["xn--bcher-kva.example"]),
        ([], []),
    ],
)
def test_allowed_hosts_are_normalised(given, stored):
    assert credentials.normalise_allowed_hosts(given) == stored


@pytest.mark.parametrize(
    "pattern",
    [
        "https://api.stripe.com",
        "api.stripe.com/v1",
        "api.stripe.com:443",
        "user@api.stripe.com",
        "*",
        "*.",
        "a..b",
        "-bad.example.com",
        "*.127.0.0.1",
        "",
        " ",
        "api.*.com",
    ],
)
def test_a_pattern_that_is_not_a_host_is_refused(pattern):
    with pytest.raises(ValidationError, match=r"0: "):
        credentials.normalise_allowed_hosts([pattern])


def test_allowed_hosts_must_be_a_short_list():
    with pytest.raises(ValidationError):
        credentials.normalise_allowed_hosts("api.stripe.com")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="at most 50"):
        credentials.normalise_allowed_hosts([f"h{n}.example.com" for n in range(51)])


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("api.stripe.com", True),
        ("API.STRIPE.COM", True),
        ("a.example.com", True),
        ("a.b.example.com", True),
        ("example.com", False),  # *.example.com is its subdomains only
        ("evilexample.com", False),
        ("example.com.evil.net", False),
        ("api.stripe.com.evil.net", False),
        ("stripe.com", False),
        ("127.0.0.1", True),
        ("127.0.0.2", False),
    ],
)
def test_host_matching(host, allowed):
    assert credentials.host_allowed(host, ["api.stripe.com", "*.example.com", "127.0.0.1"]) is allowed


def test_hosts_are_set_with_the_value_and_kept_when_it_is_replaced(project, alice, bob):
    credential_set(project=project, actor=alice, name="STRIPE_KEY", value="sk_one", allowed_hosts=["API.stripe.com"])
    assert Credential.objects.get(name="STRIPE_KEY").allowed_hosts == ["api.stripe.com"]

    credential_set(project=project, actor=bob, name="STRIPE_KEY", value="sk_two")  # a new value, no list given
    values = credential_values(project=project)
    assert values == {"STRIPE_KEY": "sk_two"}
    assert values.allowed_hosts == {"STRIPE_KEY": ("api.stripe.com",)}  # replacing never widens

    credential_set(project=project, actor=bob, name="STRIPE_KEY", value=None, allowed_hosts=[])  # hosts only
    values = credential_values(project=project)
    assert values == {"STRIPE_KEY": "sk_two"}  # the value stays
    assert values.allowed_hosts == {}


def test_changing_hosts_needs_an_existing_credential_and_edit_permission(project, alice):
    with pytest.raises(ValidationError) as missing:
        credential_set(project=project, actor=alice, name="NOPE", value=None, allowed_hosts=["a.example.com"])
    assert "value" in missing.value.message_dict
    assert not Credential.objects.exists()

    credential_set(project=project, actor=alice, name="TOKEN", value="value")
    viewer = make_user(email="viewer@example.com")
    make_project(owner=viewer)  # unrelated: a project of the viewer's own
    project.memberships.create(user=viewer, permission="view")
    with pytest.raises(PermissionDenied):
        credential_set(project=project, actor=viewer, name="TOKEN", value=None, allowed_hosts=["evil.example"])
    outsider = make_user(email="outsider@example.com")
    with pytest.raises(Project.DoesNotExist):
        credential_set(project=project, actor=outsider, name="TOKEN", value=None, allowed_hosts=["evil.example"])
    assert Credential.objects.get(name="TOKEN").allowed_hosts == []


def test_bad_hosts_change_nothing(project, alice):
    credential_set(project=project, actor=alice, name="TOKEN", value="value", allowed_hosts=["a.example.com"])
    with pytest.raises(ValidationError) as caught:
        credential_set(project=project, actor=alice, name="TOKEN", value="other", allowed_hosts=["https://x.com/"])
    assert caught.value.message_dict["allowed_hosts"] == [
        "0: 'https://x.com/' is not a host name; write api.example.com or *.example.com, without scheme, port or path"
    ]
    values = credential_values(project=project)
    assert values == {"TOKEN": "value"}
    assert values.allowed_hosts == {"TOKEN": ("a.example.com",)}


# --- Allowed hosts on real requests: ctx.http and http components against a loopback API ------


@pytest.fixture
def api(settings, monkeypatch):  # type: ignore[no-untyped-def]
    from tests import fake_api

    fake_api.loopback_only(monkeypatch)
    with fake_api.serve() as server:
        # The same server under two names: "127.0.0.1" and "localhost" are different hosts.
        settings.OUTBOUND_ALLOW = [server.destination, f"localhost:{server.port}"]
        yield server


def run_component(component, capture):  # type: ignore[no-untyped-def]
    from components.runs import run_execute, run_start

    with capture():
        execution = run_start(component=component, inputs={})
    run_execute(execution.pk)
    execution.refresh_from_db()
    return execution


def code_component(project, actor, code):  # type: ignore[no-untyped-def]
    from components import services

    component = services.component_create(project=project, actor=actor, name="Caller", code=code)
    services.component_publish(component=component, actor=actor)
    return component


def calling(url: str) -> str:
    return (
        "def run(inputs, ctx):\n"
        f"    answer = ctx.http('POST', {url!r}, headers={{'Authorization': 'Bearer {{{{ secrets.TOKEN }}}}'}},\n"
        "                      json={'token': '{{ secrets.TOKEN }}'})\n"
        "    return {'status': answer.status}\n"
    )


def test_code_sends_a_credential_to_an_allowed_host(project, alice, api, django_capture_on_commit_callbacks):
    credential_set(project=project, actor=alice, name="TOKEN", value="tok-allowed-1", allowed_hosts=["127.0.0.1"])
    execution = run_component(
        code_component(project, alice, calling(api.url("/echo"))), django_capture_on_commit_callbacks
    )
    assert execution.status == "succeeded", execution.error
    assert api.requests[-1]["headers"]["Authorization"] == "Bearer tok-allowed-1"


def test_code_cannot_send_a_credential_elsewhere(project, alice, api, django_capture_on_commit_callbacks):
    credential_set(project=project, actor=alice, name="TOKEN", value="tok-pinned-2", allowed_hosts=["api.stripe.com"])
    execution = run_component(
        code_component(project, alice, calling(api.url("/echo"))), django_capture_on_commit_callbacks
    )
    assert execution.status == "failed"
    assert execution.error["code"] == 120
    assert execution.error["message"] == (
        "ConnectionError: credential TOKEN may only be sent to api.stripe.com, not to 127.0.0.1; "
        "change its allowed hosts in the project's credentials"
    )
    assert api.requests == []  # nothing was sent
    assert "tok-pinned-2" not in str(execution.error) + str(execution.logs)


def test_a_request_without_the_credential_is_not_restricted(project, alice, api, django_capture_on_commit_callbacks):
    credential_set(project=project, actor=alice, name="TOKEN", value="tok-pinned-3", allowed_hosts=["api.stripe.com"])
    code = f"def run(inputs, ctx):\n    return {{'status': ctx.http('GET', {api.url('/echo')!r}).status}}\n"
    execution = run_component(code_component(project, alice, code), django_capture_on_commit_callbacks)
    assert execution.status == "succeeded"
    assert execution.outputs == {"status": 200}


def test_a_redirect_cannot_carry_a_credential_to_another_host(project, alice, api, django_capture_on_commit_callbacks):
    credential_set(project=project, actor=alice, name="TOKEN", value="tok-pinned-4", allowed_hosts=["127.0.0.1"])
    # A 307 keeps the body (which holds the credential) on its way to "localhost", another host.
    target = f"http://localhost:{api.port}/echo"
    url = api.url("/redirect") + "?code=307&to=" + target
    execution = run_component(code_component(project, alice, calling(url)), django_capture_on_commit_callbacks)
    assert execution.status == "failed"
    assert "may only be sent to 127.0.0.1, not to localhost" in execution.error["message"]
    assert [r["path"] for r in api.requests] == ["/redirect"]  # the second hop never happened


def test_an_http_component_cannot_send_a_credential_elsewhere(project, alice, api):
    from components.http_component import run_http_component

    credential_set(project=project, actor=alice, name="TOKEN", value="tok-pinned-5", allowed_hosts=["api.stripe.com"])
    secrets = credential_values(project=project)
    header = {"url": api.url("/echo"), "headers": {"Authorization": "Bearer {{ secrets.TOKEN }}"}}
    refused = run_http_component(header, {}, secrets, idempotency_key="k")
    assert refused.error is not None
    assert (refused.error["code"], refused.error["reason"], refused.error["credential"]) == (
        400,
        "credential_host",
        "TOKEN",
    )
    assert "not to 127.0.0.1" in refused.error["message"]

    # However it is used: through a filter, or through an input of type secret.
    filtered = {"url": api.url("/echo"), "query": {"k": "{{ secrets.TOKEN | upper }}"}}
    assert run_http_component(filtered, {}, secrets, idempotency_key="k").error["reason"] == "credential_host"
    through_input = {"url": api.url("/echo"), "headers": {"X-Key": "{{ inputs.key }}"}}
    result = run_http_component(
        through_input, {"key": "{{ secrets.TOKEN }}"}, secrets, idempotency_key="k", secret_inputs=["key"]
    )
    assert result.error["reason"] == "credential_host"
    assert api.requests == []

    credential_set(project=project, actor=alice, name="TOKEN", value=None, allowed_hosts=["127.0.0.1"])
    allowed = run_http_component(header, {}, credential_values(project=project), idempotency_key="k")
    assert allowed.error is None
    assert api.requests[-1]["headers"]["Authorization"] == "Bearer tok-pinned-5"


# --- Allowed hosts in the API and on the credentials page -------------------------------------


def api_call(client, method, path, data=None):  # type: ignore[no-untyped-def]
    return getattr(client, method)(f"/api/v1/{path}", data, content_type="application/json")


def test_the_api_sets_and_changes_allowed_hosts(client, alice, bob, charlie, project):
    path = f"projects/{project.pk}/credentials/"
    client.force_login(bob)
    created = api_call(
        client, "post", path, {"name": "STRIPE_KEY", "value": "sk_1", "allowed_hosts": ["api.stripe.com"]}
    )
    assert created.status_code == 201
    assert created.json()["allowed_hosts"] == ["api.stripe.com"]
    assert "value" not in created.json()

    changed = api_call(client, "patch", f"{path}STRIPE_KEY/", {"allowed_hosts": ["*.stripe.com"]})
    assert changed.status_code == 200
    assert changed.json()["allowed_hosts"] == ["*.stripe.com"]
    assert "sk_1" not in changed.content.decode()
    assert credential_values(project=project) == {"STRIPE_KEY": "sk_1"}  # the value stays
    assert api_call(client, "get", path).json()[0]["allowed_hosts"] == ["*.stripe.com"]

    bad = api_call(client, "patch", f"{path}STRIPE_KEY/", {"allowed_hosts": ["https://stripe.com/"]})
    assert bad.status_code == 400
    assert "allowed_hosts" in bad.json()["errors"]
    assert api_call(client, "patch", f"{path}NOPE/", {"allowed_hosts": []}).status_code == 404

    replaced = api_call(client, "post", path, {"name": "STRIPE_KEY", "value": "sk_2"})
    assert replaced.json()["allowed_hosts"] == ["*.stripe.com"]  # left out: kept

    client.force_login(charlie)  # an outsider
    assert api_call(client, "patch", f"{path}STRIPE_KEY/", {"allowed_hosts": []}).status_code == 404
    project.memberships.create(user=charlie, permission="view")
    assert api_call(client, "patch", f"{path}STRIPE_KEY/", {"allowed_hosts": []}).status_code == 403
    assert Credential.objects.get(name="STRIPE_KEY").allowed_hosts == ["*.stripe.com"]


def test_the_credentials_page_sets_shows_and_clears_allowed_hosts(client, bob, project):
    url = f"/projects/{project.pk}/credentials/"
    client.force_login(bob)
    saved = client.post(
        url, {"name": "STRIPE_KEY", "value": "sk_page_1", "allowed_hosts": "api.stripe.com\n*.stripe.network"}
    )
    assert saved.status_code == 302
    page = client.get(url).content.decode()
    assert "<code>api.stripe.com</code>, <code>*.stripe.network</code>" in page
    assert "sk_page_1" not in page

    # Replacing the value with the hosts field left empty keeps the list.
    assert client.post(url, {"name": "STRIPE_KEY", "value": "sk_page_2", "allowed_hosts": ""}).status_code == 302
    assert Credential.objects.get(name="STRIPE_KEY").allowed_hosts == ["api.stripe.com", "*.stripe.network"]
    # The hosts form of one credential: no value, and an empty list means any public host.
    assert client.post(url, {"name": "STRIPE_KEY", "replace_hosts": "1", "allowed_hosts": ""}).status_code == 302
    assert Credential.objects.get(name="STRIPE_KEY").allowed_hosts == []
    assert credential_values(project=project) == {"STRIPE_KEY": "sk_page_2"}
    assert "sent to any public host" in client.get(url).content.decode()

    bad = client.post(url, {"name": "STRIPE_KEY", "replace_hosts": "1", "allowed_hosts": "https://evil.example/x"})
    assert bad.status_code == 200
    assert "is not a host name" in bad.content.decode()
    new_without_value = client.post(url, {"name": "NEW_KEY", "value": ""})
    assert new_without_value.status_code == 200
    assert "a credential needs a value" in new_without_value.content.decode()
    assert not Credential.objects.filter(name="NEW_KEY").exists()
