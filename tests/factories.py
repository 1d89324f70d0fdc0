"""Factory functions with keyword-only arguments; tests say what they depend on."""

from __future__ import annotations

from allauth.account.models import EmailAddress

from accounts import services
from accounts.models import Membership, Permission, Project, User
from components.models import Component
from workflows.models import Workflow

PASSWORD = "correct-horse-battery-staple"


def make_user(*, email: str, password: str = PASSWORD, verified: bool = True, **extra: object) -> User:
    """A signed-up user; ``verified``: the address was confirmed (allauth's EmailAddress row)."""
    user = User.objects.create_user(email=email, password=password, **extra)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=verified)
    services.user_on_signup(user=user, email_verified=verified)  # what allauth's adapters call
    return user


def make_project(
    *, owner: User, name: str = "Alice's project", members: dict[User, str] | None = None, **extra: object
) -> Project:
    project = services.project_create(owner=owner, name=name, **extra)  # type: ignore[arg-type]
    for user, permission in (members or {}).items():
        Membership.objects.create(project=project, user=user, permission=Permission(permission))
    return project


def make_component(
    *,
    project: Project,
    actor: User,
    name: str = "Component",
    code: str = "def run(inputs, ctx):\n    return {}\n",
    inputs: list[dict[str, object]] | None = None,
    outputs: list[dict[str, object]] | None = None,
    publish: bool = True,
    **fields: object,
) -> Component:
    """A code component, published once unless ``publish=False``."""
    from components import services as component_services

    component = component_services.component_create(
        project=project, actor=actor, name=name, code=code, inputs=inputs or [], outputs=outputs or [], **fields
    )
    if publish:
        component_services.component_publish(component=component, actor=actor)
    return component


def make_workflow(
    *,
    project: Project,
    actor: User,
    steps: list[dict[str, object]],
    inputs: list[dict[str, object]] | None = None,
    outputs: list[dict[str, object]] | None = None,
    name: str = "Workflow",
    publish: bool = True,
    **settings: object,
) -> Workflow:
    """A workflow with this definition, published once unless ``publish=False``."""
    from workflows import services as workflow_services

    workflow = workflow_services.workflow_create(
        project=project,
        actor=actor,
        name=name,
        definition={"inputs": inputs or [], "steps": steps, "outputs": outputs or []},
        **settings,
    )
    if publish:
        workflow_services.workflow_publish(workflow=workflow, actor=actor)
    return workflow
