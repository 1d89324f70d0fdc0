from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver

from accounts.api import urls as accounts_urls
from components import urls as components_urls
from workflows import trigger_urls
from workflows import urls as workflows_urls

pytestmark = pytest.mark.django_db
API_MODULES = (accounts_urls, components_urls, workflows_urls, trigger_urls)  # mounted at /api/v1/


def api_paths() -> set[str]:
    """Every route of the API's URL modules, written the way OpenAPI writes paths (``{name}``)."""
    paths = set()
    for module in API_MODULES:
        for pattern in module.urlpatterns:
            assert isinstance(pattern, URLPattern | URLResolver)
            route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
            paths.add("/api/v1/" + route.replace("{pk}", "{id}"))  # drf-spectacular calls a pk "id"
    return paths


@pytest.fixture
def schema(client):  # type: ignore[no-untyped-def]
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_documents_every_api_endpoint(schema):
    assert api_paths() <= set(schema["paths"])
    for path in api_paths():
        for method, operation in schema["paths"][path].items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"


def test_the_schema_describes_the_secret_key_scheme(schema):
    scheme = schema["components"]["securitySchemes"]["secretKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    listing = schema["paths"]["/api/v1/projects/"]["get"]
    assert {"secretKey": []} in listing["security"]
    # Creating a project takes a signed-in person; the schema does not offer the key there.
    assert schema["paths"]["/api/v1/projects/"]["post"]["security"] == [{"cookieAuth": []}]


def test_the_schema_never_exposes_a_keys_digest(schema):
    components = schema["components"]["schemas"]
    assert "digest" not in components["ApiKey"]["properties"]
    assert "key" not in components["ApiKey"]["properties"]
    assert "key" in components["ApiKeyCreated"]["properties"]


def test_the_schema_is_valid_and_generates_without_warnings(tmp_path):
    # --fail-on-warn turns any drf-spectacular warning (untyped field, unresolvable path) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.")


def test_the_swagger_ui_is_served(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
    # Served from our own static files: a self-hosted install may have no internet access.
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in response.content
    assert b"cdn.jsdelivr.net" not in response.content
