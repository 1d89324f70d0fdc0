"""Every error of the JSON API has one shape, ``{code, message, …details}`` (docs/errors.md):
DRF's errors, Django's own refusals (a body over the size limit, an unknown URL, a crash), errors a
view answers itself; pages keep their HTML and the original product's run routes their answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import Plan
from synchronise import errors
from tests.apiclient import anonymous, make_key, project_url, signed_in, with_secret_key
from tests.factories import make_component, make_workflow

API = "/api/v1"
TOO_BIG = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1


def big_body() -> str:
    return json.dumps({"inputs": {"name": "x" * TOO_BIG}})


def assert_shaped(response: Any, status: int, code: int | str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str), body
    assert body["message"], body
    assert "detail" not in body, body
    return body


@pytest.mark.django_db
def test_a_run_body_over_the_size_limit_answers_json_413_naming_the_limit(alice, project):
    component = make_component(project=project, actor=alice, name="Echo")
    response = signed_in(alice).post(
        f"{API}/components/{component.pk}/run", big_body(), content_type="application/json"
    )
    body = assert_shaped(response, 413, "payload_too_large")
    assert body["limit"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in body["message"]


@pytest.mark.django_db(transaction=True)  # the server is another process: it reads committed rows
def test_an_oversized_run_body_through_the_asgi_server_answers_json_413(asgi_url, alice, project):
    component = make_component(project=project, actor=alice, name="Echo")
    _key, raw = make_key(project=project, actor=alice)
    request = urllib.request.Request(
        f"{asgi_url}{API}/components/{component.pk}/run",
        data=big_body().encode(),
        headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413
    assert refused.value.headers["Content-Type"].startswith("application/json")
    body = json.loads(refused.value.read())
    assert (body["code"], body["limit"]) == ("payload_too_large", settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


@pytest.mark.django_db(transaction=True)  # the webhook is an async view: its thread needs committed rows
def test_a_webhook_body_over_its_cap_names_the_limit(client, alice, project):
    from workflows import triggers
    from workflows.webhooks import MAX_BODY_BYTES

    workflow = make_workflow(project=project, actor=alice, name="Hook", steps=[], publish=False)
    _webhook, token = triggers.webhook_enable(workflow=workflow, actor=alice, respond="accepted")
    assert token is not None
    path = triggers.webhook_path(workflow.pk, token)
    response = client.post(path, "x" * (MAX_BODY_BYTES + 1), content_type="text/plain")
    assert assert_shaped(response, 413, "payload_too_large")["limit"] == MAX_BODY_BYTES


@pytest.mark.django_db
def test_a_validation_error_keeps_each_fields_messages_and_names_the_field(alice):
    response = signed_in(alice).post(f"{API}/projects/", {"description": "no name"}, format="json")
    body = assert_shaped(response, 400, "invalid")
    assert body["errors"] == {"name": ["This field is required."]}
    assert body["message"] == "name: This field is required."


@pytest.mark.django_db
def test_an_unauthenticated_request_is_told_to_sign_in(project):
    body = assert_shaped(anonymous().get(f"{API}/projects/{project.pk}/"), 401, "not_authenticated")
    assert body["message"] == "Authentication credentials were not provided."


@pytest.mark.django_db
def test_a_wrong_key_is_an_authentication_failure(project):
    assert_shaped(with_secret_key("sk_nothing").get(f"{API}/projects/"), 401, "authentication_failed")


@pytest.mark.django_db
def test_a_viewer_is_forbidden_to_change_the_project(project, viewer):
    body = assert_shaped(
        signed_in(viewer).patch(project_url(project), {"name": "Mine"}, format="json"), 403, "forbidden"
    )
    assert "permission" in body["message"]


@pytest.mark.django_db
def test_an_outsider_gets_not_found(project, charlie):
    assert_shaped(signed_in(charlie).get(project_url(project)), 404, "not_found")


@pytest.mark.django_db
def test_an_unknown_url_under_the_api_answers_json_and_a_page_answers_html(alice):
    body = assert_shaped(signed_in(alice).get(f"{API}/no-such-thing/"), 404, "not_found")
    assert "/api/v1/no-such-thing/" in body["message"]
    assert_shaped(Client().post("/hooks/nothing-here"), 404, "not_found")
    page = Client().get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_a_wrong_method_bad_json_and_a_wrong_media_type(alice, project):
    client = signed_in(alice)
    assert_shaped(client.put(f"{API}/usage/", {}, format="json"), 405, "method_not_allowed")
    body = assert_shaped(client.post(f"{API}/projects/", "{nope", content_type="application/json"), 400, "parse_error")
    assert "JSON parse error" in body["message"]
    assert_shaped(
        client.post(f"{API}/projects/", "<x/>", content_type="application/xml"), 415, "unsupported_media_type"
    )


@pytest.mark.django_db
def test_a_throttled_key_keeps_retry_after(alice, project):
    account_services.user_set_plan(user=alice, plan=Plan.objects.create(name="Tiny", slug="tiny", rate_limit="1/min"))
    _key, raw = make_key(project=project, actor=alice)
    client = with_secret_key(raw)
    assert client.get(f"{API}/projects/").status_code == 200
    throttled = client.get(f"{API}/projects/")
    body = assert_shaped(throttled, 429, "rate_limited")
    assert int(throttled["Retry-After"]) == body["retry_after"] > 0


@pytest.mark.django_db
def test_an_error_a_view_answers_itself_is_put_in_the_shape(alice, project):
    # The publish action answers its refusal itself: {"definition": [...], "problems": [...]}.
    workflow = make_workflow(project=project, actor=alice, name="Empty", steps=[], publish=False)
    refused = signed_in(alice).post(f"{API}/workflows/{workflow.pk}/publish/", {"changelog": "x"}, format="json")
    body = assert_shaped(refused, 400, "invalid")
    assert set(body["errors"]) == {"definition", "problems"}
    assert body["message"].startswith("definition: steps: ")


@pytest.mark.django_db
def test_run_errors_keep_the_original_numeric_codes(alice, project):
    component = make_component(project=project, actor=alice, name="Echo", inputs=[{"name": "n", "type": "number"}])
    client = signed_in(alice)
    wrong = client.post(f"{API}/components/{component.pk}/run", {"n": "many"}, format="json")
    body = assert_shaped(wrong, 400, 101)
    assert body["incorrect"][0]["name"] == "n"
    missing = client.post(f"{API}/components/{component.pk}/run", {}, format="json")
    assert assert_shaped(missing, 400, 102)["missing"] == ["n"]


@pytest.mark.django_db
def test_the_legacy_run_routes_answer_as_the_original(alice):
    # Their clients read only 200 and 500: every failure is a 500 in the shape (docs/legacy-clients.md).
    refused = APIClient().post("/component/run", "{nope", content_type="application/json")
    assert refused.status_code == 500
    assert refused.json()["code"] == "parse_error"


def test_a_crash_under_the_api_answers_json_and_a_page_html():
    api = errors.server_error(RequestFactory().get(f"{API}/projects/"))
    assert (api.status_code, json.loads(api.content)["code"]) == (500, "server_error")
    page = errors.server_error(RequestFactory().get("/projects/"))
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_the_schema_describes_the_error_shape_on_every_api_operation(client):
    schema = client.get("/api/schema/?format=json").json()
    assert schema["components"]["schemas"]["Error"]["required"] == ["code", "message"]
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/"):
                assert operation["responses"]["default"]["content"]["application/json"]["schema"] == ref, (method, path)
    refused = schema["paths"]["/api/v1/workflows/{id}/publish/"]["post"]["responses"]["400"]
    wrapped = refused["content"]["application/json"]["schema"]["allOf"]
    assert wrapped[0] == ref
    assert wrapped[1]["properties"]["errors"] == {"$ref": "#/components/schemas/WorkflowPublishRefused"}


@pytest.mark.django_db
def test_a_cloud_functions_refusal_names_the_field(alice, bob, project):
    from tests.marketplace_setup import make_greeter, make_validator, submit

    submission = submit(make_greeter(project=project, actor=bob), bob)
    client = signed_in(make_validator())
    url = f"{API}/cloud/approveMarketplaceListing"
    assert client.post(url, {"id": submission.pk}, format="json").status_code == 200
    again = client.post(url, {"id": submission.pk}, format="json")
    body = assert_shaped(again, 400, "invalid")
    assert body["errors"] == {"state": ["this submission is approved already"]}
    assert body["message"] == "state: this submission is approved already"


@pytest.mark.django_db
def test_a_disallowed_host_is_refused_without_echoing_it():
    response = Client().get(f"{API}/projects/", HTTP_HOST="evil.test")
    assert_shaped(response, 400, "bad_request")
    assert "evil.test" not in response.content.decode()
    assert Client().get("/projects/", HTTP_HOST="evil.test")["Content-Type"].startswith("text/html")
