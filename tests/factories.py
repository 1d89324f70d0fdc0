"""Factory functions with keyword-only arguments; tests say what they depend on."""

from __future__ import annotations

from allauth.account.models import EmailAddress

from accounts import services
from accounts.models import Membership, Permission, Project, User

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
