"""Who may choose a run's credentials: naming a credential is an editor's act.

An input that :func:`components.types.carries_secrets` names a project credential
(``{{ secrets.NAME }}``) for the host to substitute wherever the component sends it. Credentials
are write-only, so letting a caller who may not read them choose one would make them readable: a
component that also takes a destination URL (``http-request``, a ``base_url``, a Slack webhook
whose secret *is* the URL) would send the credential to the caller's server.

So a run's caller-provided value for such an input is accepted only from someone who may edit the
project; everyone else gets the input's declared default, and a value that differs from it is
refused with 105 before anything is recorded or counted. ``run_start`` and ``execution_start``
both call :func:`require_may_name_credentials`; the table of callers per trigger is in
docs/credentials-and-http.md ("Who may name a credential").
"""

from __future__ import annotations

from typing import Any

from accounts.models import ApiKey, ApiKeyKind, Membership, Permission, Project, User
from components import errors
from components.errors import RunError
from components.types import Invalid, carries_secrets, coerce_value

# A schedule's inputs can only be written by an editor (``schedule_set`` needs ``edit``), like a
# workflow's step bindings: the schedule is the editor's standing request. The value is
# ``workflows.models.Trigger.SCHEDULE``, spelled out because components does not import workflows.
EDITOR_WRITTEN_TRIGGERS = frozenset({"schedule"})


def may_name_credentials(*, project: Project, user: User | Any | None, api_key: ApiKey | None, trigger: str) -> bool:
    """Whether this caller may pass its own value to an input that carries secrets.

    Yes for a member with ``edit`` or ``own`` and for a secret key of the project (it acts as the
    member who made it, who must still be allowed to edit), and for inputs an editor wrote
    (:data:`EDITOR_WRITTEN_TRIGGERS`). No for publishable keys, viewers, outsiders, anonymous and
    webhook callers, and for platform roles that are not members: a validator or superadmin running
    someone's component runs it with the defaults its author chose.
    """
    if trigger in EDITOR_WRITTEN_TRIGGERS:
        return True
    if api_key is not None and (api_key.kind != ApiKeyKind.SECRET or api_key.project_id != project.pk):
        return False
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    # Membership itself, not ``require_permission``: that one lets a superuser act as any owner.
    membership = Membership.objects.filter(project=project, user=user).first()
    return membership is not None and membership.allows(Permission.EDIT)


def require_may_name_credentials(
    *,
    project: Project,
    specs: list[dict[str, Any]],
    inputs: dict[str, Any],
    user: User | Any | None,
    api_key: ApiKey | None,
    trigger: str,
) -> None:
    """Raise ``RunError`` 105 naming each input that carries secrets whose given value the caller may
    not choose (see :func:`may_name_credentials`). A value equal to the input's declared default, or
    none (``None`` or left out: the default applies), is always accepted."""
    chosen = [
        spec
        for spec in specs
        if carries_secrets(spec)
        and inputs.get(spec["name"]) is not None
        and not _is_default(spec, inputs[spec["name"]])
    ]
    if not chosen:  # the common case: no query for callers that choose no credential
        return
    if may_name_credentials(project=project, user=user, api_key=api_key, trigger=trigger):
        return
    names = [spec["name"] for spec in chosen]
    raise RunError(
        errors.NOT_ALLOWED,
        f"only the project's editors may choose the credential of {', '.join(names)}: leave "
        f"{'it' if len(names) == 1 else 'them'} out to use the default",
        not_allowed=names,
    )


def _is_default(spec: dict[str, Any], value: Any) -> bool:
    if "default" not in spec:
        return False
    try:
        # Both coerced: ``"GITHUB_TOKEN"`` and ``"{{ secrets.GITHUB_TOKEN }}"`` name the same credential.
        return bool(coerce_value(spec, value) == coerce_value(spec, spec["default"]))
    except (Invalid, ValueError, TypeError, KeyError, OverflowError):
        return False
