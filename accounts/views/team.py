"""The Team tab: members and their permissions, invitations, ownership transfer, leaving."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import services
from accounts.forms import InviteForm, MemberPermissionForm, TransferOwnershipForm
from accounts.models import Invitation, Membership, Permission, Project, User
from accounts.views.access import error_text, is_htmx, member_project, signed_in
from accounts.views.projects import tab_context


def render_team(
    request: HttpRequest,
    project: Project,
    membership: Membership,
    *,
    invite_form: InviteForm | None = None,
    transfer_form: TransferOwnershipForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        **tab_context(project, membership, "team"),
        "members": project.memberships.select_related("user").order_by("user__email"),
        "invitations": project.invitations.filter(accepted_at=None).select_related("invited_by"),
        "invite_form": invite_form or InviteForm(),
        "transfer_form": transfer_form or TransferOwnershipForm(project=project),
        "permission_choices": MemberPermissionForm.base_fields["permission"].choices,  # type: ignore[attr-defined]
    }
    return render(request, "accounts/project_team.html", context, status=status)


@login_required
@require_GET
def project_team(request: HttpRequest, pk: int) -> HttpResponse:
    project, membership = member_project(request, pk)
    return render_team(request, project, membership)


@login_required
@require_POST
def member_invite(request: HttpRequest, pk: int) -> HttpResponse:
    project, membership = member_project(request, pk, Permission.OWN)
    form = InviteForm(request.POST)
    result = form.invite(project=project, actor=signed_in(request)) if form.is_valid() else None
    if result is None:
        return render_team(request, project, membership, invite_form=form, status=400)
    email = form.cleaned_data["email"]
    if result.membership is not None:
        messages.success(request, f"{email} is now a member of the project.")
    else:
        messages.success(request, f"We emailed an invitation to {email}: they join once they confirm the address.")
    return redirect("project_team", project.pk)


@login_required
@require_POST
def member_permission(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    """Change a member's permission; answers htmx with the member's row, browsers with a redirect."""
    project, membership = member_project(request, pk, Permission.OWN)
    target = get_object_or_404(Membership.objects.select_related("user"), project=project, user_id=user_id)
    form = MemberPermissionForm(request.POST)
    saved = form.is_valid() and form.save(project=project, actor=signed_in(request), user=target.user)
    if is_htmx(request):
        target.refresh_from_db()
        context = {
            **tab_context(project, membership, "team"),
            "member": target,
            "permission_choices": form.fields["permission"].choices,  # type: ignore[attr-defined]
            "row_error": None if saved else error_text(form),
            "row_saved": saved,
        }
        # htmx swaps only 2xx answers by default; the row itself shows the error.
        return render(request, "accounts/partials/member_row.html", context)
    if saved:
        messages.success(request, f"{target.user.email} can now {form.cleaned_data['permission']} the project.")
    else:
        messages.error(request, error_text(form))
    return redirect("project_team", project.pk)


@login_required
@require_POST
def member_remove(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    project, _ = member_project(request, pk, Permission.OWN)
    user = get_object_or_404(User.objects.filter(memberships__project=project), pk=user_id)
    try:
        services.member_remove(project=project, actor=signed_in(request), user=user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{user.email} was removed from the project.")
    return redirect("project_team", project.pk)


@login_required
@require_POST
def invitation_cancel(request: HttpRequest, pk: int, invitation_id: int) -> HttpResponse:
    project, _ = member_project(request, pk, Permission.OWN)
    invitation = get_object_or_404(Invitation, pk=invitation_id, project=project, accepted_at=None)
    services.invitation_cancel(invitation=invitation, actor=signed_in(request))
    messages.success(request, f"The invitation for {invitation.email} was cancelled.")
    return redirect("project_team", project.pk)


@login_required
@require_POST
def project_transfer(request: HttpRequest, pk: int) -> HttpResponse:
    project, membership = member_project(request, pk, Permission.OWN)
    form = TransferOwnershipForm(request.POST, project=project)
    if not (form.is_valid() and form.transfer(project=project, actor=signed_in(request))):
        return render_team(request, project, membership, transfer_form=form, status=400)
    messages.success(request, f"{form.cleaned_data['new_owner'].email} now owns the project; you can still edit it.")
    return redirect("project_team", project.pk)


@login_required
@require_POST
def project_leave(request: HttpRequest, pk: int) -> HttpResponse:
    project, _ = member_project(request, pk)
    try:
        services.member_remove(project=project, actor=signed_in(request), user=signed_in(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("project_team", project.pk)
    messages.success(request, f"You left “{project.name}”.")
    return redirect("project_list")
