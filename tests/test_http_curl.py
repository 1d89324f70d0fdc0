"""Import from cURL: the parser on commands people paste (Chrome's "Copy as cURL", the Stripe and
GitHub docs), and the import endpoint with the four personas. Every imported spec must validate."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from components import credentials
from components.http_component import validate_http_spec
from components.http_component.curl import CurlError, parse_curl, tokens
from components.models import Component, Kind
from tests.factories import make_project

CHROME = r"""curl 'https://api.example.com/v1/users?page=2&per_page=50' \
  -H 'accept: application/json, text/plain, */*' \
  -H 'accept-language: en-GB,en;q=0.9' \
  -H 'authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl' \
  -H 'content-type: application/json' \
  -b 'sid=s3ssion-c00kie; theme=dark' \
  -H 'origin: https://app.example.com' \
  -H 'priority: u=1, i' \
  -H 'sec-ch-ua: "Chromium";v="131", "Not_A Brand";v="24"' \
  -H 'sec-ch-ua-mobile: ?0' \
  -H 'sec-fetch-mode: cors' \
  -H 'user-agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36' \
  --data-raw $'{"name":"Zoë","note":"it\'s \\"quoted\\"\\nand multi-line"}'"""

GITHUB = (
    r"""curl -L \
  -X POST \
  -H "Accept: application/vnd.github+json" \
  -H "Authorization: Bearer <YOUR-TOKEN>" \
  -H "X-GitHub-Api-Version: 2022-11-28" \
  https://api.github.com/repos/OWNER/REPO/issues \
  -d '{"title":"Found a bug","body":"I'\''m having a problem with this.","""
    r""""assignees":["octocat"],"milestone":1,"labels":["bug"]}'"""
)

STRIPE = r"""curl https://api.stripe.com/v1/customers \
  -u "sk_test_4eC39HqLyjWDarjtT1zdp7dc:" \
  -d name="Jenny Rosen" \
  --data-urlencode email="jenny+rosen@example.com" \
  -d "metadata[order_id]"=6735"""

STRIPE_LIST = "curl -G https://api.stripe.com/v1/customers -u sk_test_4eC39HqLyjWDarjtT1zdp7dc: -d limit=3"


def valid(spec: dict[str, Any]) -> dict[str, Any]:
    """The imported spec passes the same validation as a saved one."""
    return validate_http_spec(json.loads(json.dumps(spec)))


def test_chrome_copy_as_curl():
    imported = parse_curl(CHROME)
    spec = imported.spec
    assert spec["method"] == "POST"  # --data-raw without -X
    assert spec["url"] == "https://api.example.com/v1/users"
    assert spec["query"] == {"page": "2", "per_page": "50"}
    # $'…' quoting decoded: the escaped quotes and the \n inside the JSON string stay JSON escapes.
    assert spec["body"] == {"type": "json", "value": {"name": "Zoë", "note": 'it\'s "quoted"\nand multi-line'}}
    assert spec["auth"] == {"type": "bearer", "credential": "{{ secrets.EXAMPLE_TOKEN }}"}
    assert spec["headers"] == {
        "accept": "application/json, text/plain, */*",
        "accept-language": "en-GB,en;q=0.9",
        "origin": "https://app.example.com",
        "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
        "Cookie": "{{ secrets.EXAMPLE_COOKIE }}",
    }
    assert [c["name"] for c in imported.credentials] == ["EXAMPLE_TOKEN", "EXAMPLE_COOKIE"]
    assert any("sec-ch-ua" in note and "priority" in note for note in imported.notes)
    text = json.dumps(imported.as_dict())
    assert "eyJhbGci" not in text
    assert "s3ssion" not in text
    valid(spec)


def test_github_docs_example():
    imported = parse_curl(GITHUB)
    spec = imported.spec
    assert spec["method"] == "POST"
    assert spec["url"] == "https://api.github.com/repos/OWNER/REPO/issues"
    assert spec["headers"] == {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    assert spec["auth"] == {"type": "bearer", "credential": "{{ secrets.GITHUB_TOKEN }}"}
    assert spec["body"]["type"] == "json"  # -d with JSON and no Content-Type: GitHub reads it as JSON
    assert spec["body"]["value"]["body"] == "I'm having a problem with this."
    assert spec["body"]["value"]["milestone"] == 1
    assert imported.notes == []
    assert imported.unknown == []
    valid(spec)


def test_stripe_docs_example_basic_auth_with_the_key_as_user_name():
    imported = parse_curl(STRIPE)
    spec = imported.spec
    assert spec["method"] == "POST"
    assert spec["body"] == {
        "type": "form",
        "value": {"name": "Jenny Rosen", "email": "jenny+rosen@example.com", "metadata[order_id]": "6735"},
    }
    assert spec["auth"] == {"type": "basic", "credential": "{{ secrets.STRIPE_KEY }}"}
    assert "sk_test" not in json.dumps(imported.as_dict())
    assert any("followed by a colon in STRIPE_KEY" in note for note in imported.notes)
    valid(spec)


def test_get_moves_data_to_the_query_and_reuses_an_existing_credential():
    imported = parse_curl(STRIPE_LIST, credentials=["STRIPE_SECRET", "OTHER"])
    assert imported.spec["method"] == "GET"
    assert imported.spec["body"] is None
    assert imported.spec["query"] == {"limit": "3"}
    assert imported.spec["auth"]["credential"] == "{{ secrets.STRIPE_SECRET }}"
    valid(imported.spec)


def test_user_and_password_and_api_key_parameter():
    imported = parse_curl("curl -XPUT -u ada:pa55word 'http://127.0.0.1:8000/echo?api_key=abc123&x=1' -F name=Ada")
    spec = imported.spec
    assert spec["method"] == "PUT"
    assert spec["auth"] == {"type": "basic", "username": "ada", "credential": "{{ secrets.API_PASSWORD }}"}
    # The command had another authentication: the key parameter stays a parameter, as a credential.
    assert spec["query"] == {"api_key": "{{ secrets.API_KEY }}", "x": "1"}
    assert spec["body"] == {"type": "multipart", "value": {"name": "Ada"}}
    assert "pa55word" not in json.dumps(imported.as_dict())
    assert "abc123" not in json.dumps(imported.as_dict())
    valid(spec)


def test_api_key_header_and_query_become_auth():
    header = parse_curl("curl https://api.openweathermap.org/data -H 'X-API-Key: 0123456789'").spec
    assert header["auth"] == {"type": "header", "name": "X-API-Key", "credential": "{{ secrets.OPENWEATHERMAP_KEY }}"}
    assert header["headers"] == {}
    query = parse_curl("curl 'https://maps.example.org/geo?q=Paris&key=0123456789'").spec
    assert query["auth"] == {"type": "query", "name": "key", "credential": "{{ secrets.EXAMPLE_KEY }}"}
    assert query["query"] == {"q": "Paris"}
    valid(header)
    valid(query)


def test_clustered_and_glued_short_options_long_options_with_equals():
    spec = parse_curl("curl -sSL -XDELETE --url=https://api.example.com/items/7 -HAccept:application/json").spec
    assert spec["method"] == "DELETE"
    assert spec["url"] == "https://api.example.com/items/7"
    assert spec["headers"] == {"Accept": "application/json"}


def test_no_ops_are_ignored_and_unknown_options_reported():
    imported = parse_curl("curl --compressed -k -i --max-time 5 --frobnicate https://example.com/x")
    assert imported.unknown == ["--frobnicate"]
    assert any("--frobnicate" in note for note in imported.notes)
    assert imported.spec["url"] == "https://example.com/x"
    assert imported.spec["method"] == "GET"


def test_raw_body_keeps_its_content_type():
    spec = parse_curl("curl https://example.com/x -H 'Content-Type: text/csv' --data-binary $'a,b\\n1,2'").spec
    assert spec["body"] == {"type": "raw", "value": "a,b\n1,2", "content_type": "text/csv"}
    assert spec["headers"] == {}
    valid(spec)


def test_url_without_scheme_gets_http_and_a_prompt_is_dropped():
    spec = parse_curl("$ curl example.com/ping").spec
    assert spec["url"] == "http://example.com/ping"


def test_file_data_is_left_out_with_a_note():
    imported = parse_curl("curl https://example.com/x -d @payload.json -F 'file=@photo.png' -F caption=hi")
    assert imported.spec["body"] == {"type": "multipart", "value": {"caption": "hi"}}
    assert any("file" in note for note in imported.notes)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("wget https://example.com", "does not start with curl"),
        ("curl 'https://example.com", "cannot read the command"),
        ("curl -X POST", "no URL"),
        ("curl -H", "needs a value"),
        ("curl ftp://example.com/file", "not HTTP"),
    ],
)
def test_unreadable_commands_say_why(command: str, message: str):
    with pytest.raises(CurlError, match=message):
        parse_curl(command)


def test_line_continuations_are_joined():
    assert tokens("curl \\\n  -X POST \\\r\n  https://example.com") == ["-X", "POST", "https://example.com"]


# --- the endpoint -----------------------------------------------------------------------------------


@pytest.fixture
def component(project):
    return Component.objects.create(
        project=project, name="Users", kind=Kind.HTTP, http={"method": "GET", "url": "https://example.com/"}
    )


def post_curl(client: Client, component: Component, command: str) -> Any:
    return client.post(
        reverse("components_http_curl", args=[component.pk]),
        data=json.dumps({"command": command}),
        content_type="application/json",
    )


@pytest.mark.django_db
def test_editor_imports_and_nothing_is_saved(client, bob, component):
    credentials.credential_set(project=component.project, actor=bob, name="GITHUB_PAT", value="ghp_secret_value")
    client.force_login(bob)
    answer = post_curl(client, component, GITHUB)
    assert answer.status_code == 200
    data = answer.json()
    assert data["spec"]["auth"] == {"type": "bearer", "credential": "{{ secrets.GITHUB_PAT }}"}  # the project's
    assert data["credentials"] == [{"name": "GITHUB_PAT", "used_for": "bearer token"}]
    component.refresh_from_db()
    assert component.http == {"method": "GET", "url": "https://example.com/"}
    assert "ghp_secret_value" not in answer.content.decode()


@pytest.mark.django_db
def test_owner_imports(client, alice, component):
    client.force_login(alice)
    assert post_curl(client, component, STRIPE).status_code == 200


@pytest.mark.django_db
def test_unreadable_command_is_a_400_naming_the_field(client, bob, component):
    client.force_login(bob)
    answer = post_curl(client, component, "curl 'https://example.com")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
    assert "cannot read the command" in answer.json()["errors"]["command"][0]


@pytest.mark.django_db
def test_it_rejects_a_viewer(client, viewer, component):
    client.force_login(viewer)
    answer = post_curl(client, component, GITHUB)
    assert answer.status_code == 403
    assert answer.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_it_hides_the_component_from_an_outsider(client, charlie, component):
    client.force_login(charlie)
    answer = post_curl(client, component, GITHUB)
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


@pytest.mark.django_db
def test_it_needs_sign_in_and_post(client, bob, component):
    assert post_curl(client, component, GITHUB).status_code == 302  # to the sign-in page
    client.force_login(bob)
    assert client.get(reverse("components_http_curl", args=[component.pk])).status_code == 405


@pytest.mark.django_db
def test_a_code_component_has_no_curl_import(client, alice, bob):
    project = make_project(owner=alice, name="Other", members={bob: "edit"})
    source = "def run(i, c):\n    return {}\n"
    code = Component.objects.create(project=project, name="Code", kind=Kind.CODE, code=source)
    client.force_login(bob)
    assert post_curl(client, code, GITHUB).status_code == 404


@pytest.mark.django_db
def test_the_editor_page_names_credentials_but_never_shows_values(client, bob, viewer, component):
    credentials.credential_set(project=component.project, actor=bob, name="GITHUB_PAT", value="ghp_secret_value")
    client.force_login(bob)
    page = client.get(reverse("components_editor", args=[component.pk])).content.decode()
    assert 'data-testid="http-form"' in page
    assert "Import from cURL" in page
    assert '"name": "GITHUB_PAT"' in page
    assert "ghp_secret_value" not in page
    client.force_login(viewer)
    page = client.get(reverse("components_editor", args=[component.pk])).content.decode()
    assert 'data-testid="http-form"' in page  # read-only: the form's fieldset is disabled
    assert "Import from cURL" not in page
    assert "Send test request" not in page
    assert "ghp_secret_value" not in page
