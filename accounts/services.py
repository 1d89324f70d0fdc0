"""Every write to accounts, projects, members, keys and usage goes through one of these.

Views, API views, admin actions and tasks call them; none of them calls ``.save()`` on
these models directly. Each function is atomic; emails go out after commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.models import (
    KEY_PREFIXES,
    AccountUsage,
    ApiKey,
    ApiKeyKind,
    FirstUserClaim,
    Invitation,
    Membership,
    Permission,
    Plan,
    Project,
    ProjectUsage,
    User,
    month_start,
)
from synchronise.lib import site
from synchronise.lib.events import publish_change

if TYPE_CHECKING:
    import datetime

# --- users --------------------------------------------------------------------------------


def user_claim_first(*, user: User) -> bool:
    """Make ``user`` superuser with every role if it is the first user ever created.

    Returns whether this user won. If anyone was created before this user (say, with
    ``createsuperuser``, which does not come through here), nobody wins: a public sign-up never
    becomes superuser of an installation that already has people. Race-safe: the claim is an
    insert with a fixed primary key, so of simultaneous sign-ups that cannot yet see each
    other's users, exactly one insert succeeds; the others get an ``IntegrityError``.
    """
    if User.objects.filter(pk__lt=user.pk).exists():
        return False
    try:
        with transaction.atomic():
            FirstUserClaim.objects.create(user=user)
            User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
            user.groups.add(*Group.objects.filter(name__in=roles.ALL_ROLES))
    except IntegrityError:
        return False
    user.is_superuser = user.is_staff = True
    return True


@transaction.atomic
def user_on_signup(*, user: User, email_verified: bool = True) -> None:
    """Everything that follows the creation of an account, by email or by social login.

    The account gets the ``user`` role, and every role if it is the first one. Open
    invitations for its address become memberships only when ``email_verified`` says the
    address is proven to be the user's (the social provider vouched for it, or whoever
    created the account did). Unproven, they wait until the user confirms the address
    (the account adapter then calls ``invitations_accept``): anyone can type an invited
    address into the sign-up form, and must not walk into the project with it.
    """
    user.groups.add(*Group.objects.filter(name=roles.USER))
    user_claim_first(user=user)
    if email_verified:
        invitations_accept(user=user)


def user_set_plan(*, user: User, plan: Plan | None) -> None:
    User.objects.filter(pk=user.pk).update(plan=plan)
    user.plan = plan


def user_set_roles(*, user: User, role_names: list[str]) -> None:
    unknown = set(role_names) - set(roles.ALL_ROLES)
    if unknown:
        raise ValidationError({"roles": f"unknown roles: {', '.join(sorted(unknown))}"})
    with transaction.atomic():
        user.groups.remove(*Group.objects.filter(name__in=roles.ALL_ROLES))
        user.groups.add(*Group.objects.filter(name__in=role_names))


# --- projects -----------------------------------------------------------------------------


def require_permission(project: Project, actor: User, needed: str) -> Membership:
    """The actor's membership, if it allows ``needed``.

    Raises ``Project.DoesNotExist`` for a non-member (faces turn it into a 404, so a
    project's existence does not leak) and ``PermissionDenied`` for too low a permission.
    """
    membership = Membership.objects.filter(project=project, user=actor).first()
    if membership is None and actor.is_superuser:
        # Platform superadmins act on any project (through /superadmin/) as its owner would.
        return Membership(project=project, user=actor, permission=Permission.OWN)
    if membership is None:
        raise Project.DoesNotExist
    if not membership.allows(needed):
        raise PermissionDenied(f"this needs '{needed}' permission on the project")
    return membership


def member_ids(project: Project) -> list[int]:
    return list(Membership.objects.filter(project=project).values_list("user_id", flat=True))


def _publish_project(room: str, project: Project, *, also: tuple[int, ...] = (), filter_name: str = "id") -> None:
    """Announce, after commit, a change to the project to its members (and ``also``, e.g. a removed member)."""
    publish_change(room, filters={filter_name: project.pk}, recipients=[*member_ids(project), *also])


@transaction.atomic
def project_create(
    *,
    owner: User,
    name: str,
    description: str = "",
    icon: str = "",
    color: str | None = None,
    background_color: str | None = None,
    community: bool = False,
) -> Project:
    project = Project(name=name, description=description, icon=icon, community=community)
    if color:
        project.color = color
    if background_color:
        project.background_color = background_color
    project.full_clean()
    project.save()
    Membership.objects.create(project=project, user=owner, permission=Permission.OWN)
    _publish_project("createOrUpdateProject", project)
    return project


PROJECT_EDITABLE_FIELDS = ("name", "description", "icon", "color", "background_color", "community")


@transaction.atomic
def project_update(*, project: Project, actor: User, **changes: object) -> Project:
    """Change the listed fields (see ``PROJECT_EDITABLE_FIELDS``); needs ``edit``.

    Making a project community (or private again) needs ``own``.
    """
    unknown = set(changes) - set(PROJECT_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "this field cannot be changed"))
    needed = Permission.OWN if "community" in changes and changes["community"] != project.community else Permission.EDIT
    require_permission(project, actor, needed)
    for field, value in changes.items():
        setattr(project, field, value)
    project.full_clean()
    project.save()
    _publish_project("createOrUpdateProject", project)
    return project


@transaction.atomic
def project_delete(*, project: Project, actor: User, confirm_name: str) -> None:
    """Delete the project and everything it owns; needs ``own`` and the exact name typed back."""
    require_permission(project, actor, Permission.OWN)
    if confirm_name != project.name:
        raise ValidationError({"confirm_name": "type the project's name to confirm deletion"})
    recipients, project_id = member_ids(project), project.pk
    project.delete()
    publish_change("deleteProject", filters={"id": project_id}, recipients=recipients)


@transaction.atomic
def project_join_community(*, project: Project, user: User) -> Membership:
    """Join a community project as an editor (an existing membership is kept as it is)."""
    if not project.community:
        raise Project.DoesNotExist
    membership, created = Membership.objects.get_or_create(
        project=project, user=user, defaults={"permission": Permission.EDIT}
    )
    if created:
        _publish_project("updateMembers", project, filter_name="project_id")
    return membership


@transaction.atomic
def project_transfer_ownership(*, project: Project, actor: User, new_owner: User) -> None:
    """Make a member the owner; the previous owner stays as an editor."""
    require_permission(project, actor, Permission.OWN)
    target = Membership.objects.select_for_update().filter(project=project, user=new_owner).first()
    if target is None:
        raise ValidationError({"user": "the new owner must already be a member"})
    if target.permission == Permission.OWN:
        return
    Membership.objects.filter(project=project, permission=Permission.OWN).update(permission=Permission.EDIT)
    Membership.objects.filter(pk=target.pk).update(permission=Permission.OWN)
    _publish_project("updateMembers", project, filter_name="project_id")


# --- members ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InviteResult:
    membership: Membership | None
    invitation: Invitation | None


@transaction.atomic
def member_invite(*, project: Project, actor: User, email: str, permission: str = Permission.VIEW) -> InviteResult:
    """Add a person by email; needs ``own``.

    A known, verified address becomes a member at once (and is told by email); any other
    gets an invitation email and becomes a member once it signs up and proves the address. Ownership is never given
    by invitation: use ``project_transfer_ownership``.
    """
    require_permission(project, actor, Permission.OWN)
    if permission not in (Permission.VIEW, Permission.EDIT):
        raise ValidationError({"permission": "invite with 'view' or 'edit'; transfer ownership separately"})
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    # An account whose address is unproven could belong to anyone who typed it: it gets an
    # invitation like a stranger, accepted when the address is confirmed.
    if user is not None and email_is_verified(user=user):
        membership, created = Membership.objects.get_or_create(
            project=project, user=user, defaults={"permission": permission}
        )
        if not created:
            raise ValidationError({"email": f"{email} is already a member"})
        _send_after_commit("added", project=project, actor=actor, email=email, permission=permission)
        _publish_project("updateMembers", project, filter_name="project_id")
        return InviteResult(membership=membership, invitation=None)
    invitation, created = Invitation.objects.update_or_create(
        project=project,
        email=email,
        accepted_at=None,
        defaults={"permission": permission, "invited_by": actor},
    )
    _send_after_commit("invitation", project=project, actor=actor, email=email, permission=permission)
    _publish_project("updateMembers", project, filter_name="project_id")
    return InviteResult(membership=None, invitation=invitation)


def email_is_verified(*, user: User) -> bool:
    """Whether the user's address is proven theirs (or this installation verifies no address)."""
    if settings.ACCOUNT_EMAIL_VERIFICATION == "none":
        return True
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


@transaction.atomic
def invitations_accept(*, user: User, email: str | None = None) -> list[Membership]:
    """Turn the open invitations for ``email`` (the user's address by default) into memberships.

    Call it only for an address proven to belong to the user: at sign-up when it is
    verified, or when the user confirms it. An existing membership is kept as it is.
    Returns the memberships of the invited projects.
    """
    address = email or user.email
    invitations = list(Invitation.objects.select_for_update().filter(email__iexact=address, accepted_at=None))
    memberships = []
    for invitation in invitations:
        membership, _ = Membership.objects.get_or_create(
            project_id=invitation.project_id, user=user, defaults={"permission": invitation.permission}
        )
        memberships.append(membership)
    Invitation.objects.filter(pk__in=[i.pk for i in invitations]).update(accepted_at=timezone.now())
    for membership in memberships:
        _publish_project("updateMembers", membership.project, filter_name="project_id")
    return memberships


@transaction.atomic
def invitation_cancel(*, invitation: Invitation, actor: User) -> None:
    require_permission(invitation.project, actor, Permission.OWN)
    invitation.delete()
    _publish_project("updateMembers", invitation.project, filter_name="project_id")


@transaction.atomic
def member_set_permission(*, project: Project, actor: User, user: User, permission: str) -> Membership:
    """Change a member's permission to ``view`` or ``edit``; needs ``own``."""
    require_permission(project, actor, Permission.OWN)
    if permission not in (Permission.VIEW, Permission.EDIT):
        raise ValidationError({"permission": "use 'view' or 'edit'; transfer ownership to make an owner"})
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership is None:
        raise ValidationError({"user": "not a member of this project"})
    if membership.permission == Permission.OWN:
        raise ValidationError({"permission": "the owner's permission changes only by transferring ownership"})
    membership.permission = permission
    membership.save(update_fields=["permission"])
    _publish_project("updateMembers", project, filter_name="project_id")
    return membership


@transaction.atomic
def member_remove(*, project: Project, actor: User, user: User) -> None:
    """Remove a member; owners remove anyone but themselves, any member may leave."""
    if actor.pk != user.pk:
        require_permission(project, actor, Permission.OWN)
    membership = Membership.objects.filter(project=project, user=user).first()
    if membership is None:
        raise ValidationError({"user": "not a member of this project"})
    if membership.permission == Permission.OWN:
        raise ValidationError({"user": "the owner cannot leave; transfer ownership or delete the project"})
    membership.delete()
    # The removed member hears this last change (their list drops the project), then nothing more.
    _publish_project("updateMembers", project, also=(user.pk,), filter_name="project_id")


def _send_after_commit(kind: str, *, project: Project, actor: User, email: str, permission: str) -> None:
    # An account can hold the address unconfirmed (anyone may have typed it): its owner is asked to
    # sign in, not to create a second account, and joins once the address is confirmed.
    has_account = (
        User.objects.filter(email__iexact=email).exists() or EmailAddress.objects.filter(email__iexact=email).exists()
    )
    context = {
        "project": project,
        "actor": actor,
        "permission": permission,
        "has_account": has_account,
        "site_name": settings.SITE_NAME,
        "site_url": settings.SITE_URL,
        "signup_url": site.absolute(reverse("account_signup") + "?" + urlencode({"email": email})),
        "login_url": site.absolute(reverse("account_login") + "?" + urlencode({"next": reverse("account_email")})),
        "project_url": site.absolute(reverse("project_detail", args=[project.pk])),
    }
    subject = render_to_string(f"accounts/email/{kind}_subject.txt", context).strip()
    body = render_to_string(f"accounts/email/{kind}_message.txt", context)
    transaction.on_commit(lambda: send_mail(subject, body, None, [email]))


# --- API keys -----------------------------------------------------------------------------


def api_key_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *,
    project: Project,
    actor: User,
    kind: str = ApiKeyKind.SECRET,
    name: str = "",
    allowed_origins: list[str] | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; return it with the plaintext, which is never available again. Needs ``edit``.

    A project has at most one active publishable key: creating another revokes the old
    one (that is the rotation).
    """
    require_permission(project, actor, Permission.EDIT)
    kind = ApiKeyKind(kind)
    origins = [o.strip().rstrip("/") for o in (allowed_origins or []) if o.strip()]
    if kind == ApiKeyKind.SECRET and origins:
        raise ValidationError({"allowed_origins": "only publishable keys have an origin list"})
    if kind == ApiKeyKind.PUBLISHABLE:
        ApiKey.objects.active().filter(project=project, kind=kind).update(revoked_at=timezone.now())
    raw = KEY_PREFIXES[kind] + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        project=project,
        kind=kind,
        name=name,
        prefix=raw[:11],
        digest=api_key_digest(raw),
        allowed_origins=origins,
        created_by=actor,
    )
    _publish_project("updateKeys", project, filter_name="project_id")
    return key, raw


@transaction.atomic
def api_key_update_origins(*, key: ApiKey, actor: User, allowed_origins: list[str]) -> ApiKey:
    require_permission(key.project, actor, Permission.EDIT)
    if key.kind != ApiKeyKind.PUBLISHABLE:
        raise ValidationError({"allowed_origins": "only publishable keys have an origin list"})
    key.allowed_origins = [o.strip().rstrip("/") for o in allowed_origins if o.strip()]
    key.save(update_fields=["allowed_origins"])
    _publish_project("updateKeys", key.project, filter_name="project_id")
    return key


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: User) -> None:
    require_permission(key.project, actor, Permission.EDIT)
    ApiKey.objects.filter(pk=key.pk, revoked_at=None).update(revoked_at=timezone.now())
    _publish_project("updateKeys", key.project, filter_name="project_id")


LAST_USED_RESOLUTION_SECONDS = 60


def api_key_authenticate(*, raw: str, kind: str) -> ApiKey | None:
    """The active key of that kind matching ``raw``, or ``None``; records its last use.

    ``last_used_at`` is written at most once a minute per key, so authentication does not
    turn every API call into a write.
    """
    if not raw.startswith(KEY_PREFIXES[ApiKeyKind(kind)]):
        return None
    key = ApiKey.objects.active().select_related("project").filter(digest=api_key_digest(raw), kind=kind).first()
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


# --- usage --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageCheck:
    allowed: bool
    used: int
    quota: int  # Plan.UNLIMITED (-1) for no limit

    @property
    def remaining(self) -> int | None:
        return None if self.quota == Plan.UNLIMITED else max(self.quota - self.used, 0)


def usage_consume(
    *, project: Project, requests: int = 1, day: datetime.date | None = None, owner: User | None = None
) -> UsageCheck:
    """Check the project owner's monthly quota and count ``requests`` against it, atomically.
    ``owner``: the project's owner with its plan, when the caller has just read it (saves a query).

    The check and the increment are one conditional upsert, so concurrent callers can never
    overshoot the quota. Nothing is counted when the answer is "not allowed". Called inside the
    caller's transaction, the owner's counter stays locked until it commits: call it last.
    """
    owner = owner or project.owner()
    if owner is None:
        return UsageCheck(allowed=False, used=0, quota=0)
    month = month_start(day)
    quota = owner.effective_plan().quota
    ceiling = None if quota == Plan.UNLIMITED else quota
    with transaction.atomic():
        used = None
        if ceiling is None or requests <= ceiling:
            used = _count(AccountUsage, "user", owner.pk, month, requests, ceiling=ceiling)
        if used is None:
            used = AccountUsage.objects.filter(user=owner, month=month).values_list("count", flat=True).first() or 0
            return UsageCheck(allowed=False, used=used, quota=quota)
        _count(ProjectUsage, "project", project.pk, month, requests)
    return UsageCheck(allowed=True, used=used, quota=quota)


def usage_give_back(*, project: Project, requests: int = 1, day: datetime.date | None = None) -> None:
    """Undo ``usage_consume`` of ``requests`` counted for ``project`` in ``day``'s month: a run taken
    back because its task could not be sent (the broker was down, ``synchronise/outages.py``)."""
    month = month_start(day)
    owner = project.owner()
    if owner is not None:
        AccountUsage.objects.filter(user=owner, month=month, count__gte=requests).update(count=F("count") - requests)
    ProjectUsage.objects.filter(project=project, month=month, count__gte=requests).update(count=F("count") - requests)


def _count(
    model: type[AccountUsage | ProjectUsage],
    owner_field: str,  # the foreign key ("user", "project")
    owner_id: int,
    month: datetime.date,
    requests: int,
    *,
    ceiling: int | None = None,
) -> int | None:
    """Add ``requests`` to the month's counter row of ``owner_id`` (created at need) unless the sum
    would exceed ``ceiling``: the new count, or None when refused. One statement (PostgreSQL, and
    SQLite ≥ 3.35): the ORM has no conditional upsert, and this runs on every request."""
    quote = connection.ops.quote_name
    table, column = quote(model._meta.db_table), quote(f"{owner_field}_id")
    sql = (
        f"INSERT INTO {table} ({column}, month, count) VALUES (%s, %s, %s) "  # noqa: S608 - names from the models
        f"ON CONFLICT ({column}, month) DO UPDATE SET count = {table}.count + EXCLUDED.count"
    )
    parameters: list[Any] = [owner_id, month, requests]
    if ceiling is not None:
        sql += f" WHERE {table}.count + EXCLUDED.count <= %s"
        parameters.append(ceiling)
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING count", parameters)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def usage_of(*, user: User, day: datetime.date | None = None) -> UsageCheck:
    """The user's requests this month against their plan, without counting anything."""
    quota = user.effective_plan().quota
    used = AccountUsage.objects.filter(user=user, month=month_start(day)).values_list("count", flat=True).first()
    used = used or 0
    return UsageCheck(allowed=quota == Plan.UNLIMITED or used < quota, used=used, quota=quota)
