"""Saving a workflow: the shape is checked (a wrong shape is refused, naming the field), the meaning
is checked against the project's components (problems name the step and field); an invalid draft
is saved but cannot be published or run."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Membership, Project
from components.errors import RunError
from tests.factories import make_component, make_project, make_workflow
from workflows import definition as definitions
from workflows import runs, services
from workflows.definition import compatible
from workflows.models import WorkflowVersion

pytestmark = pytest.mark.django_db

NUMBER = {"type": "number", "subtype": "integer"}
SECRET = "{{ secrets.API_KEY }}"


@pytest.fixture
def adder(alice, project):  # type: ignore[no-untyped-def]
    return make_component(
        project=project,
        actor=alice,
        name="Add",
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER, "optional": True}],
        outputs=[{"name": "sum", **NUMBER}, {"name": "label", "type": "text"}],
    )


def problems_of(workflow) -> set[tuple[str | None, str, str]]:  # type: ignore[no-untyped-def]
    return {(p["step"], p["field"], p["message"]) for p in workflow.problems}


def draft(alice, project, steps, **parts):  # type: ignore[no-untyped-def]
    return make_workflow(project=project, actor=alice, steps=steps, publish=False, **parts)


def test_a_valid_definition_has_no_problems_and_publishes(alice, project, adder) -> None:  # type: ignore[no-untyped-def]
    workflow = draft(
        alice,
        project,
        [
            {"id": "one", "component": adder.pk, "inputs": {"a": "{{ input.x }}"}},
            {"id": "two", "component": adder.pk, "inputs": {"a": "{{ steps.one.output.sum }}", "b": 2}},
        ],
        inputs=[{"name": "x", **NUMBER}],
        outputs=[{"name": "total", "value": "{{ steps.two.output.sum }}", "type": "number"}],
    )
    assert workflow.problems == []
    version = services.workflow_publish(workflow=workflow, actor=alice, changelog="first")
    assert version.number == 1
    assert version.definition["steps"][0]["retry"] is None  # defaults filled in


def test_a_wrong_shape_is_refused_naming_the_field(alice, project, adder) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as refused:
        draft(alice, project, [{"id": "Bad Id!", "component": adder.pk}])
    assert "steps[0].id" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        draft(alice, project, [{"id": "a", "component": adder.pk, "retry": {"attempts": 0}}])
    assert "steps[0].retry.attempts" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        draft(alice, project, [{"id": "a", "component": adder.pk}, {"id": "a", "component": adder.pk}])
    assert "two steps are called a" in str(refused.value)


def test_unknown_steps_outputs_inputs_and_names_are_reported(alice, project, adder) -> None:  # type: ignore[no-untyped-def]
    workflow = draft(
        alice,
        project,
        [
            {"id": "one", "component": adder.pk, "inputs": {"a": "{{ steps.ghost.output.sum }}"}},
            {"id": "two", "component": adder.pk, "inputs": {"a": "{{ steps.one.output.nope }}"}},
            {"id": "three", "component": adder.pk, "inputs": {"a": "{{ input.missing }}"}, "after": ["nobody"]},
            {"id": "four", "component": adder.pk, "inputs": {"a": "{{ whatever }}"}},
            {"id": "five", "component": 999999, "inputs": {}},
        ],
        outputs=[{"name": "out", "value": "{{ steps.two.output.label2 }}"}],
    )
    found = problems_of(workflow)
    assert ("one", "inputs.a", "no step named ghost") in found
    assert ("two", "inputs.a", "one has no output named nope") in found
    assert ("three", "inputs.a", "the workflow has no input named missing") in found
    assert ("three", "after", "no step named nobody") in found
    assert ("four", "inputs.a", "unknown name whatever: use input, steps, execution, now or item") in found
    assert ("five", "component", "no component 999999 in this project") in found
    assert (None, "outputs.out", "two has no output named label2") in found


def test_type_mismatches_and_missing_required_inputs_are_reported(alice, project, adder) -> None:  # type: ignore[no-untyped-def]
    workflow = draft(
        alice,
        project,
        [
            {"id": "one", "component": adder.pk, "inputs": {"a": "{{ input.when }}"}},
            {"id": "two", "component": adder.pk, "inputs": {"a": "{{ steps.one.output.label }}"}},
            {"id": "three", "component": adder.pk, "inputs": {"a": "not a number"}},
            {"id": "four", "component": adder.pk, "inputs": {"b": 1}},
        ],
        inputs=[{"name": "when", "type": "bool"}],
    )
    found = problems_of(workflow)
    assert ("one", "inputs.a", "bool cannot be bound to a (number/integer)") in found
    assert ("two", "inputs.a", "text cannot be bound to a (number/integer)") in found
    assert ("three", "inputs.a", "'not a number' is not a valid number/integer") in found
    assert ("four", "inputs.a", "Add needs a (number/integer)") in found


def test_cycles_are_reported_with_their_steps(alice, project, adder) -> None:  # type: ignore[no-untyped-def]
    workflow = draft(
        alice,
        project,
        [
            {"id": "a", "component": adder.pk, "inputs": {"a": "{{ steps.c.output.sum }}"}},
            {"id": "b", "component": adder.pk, "inputs": {"a": "{{ steps.a.output.sum }}"}},
            {"id": "c", "component": adder.pk, "inputs": {"a": 1}, "after": ["b"]},
        ],
    )
    messages = [p["message"] for p in workflow.problems if p["field"] == "after"]
    assert any("cycle" in m and "a" in m and "b" in m and "c" in m for m in messages)


def test_secrets_only_bind_whole_to_secret_inputs(alice, project) -> None:  # type: ignore[no-untyped-def]
    caller = make_component(
        project=project,
        actor=alice,
        name="Caller",
        inputs=[{"name": "token", "type": "secret"}, {"name": "text", "type": "text"}],
    )
    workflow = draft(
        alice,
        project,
        [
            {"id": "ok", "component": caller.pk, "inputs": {"token": SECRET, "text": "hi"}},
            {"id": "leak", "component": caller.pk, "inputs": {"token": SECRET, "text": SECRET}},
            {"id": "mix", "component": caller.pk, "inputs": {"token": SECRET, "text": f"x {SECRET}"}},
        ],
    )
    found = problems_of(workflow)
    assert not [p for p in found if p[0] == "ok"]
    assert ("leak", "inputs.text", "text is not a secret input; credentials go to secret inputs only") in found
    assert ("mix", "inputs.text", "{{ secrets.NAME }} may only be the whole value of a secret input") in found


@pytest.fixture
def sender(alice, project):  # type: ignore[no-untyped-def]
    """A component whose inputs name credentials: one, and a list of them."""
    return make_component(
        project=project,
        actor=alice,
        name="Sender",
        inputs=[
            {"name": "token", "type": "secret", "optional": True},
            {"name": "keys", "type": "list", "subtype": "secret", "optional": True},
        ],
        outputs=[{"name": "echo", "type": "text"}],
    )


SENDER_INPUTS = [
    {"name": "key", "type": "secret"},
    {"name": "keys", "type": "list", "subtype": "secret"},
    {"name": "note", "type": "text"},
    {"name": "anything", "type": "json"},
]
ONE = "names a credential: bind it to {{ secrets.NAME }} or to a workflow input of type secret ({{ input.X }}), not to "
MANY = (
    "names credentials: bind it to a list of {{ secrets.NAME }} (or of workflow inputs of type secret) or to a "
    "workflow input that is a list of secrets, not to "
)
CHOSEN = ", whose value the run's data would choose"


def test_an_input_that_names_credentials_takes_a_reference_or_a_workflow_input_that_carries_secrets(
    alice, project, sender
) -> None:  # type: ignore[no-untyped-def]
    allowed = {
        "literal": {"token": SECRET},
        "spaced": {"token": "{{secrets.API_KEY}}"},
        "passed": {"token": "{{ input.key }}"},
        "passed-plural": {"token": "{{inputs.key}}"},
        "listed": {"keys": [SECRET, "{{ input.key }}", "{{ secrets.OTHER }}"]},
        "list-passed": {"keys": "{{ input.keys }}"},
        "none": {"keys": []},
    }
    workflow = draft(
        alice,
        project,
        [{"id": step, "component": sender.pk, "inputs": inputs} for step, inputs in allowed.items()],
        inputs=SENDER_INPUTS,
    )
    assert workflow.problems == []
    services.workflow_publish(workflow=workflow, actor=alice)


def test_an_input_that_names_credentials_refuses_data(alice, project, sender) -> None:  # type: ignore[no-untyped-def]
    refused = {
        "text-input": ("token", "{{ input.note }}", ONE + "'{{ input.note }}'"),
        "json-input": ("token", "{{ input.anything }}", ONE + "'{{ input.anything }}'"),
        "step-output": ("token", "{{ steps.literal.output.echo }}", ONE + "'{{ steps.literal.output.echo }}'"),
        "filtered": ("token", "{{ input.key | lower }}", ONE + "'{{ input.key | lower }}'"),
        "joined": ("token", "{{ secrets.API_KEY }}{{ input.note }}", ONE + "'{{ secrets.API_KEY }}{{ input.note }}'"),
        "indexed": ("token", "{{ input.keys[0] }}", ONE + "'{{ input.keys[0] }}'"),
        "list-to-one": ("token", "{{ input.keys }}", ONE + "'{{ input.keys }}'"),
        "plain-name": ("token", "API_KEY", ONE + "a plain name (write {{ secrets.API_KEY }})"),
        "pasted-value": ("token", "ghp_pasted-value", ONE + "a literal text"),
        "number": ("token", 7, ONE + "a number"),
        "object": ("token", {"name": "API_KEY"}, ONE + "an object"),
        "list-of-text": ("keys", [SECRET, "{{ input.note }}"], MANY + "a list holding '{{ input.note }}'"),
        "list-of-names": ("keys", ["API_KEY"], MANY + "a list holding a plain name (write {{ secrets.API_KEY }})"),
        "one-to-list": ("keys", "{{ input.key }}", MANY + "'{{ input.key }}'"),
        "list-output": ("keys", "{{ steps.literal.output.echo }}", MANY + "'{{ steps.literal.output.echo }}'"),
    }
    steps = [{"id": "literal", "component": sender.pk, "inputs": {"token": SECRET}}]
    steps += [{"id": s, "component": sender.pk, "inputs": {name: value}} for s, (name, value, _) in refused.items()]
    steps.append(
        {"id": "each", "component": sender.pk, "for_each": "{{ input.keys }}", "inputs": {"token": "{{ item }}"}}
    )
    workflow = draft(alice, project, steps, inputs=SENDER_INPUTS)
    found = problems_of(workflow)
    for step, (name, _, message) in refused.items():
        assert (step, f"inputs.{name}", f"{name} {message}{CHOSEN}") in found, step
    assert ("each", "inputs.token", f"token {ONE}'{{{{ item }}}}'{CHOSEN}") in found
    assert not [p for p in found if p[0] == "literal"]
    assert "ghp_pasted-value" not in str(workflow.problems)  # a literal may be a pasted credential value
    with pytest.raises(ValidationError) as publishing:
        services.workflow_publish(workflow=workflow, actor=alice)
    assert f"text-input.inputs.token: token {ONE}'{{{{ input.note }}}}'" in str(publishing.value)


def test_a_version_saved_before_the_rule_is_refused_at_start(alice, project, sender) -> None:  # type: ignore[no-untyped-def]
    """A version published before secret bindings were checked cannot start: 105 naming step and input."""
    workflow = make_workflow(
        project=project,
        actor=alice,
        steps=[{"id": "send", "component": sender.pk, "inputs": {"token": SECRET}}],
        inputs=SENDER_INPUTS,
    )
    old = definitions.clean(
        {
            "inputs": SENDER_INPUTS,
            "steps": [{"id": "send", "component": sender.pk, "inputs": {"token": "{{ input.note }}"}}],
        }
    )
    WorkflowVersion.objects.create(workflow=workflow, number=2, definition=old, created_by=alice)
    runs.forget_cached()
    with pytest.raises(RunError) as refused:
        runs.execution_start(
            workflow=workflow, inputs={"key": "API_KEY", "keys": [], "note": "OTHER", "anything": 1}, user=alice
        )
    assert refused.value.code == 105
    assert f"send.inputs.token: token {ONE}'{{{{ input.note }}}}'" in refused.value.message
    assert not workflow.executions.exists()


def test_unpublished_components_and_error_handler_outputs_are_reported(alice, project, adder) -> None:  # type: ignore[no-untyped-def]
    draft_only = make_component(project=project, actor=alice, name="Unpublished", publish=False)
    workflow = draft(
        alice,
        project,
        [
            {"id": "new", "component": draft_only.pk},
            {"id": "risky", "component": adder.pk, "inputs": {"a": 1}, "on_error": "rescue"},
            {"id": "rescue", "component": adder.pk, "inputs": {"a": 2}},
        ],
        outputs=[{"name": "r", "value": "{{ steps.rescue.output.sum }}"}],
    )
    found = problems_of(workflow)
    assert ("new", "version", "Unpublished has no a published version; publish it first") in found
    assert (None, "outputs.r", "rescue runs only on errors; mark this output optional") in found


def test_an_invalid_draft_is_saved_but_cannot_be_published_or_run(alice, project, adder) -> None:  # type: ignore[no-untyped-def]
    workflow = draft(alice, project, [{"id": "one", "component": adder.pk, "inputs": {}}])
    assert workflow.pk is not None
    assert workflow.problems
    with pytest.raises(ValidationError):
        services.workflow_publish(workflow=workflow, actor=alice)
    assert workflow.versions.count() == 0
    with pytest.raises(RunError) as refused:
        runs.execution_start(workflow=workflow, inputs={}, version="draft", user=alice)
    assert refused.value.code == 105
    with pytest.raises(RunError) as refused:
        runs.execution_start(workflow=workflow, inputs={}, user=alice)
    assert refused.value.code == 104  # nothing published


def test_bad_inputs_are_recorded_and_not_counted(alice, project, adder) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(
        project=project,
        actor=alice,
        inputs=[{"name": "x", **NUMBER}],
        steps=[{"id": "one", "component": adder.pk, "inputs": {"a": "{{ input.x }}"}}],
    )
    with pytest.raises(RunError) as refused:
        runs.execution_start(workflow=workflow, inputs={"x": "seven"}, user=alice)
    assert refused.value.code == 101
    assert refused.value.as_dict()["incorrect"][0]["name"] == "x"
    with pytest.raises(RunError) as refused:
        runs.execution_start(workflow=workflow, inputs={}, user=alice)
    assert refused.value.code == 102
    assert workflow.executions.filter(status="failed").count() == 2


def test_only_editors_change_workflows(alice, bob, charlie, project, adder) -> None:  # type: ignore[no-untyped-def]
    steps = [{"id": "one", "component": adder.pk, "inputs": {"a": 1}}]
    workflow = make_workflow(project=project, actor=alice, steps=steps)
    services.workflow_update(workflow=workflow, actor=bob, name="Renamed by Bob")
    for outsider_action in (
        lambda: services.workflow_update(workflow=workflow, actor=charlie, name="Mine"),
        lambda: services.workflow_publish(workflow=workflow, actor=charlie),
        lambda: services.workflow_delete(workflow=workflow, actor=charlie),
        lambda: services.workflow_create(project=project, actor=charlie, name="Intruder"),
    ):
        with pytest.raises(Project.DoesNotExist):  # outsiders: as if the project did not exist
            outsider_action()
    workflow.refresh_from_db()
    assert workflow.name == "Renamed by Bob"
    Membership.objects.filter(project=project, user=bob).update(permission="view")
    with pytest.raises(PermissionDenied):
        services.workflow_update(workflow=workflow, actor=bob, name="Viewer edit")


def test_components_of_another_project_cannot_be_steps(alice, charlie, project) -> None:  # type: ignore[no-untyped-def]
    elsewhere = make_project(owner=charlie, name="Charlie's")
    foreign = make_component(project=elsewhere, actor=charlie, name="Foreign")
    workflow = draft(alice, project, [{"id": "x", "component": foreign.pk}])
    assert ("x", "component", f"no component {foreign.pk} in this project") in problems_of(workflow)


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ({"type": "number"}, {"type": "number"}, True),
        ({"type": "number"}, {"type": "text"}, True),
        ({"type": "text"}, {"type": "number"}, False),
        ({"type": "bool"}, {"type": "json"}, True),
        ({"type": "json"}, {"type": "number"}, True),
        ({"type": "list"}, {"type": "text"}, False),
        ({"type": "text", "subtype": "iso8601"}, {"type": "date"}, True),
    ],
)
def test_type_compatibility(source, target, expected) -> None:  # type: ignore[no-untyped-def]
    assert compatible(source, target) is expected


def test_the_steps_the_outputs_read_are_known_when_their_names_are_literal() -> None:
    from workflows import definition as definitions

    def sources(*outputs: dict[str, object]) -> set[str] | None:
        steps = [{"id": name, "component": 1, "inputs": {}} for name in ("a", "b", "c")]
        return definitions.parse(definitions.clean({"steps": steps, "outputs": list(outputs)})).output_sources

    assert sources(
        {"name": "one", "value": "{{ steps.a.output.n + 1 }}"},
        {"name": "two", "value": {"nested": ["{{ steps.b.output }}", "literal"]}},
        {"name": "three", "value": "{{ input.x }}"},
    ) == {"a", "b"}
    assert sources({"name": "none", "value": 3}) == set()
    assert sources({"name": "any", "value": "{{ steps[input.which].output.n }}"}) is None  # could be any step


def test_required_outputs_of_steps_that_may_not_run_and_for_each_over_a_non_list_are_reported(
    alice, project, adder
) -> None:  # type: ignore[no-untyped-def]
    workflow = draft(
        alice,
        project,
        [
            {"id": "gate", "component": adder.pk, "inputs": {"a": 1}, "run_if": "false"},
            {"id": "after-gate", "component": adder.pk, "inputs": {"a": "{{ steps.gate.output.sum }}"}},
            {"id": "risky", "component": adder.pk, "inputs": {"a": 1}, "on_error": "rescue"},
            {"id": "rescue", "component": adder.pk, "inputs": {"a": 2}},
            {"id": "below", "component": adder.pk, "inputs": {"a": "{{ steps.rescue.output.sum }}"}},
            {"id": "mixed", "component": adder.pk, "inputs": {"a": "{{ steps.gate.output.sum }}"}, "after": ["free"]},
            {"id": "free", "component": adder.pk, "inputs": {"a": 5}},
            {"id": "each", "component": adder.pk, "for_each": "input.count", "inputs": {"a": "{{ item }}"}},
            {"id": "each-list", "component": adder.pk, "for_each": "{{ input.items }}", "inputs": {"a": "{{ item }}"}},
        ],
        inputs=[{"name": "count", **NUMBER}, {"name": "items", "type": "list"}],
        outputs=[
            {"name": "gated", "value": "{{ steps.gate.output.sum }}"},
            {"name": "after", "value": "{{ steps['after-gate'].output.sum }}"},
            {"name": "below", "value": "{{ steps.below.output.sum }}"},
            {"name": "mixed", "value": "{{ steps.mixed.output.sum }}"},
            {"name": "fine", "value": "{{ steps.gate.output.sum }}", "optional": True},
        ],
    )  # fmt: skip
    found = problems_of(workflow)
    assert (None, "outputs.gated", "gate runs only when its run_if holds; mark this output optional") in found
    message = "after-gate depends only on steps that may not run (gate); mark this output optional"
    assert (None, "outputs.after", message) in found
    message = "below depends only on steps that may not run (rescue); mark this output optional"
    assert (None, "outputs.below", message) in found
    assert ("each", "for_each", "for_each needs a list, not number/integer") in found
    outputs = {p[1] for p in found if p[0] is None}
    assert outputs == {"outputs.gated", "outputs.after", "outputs.below"}  # "mixed" also waits on "free"
    assert not [p for p in found if p[0] == "each-list"]
