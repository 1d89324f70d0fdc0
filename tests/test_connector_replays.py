"""Every official connector action against its recorded exchanges: installed into a project through
the real service, credentials set through the real service, run through the real run path
(``runs.run_start`` then the worker's ``runs.run_execute``; code connectors in the real sandbox),
its requests answered by a loopback server that replays the provider's documented shapes
(``tests/connector_replay.py``, ``tests/payloads/connectors/<action>.json``, docs/connectors.md).

And the catalog's own rules: every entry described, with an icon and tags, typed, taking credentials
only through ``secret`` inputs, a payload file for every action and an error case for every provider.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest

from components import connectors, credentials, errors, runs, services
from components.errors import RunError
from components.models import Execution
from components.types import carries_secrets, validate_interface
from tests import connector_replay

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).parent / "payloads" / "connectors"
MIN_CATALOG = 30
# Inputs with these words in their name carry a credential: they must be of type secret.
CREDENTIAL_NAME = re.compile(r"(^|_)(token|password|secret|api_key|apikey|auth_token|access_key|private_key)($|_)")


def _load(name: str) -> dict[str, Any] | str:
    path = PAYLOADS / f"{name}.json"
    if not path.exists():
        return f"no payload file {path.relative_to(Path(__file__).parent.parent)}"
    try:
        recorded = json.loads(path.read_text())
    except ValueError as error:
        return f"{path.name} is not JSON: {error}"
    if recorded.get("action") != name:
        return f"{path.name}: 'action' is {recorded.get('action')!r}, not {name!r}"
    if not recorded.get("cases"):
        return f"{path.name}: no cases"
    return recorded


def _params() -> list[Any]:
    params = []
    for connector in connectors.catalog():
        recorded = _load(connector.name)
        if isinstance(recorded, str):
            params.append(pytest.param(connector.name, recorded, id=f"{connector.name}:missing"))
            continue
        for index, case in enumerate(recorded["cases"]):
            case_id = f"{connector.name}:{case.get('name') or index}"
            params.append(pytest.param(connector.name, case, id=case_id))
    return params


@contextmanager
def _smtp(case: dict[str, Any]) -> Iterator[Any]:
    """A real SMTP server on loopback for a case that expects ``messages`` (``tests/smtp_server.py``)."""
    from tests import smtp_server

    with smtp_server.serve(**case.get("smtp_server", {})) as server:
        yield server


def run_case(name: str, case: dict[str, Any], *, project: Any, actor: Any, settings: Any) -> dict[str, Any]:
    """Install, set the credentials, run; returns ``{execution, replay, smtp}``."""
    connector = connectors.get(name)
    assert connector is not None
    mail = _smtp(case) if "messages" in case else nullcontext()
    with connector_replay.serve(case.get("exchanges", [])) as replay, mail as smtp:
        settings.OUTBOUND_ALLOW = [replay.destination] + ([smtp.destination] if smtp is not None else [])
        if smtp is not None:
            settings.OUTBOUND_CA_BUNDLE = smtp.ca_file  # the test CA that signed the SMTP server's certificate
        if connector.base_url:
            settings.CONNECTOR_BASE_URLS = {connector.base_url: replay.base_url}
        component, _ = services.connector_install(project=project, actor=actor, name=name)
        for credential, value in case.get("credentials", {}).items():
            credentials.credential_set(project=project, actor=actor, name=credential, value=replay.fill(value))
        inputs = replay.fill(case.get("inputs", {}))
        if smtp is not None:
            inputs = smtp.fill(inputs)
        try:
            execution = runs.run_start(component=component, inputs=inputs, user=actor)
        except RunError:
            execution = Execution.objects.filter(component=component).latest("pk")
        else:
            runs.run_execute(execution.pk)  # what the worker does with the queued id
        execution.refresh_from_db()
        return {"execution": execution, "replay": replay, "smtp": smtp}


def matches(expected: Any, actual: Any) -> bool:
    """Equality, except that ``{"$regex": pattern}`` matches any text it fully matches and ``{"$number": true}``
    any number (random UUIDs, "now")."""
    if isinstance(expected, dict) and set(expected) == {"$regex"}:
        return isinstance(actual, str) and re.fullmatch(expected["$regex"], actual) is not None
    if expected == {"$number": True}:
        return isinstance(actual, int | float) and not isinstance(actual, bool)
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(matches(value, actual[key]) for key, value in expected.items())
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(map(matches, expected, actual))
    return bool(expected == actual)


def subset_mismatches(expected: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    return {key: (value, actual.get(key)) for key, value in expected.items() if actual.get(key) != value}


@pytest.mark.parametrize(("name", "case"), _params())
def test_a_connector_action_replays_its_recorded_exchanges(name, case, alice, project, settings) -> None:  # type: ignore[no-untyped-def]
    assert not isinstance(case, str), case
    ran = run_case(name, case, project=project, actor=alice, settings=settings)
    execution, replay = ran["execution"], ran["replay"]
    assert replay.problems == []
    assert replay.unused == [], f"{len(replay.unused)} recorded exchange(s) never requested"
    if "messages" in case:
        ran["smtp"].check(case["messages"])
    if "error" in case:
        # Timed out only when the recorded error is the wall time's; every other error fails the run.
        expected = "timed_out" if case["error"].get("code") == errors.WALL_TIME else "failed"
        assert execution.status == expected, (execution.status, execution.outputs)
        assert subset_mismatches(case["error"], execution.error or {}) == {}, execution.error
    else:
        assert execution.status == "succeeded", execution.error
        assert matches(case["outputs"], execution.outputs), execution.outputs
    # Credentials stay out of what the run recorded.
    recorded = json.dumps([execution.inputs, execution.outputs, execution.error, execution.logs])
    for value in case.get("credentials", {}).values():
        if len(str(value)) >= 8 and "{{" not in str(value):
            assert str(value) not in recorded


def test_the_catalog_has_at_least_30_entries() -> None:
    assert len(connectors.catalog()) >= MIN_CATALOG, [c.name for c in connectors.catalog()]


@pytest.mark.parametrize("connector", connectors.catalog(), ids=lambda c: c.name)
def test_every_connector_is_described_typed_and_takes_credentials_as_secret_inputs(
    connector: connectors.Connector,
) -> None:
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", connector.name), "a <provider>-<action> slug"
    assert len(connector.description) >= 20
    assert connector.icon
    assert connector.provider
    assert connector.tags
    assert all(isinstance(tag, str) and tag == tag.lower() for tag in connector.tags)
    assert connector.docs.startswith("https://")
    assert connector.inputs
    assert connector.outputs
    validate_interface(connector.inputs, field="inputs")  # every input and output has a known type
    validate_interface(connector.outputs, field="outputs")
    for spec in connector.inputs:
        if CREDENTIAL_NAME.search(spec["name"]):
            assert carries_secrets(spec), f"input {spec['name']} carries a credential: type secret"
    # The spec or the code never names a credential: the caller gives one through a secret input.
    assert "secrets." not in json.dumps(connector.http) + connector.code
    if connector.kind == "code":
        assert connector.code
        assert not connector.http
    else:
        assert connector.http
        assert not connector.code


def test_every_action_has_a_payload_file_and_every_provider_an_error_case() -> None:
    names = {connector.name for connector in connectors.catalog()}
    problems = [problem for name in sorted(names) if isinstance(problem := _load(name), str)]
    stale = sorted(path.stem for path in PAYLOADS.glob("*.json") if path.stem not in names)
    assert stale == [], "payload files of no action"
    assert problems == []
    by_module: dict[str, list[str]] = {}
    for module in connectors.MODULES:
        import importlib

        by_module[module] = [c.name for c in importlib.import_module(f"components.connectors.{module}").CONNECTORS]
    for module, actions in by_module.items():
        cases = [case for action in actions for case in _load(action)["cases"]]  # type: ignore[index]
        assert any("error" in case for case in cases), f"{module}: no error case"
        for action in actions:
            assert any("error" not in case for case in _load(action)["cases"]), f"{action}: no success case"  # type: ignore[index]


def test_the_replay_server_reports_what_differs_from_the_recording(alice, project, settings) -> None:  # type: ignore[no-untyped-def]
    case = {
        "inputs": {"url": "{{ replay }}/hooks/a?x=1", "payload": {"order": 1}},
        "exchanges": [
            {
                "request": {
                    "method": "PUT",
                    "path": "/hooks/b",
                    "query": {"x": "2"},
                    "json": {"order": 2},
                    "headers": {"X-Missing": "yes"},
                },
                "response": {"status": 200, "json": {}},
            },
            {"request": {"method": "POST", "path": "/never"}, "response": {"status": 200}},
        ],
        "outputs": {"status": 200},
    }
    ran = run_case("post-json", case, project=project, actor=alice, settings=settings)
    problems = " | ".join(ran["replay"].problems)
    for part in (
        "method: expected PUT",
        "path: expected /hooks/b",
        "query.x: expected '2'",
        "headers.X-Missing",
        "json:",
    ):
        assert part in problems
    assert [exchange["request"]["path"] for exchange in ran["replay"].unused] == ["/never"]


def test_recorded_form_and_multipart_fields_are_compared() -> None:
    multipart = (
        b'--b\r\nContent-Disposition: form-data; name="to"\r\n\r\nbob@example.com\r\n'
        b'--b\r\nContent-Disposition: form-data; name="subject"\r\n\r\nHi \xc3\xa9\r\n--b--\r\n'
    )
    received = {
        "method": "POST",
        "path": "/x",
        "query": "",
        "headers": {"Content-Type": "multipart/form-data; boundary=b"},
    }
    expected = {"method": "POST", "path": "/x", "form": {"to": "bob@example.com", "subject": "Hi é"}}
    assert connector_replay.mismatches(expected, {**received, "body": multipart}) == []
    assert connector_replay.mismatches({**expected, "form": {"to": "x"}}, {**received, "body": multipart})
    encoded = {
        **received,
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        "body": b"to=a&to=b&s=%C3%A9",
    }
    assert (
        connector_replay.mismatches({"method": "POST", "path": "/x", "form": {"to": ["a", "b"], "s": "é"}}, encoded)
        == []
    )
