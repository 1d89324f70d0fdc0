"""A schema fuzzer over ``/api/schema/``: every operation, with inputs generated from the schema
(and broken on purpose), sent as the owner and as an outsider with their secret keys. No answer
may be a server error (a deliberate 503 for an unavailable service aside).

Schemathesis drives the platform's WSGI application in this process, on the test database; the
examples per operation are bounded (``FUZZ_EXAMPLES``, default 8) so the whole run stays short.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from accounts import services as account_services
from components import connectors, credentials
from components.models import Execution
from tests.factories import make_component, make_project, make_workflow
from workflows.models import WorkflowExecution

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
DELIBERATE = 503  # a dependency outage (docs/failure-model.md): the one 5xx that is an answer
# The original product's routes answer every failure 500 with an error object (docs/legacy-clients.md):
# there a 500 is an answer when it carries {code, message}; a crash is Django's HTML page.
LEGACY_PATHS = ("/component/run", "/workflow/run")


def is_server_error(path: str, response: Any) -> bool:
    if response.status_code < 500 or response.status_code == DELIBERATE:
        return False
    if path in LEGACY_PATHS and response.status_code == 500:
        try:
            body = response.json()
        except ValueError:
            return True
        return not (isinstance(body, dict) and {"code", "message"} <= body.keys())
    return True


@pytest.fixture
def app() -> Iterator[Any]:
    """The platform's WSGI app. Requests run in the test's transaction: like Django's test client,
    the handler must not close the connection between them."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def callers(alice, bob, charlie, project) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The owner's and an outsider's secret keys."""
    elsewhere = make_project(owner=charlie, name="Charlie's project")
    _key, owner = account_services.api_key_create(project=project, actor=alice)
    _key, outsider = account_services.api_key_create(project=elsewhere, actor=charlie)
    return [{"Authorization": f"Bearer {owner}"}, {"Authorization": f"Bearer {outsider}"}]


@pytest.fixture
def known(alice, bob, project, callers) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Path parameters naming rows of the owner's project, by path prefix: generated ids alone
    rarely reach a row, and what a row's operations do with bad input is the point."""
    credentials.credential_set(project=project, actor=alice, name="TOKEN", value="fuzz-s3cret")
    component = make_component(project=project, actor=alice, name="Echo", public=True)
    steps = [{"id": "echo", "component": component.pk}]  # a workflow without steps cannot be published
    workflow = make_workflow(project=project, actor=alice, name="Empty", steps=steps, public=True)
    execution = Execution.objects.create(project=project, component=component, status="succeeded")
    run = WorkflowExecution.objects.create(project=project, workflow=workflow, plan={}, status="failed")
    key, _raw = account_services.api_key_create(project=project, actor=alice)  # not the owner's: it may be revoked
    return {
        "/api/v1/components/": {"id": component.pk},
        "/api/v1/executions/": {"id": execution.pk},
        "/api/v1/workflows/": {"id": workflow.pk},
        "/api/v1/workflow-executions/": {"id": run.pk},
        "/api/v1/projects/": {"id": project.pk, "project_pk": project.pk, "user_id": bob.pk, "name": "TOKEN"},
        "/api/v1/projects/{project_pk}/keys/": {"project_pk": project.pk, "id": key.pk},
        "/api/v1/cloud/": {"name": "listExecutions"},
        "/api/v1/connectors/": {"name": connectors.catalog()[0].name},
    }


def strategies(operation: Any, known: dict[str, dict[str, Any]]) -> Any:
    """Valid and invalid inputs everywhere; valid ones again with the path naming a real row."""
    options = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    names = {parameter.name for parameter in operation.path_parameters}
    prefix = max((p for p in known if operation.path.startswith(p)), key=len, default=None)
    if names and prefix is not None and operation.method.upper() != "DELETE":
        values = {name: value for name, value in known[prefix].items() if name in names}
        if set(values) == names:
            options.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=values))
    hazards = _hazards(operation)
    if hazards:
        options.append(operation.as_strategy(GenerationMode.POSITIVE, query=hazards))
    return st.one_of(options)


def _hazards(operation: Any) -> dict[str, str]:
    """Query values that once answered 500: integers beyond 64 bits, numbers that are not finite."""
    values = {}
    for parameter in operation.query:
        declared = (getattr(parameter, "definition", None) or {}).get("schema", {})
        if declared.get("type") == "integer":
            values[parameter.name] = "99999999999999999999"
        elif declared.get("type") == "number":
            values[parameter.name] = "nan"
    return values


def test_no_operation_answers_a_server_error(
    app: Any, callers: list[dict[str, str]], known: dict[str, dict[str, Any]]
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/schema/", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=strategies(operation, known))
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,  # the same examples on every run: a failure here is reproducible
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            _no_wait(case)
            for headers in callers:
                response = case.call(headers={**(case.headers or {}), **headers})
                if is_server_error(case.formatted_path, response):
                    failures.append(
                        f"{case.method} {case.formatted_path} query={case.query} body={str(case.body)[:200]!r}"
                        f" → {response.status_code} {response.text[:300]}"
                    )

        check()
    assert operations > 50, f"only {operations} operations in the schema"
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(sorted(set(failures))[:50])


def _no_wait(case: Any) -> None:
    """The run endpoints wait for the end (30 s by default) and no worker runs here: a numeric or
    missing timeout becomes 0; one that is not a number stays (its 400 is part of the check)."""
    if not case.path.endswith("/run"):
        return
    if not isinstance(case.query, dict):
        case.query = {}
    if _is_finite(case.query.get("timeout")) or "timeout" not in case.query:
        case.query["timeout"] = 0


def _is_finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False
