"""Cloud functions over accounts and projects.

They live here, not in ``accounts/cloud.py``, because ``accounts`` sits below ``realtime`` in
the dependency order and must not import it. Reads check membership; writes call the
accounts services, which publish the change (``synchronise.lib.events``) after commit.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts import services
from accounts.models import ApiKey, Membership, Permission, Project
from realtime.registry import Call, CloudError, Result, cloud_function


def project_for(call: Call, project_id: int, needed: str = Permission.VIEW) -> Project:
    """The project if the caller may ``needed`` it; a secret key only reaches its own project.

    Raises ``Project.DoesNotExist`` (→ 404) for outsiders and ``PermissionDenied`` (→ 403).
    """
    if call.api_key is not None and call.api_key.project_id != project_id:
        raise Project.DoesNotExist
    # Members only, superusers included (as in the REST API): they reach others' projects in the superadmin.
    project = Project.objects.visible_to(call.user).get(pk=project_id)
    services.require_permission(project, call.user, needed)
    return project


def project_data(project: Project, permission: str | None) -> dict[str, Any]:
    return {
        "id": project.pk,
        "name": project.name,
        "description": project.description,
        "icon": project.icon,
        "color": project.color,
        "background_color": project.background_color,
        "community": project.community,
        "permission": permission,
        "updated_at": project.updated_at.isoformat(),
    }


@cloud_function("sessionUser")
def session_user(call: Call) -> Result:
    """The signed-in user, their roles, plan and this month's usage."""
    user = call.user
    usage = services.usage_of(user=user)
    plan = user.effective_plan()
    return Result(
        {
            "id": user.pk,
            "email": user.email,
            "name": user.display_name,
            "is_superuser": user.is_superuser,
            "roles": sorted(user.groups.values_list("name", flat=True)),
            "plan": {"name": plan.name, "quota": usage.quota, "used": usage.used, "remaining": usage.remaining},
        }
    )


@cloud_function("projectList")
def project_list(call: Call) -> Result:
    """The projects the caller is a member of, with their permission."""
    memberships = Membership.objects.filter(user=call.user).select_related("project").order_by("project__name")
    if call.api_key is not None:
        memberships = memberships.filter(project_id=call.api_key.project_id)
    return Result([project_data(m.project, m.permission) for m in memberships])


@cloud_function("getProject", params={"id": serializers.IntegerField()})
def get_project(call: Call, id: int) -> Result:
    """One project the caller is a member of."""
    project = project_for(call, id)
    return Result(project_data(project, project.permission_of(call.user)))


@cloud_function(
    "createOrUpdateProject",
    params={
        "id": serializers.IntegerField(required=False),
        "name": serializers.CharField(max_length=120, required=False),
        "description": serializers.CharField(max_length=2000, required=False, allow_blank=True),
        "icon": serializers.CharField(max_length=32, required=False, allow_blank=True),
        "color": serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False),
        "background_color": serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False),
        "community": serializers.BooleanField(required=False),
    },
)
def create_or_update_project(call: Call, id: int | None = None, **fields: Any) -> Result:
    """Create a project (without ``id``) or change one (needs ``edit``)."""
    if id is None:
        if call.api_key is not None:
            raise CloudError("API keys cannot create projects", status=403, code="forbidden")
        if not fields.get("name"):
            raise CloudError("invalid parameters: name", code="invalid_params", errors={"name": ["required"]})
        project = services.project_create(owner=call.user, **fields)
        return Result(project_data(project, Permission.OWN), status=201)
    project = project_for(call, id, Permission.EDIT)
    project = services.project_update(project=project, actor=call.user, **fields)
    return Result(project_data(project, project.permission_of(call.user)))


@cloud_function("projectMembers", params={"project_id": serializers.IntegerField()})
def project_members(call: Call, project_id: int) -> Result:
    """The members of a project and its open invitations."""
    project = project_for(call, project_id)
    members = [
        {"user_id": m.user_id, "email": m.user.email, "name": m.user.display_name, "permission": m.permission}
        for m in project.memberships.select_related("user").order_by("user__email")
    ]
    invitations = [
        {"id": i.pk, "email": i.email, "permission": i.permission}
        for i in project.invitations.filter(accepted_at=None).order_by("email")
    ]
    return Result({"members": members, "invitations": invitations})


@cloud_function("projectKeys", params={"project_id": serializers.IntegerField()})
def project_keys(call: Call, project_id: int) -> Result:
    """A project's API keys: prefixes and dates only, never the keys."""
    project = project_for(call, project_id, Permission.EDIT)
    keys = ApiKey.objects.filter(project=project).order_by("kind", "-created_at")
    return Result(
        [
            {
                "id": k.pk,
                "kind": k.kind,
                "name": k.name,
                "prefix": k.prefix,
                "allowed_origins": k.allowed_origins,
                "created_at": k.created_at.isoformat(),
                "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                "revoked": k.revoked_at is not None,
            }
            for k in keys
        ]
    )


@cloud_function("usage")
def usage(call: Call) -> Result:
    """This month's requests against the caller's plan."""
    check = services.usage_of(user=call.user)
    return Result({"used": check.used, "quota": check.quota, "remaining": check.remaining})
