"""The platform roles, as Django groups with permissions.

``ensure_roles`` runs after every ``migrate`` (permissions only exist then), so the groups
always match this table. Project membership (view/edit/own) is separate: roles are global.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.contrib.auth.models import Permission as AuthPermission

USER = "user"
ADMIN = "admin"
SUPERADMIN = "superadmin"
MARKETPLACE = "marketplace"
MARKETPLACE_VALIDATION = "marketplace_validation"

ALL_ROLES = (USER, ADMIN, SUPERADMIN, MARKETPLACE, MARKETPLACE_VALIDATION)

# Codenames per role ("app_label.codename"); "*" is every permission of the platform.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    USER: (),
    ADMIN: (
        "accounts.view_user",
        "accounts.change_user",
        "accounts.view_project",
        "accounts.view_any_project",
        "accounts.run_any_component",
        "accounts.view_apikey",
        "accounts.view_plan",
        "accounts.view_projectusage",
        "accounts.view_accountusage",
    ),
    SUPERADMIN: ("*",),
    # Curates the marketplace home: its collections, in the superadmin.
    MARKETPLACE: (
        "accounts.publish_to_marketplace",
        "components.view_collection",
        "components.add_collection",
        "components.change_collection",
        "components.delete_collection",
    ),
    MARKETPLACE_VALIDATION: ("accounts.run_any_component", "accounts.validate_marketplace"),
}


def _permissions(names: tuple[str, ...]) -> list[AuthPermission]:
    if names == ("*",):
        return list(AuthPermission.objects.all())
    found: list[AuthPermission] = []
    for name in names:
        app_label, codename = name.split(".", 1)
        # Missing while earlier apps migrate; the last post_migrate call sees them all.
        found.extend(AuthPermission.objects.filter(content_type__app_label=app_label, codename=codename))
    return found


def ensure_roles(**_: Any) -> None:
    """Create or update the role groups; safe to run any number of times."""
    for role, names in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set(_permissions(names))
