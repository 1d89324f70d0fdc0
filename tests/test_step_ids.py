"""Step ids with hyphens (issue 15, bug 1): ``steps["fetch-ip"]`` and the dotted ``steps.fetch-ip``
both name the step in validation, the design-time type check and the engine; the editor's
pickers offer the bracket form for such ids."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apiclient import API
from tests.factories import make_component, make_workflow
from workflows import engine
from workflows.expressions import Reference, bracket_step_ids, evaluate, references, whole_reference
from workflows.views.editor_data import editor_state

pytestmark = pytest.mark.django_db

NUMBER = {"type": "number", "subtype": "integer"}
TEXT = {"type": "text"}
FETCH = "def run(inputs, ctx):\n    return {'ip': '192.0.2.7', 'port': inputs['base'] + 80}\n"
DOUBLE = "def run(inputs, ctx):\n    return {'twice': inputs['n'] * 2, 'said': 'ip ' + inputs['text']}\n"


def api(client, method, path, data=None):  # type: ignore[no-untyped-def]
    return getattr(client, method)(f"{API}/{path}", data, content_type="application/json")


@pytest.fixture
def fetch(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project, actor=alice, name="Fetch IP", code=FETCH,
        inputs=[{"name": "base", **NUMBER}], outputs=[{"name": "ip", **TEXT}, {"name": "port", **NUMBER}],
    )  # fmt: skip


@pytest.fixture
def double(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project, actor=alice, name="Double", code=DOUBLE,
        inputs=[{"name": "n", **NUMBER}, {"name": "text", **TEXT}],
        outputs=[{"name": "twice", **NUMBER}, {"name": "said", **TEXT}],
    )  # fmt: skip


def definition(fetch, double, *, n: str, text: str, output: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "inputs": [],
        "steps": [
            {"id": "fetch-ip-http", "component": fetch.pk, "inputs": {"base": 1}},
            {"id": "slow-2", "component": double.pk, "inputs": {"n": n, "text": text}},
        ],
        "outputs": [{"name": "result", "value": output, "optional": True}],
    }


def validate(client, workflow, body: dict[str, Any]) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    answer = api(client, "post", f"workflows/{workflow.pk}/validate/", {"definition": body})
    assert answer.status_code == 200, answer.content
    problems: list[dict[str, Any]] = answer.json()["problems"]
    return problems


def drive(execution_pk: int) -> None:
    """Advance the execution in this process until nothing is left to run (the engine, no worker)."""
    following = engine.advance(execution_pk, claim=True)
    while following.claimed is not None or following.others:
        for pk in following.others:
            engine.run_step(pk)
        following = engine.run_claimed(following.claimed) if following.claimed else engine.Next()


def test_the_dotted_form_of_a_hyphenated_id_is_read_as_the_bracket_form() -> None:
    assert bracket_step_ids("{{ steps.fetch-ip.output.x }}") == '{{ steps["fetch-ip"].output.x }}'
    # Only inside {{ }}, never inside a quoted string, and a spaced minus stays a minus.
    text = "steps.a-b {{ 'steps.a-b' ~ steps.slow-2.status }} {{ steps.a.output.x - 1 }}"
    assert bracket_step_ids(text) == "steps.a-b {{ 'steps.a-b' ~ steps[\"slow-2\"].status }} {{ steps.a.output.x - 1 }}"
    assert [r.parts for r in references("{{ steps.fetch-ip.output.x }}")] == [("fetch-ip", "output", "x")]
    assert whole_reference("{{ steps['fetch-ip'].output.x }}") == Reference("step", ("fetch-ip", "output", "x"))
    steps = {"fetch-ip": {"output": {"x": 2}}, "a": {"output": {"x": 5}}}
    assert evaluate("{{ steps.fetch-ip.output.x + steps.a.output.x-1 }}", {"steps": steps}) == 6


@pytest.mark.parametrize("form", ["bracket", "dotted"])
def test_a_hyphenated_step_id_validates_in_both_forms(client, alice, project, fetch, double, form):  # type: ignore[no-untyped-def]
    path = 'steps["fetch-ip-http"]' if form == "bracket" else "steps.fetch-ip-http"
    body = definition(
        fetch, double, n=f"{{{{ {path}.output.port }}}}", text=f"{{{{ {path}.output.ip }}}}",
        output='{{ steps.slow-2.output.said }}',
    )  # fmt: skip
    workflow = make_workflow(project=project, actor=alice, publish=False, **body)
    client.force_login(alice)
    assert validate(client, workflow, body) == []
    assert workflow.problems == []


def test_an_unknown_hyphenated_step_is_named_whole(client, alice, project, fetch, double):  # type: ignore[no-untyped-def]
    body = definition(fetch, double, n="{{ steps.fetch-ip.output.port }}", text="x", output="{{ 1 }}")
    workflow = make_workflow(project=project, actor=alice, publish=False, **body)
    client.force_login(alice)
    messages = [p["message"] for p in validate(client, workflow, body)]
    assert messages == ["no step named fetch-ip"]  # not "no step named fetch; unknown name ip"


@pytest.mark.parametrize("path", ["steps['fetch-ip-http']", 'steps["fetch-ip-http"]', "steps.fetch-ip-http"])
def test_the_type_check_covers_the_bracket_and_dotted_forms(client, alice, project, fetch, double, path):  # type: ignore[no-untyped-def]
    body = definition(fetch, double, n=f"{{{{ {path}.output.ip }}}}", text="x", output="{{ 1 }}")
    workflow = make_workflow(project=project, actor=alice, publish=False, **body)
    client.force_login(alice)
    assert [(p["step"], p["field"], p["message"]) for p in validate(client, workflow, body)] == [
        ("slow-2", "inputs.n", "text cannot be bound to n (number/integer)")
    ]


@pytest.mark.parametrize("form", ["bracket", "dotted"])
def test_a_run_reads_a_hyphenated_step_in_both_forms(client, alice, project, fetch, double, form):  # type: ignore[no-untyped-def]
    path = 'steps["fetch-ip-http"]' if form == "bracket" else "steps.fetch-ip-http"
    body = definition(
        fetch, double, n=f"{{{{ {path}.output.port }}}}", text=f"{{{{ {path}.output.ip }}}}",
        output="{{ steps.slow-2.output.twice }} {{ steps['slow-2'].output.said }}",
    )  # fmt: skip
    body["steps"][1]["run_if"] = f"{path}.status == 'succeeded'"
    workflow = make_workflow(project=project, actor=alice, **body)
    client.force_login(alice)
    answer = api(client, "post", f"workflows/{workflow.pk}/run?async=1", {})
    assert answer.status_code == 202, answer.content
    drive(answer.json()["id"])
    execution = workflow.executions.get()
    assert execution.status == "succeeded", execution.error
    assert execution.outputs == {"result": "162 ip 192.0.2.7"}
    assert execution.step_runs.get(step="slow-2").inputs == {"n": 81, "text": "192.0.2.7"}


def test_the_pickers_offer_the_bracket_form_for_a_hyphenated_id(alice, project, fetch, double):  # type: ignore[no-untyped-def]
    body = definition(fetch, double, n="", text="", output="{{ 1 }}")
    body["steps"].append({"id": "fetch_ip", "component": fetch.pk, "inputs": {"base": 2}})
    workflow = make_workflow(project=project, actor=alice, publish=False, **body)
    offered = [o["value"] for o in editor_state(workflow)["candidates"]["steps"]["slow-2"]["n"]]
    assert offered == ['{{ steps["fetch-ip-http"].output.port }}', "{{ steps.fetch_ip.output.port }}"]
