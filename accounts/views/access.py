"""How the web UI finds a project for the signed-in user and checks their permission.

A project the user is not a member of does not exist for them (404), so its existence does
not leak; a member whose permission is too low gets a 403. The services check again on every
write: these helpers only make the UI answer early and consistently.
"""

from __future__ import annotations

from typing import cast

from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import Http404, HttpRequest

from accounts.models import Membership, Permission, Project, User


def signed_in(request: HttpRequest) -> User:
    """The request's user; only for views behind ``login_required``."""
    return cast("User", request.user)


def member_project(request: HttpRequest, pk: int, needed: str = Permission.VIEW) -> tuple[Project, Membership]:
    """The project and the user's membership. Raises ``Http404`` for non-members and
    ``PermissionDenied`` when the membership does not allow ``needed``."""
    membership = Membership.objects.select_related("project").filter(project_id=pk, user=signed_in(request)).first()
    if membership is None:
        raise Http404("No such project.")
    if not membership.allows(needed):
        raise PermissionDenied(f"This needs '{needed}' permission on the project.")
    return membership.project, membership


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def error_text(form: Form) -> str:
    """A form's errors as one line, for a message or an inline note."""
    return " ".join(str(error) for errors in form.errors.values() for error in errors)
