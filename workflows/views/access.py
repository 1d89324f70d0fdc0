"""How the workflow pages find a workflow or an execution for the signed-in user.

Through the user's membership of its project, as everywhere in the UI (``accounts/views/access.py``):
a non-member gets 404 (unknown ids too, so nothing leaks), a member whose permission is too low 403.
The services check again on every write.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest

from accounts.models import Membership, Permission
from accounts.views.access import member_project
from workflows.models import Workflow, WorkflowExecution


def member_workflow(request: HttpRequest, pk: int, needed: str = Permission.VIEW) -> tuple[Workflow, Membership]:
    """The workflow and the user's membership of its project; ``Http404`` / ``PermissionDenied``."""
    workflow = Workflow.objects.select_related("project").filter(pk=pk).first()
    if workflow is None:
        raise Http404("No such workflow.")
    _, membership = member_project(request, workflow.project_id, needed)
    return workflow, membership


def member_execution(
    request: HttpRequest, pk: int, needed: str = Permission.VIEW
) -> tuple[WorkflowExecution, Membership]:
    """The execution (with its workflow and project) and the user's membership; as above."""
    execution = WorkflowExecution.objects.select_related("workflow", "project", "version", "user").filter(pk=pk).first()
    if execution is None:
        raise Http404("No such execution.")
    _, membership = member_project(request, execution.project_id, needed)
    return execution, membership


def can_edit(membership: Membership) -> bool:
    return membership.allows(Permission.EDIT)


def error_messages(error: ValidationError) -> dict[str, list[str]]:
    """A service's ``ValidationError`` as ``{field: [messages]}`` (``definition`` when it names none)."""
    if hasattr(error, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in error.message_dict.items()}
    return {"definition": [str(m) for m in error.messages]}
