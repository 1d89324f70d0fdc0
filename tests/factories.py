"""Factory functions with keyword-only arguments; tests say what they depend on."""

from __future__ import annotations

from accounts import services
from accounts.models import Membership, Permission, Project, User

PASSWORD = "correct-horse-battery-staple"


def make_user(*, email: str, password: str = PASSWORD, **extra: object) -> User:
    user = User.objects.create_user(email=email, password=password, **extra)
    services.user_on_signup(user=user)  # what allauth's adapters call for every new account
    return user


def make_project(
    *, owner: User, name: str = "Alice's project", members: dict[User, str] | None = None, **extra: object
) -> Project:
    project = services.project_create(owner=owner, name=name, **extra)  # type: ignore[arg-type]
    for user, permission in (members or {}).items():
        Membership.objects.create(project=project, user=user, permission=Permission(permission))
    return project
