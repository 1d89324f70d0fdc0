"""What the editor's canvas asks of the server: with every save (and in the page's config), the
sources each step's ``for_each`` (lists) and ``run_if`` (yes/no) may read, typed by the same rules
as the binding candidates, without steps downstream; and only members may ask."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.factories import make_component, make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(project, alice):  # type: ignore[no-untyped-def]
    seed = make_component(
        project=project,
        actor=alice,
        name="Seed",
        outputs=[
            {"name": "items", "type": "list", "subtype": "number"},
            {"name": "go", "type": "bool"},
            {"name": "label", "type": "text"},
            {"name": "raw", "type": "json"},
        ],
    )
    double = make_component(
        project=project,
        actor=alice,
        name="Double",
        inputs=[{"name": "n", "type": "number"}],
        outputs=[{"name": "value", "type": "number"}],
    )
    steps = [
        {"id": "seed", "component": seed.pk},
        {
            "id": "double",
            "component": double.pk,
            "for_each": "{{ steps.seed.output.items }}",
            "inputs": {"n": "{{ item }}"},
        },
        {"id": "last", "component": double.pk, "inputs": {"n": "{{ input.n }}"}},
    ]
    return make_workflow(
        project=project,
        actor=alice,
        name="Conditions",
        publish=False,
        steps=steps,
        inputs=[{"name": "n", "type": "number"}, {"name": "flags", "type": "list", "subtype": "bool"}],
    )


def save(client, workflow):  # type: ignore[no-untyped-def]
    body = json.dumps({"definition": {k: v for k, v in workflow.definition.items() if k != "defaults"}})
    return client.post(reverse("workflows_definition", args=[workflow.pk]), body, content_type="application/json")


def values(options: list[dict[str, str]]) -> list[str]:
    return [option["value"] for option in options]


def test_each_save_brings_the_typed_for_each_and_run_if_sources(client, bob, workflow):  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = save(client, workflow)
    assert response.status_code == 200
    conditions = response.json()["conditions"]
    # last may loop over a list (seed's, the workflow's flags, double's values collected per item)
    # or a json, never over a number, a bool or a text
    assert values(conditions["last"]["for_each"]) == [
        "{{ input.flags }}",
        "{{ steps.seed.output.items }}",
        "{{ steps.seed.output.raw }}",
        "{{ steps.double.output.value }}",
    ]
    assert conditions["last"]["for_each"][3]["label"] == "double.value (list/number)"
    assert values(conditions["last"]["run_if"]) == ["{{ steps.seed.output.go }}", "{{ steps.seed.output.raw }}"]
    # nothing downstream (double reads seed) nor the step itself is offered to seed
    assert values(conditions["seed"]["for_each"]) == ["{{ input.flags }}"]
    assert values(conditions["seed"]["run_if"]) == []
    # the page starts with the same
    page = client.get(reverse("workflows_editor", args=[workflow.pk]))
    config = json.loads(
        page.content.decode().split('id="workflow-config" type="application/json">')[1].split("</script>")[0]
    )
    assert config["state"]["conditions"] == conditions


def test_only_editors_save_and_outsiders_learn_nothing(client, charlie, viewer, workflow):  # type: ignore[no-untyped-def]
    client.force_login(charlie)
    assert save(client, workflow).status_code == 404
    client.force_login(viewer)
    assert save(client, workflow).status_code == 403
    config = client.get(reverse("workflows_editor", args=[workflow.pk])).content.decode()
    assert '"conditions": {"seed"' in config  # a viewer reads the draft, the canvas draws it read-only
