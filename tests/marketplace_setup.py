"""Shared set-up of the marketplace tests: a validator persona and a component taken through
submit → approve with the real services."""

from __future__ import annotations

from typing import Any

from accounts import services as account_services
from accounts.models import User
from components.marketplace import services
from components.marketplace.models import Listing, Submission
from components.models import Component
from tests.factories import make_component, make_user

CODE = "def run(inputs, ctx):\n    return {'greeting': 'Hello, ' + inputs['name']}\n"
CODE_V2 = "def run(inputs, ctx):\n    return {'greeting': 'Hi, ' + inputs['name']}\n"
INPUTS = [{"name": "name", "type": "text"}]
OUTPUTS = [{"name": "greeting", "type": "text"}]


def make_validator(email: str = "vera@example.com") -> User:
    """Vera holds the marketplace_validation role (and staff status, to reach the superadmin)."""
    user = make_user(email=email, name="Vera", is_staff=True)
    account_services.user_set_roles(user=user, role_names=["user", "marketplace_validation"])
    return user


def make_greeter(*, project: Any, actor: User, name: str = "Greeter", code: str = CODE) -> Component:
    return make_component(project=project, actor=actor, name=name, code=code, inputs=INPUTS, outputs=OUTPUTS)


def submit(component: Component, actor: User, **options: Any) -> Submission:
    options.setdefault("description", "Says hello to whoever you name.")
    options.setdefault("tags", ["greeting", "demo"])
    return services.listing_submit(component=component, actor=actor, **options)


def listed(component: Component, author: User, validator: User, **options: Any) -> Listing:
    """The component submitted by ``author`` and approved by ``validator``."""
    return services.listing_approve(submission=submit(component, author, **options), actor=validator)
