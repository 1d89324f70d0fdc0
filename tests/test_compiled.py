"""Statements compiled once (``synchronise/lib/compiled.py``) give what the ORM gives."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict

from accounts import services as account_services
from accounts.models import Plan, Project
from synchronise.lib.compiled import instances, select_rows
from tests.factories import make_project, make_user, make_workflow
from workflows import triggers
from workflows.models import Webhook, Workflow

pytestmark = pytest.mark.django_db


def fields(instance) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_a_select_related_row_becomes_the_instances_the_orm_makes(alice, project) -> None:  # type: ignore[no-untyped-def]
    workflow = make_workflow(project=project, actor=alice, name="Compiled", steps=[], publish=False)
    triggers.webhook_enable(workflow=workflow, actor=alice, methods=["POST", "PUT"], respond="accepted")
    make = lambda: Webhook.objects.select_related("workflow__project").filter(workflow_id=0).order_by()  # noqa: E731
    for _ in range(2):  # compiled the first time, reused the second
        (row,) = select_rows("test-webhook", make, [0], [workflow.pk])
        webhook, found_workflow, found_project = instances(row, Webhook, Workflow, Project)
        expected = Webhook.objects.select_related("workflow__project").get(workflow=workflow)
        assert fields(webhook) == fields(expected)
        assert fields(found_workflow) == fields(expected.workflow)
        assert fields(found_project) == fields(expected.workflow.project)
        assert webhook.methods == ["POST", "PUT"]  # JSON converted
        assert webhook.enabled is True  # and booleans (integers on SQLite)
        assert not webhook.get_deferred_fields()
    assert select_rows("test-webhook", make, [0], [workflow.pk + 1000]) == []


def test_the_owner_comes_with_its_plan_or_without_one(alice) -> None:  # type: ignore[no-untyped-def]
    owner = make_user(email="owner@example.com")
    project = make_project(owner=owner, name="Owned")
    assert project.owner() == owner
    assert project.owner().plan is None  # the outer join found no plan
    plan = Plan.objects.create(name="Big", slug="big", monthly_quota=-1, rate_limit="9/min")
    account_services.user_set_plan(user=owner, plan=plan)
    found = Project.objects.get(pk=project.pk).owner()
    assert found is not None
    assert found.plan is not None
    assert model_to_dict(found.plan) == model_to_dict(plan)
    assert found.effective_plan().effective_rate_limit == "9/min"
    assert fields(found) == fields(type(owner).objects.get(pk=owner.pk))


def test_a_change_in_the_parameters_fails_loudly() -> None:
    with pytest.raises(AssertionError, match="parameters"):
        select_rows("test-wrong", lambda: Workflow.objects.filter(pk=5), [0], [5])
