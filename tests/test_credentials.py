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
