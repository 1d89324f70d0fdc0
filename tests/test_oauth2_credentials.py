"""OAuth2 credentials end to end against the loopback authorization server (tests/oidc_provider.py).

The connect flow goes through the real views (Django's test client) and the real provider (``requests``
following its redirect by hand); runs send real requests to the provider's protected ``/resource``,
which answers 401 to an expired or unknown token; refresh grants go to its real token endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.utils import timezone

from accounts.models import Membership, Permission
from components import credentials
from components.credentials import UndecryptableCredential, credential_set, credential_values
from components.models import Credential, OAuth2App, OAuth2Connection
from components.oauth2 import providers
from components.oauth2.secrets import REFRESH_TOKEN, refresh_token_of
from components.oauth2.services import OAuth2Reconnect, oauth2_app_set, oauth2_refresh
from tests import fake_api
from tests.factories import make_user
from tests.oidc_provider import OIDCProvider, oidc_provider

SLUG = "acme"
NAME = "ACME"


@pytest.fixture(autouse=True)
def keys(settings):  # type: ignore[no-untyped-def]
    settings.CREDENTIALS_KEYS = [credentials.generate_key_entry("k1")]


@pytest.fixture
def provider(settings, monkeypatch) -> Iterator[OIDCProvider]:  # type: ignore[no-untyped-def]
    """The authorization server, reachable through the SSRF guard, registered as the custom provider
    "acme" in superadmin's OAuth2 apps (what an operator does for a provider we do not ship)."""
    fake_api.loopback_only(monkeypatch)
    with oidc_provider() as running:
        settings.OUTBOUND_ALLOW = [running.url.removeprefix("http://")]
        yield running


@pytest.fixture
def app(provider, db):  # type: ignore[no-untyped-def]
    return oauth2_app_set(
        slug=SLUG,
        label="Acme ID",
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        authorize_url=f"{provider.url}/authorize",
        token_url=f"{provider.url}/token",
        scopes="profile email",
    )


def signed_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def start(client: Client, project, *, name: str = NAME, scopes: str = "", provider: str = SLUG) -> str:  # type: ignore[no-untyped-def]
    """Press "Connect": the authorize URL the platform redirects to."""
    response = client.post(
        f"/projects/{project.pk}/credentials/connect/", {"provider": provider, "name": name, "scopes": scopes}
    )
    assert response.status_code == 302, response.content
    return response["Location"]


def authorize(url: str) -> str:
    """The provider approves at once: the callback path and query it redirects the browser to."""
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    assert location.netloc == "testserver"
    return f"{location.path}?{location.query}"


def connect(client: Client, project, **options) -> Credential:  # type: ignore[no-untyped-def]
    callback = client.get(authorize(start(client, project, **options)))
    assert callback.status_code == 302, callback.content
    assert callback["Location"] == f"/projects/{project.pk}/credentials/"
    return Credential.objects.get(project=project, name=options.get("name", NAME))


def issued(provider: OIDCProvider) -> tuple[str, str]:
    """The last access and refresh tokens the provider handed out."""
    access = list(provider._access_tokens)[-1]
    refresh = list(provider._refresh_tokens)[-1]
    return access, refresh


def http_component(project, actor, provider: OIDCProvider, *, credential: str = NAME):  # type: ignore[no-untyped-def]
    from components import services

    component = services.component_create(
        project=project,
        actor=actor,
        name=f"Who ({credential})",
        kind="http",
        http={
            "url": f"{provider.url}/resource",
            "headers": {"Authorization": f"Bearer {{{{ secrets.{credential} }}}}"},
            "outputs": {"email": "body.email"},
        },
        outputs=[{"name": "email", "type": "text"}],
    )
    services.component_publish(component=component, actor=actor)
    return component


def code_component(project, actor, provider: OIDCProvider, *, catch: bool = False):  # type: ignore[no-untyped-def]
    from components import services

    headers = "{'Authorization': 'Bearer {{ secrets.ACME }}'}"
    call = f"ctx.http('GET', {provider.url + '/resource'!r}, headers={headers})"
    body = f"    answer = {call}\n    return {{'status': answer.status, 'email': answer.json().get('email', '')}}\n"
    if catch:
        body = (
            f"    try:\n        {call}\n"
            "    except ConnectionError as error:\n        return {'status': 0, 'email': str(error)}\n"
        )
    component = services.component_create(
        project=project,
        actor=actor,
        name="Who (code)",
        code="def run(inputs, ctx):\n" + body,
        outputs=[{"name": "status", "type": "number"}, {"name": "email", "type": "text"}],
    )
    services.component_publish(component=component, actor=actor)
    return component


def run(component, capture):  # type: ignore[no-untyped-def]
    from components.runs import run_execute, run_start

    with capture():
        execution = run_start(component=component, inputs={})
    run_execute(execution.pk)
    execution.refresh_from_db()
    return execution


def everything_shown(client: Client, project, execution=None) -> str:  # type: ignore[no-untyped-def]
    """Every face that could leak a token: the page, the API's list, an execution as the API answers it."""
    shown = client.get(f"/projects/{project.pk}/credentials/").content.decode()
    shown += client.get(f"/api/v1/projects/{project.pk}/credentials/").content.decode()
    shown += client.get(f"/api/v1/projects/{project.pk}/credentials/{NAME}/").content.decode()
    if execution is not None:
        shown += client.get(f"/api/v1/executions/{execution.pk}/").content.decode()
        shown += json.dumps([execution.logs, execution.outputs, execution.error, execution.inputs])
    return shown


# --- The flow --------------------------------------------------------------------------------


def test_connect_stores_the_tokens_sealed_and_sends_the_pkce_verifier(project, bob, provider, app, caplog):
    caplog.set_level(logging.DEBUG)
    client = signed_in(bob)
    authorize_url = start(client, project, scopes="profile email offline")
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    assert authorize_url.startswith(f"{provider.url}/authorize?")
    assert query["client_id"] == provider.client_id
    assert query["redirect_uri"] == "http://testserver/oauth2/callback/"
    assert query["scope"] == "profile email offline"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 40

    response = client.get(authorize(authorize_url), follow=True)
    assert b"ACME is connected." in response.content

    # PKCE: the verifier sent to the token endpoint is the one behind the challenge.
    exchange = provider.token_requests[-1]
    assert exchange["grant_type"] == "authorization_code"
    digest = hashlib.sha256(exchange["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    assert exchange["authorization"].startswith("Basic ")  # the app's client_auth

    credential = Credential.objects.get(project=project, name=NAME)
    connection = OAuth2Connection.objects.get(credential=credential)
    access, refresh = issued(provider)
    assert credential.kind == "oauth2"
    assert credential.ciphertext.startswith("v1:k1:")
    assert access not in credential.ciphertext
    assert connection.refresh_ciphertext.startswith("v1:k1:")
    assert refresh not in connection.refresh_ciphertext
    assert credential_values(project=project)[NAME] == access
    assert refresh_token_of(connection) == refresh
    assert (connection.provider, connection.scopes) == (SLUG, ["profile", "email", "offline"])
    assert connection.connected_by == bob
    assert connection.status() == "connected"
    assert timezone.now() + timedelta(seconds=250) < connection.expires_at < timezone.now() + timedelta(seconds=301)

    shown = everything_shown(client, project)
    assert access not in shown
    assert refresh not in shown
    assert 'data-status="connected"' in shown
    listed = client.get(f"/api/v1/projects/{project.pk}/credentials/").json()
    assert listed[0]["kind"] == "oauth2"
    assert listed[0]["oauth2"]["status"] == "connected"
    assert listed[0]["oauth2"]["provider"] == SLUG
    assert listed[0]["oauth2"]["has_refresh_token"] is True
    assert "value" not in listed[0]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert access not in logged
    assert refresh not in logged


def test_the_refresh_token_cannot_stand_in_for_the_access_token(project, bob, provider, app):
    credential = connect(signed_in(bob), project)
    connection = credential.oauth2
    access_sealed, refresh_sealed = credential.ciphertext, connection.refresh_ciphertext

    Credential.objects.filter(pk=credential.pk).update(ciphertext=refresh_sealed)
    with pytest.raises(UndecryptableCredential):
        credential_values(project=project)
    Credential.objects.filter(pk=credential.pk).update(ciphertext=access_sealed)
    connection.refresh_ciphertext = access_sealed
    with pytest.raises(UndecryptableCredential):
        refresh_token_of(connection)
    # The associated data names the field: the refresh token under the value's name does not open.
    with pytest.raises(UndecryptableCredential):
        credentials.decrypt(credential, stored=refresh_sealed)
    assert credentials.decrypt(credential, stored=refresh_sealed, field=REFRESH_TOKEN)


def test_default_scopes_come_from_the_provider_app(project, bob, provider, app):
    query = parse_qs(urlsplit(start(signed_in(bob), project)).query)
    assert query["scope"] == ["profile email"]


def test_a_state_works_once_and_only_in_its_session(project, alice, bob, provider, app):
    client = signed_in(bob)
    callback = authorize(start(client, project))

    # Another session (Alice's, an editor too) cannot complete Bob's flow.
    refused = signed_in(alice).get(callback)
    assert refused.status_code == 400
    assert b"unknown, expired or already used" in refused.content

    assert client.get(callback).status_code == 302
    replay = client.get(callback)
    assert replay.status_code == 400
    assert b"already used" in replay.content
    assert Credential.objects.filter(project=project).count() == 1
    assert len([r for r in provider.token_requests if r["grant_type"] == "authorization_code"]) == 1


def test_a_forged_or_expired_state_is_refused(project, bob, provider, app):
    client = signed_in(bob)
    callback = authorize(start(client, project))
    path, _, query = callback.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}

    forged = client.get(path, {**params, "state": "not-the-state"})
    assert forged.status_code == 400

    session = client.session
    pending = session["oauth2_pending"]
    pending[params["state"]]["expires"] = 0  # ten minutes went by at the provider
    session["oauth2_pending"] = pending
    session.save()
    expired = client.get(callback)
    assert expired.status_code == 400
    assert b"expired" in expired.content
    assert not Credential.objects.filter(project=project).exists()
    assert [r for r in provider.token_requests if r["grant_type"] == "authorization_code"] == []


def test_a_refusal_at_the_provider_stores_nothing(project, bob, provider, app):
    client = signed_in(bob)
    state = parse_qs(urlsplit(start(client, project)).query)["state"][0]
    response = client.get("/oauth2/callback/", {"state": state, "error": "access_denied"})
    assert response.status_code == 400
    assert b"the provider refused: access_denied" in response.content
    assert not Credential.objects.filter(project=project).exists()


def test_bad_input_is_named(project, bob, provider, app):
    client = signed_in(bob)
    credential_set(project=project, actor=bob, name="PLAIN", value="plain-value")
    for data, message in (
        ({"provider": SLUG, "name": "lower"}, b"name: Use capitals"),
        ({"provider": "nope", "name": "OK"}, b"provider: Select a valid choice"),
        ({"provider": SLUG, "name": "PLAIN"}, b"name: PLAIN is already a credential"),
    ):
        response = client.post(f"/projects/{project.pk}/credentials/connect/", data, follow=True)
        assert message in response.content, data
    assert Credential.objects.filter(project=project).count() == 1


def test_outsiders_and_viewers_cannot_connect_or_disconnect(project, alice, bob, charlie, viewer, provider, app):
    for user, status in ((charlie, 404), (viewer, 403)):
        client = signed_in(user)
        response = client.post(f"/projects/{project.pk}/credentials/connect/", {"provider": SLUG, "name": NAME})
        assert response.status_code == status
    connect(signed_in(alice), project)
    for user, status in ((charlie, 404), (viewer, 403)):
        response = signed_in(user).post(f"/projects/{project.pk}/credentials/{NAME}/disconnect/")
        assert response.status_code == status
    assert Credential.objects.filter(project=project, name=NAME).exists()
    page = signed_in(viewer).get(f"/projects/{project.pk}/credentials/").content
    assert b'id="oauth2-connect"' not in page
    assert b"Disconnect" not in page
    assert b'data-status="connected"' in page  # viewers see the status


def test_the_callback_checks_edit_permission_again(project, bob, provider, app):
    client = signed_in(bob)
    callback = authorize(start(client, project))
    Membership.objects.filter(project=project, user=bob).update(permission=Permission.VIEW)
    assert client.get(callback).status_code == 403
    assert not Credential.objects.filter(project=project).exists()


def test_disconnect_forgets_the_tokens_and_reconnect_replaces_them(project, bob, provider, app):
    client = signed_in(bob)
    first = connect(client, project)
    first_token = credential_values(project=project)[NAME]
    again = connect(client, project)
    assert again.pk == first.pk
    assert credential_values(project=project)[NAME] != first_token

    response = client.post(f"/projects/{project.pk}/credentials/{NAME}/disconnect/", follow=True)
    assert b"ACME is disconnected." in response.content
    assert not Credential.objects.filter(project=project).exists()
    assert not OAuth2Connection.objects.exists()
    assert client.post(f"/projects/{project.pk}/credentials/{NAME}/disconnect/").status_code == 404


def test_an_oauth2_value_cannot_be_overwritten_by_hand(project, bob, provider, app):
    client = signed_in(bob)
    connect(client, project)
    response = client.patch(
        f"/api/v1/projects/{project.pk}/credentials/{NAME}/", {"value": "typed"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "reconnect it" in response.json()["errors"]["value"][0]
    # Its allowed hosts are a credential's like any other.
    response = client.patch(
        f"/api/v1/projects/{project.pk}/credentials/{NAME}/",
        {"allowed_hosts": ["127.0.0.1"]},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["oauth2"]["status"] == "connected"


# --- Runs ------------------------------------------------------------------------------------


def test_a_run_sends_the_access_token_and_masks_it(project, bob, provider, app, django_capture_on_commit_callbacks):
    client = signed_in(bob)
    connect(client, project)
    access, refresh = issued(provider)
    execution = run(http_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert execution.status == "succeeded", execution.error
    assert execution.outputs == {"email": "olivia@example.com"}
    assert provider.resource_requests == [(access, 200)]
    assert provider.refresh_grants() == []
    shown = everything_shown(client, project, execution)
    assert access not in shown
    assert refresh not in shown


def test_the_access_token_is_masked_in_what_a_run_returns(
    project, bob, provider, app, django_capture_on_commit_callbacks
):
    from components import services

    connect(signed_in(bob), project)
    access, _ = issued(provider)
    echo = services.component_create(
        project=project,
        actor=bob,
        name="Echo",
        code="def run(inputs, ctx):\n    print('token', '{{ secrets.ACME }}')\n    return {'out': 'x'}\n",
        outputs=[{"name": "out", "type": "text"}],
    )
    services.component_publish(component=echo, actor=bob)
    execution = run(echo, django_capture_on_commit_callbacks)
    assert access not in json.dumps(execution.logs)
    secrets = credential_values(project=project)
    assert credentials.mask(f"x {access} y", secrets.values()) == f"x {credentials.MASK} y"


def test_a_token_about_to_expire_is_refreshed_before_the_request(
    project, bob, provider, app, django_capture_on_commit_callbacks
):
    provider.token_lifetime = 30  # inside the 60 s margin from the start
    credential = connect(signed_in(bob), project)
    old_access, old_refresh = issued(provider)
    provider.token_lifetime = 300

    execution = run(http_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert execution.status == "succeeded", execution.error
    new_access, new_refresh = issued(provider)
    assert [grant["refresh_token"] for grant in provider.refresh_grants()] == [old_refresh]
    assert provider.resource_requests == [(new_access, 200)]  # the old token was never sent
    credential.refresh_from_db()
    assert credentials.decrypt(credential) == new_access
    assert refresh_token_of(credential.oauth2) == new_refresh  # rotated
    assert credential.oauth2.refreshed_at is not None
    assert credential.oauth2.expires_at > timezone.now() + timedelta(seconds=250)
    assert old_access not in json.dumps(execution.logs)
    assert new_access not in json.dumps(execution.logs)


def test_a_401_refreshes_once_and_sends_again(project, bob, provider, app, django_capture_on_commit_callbacks):
    connect(signed_in(bob), project)
    old_access, _ = issued(provider)
    provider.expire_access_tokens()  # the provider stopped taking it before its announced expiry

    execution = run(http_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert execution.status == "succeeded", execution.error
    new_access, _ = issued(provider)
    assert provider.resource_requests == [(old_access, 401), (new_access, 200)]
    assert len(provider.refresh_grants()) == 1
    assert any("401: refreshed the OAuth2 credential ACME" in line for line in execution.logs)


def test_a_refusal_mapped_to_401_refreshes_too(project, bob, provider, app, django_capture_on_commit_callbacks):
    """Slack's Web API refuses an expired token with 200 and ``ok: false``; a spec that maps that
    refusal to 401 (``ok_when`` + ``error_statuses``) gets the same refresh as a real 401."""
    from components import services

    connect(signed_in(bob), project)
    old_access, _ = issued(provider)
    provider.refuse_with_200 = True
    provider.expire_access_tokens()
    component = http_component(project, bob, provider)
    spec = {**component.http, "ok_when": "body.ok", "error_message": "body.error"}
    spec["error_statuses"] = {"token_expired": 401}
    services.component_update(component=component, actor=bob, http=spec)
    services.component_publish(component=component, actor=bob)

    execution = run(component, django_capture_on_commit_callbacks)
    assert execution.status == "succeeded", execution.error
    new_access, _ = issued(provider)
    assert provider.resource_requests == [(old_access, 401), (new_access, 200)]
    assert len(provider.refresh_grants()) == 1


def test_a_second_401_is_the_answer(project, bob, provider, app, django_capture_on_commit_callbacks):
    connect(signed_in(bob), project)
    provider.token_lifetime = 0  # every new token is refused too
    provider.expire_access_tokens()
    execution = run(http_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert execution.status == "failed"
    assert execution.error["code"] == 401
    assert len(provider.refresh_grants()) == 1  # refreshed once, sent twice
    assert [status for _, status in provider.resource_requests] == [401, 401]


def test_ctx_http_refreshes_once_after_a_401(project, bob, provider, app, django_capture_on_commit_callbacks):
    connect(signed_in(bob), project)
    old_access, _ = issued(provider)
    provider.expire_access_tokens()
    execution = run(code_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert execution.status == "succeeded", execution.error
    assert execution.outputs == {"status": 200, "email": "olivia@example.com"}
    new_access, _ = issued(provider)
    assert provider.resource_requests == [(old_access, 401), (new_access, 200)]


def test_a_revoked_refresh_token_fails_the_run_with_490_and_nothing_else(
    project, bob, provider, app, django_capture_on_commit_callbacks
):
    client = signed_in(bob)
    connect(client, project)
    credential_set(project=project, actor=bob, name="OTHER", value="other-value-1")
    provider.revoke_refresh_tokens()
    provider.expire_access_tokens()

    execution = run(http_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert execution.status == "failed"
    assert execution.error["code"] == 490
    assert execution.error["reason"] == "oauth2_reconnect"
    assert execution.error["credential"] == NAME
    assert execution.error["message"] == (
        "OAuth2 credential ACME was revoked by Acme ID (invalid_grant): reconnect it in the project's credentials"
    )
    connection = OAuth2Connection.objects.get(credential__name=NAME)
    assert connection.status() == "revoked"
    assert connection.revoked_reason == "invalid_grant from Acme ID"

    # Shown as revoked, with Reconnect, on the page and in the API.
    page = client.get(f"/projects/{project.pk}/credentials/").content.decode()
    assert 'data-status="revoked"' in page
    assert "Reconnect ACME" in page
    listed = {c["name"]: c for c in client.get(f"/api/v1/projects/{project.pk}/credentials/").json()}
    assert listed[NAME]["oauth2"]["status"] == "revoked"

    # A second run fails at once: no refresh, no request with the dead token.
    grants, sent = len(provider.refresh_grants()), len(provider.resource_requests)
    again = run(http_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert again.error["code"] == 490
    assert (len(provider.refresh_grants()), len(provider.resource_requests)) == (grants, sent)

    # Code components fail with the same code when they leave the error uncaught, and may catch it.
    coded = run(code_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert coded.status == "failed"
    assert coded.error["code"] == 490, coded.error
    assert "reconnect it" in coded.error["message"]
    caught = run(code_component(project, bob, provider, catch=True), django_capture_on_commit_callbacks)
    assert caught.status == "succeeded"
    assert "revoked" in caught.outputs["email"]

    # Other credentials still work, for components that do not carry the revoked one.
    from components import services

    plain = services.component_create(
        project=project,
        actor=bob,
        name="Plain",
        kind="http",
        http={
            "url": f"{provider.url}/.well-known/openid-configuration",
            "headers": {"X-Other": "{{ secrets.OTHER }}"},
            "outputs": {"issuer": "body.issuer"},
        },
        outputs=[{"name": "issuer", "type": "text"}],
    )
    services.component_publish(component=plain, actor=bob)
    other = run(plain, django_capture_on_commit_callbacks)
    assert other.status == "succeeded", other.error
    assert other.outputs == {"issuer": provider.url}

    # Reconnecting brings it back.
    connect(client, project)
    assert OAuth2Connection.objects.get(credential__name=NAME).status() == "connected"
    assert run(http_component(project, bob, provider), django_capture_on_commit_callbacks).status == "succeeded"


def test_an_expired_token_without_refresh_token_fails_with_490(
    project, bob, provider, app, django_capture_on_commit_callbacks
):
    provider.issue_refresh_tokens = False
    connect(signed_in(bob), project)
    OAuth2Connection.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert OAuth2Connection.objects.get().status() == "expired"
    execution = run(http_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert execution.error["code"] == 490
    assert execution.error["message"] == (
        "OAuth2 credential ACME expired and has no refresh token: reconnect it in the project's credentials"
    )
    assert provider.resource_requests == []
    page = signed_in(bob).get(f"/projects/{project.pk}/credentials/").content.decode()
    assert 'data-status="expired"' in page


def test_an_unreachable_token_endpoint_is_a_retryable_502(
    project, bob, provider, app, settings, django_capture_on_commit_callbacks
):
    provider.token_lifetime = 30
    connect(signed_in(bob), project)
    settings.OUTBOUND_ALLOW = []  # the token endpoint is now refused by the SSRF guard
    execution = run(http_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert execution.error["code"] == 502
    assert execution.error["reason"] == "oauth2_refresh"
    assert OAuth2Connection.objects.get().status() == "connected"  # not revoked: it may work later


@pytest.mark.django_db(transaction=True)
def test_two_workers_refresh_a_connection_once(provider):  # type: ignore[no-untyped-def]
    from tests.factories import make_project

    owner = make_user(email="owner@example.com")
    project = make_project(owner=owner)
    oauth2_app_set(
        slug=SLUG,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        authorize_url=f"{provider.url}/authorize",
        token_url=f"{provider.url}/token",
    )
    provider.token_lifetime = 30
    credential = connect(signed_in(owner), project)
    provider.token_lifetime = 300
    provider.token_delay = 0.5  # long enough for the second worker to arrive while the first waits

    results: list[str] = []
    failures: list[BaseException] = []

    def worker() -> None:
        from django.db import connection

        try:
            results.append(oauth2_refresh(credential_id=credential.pk).access_token)
        except BaseException as error:  # noqa: BLE001  # reported by the assertion below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert len(provider.refresh_grants()) == 1  # the second worker used what the first stored
    assert results[0] == results[1] == issued(provider)[0]
    assert OAuth2Connection.objects.get().status() == "connected"


def test_a_revoked_connection_refuses_to_refresh(project, bob, provider, app):
    credential = connect(signed_in(bob), project)
    provider.revoke_refresh_tokens()
    with pytest.raises(OAuth2Reconnect, match="was revoked by Acme ID"):
        oauth2_refresh(credential_id=credential.pk, force=True)
    with pytest.raises(OAuth2Reconnect, match="was revoked"):
        oauth2_refresh(credential_id=credential.pk)
    assert len(provider.refresh_grants()) == 1


# --- Provider registry and clients -----------------------------------------------------------


def test_environment_clients_win_over_superadmin(settings, db):
    oauth2_app_set(slug="github", client_id="from-superadmin", client_secret="admin-secret")
    client = providers.client_for("github")
    assert client is not None
    assert (client.client_id, client.client_secret, client.source) == (
        "from-superadmin",
        "admin-secret",
        "superadmin",
    )
    settings.OAUTH2_CLIENTS = {"github": ("from-env", "env-secret")}
    client = providers.client_for("github")
    assert client is not None
    assert (client.client_id, client.source) == ("from-env", "environment")
    assert client.provider.token_url == "https://github.com/login/oauth/access_token"
    assert [p.slug for p in providers.available()] == ["github"]


def test_settings_parse_the_client_variables(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from synchronise import settings as settings_module

    monkeypatch.setenv("OAUTH_GITLAB_CLIENT_ID", "gl-id")
    monkeypatch.setenv("OAUTH_GITLAB_CLIENT_SECRET", "gl-secret")
    assert settings_module._oauth2_clients()["gitlab"] == ("gl-id", "gl-secret")
    monkeypatch.delenv("OAUTH_GITLAB_CLIENT_SECRET")
    with pytest.raises(ImproperlyConfigured, match="OAUTH_GITLAB_CLIENT_SECRET"):
        settings_module._oauth2_clients()


def test_builtin_endpoints_move_only_through_the_test_setting(settings, db):
    settings.OAUTH2_CLIENTS = {"notion": ("n-id", "n-secret")}
    assert providers.builtin("notion").token_url == "https://api.notion.com/v1/oauth/token"  # type: ignore[union-attr]
    settings.OAUTH2_PROVIDER_ENDPOINTS = {"notion": {"token_url": "http://127.0.0.1:9/token"}}
    assert providers.builtin("notion").token_url == "http://127.0.0.1:9/token"  # type: ignore[union-attr]
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="built-in provider"):
        oauth2_app_set(slug="notion", client_id="x", client_secret="y", token_url="https://evil.example/token")


def test_builtin_providers_have_their_quirks():
    slack, notion, google = providers.builtin("slack"), providers.builtin("notion"), providers.builtin("google")
    assert slack is not None
    assert notion is not None
    assert google is not None
    assert (slack.answer, slack.scope_separator, slack.pkce) == ("slack", ",", False)
    assert (notion.client_auth, notion.token_body) == ("basic", "json")
    assert google.authorize_params["access_type"] == "offline"
    assert {p for p in providers.BUILTIN_SLUGS if providers.builtin(p)} == {
        "github",
        "google",
        "slack",
        "microsoft",
        "gitlab",
        "notion",
        "hubspot",
    }


# --- Built-in providers and the shapes of their answers --------------------------------------


@pytest.fixture
def builtin(settings, provider):  # type: ignore[no-untyped-def]
    """Make the loopback server stand in for a built-in provider, configured from the environment."""

    def use(slug: str, style: str = "standard") -> OIDCProvider:
        settings.OAUTH2_CLIENTS = {slug: (provider.client_id, provider.client_secret)}
        endpoints = {"authorize_url": f"{provider.url}/authorize", "token_url": f"{provider.url}/token"}
        settings.OAUTH2_PROVIDER_ENDPOINTS = {slug: endpoints}
        provider.answer_style = style
        return provider

    return use


def test_github_answers_form_encoded_and_its_refusals_come_with_200(
    project, bob, builtin, django_capture_on_commit_callbacks
):
    provider = builtin("github", "github")
    client = signed_in(bob)
    query = parse_qs(urlsplit(start(client, project, provider="github")).query)
    assert query["scope"] == ["repo"]
    assert query["code_challenge_method"] == ["S256"]
    connect(client, project, provider="github")
    exchange = provider.token_requests[-1]
    assert exchange["client_secret"] == provider.client_secret  # client_secret_post
    assert "authorization" not in exchange
    assert credential_values(project=project)[NAME] == issued(provider)[0]

    provider.revoke_refresh_tokens()
    provider.expire_access_tokens()
    execution = run(http_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert execution.error["code"] == 490
    assert "revoked by GitHub (bad_refresh_token)" in execution.error["message"]


def test_slack_keeps_a_user_token_under_authed_user(project, bob, builtin, django_capture_on_commit_callbacks):
    provider = builtin("slack", "slack")
    client = signed_in(bob)
    query = parse_qs(urlsplit(start(client, project, provider="slack")).query)
    assert query["scope"] == ["chat:write,channels:read"]  # Slack separates scopes with commas
    assert "code_challenge" not in query
    connect(client, project, provider="slack")
    access, _ = issued(provider)
    assert credential_values(project=project)[NAME] == access
    assert OAuth2Connection.objects.get().token_type == "user"

    provider.expire_access_tokens()  # refreshed after the 401, answered at the top level
    execution = run(http_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert execution.status == "succeeded", execution.error
    provider.revoke_refresh_tokens()
    provider.expire_access_tokens()
    execution = run(http_component(project, bob, provider), django_capture_on_commit_callbacks)
    assert execution.error["code"] == 490
    assert "(invalid_refresh_token)" in execution.error["message"]


def test_notion_takes_json_with_basic_client_authentication(project, bob, builtin):
    provider = builtin("notion")
    client = signed_in(bob)
    query = parse_qs(urlsplit(start(client, project, provider="notion")).query)
    assert query["owner"] == ["user"]
    assert "scope" not in query
    assert "code_challenge" not in query
    connect(client, project, provider="notion")
    exchange = provider.token_requests[-1]
    assert exchange["authorization"].startswith("Basic ")
    assert "client_secret" not in exchange
    assert exchange["grant_type"] == "authorization_code"  # read from a JSON body
    assert credential_values(project=project)[NAME] == issued(provider)[0]


def test_a_refused_code_stores_nothing(project, bob, builtin):
    builtin("github", "github")
    client = signed_in(bob)
    callback = authorize(start(client, project, provider="github"))
    path, _, query = callback.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    response = client.get(path, {**params, "code": "forged"})
    assert response.status_code == 400
    assert b"GitHub refused the authorization code (bad_verification_code)" in response.content
    assert not Credential.objects.exists()


# --- Keys ------------------------------------------------------------------------------------


def test_rotation_reseals_refresh_tokens_and_client_secrets(project, bob, provider, app, settings):
    credential = connect(signed_in(bob), project)
    _, refresh = issued(provider)
    settings.CREDENTIALS_KEYS = [credentials.generate_key_entry("k2"), *settings.CREDENTIALS_KEYS]
    result = credentials.credentials_rotate()
    assert result.rotated == 3  # the access token, the refresh token, the app's client secret
    credential.refresh_from_db()
    assert credential.oauth2.refresh_ciphertext.startswith("v1:k2:")
    assert refresh_token_of(credential.oauth2) == refresh
    app.refresh_from_db()
    assert app.client_secret_ciphertext.startswith("v1:k2:")
    assert providers.client_for(SLUG).client_secret == provider.client_secret  # type: ignore[union-attr]


# --- Superadmin ------------------------------------------------------------------------------


def test_superadmin_adds_a_custom_provider_with_a_write_only_secret(provider, alice, charlie, settings):
    client = signed_in(alice)  # the first user: superuser
    form = {
        "slug": "acme",
        "label": "Acme ID",
        "client_id": provider.client_id,
        "client_secret": provider.client_secret,
        "authorize_url": f"{provider.url}/authorize",
        "token_url": f"{provider.url}/token",
        "scopes": "profile",
        "pkce": "on",
        "client_auth": "post",
        "enabled": "on",
    }
    response = client.post("/superadmin/components/oauth2app/add/", form)
    assert response.status_code == 302, response.content
    app = OAuth2App.objects.get(slug="acme")
    assert provider.client_secret not in app.client_secret_ciphertext
    assert providers.client_for("acme").client_secret == provider.client_secret  # type: ignore[union-attr]
    change = client.get(f"/superadmin/components/oauth2app/{app.pk}/change/").content.decode()
    assert provider.client_secret not in change
    assert app.client_secret_ciphertext not in change

    # Saving without a secret keeps it; a built-in provider's endpoints cannot be changed.
    form.pop("slug")
    response = client.post(f"/superadmin/components/oauth2app/{app.pk}/change/", {**form, "client_secret": ""})
    assert response.status_code == 302
    assert providers.client_for("acme").client_secret == provider.client_secret  # type: ignore[union-attr]
    refused = client.post("/superadmin/components/oauth2app/add/", {**form, "slug": "github"})
    assert refused.status_code == 200
    assert b"built-in provider" in refused.content

    settings.OAUTH2_CLIENTS = {"github": ("env-id", "env-secret")}
    oauth2_app_set(slug="github", client_id="admin-id", client_secret="admin-secret")
    listing = client.get("/superadmin/components/oauth2app/").content.decode()
    assert "OAUTH_GITHUB_CLIENT_ID in the environment wins" in listing

    refused = signed_in(charlie).get("/superadmin/components/oauth2app/")
    assert refused.status_code == 302
    assert refused["Location"].startswith("/superadmin/login/")
