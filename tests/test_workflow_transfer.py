"""Export and import of workflows: the document, round trips (embedded and by reference), imports
refused with nothing written, credentials never exported, the API and the management commands."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from components import credentials
from components import services as component_services
from components.models import Component, ComponentVersion
from tests.factories import make_component, make_project, make_workflow
from workflows import services, transfer
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

NUMBER = {"type": "number", "subtype": "integer"}
ADD = "def run(inputs, ctx):\n    return {'sum': inputs['a'] + inputs['b']}\n"


@pytest.fixture
def adder(alice, project):  # type: ignore[no-untyped-def]
    component = make_component(
        project=project,
        actor=alice,
        name="Add numbers",
        code=ADD,
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER}],
        outputs=[{"name": "sum", **NUMBER}],
    )
    component_services.component_update(component=component, actor=alice, code=ADD.replace("+", "+ 0 +"))
    component_services.component_publish(component=component, actor=alice)  # version 2
    return component


@pytest.fixture
def weather(alice, project):  # type: ignore[no-untyped-def]
    """An http component that sends a credential by reference."""
    credentials.credential_set(project=project, actor=alice, name="WEATHER_TOKEN", value="tok-super-secret")
    component = component_services.component_create(
        project=project,
        actor=alice,
        name="Weather",
        kind="http",
        inputs=[{"name": "city", "type": "text"}],
        outputs=[{"name": "city", "type": "text"}],
        http={
            "method": "GET",
            "url": "https://api.example.com/weather",
            "query": {"q": "{{ inputs.city }}"},
            "headers": {"Authorization": "Bearer {{ secrets.WEATHER_TOKEN }}"},
            "outputs": {"city": "body.city"},
        },
    )
    component_services.component_publish(component=component, actor=alice)
    return component


@pytest.fixture
def workflow(alice, project, adder, weather):  # type: ignore[no-untyped-def]
    return make_workflow(
        project=project,
        actor=alice,
        name="Sum and weather",
        description="Adds, then asks for the weather.",
        timeout_seconds=120,
        concurrency_limit=2,
        inputs=[{"name": "x", **NUMBER}, {"name": "city", "type": "text"}],
        steps=[
            {"id": "one", "component": adder.pk, "version": 1, "inputs": {"a": "{{ input.x }}", "b": 1}},
            {"id": "two", "component": adder.pk, "inputs": {"a": "{{ steps.one.output.sum }}", "b": 2}},
            {"id": "three", "component": adder.pk, "inputs": {"a": "{{ steps.two.output.sum }}", "b": 3}},
            {"id": "sky", "component": weather.pk, "inputs": {"city": "{{ input.city }}"}},
        ],
        outputs=[
            {"name": "total", "value": "{{ steps.three.output.sum }}", **NUMBER},
            {"name": "city", "value": "{{ steps.sky.output.city }}"},
        ],
    )


@pytest.fixture
def elsewhere(alice):  # type: ignore[no-untyped-def]
    return make_project(owner=alice, name="Elsewhere")


def counts() -> tuple[int, int, int]:
    return Workflow.objects.count(), Component.objects.count(), ComponentVersion.objects.count()


# --- The document -------------------------------------------------------------------------------


def test_export_embeds_each_component_version_a_step_runs(workflow, adder, weather):  # type: ignore[no-untyped-def]
    document = transfer.workflow_export(workflow=workflow)
    assert (document["format"], document["version"]) == ("synchronise.workflow", 1)
    part = document["workflow"]
    assert (part["name"], part["description"]) == ("Sum and weather", "Adds, then asks for the weather.")
    assert part["settings"]["timeout_seconds"] == 120
    assert part["settings"]["concurrency_limit"] == 2
    entries = {entry["key"]: entry for entry in document["components"]}
    # Step one pins version 1; the others follow the latest (2): two entries for the same component.
    assert sorted(entries) == ["add-numbers", "add-numbers-2", "weather"]
    steps = {step["id"]: step for step in part["definition"]["steps"]}
    assert [steps[s]["component"] for s in ("one", "two", "three", "sky")] == [
        "add-numbers", "add-numbers-2", "add-numbers-2", "weather"
    ]  # fmt: skip
    assert (steps["one"]["version"], steps["two"]["version"]) == (1, None)
    first, latest = entries["add-numbers"]["embedded"], entries["add-numbers-2"]["embedded"]
    assert (first["version"], first["code"]) == (1, ADD)
    assert (latest["version"], latest["code"]) == (2, ADD.replace("+", "+ 0 +"))
    assert entries["weather"]["embedded"]["http"]["headers"] == {"Authorization": "Bearer {{ secrets.WEATHER_TOKEN }}"}
    assert document["credentials"] == ["WEATHER_TOKEN"]
    assert "tok-super-secret" not in json.dumps(document)


def test_export_by_reference_points_at_the_components(workflow, adder, weather, project):  # type: ignore[no-untyped-def]
    document = transfer.workflow_export(workflow=workflow, components="reference")
    refs = {entry["key"]: entry["ref"] for entry in document["components"]}
    assert refs == {
        "add-numbers": {"project": project.pk, "component": adder.pk, "version": 1},
        "add-numbers-2": {"project": project.pk, "component": adder.pk, "version": 2},
        "weather": {"project": project.pk, "component": weather.pk, "version": 1},
    }
    assert all("embedded" not in entry for entry in document["components"])


def test_a_credential_value_pasted_anywhere_is_masked(alice, project, workflow, weather):  # type: ignore[no-untyped-def]
    leaky = make_component(
        project=project,
        actor=alice,
        name="Leaky",
        code="TOKEN = 'tok-super-secret'\n\ndef run(inputs, ctx):\n    return {}\n",
    )
    definition = copy.deepcopy(workflow.definition)
    definition["steps"].append({"id": "leak", "component": leaky.pk, "inputs": {"note": "tok-super-secret"}})
    services.workflow_update(workflow=workflow, actor=alice, definition=definition)
    text = json.dumps(transfer.workflow_export(workflow=workflow), ensure_ascii=False)
    assert "tok-super-secret" not in text
    assert "TOKEN = '••••••'" in text


def test_an_unexportable_draft_names_the_step(alice, workflow):  # type: ignore[no-untyped-def]
    definition = copy.deepcopy(workflow.definition)
    definition["steps"][0]["component"] = 999999
    services.workflow_update(workflow=workflow, actor=alice, definition=definition)
    with pytest.raises(ValidationError) as refused:
        transfer.workflow_export(workflow=workflow)
    assert "steps[0].component" in refused.value.message_dict
    with pytest.raises(ValidationError) as version:
        transfer.workflow_export(workflow=workflow, version=5)
    assert "version" in version.value.message_dict
    assert transfer.workflow_export(workflow=workflow, version=1)["workflow"]["definition"]["steps"][0]["component"]


# --- Round trips --------------------------------------------------------------------------------


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The document without what an import renumbers (component versions)."""
    document = copy.deepcopy(document)
    for entry in document["components"]:
        entry["embedded"].pop("version")
    definition = document["workflow"]["definition"]
    for step in definition["steps"]:
        step.pop("version")
    if not any((definition.get("defaults") or {}).values()):
        definition.pop("defaults", None)  # {} and {"retry": None, "timeout": None} say the same
    return document


def test_an_embedded_round_trip_into_another_project(alice, workflow, elsewhere):  # type: ignore[no-untyped-def]
    document = transfer.workflow_export(workflow=workflow)
    result = transfer.workflow_import(project=elsewhere, actor=alice, document=document)
    imported = result.workflow
    assert imported.project == elsewhere
    assert imported.problems == []
    assert (imported.timeout_seconds, imported.concurrency_limit) == (120, 2)
    assert [c.name for c in result.components] == ["Add numbers", "Add numbers", "Weather"]
    assert all(c.project == elsewhere and c.versions.count() == 1 for c in result.components)
    assert result.missing_credentials == ["WEATHER_TOKEN"]
    steps = {step["id"]: step for step in imported.definition["steps"]}
    ids = {c.pk for c in result.components}
    assert {step["component"] for step in steps.values()} == ids
    assert (steps["one"]["version"], steps["two"]["version"]) == (1, None)  # the pin survives, renumbered
    again = transfer.workflow_export(workflow=imported)
    assert comparable(again) == comparable(document)
    services.workflow_publish(workflow=imported, actor=alice)


def test_a_round_trip_by_reference_in_the_same_project(alice, project, workflow, adder):  # type: ignore[no-untyped-def]
    document = transfer.workflow_export(workflow=workflow, components="reference")
    before = Component.objects.count()
    result = transfer.workflow_import(project=project, actor=alice, document=document, name="Copy")
    assert result.components == []
    assert Component.objects.count() == before
    assert result.workflow.name == "Copy"
    assert result.workflow.definition["steps"] == workflow.definition["steps"]
    assert result.workflow.problems == []
    assert result.missing_credentials == []


def test_an_import_that_lets_data_choose_a_credential_is_saved_with_the_problem(alice, project, elsewhere):  # type: ignore[no-untyped-def]
    caller = make_component(
        project=project, actor=alice, name="Caller", inputs=[{"name": "token", "type": "secret"}], outputs=[]
    )
    workflow = make_workflow(
        project=project,
        actor=alice,
        inputs=[{"name": "note", "type": "text"}],
        steps=[{"id": "call", "component": caller.pk, "inputs": {"token": "{{ secrets.WEATHER_TOKEN }}"}}],
    )
    document = transfer.workflow_export(workflow=workflow)
    assert document["credentials"] == ["WEATHER_TOKEN"]
    document["workflow"]["definition"]["steps"][0]["inputs"]["token"] = "{{ input.note }}"  # edited by hand
    imported = transfer.workflow_import(project=elsewhere, actor=alice, document=document).workflow
    assert [(p["step"], p["field"]) for p in imported.problems] == [("call", "inputs.token")]
    assert imported.problems[0]["message"].startswith("token names a credential: bind it to {{ secrets.NAME }}")
    with pytest.raises(ValidationError, match=r"call\.inputs\.token: token names a credential"):
        services.workflow_publish(workflow=imported, actor=alice)


def test_a_reference_never_reaches_another_project(alice, workflow, elsewhere):  # type: ignore[no-untyped-def]
    document = transfer.workflow_export(workflow=workflow, components="reference")
    before = counts()
    with pytest.raises(ValidationError) as refused:
        transfer.workflow_import(project=elsewhere, actor=alice, document=document)
    problems = refused.value.message_dict
    assert set(problems) == {
        "components[0].ref.component",
        "components[1].ref.component",
        "components[2].ref.component",
    }
    assert "not in the project 'Elsewhere'" in problems["components[0].ref.component"][0]
    assert counts() == before


# --- Refused imports write nothing --------------------------------------------------------------


def test_an_import_refused_late_writes_nothing(alice, workflow, elsewhere):  # type: ignore[no-untyped-def]
    document = transfer.workflow_export(workflow=workflow)
    # The first components are fine and get created before the last one fails in its service.
    document["components"][-1]["embedded"]["inputs"] = [{"name": "city", "type": "planet"}]
    before = counts()
    with pytest.raises(ValidationError) as refused:
        transfer.workflow_import(project=elsewhere, actor=alice, document=document)
    assert [key for key in refused.value.message_dict if key.startswith("components[2].embedded.inputs")]
    assert counts() == before


def test_an_import_refused_at_the_workflow_writes_nothing(alice, workflow, elsewhere):  # type: ignore[no-untyped-def]
    document = transfer.workflow_export(workflow=workflow)
    document["workflow"]["settings"]["timeout_seconds"] = -5
    before = counts()
    with pytest.raises(ValidationError) as refused:
        transfer.workflow_import(project=elsewhere, actor=alice, document=document)
    assert "workflow.settings.timeout_seconds" in refused.value.message_dict
    assert counts() == before


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d.update(format="something.else"), "format"),
        (lambda d: d.update(version=2), "version"),
        (lambda d: d["workflow"].update(name=""), "workflow.name"),
        (lambda d: d["workflow"]["settings"].update(colour="blue"), "workflow.settings"),
        (
            lambda d: d["workflow"]["definition"]["steps"][0].update(component="nowhere"),
            "workflow.definition.steps[0].component",
        ),
        (lambda d: d["workflow"]["definition"]["steps"][1].update(id="Two Words"), "workflow.definition.steps[1].id"),
        (lambda d: d["components"][0].update(ref={"project": 1, "component": 1}), "components[0].key"),
        (lambda d: d["components"][1].update(key="add-numbers"), "components"),
        (lambda d: d["components"][0]["embedded"].update(kind="telepathy"), "components[0].embedded.kind"),
        (lambda d: d["components"][0]["embedded"].update(code="def run(:\n"), "components[0].embedded.code"),
    ],
)
def test_a_bad_document_is_refused_naming_the_field(alice, workflow, elsewhere, change, where):  # type: ignore[no-untyped-def]
    document = transfer.workflow_export(workflow=workflow)
    change(document)
    before = counts()
    with pytest.raises(ValidationError) as refused:
        transfer.workflow_import(project=elsewhere, actor=alice, document=document)
    assert where in refused.value.message_dict, refused.value.message_dict
    assert counts() == before


def test_importing_needs_edit(alice, bob, charlie, workflow, project):  # type: ignore[no-untyped-def]
    from django.core.exceptions import PermissionDenied

    from accounts.models import Membership, Project

    document = transfer.workflow_export(workflow=workflow)
    Membership.objects.filter(project=project, user=bob).update(permission="view")
    with pytest.raises(PermissionDenied):
        transfer.workflow_import(project=project, actor=bob, document=document)
    with pytest.raises(Project.DoesNotExist):
        transfer.workflow_import(project=project, actor=charlie, document=document)


# --- Through the API ----------------------------------------------------------------------------


def test_export_and_import_through_the_api(client, alice, workflow, elsewhere):  # type: ignore[no-untyped-def]
    client.force_login(alice)
    exported = client.get(f"/api/v1/workflows/{workflow.pk}/export/")
    assert exported.status_code == 200
    assert "attachment" in exported["Content-Disposition"]
    body = {"project": elsewhere.pk, "document": exported.json(), "name": "Imported"}
    imported = client.post("/api/v1/workflows/import/", body, content_type="application/json")
    assert imported.status_code == 201, imported.json()
    answer = imported.json()
    assert (answer["workflow"]["project"], answer["workflow"]["name"]) == (elsewhere.pk, "Imported")
    assert answer["workflow"]["is_valid"] is True
    assert len(answer["components"]) == 3
    assert answer["missing_credentials"] == ["WEATHER_TOKEN"]

    reference = client.get(f"/api/v1/workflows/{workflow.pk}/export/?components=reference").json()
    before = counts()
    refused = client.post(
        "/api/v1/workflows/import/", {"project": elsewhere.pk, "document": reference}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert "components[0].ref.component" in refused.json()["errors"]["document"]
    assert counts() == before
    bad_mode = client.get(f"/api/v1/workflows/{workflow.pk}/export/?components=telepathy")
    assert bad_mode.status_code == 400
    assert "components" in bad_mode.json()["errors"]
    not_json = client.post(
        "/api/v1/workflows/import/", {"project": elsewhere.pk, "document": "hello"}, content_type="application/json"
    )
    assert not_json.status_code == 400
    assert "document" in not_json.json()["errors"]


# --- Management commands ------------------------------------------------------------------------


def test_the_commands_export_to_a_file_and_import_it(alice, workflow, elsewhere, tmp_path, capsys):  # type: ignore[no-untyped-def]
    path = tmp_path / "workflow.json"
    call_command("export_workflow", str(workflow.pk), "-o", str(path))
    document = json.loads(path.read_text())
    assert document == transfer.workflow_export(workflow=workflow)
    call_command("import_workflow", str(path), "--project", str(elsewhere.pk), "--user", alice.email)
    out = capsys.readouterr().out
    imported = Workflow.objects.get(project=elsewhere)
    assert f"imported workflow {imported.pk}" in out
    assert "add these credentials to the project: WEATHER_TOKEN" in out
    assert Component.objects.filter(project=elsewhere).count() == 3


def test_the_export_command_by_reference_to_stdout(workflow, adder, capsys):  # type: ignore[no-untyped-def]
    call_command("export_workflow", str(workflow.pk), "--reference")
    document = json.loads(capsys.readouterr().out)
    assert document["components"][0]["ref"]["component"] == adder.pk


def test_the_commands_say_what_is_wrong(alice, charlie, workflow, elsewhere, tmp_path):  # type: ignore[no-untyped-def]
    with pytest.raises(CommandError, match="no workflow"):
        call_command("export_workflow", "999999")
    path = tmp_path / "reference.json"
    call_command("export_workflow", str(workflow.pk), "--reference", "-o", str(path))
    before = counts()
    with pytest.raises(CommandError, match=r"nothing was imported:\ncomponents\[0\]\.ref\.component: "):
        call_command("import_workflow", str(path), "--project", str(elsewhere.pk), "--user", alice.email)
    with pytest.raises(CommandError, match="not a member"):
        call_command("import_workflow", str(path), "--project", str(elsewhere.pk), "--user", charlie.email)
    with pytest.raises(CommandError, match="no user"):
        call_command("import_workflow", str(path), "--project", str(elsewhere.pk), "--user", "nobody@example.com")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_workflow", str(tmp_path / "broken.json"), "--project", "1", "--user", alice.email)
    assert counts() == before
