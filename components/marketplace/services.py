"""Every write of the marketplace: submit, approve, reject, fork, update a fork, curate.

Each runs in a transaction and announces its change after commit (``publish_change``), so the
public lists, the validation queue and the author's pages refresh wherever they are open. Views,
the REST API, cloud functions and superadmin actions all call these.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Permission, Project, User
from accounts.services import member_ids, require_permission
from components import services as component_services
from components.marketplace.models import Collection, Fork, Listing, ListingState, Submission
from components.models import Component, ComponentVersion
from synchronise.lib.events import publish_change

MAX_TAGS = 10
MAX_REASON = 2000
# Rooms published by these services; components/marketplace/cloud.py wires them to the functions
# whose callers must refresh.
ROOM_QUEUE = "updateMarketplaceQueue"  # the validation queue: told to validators only
ROOM_REVIEW = "reviewMarketplaceListing"  # the public lists and pages
ROOM_STATE = "updateMarketplaceState"  # the author's component: told to its project's members
ROOM_FORK = "forkMarketplaceComponent"
ROOM_COLLECTION = "updateMarketplaceCollection"


def is_validator(user: Any) -> bool:
    """Holders of the ``marketplace_validation`` role (its permission) and superusers."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and (user.is_superuser or user.has_perm("accounts.validate_marketplace"))
    )


def require_validator(user: Any) -> None:
    if not is_validator(user):
        raise PermissionDenied("this needs the marketplace_validation role")


def validator_ids() -> list[int]:
    """Who may read the validation queue: the role's holders and superusers, active."""
    return list(
        User.objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(groups__permissions__codename="validate_marketplace")
            | Q(user_permissions__codename="validate_marketplace")
        )
        .values_list("pk", flat=True)
        .distinct()
    )


def _announce(listing: Listing, *, public: str | None = None) -> None:
    """After commit: the queue to validators, the author's component to its members, and the public
    lists (``public`` room, ``recipients`` None: anyone may read them) when they changed."""
    filters = {"id": listing.pk, "component_id": listing.component_id, "project_id": listing.project_id}
    publish_change(ROOM_QUEUE, filters=filters, recipients=validator_ids())
    publish_change(ROOM_STATE, filters=filters, recipients=member_ids(listing.project))
    if public:
        publish_change(public, filters=filters, recipients=None)


def _clean_listing_text(*, description: str, tags: Any, icon: str) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    description = (description or "").strip()
    if not description:
        errors["description"] = ["say what the component does"]
    elif len(description) > 5000:
        errors["description"] = ["at most 5000 characters"]
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        errors["tags"] = ["a list of words"]
        tags = []
    tags = sorted({t.strip().lower() for t in tags if t.strip()})
    if len(tags) > MAX_TAGS or any(len(t) > 40 for t in tags):
        errors["tags"] = [f"at most {MAX_TAGS} tags of at most 40 characters"]
    if len(icon or "") > 32:
        errors["icon"] = ["at most 32 characters (an emoji or a short name)"]
    if errors:
        raise ValidationError(errors)
    return {"description": description, "tags": tags, "icon": icon or ""}


@transaction.atomic
def listing_submit(
    *,
    component: Component,
    actor: User,
    description: str,
    tags: Any = (),
    icon: str = "",
    closed_source: bool = False,
    version: int | None = None,
) -> Submission:
    """Send a published version (the latest unless ``version``) of the component for validation
    (needs ``edit``). The listing's public face does not change until a validator approves.

    Raises ``ValidationError`` (no such version, a fork, bad text) or the permission errors of
    ``require_permission``."""
    require_permission(component.project, actor, Permission.EDIT)
    component = Component.objects.select_for_update().get(pk=component.pk)
    if Fork.objects.filter(component=component).exists():
        raise ValidationError({"component": ["a fork cannot be submitted; submit your own component"]})
    versions = component.versions.all()
    chosen = versions.filter(number=version).first() if version is not None else versions.order_by("-number").first()
    if chosen is None:
        what = f"no version {version}" if version is not None else "no published version: publish it first"
        raise ValidationError({"version": [f"the component has {what}"]})
    text = _clean_listing_text(description=description, tags=list(tags) if tags else [], icon=icon)
    listing, _ = Listing.objects.get_or_create(component=component, defaults={"project": component.project})
    # A newer submission replaces one still waiting: validators review the latest only.
    listing.submissions.filter(state=ListingState.SUBMITTED).delete()
    submission = Submission.objects.create(
        listing=listing,
        version=chosen,
        name=component.name,
        closed_source=bool(closed_source),
        submitted_by=actor,
        **text,
    )
    listing.state = ListingState.SUBMITTED
    listing.save(update_fields=["state", "updated_at"])
    _announce(listing)
    return submission


def _pending(submission: Submission) -> Submission:
    locked = Submission.objects.select_for_update().select_related("listing", "version").get(pk=submission.pk)
    if locked.state != ListingState.SUBMITTED:
        raise ValidationError({"state": [f"this submission is {locked.state} already"]})
    return locked


@transaction.atomic
def listing_approve(*, submission: Submission, actor: User) -> Listing:
    """Make the submitted version the listing's public one (needs the validation role); its forks
    see "update available" from now on."""
    require_validator(actor)
    submission = _pending(submission)
    submission.state = ListingState.APPROVED
    submission.reviewed_by = actor
    submission.reviewed_at = timezone.now()
    submission.reason = ""
    submission.save(update_fields=["state", "reviewed_by", "reviewed_at", "reason"])
    listing = Listing.objects.select_for_update().get(pk=submission.listing_id)
    listing.state = ListingState.APPROVED
    listing.name = submission.name
    listing.description = submission.description
    listing.tags = submission.tags
    listing.icon = submission.icon
    listing.closed_source = submission.closed_source
    listing.approved_version = submission.version
    listing.approved_at = submission.reviewed_at
    listing.save()
    if listing.closed_source:
        # Once closed, always closed for the copies already made: they keep their flag either way,
        # and a listing that becomes closed hides the code of its existing forks too.
        Fork.objects.filter(listing=listing).update(closed_source=True)
    _announce(listing, public=ROOM_REVIEW)
    return listing


@transaction.atomic
def listing_reject(*, submission: Submission, actor: User, reason: str) -> Listing:
    """Refuse the submission with a reason the author reads (needs the validation role). An earlier
    approved version stays public."""
    require_validator(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["say why, so the author can fix it"]})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": [f"at most {MAX_REASON} characters"]})
    submission = _pending(submission)
    submission.state = ListingState.REJECTED
    submission.reason = reason
    submission.reviewed_by = actor
    submission.reviewed_at = timezone.now()
    submission.save(update_fields=["state", "reason", "reviewed_by", "reviewed_at"])
    listing = Listing.objects.select_for_update().get(pk=submission.listing_id)
    listing.state = ListingState.REJECTED
    listing.save(update_fields=["state", "updated_at"])
    _announce(listing, public=ROOM_REVIEW)
    return listing


@transaction.atomic
def listing_withdraw(*, component: Component, actor: User) -> Listing:
    """Take the component off the marketplace (needs ``edit``): it is private again, a waiting
    submission is dropped, and existing forks keep working (they are their projects' copies) but
    get no more updates. Submitting again goes through validation again."""
    require_permission(component.project, actor, Permission.EDIT)
    listing = Listing.objects.select_for_update().filter(component=component).first()
    if listing is None or (listing.state == ListingState.PRIVATE and not listing.is_public):
        raise ValidationError({"component": ["this component is not in the marketplace"]})
    listing.submissions.filter(state=ListingState.SUBMITTED).delete()
    listing.state = ListingState.PRIVATE
    listing.approved_version = None
    listing.approved_at = None
    listing.save(update_fields=["state", "approved_version", "approved_at", "updated_at"])
    _announce(listing, public=ROOM_REVIEW)
    return listing


def _copy_version(component: Component, version: ComponentVersion) -> None:
    for field in component_services.IMPLEMENTATION_FIELDS:
        setattr(component, field, getattr(version, field))


@transaction.atomic
def component_fork(*, listing: Listing, project: Project, actor: User) -> tuple[Component, bool]:
    """The project's copy of the listing's approved version (needs ``edit``), published, and whether
    it was made just now; a project that has a fork of it already gets that one back.

    The copy belongs to the project: it runs with the project's credentials and counts against
    the project owner's plan, like any of its components."""
    require_permission(project, actor, Permission.EDIT)
    listing = Listing.objects.select_related("approved_version").get(pk=listing.pk)
    version = listing.approved_version
    if version is None:
        raise ValidationError({"listing": ["this component is not in the marketplace"]})
    Project.objects.select_for_update().filter(pk=project.pk).first()  # two forks at once make one copy
    existing = Fork.objects.filter(project=project, listing=listing).select_related("component").first()
    if existing is not None:
        return existing.component, False
    component = component_services.component_create(
        project=project,
        actor=actor,
        name=listing.name,
        description=listing.description,
        tags=list(listing.tags),
        icon=listing.icon,
        kind=version.kind,
        inputs=version.inputs,
        outputs=version.outputs,
        code=version.code,
        http=version.http,
        builtin=version.builtin,
    )
    Fork.objects.create(
        component=component,
        project=project,
        listing=listing,
        version=version,
        version_number=version.number,
        closed_source=listing.closed_source,
        created_by=actor,
    )
    component_services.component_publish(
        component=component, actor=actor, changelog=f"Forked from the marketplace (v{version.number})"
    )
    publish_change(ROOM_FORK, filters={"id": listing.pk}, recipients=None)
    return component, True


@transaction.atomic
def fork_update(*, component: Component, actor: User) -> Component:
    """Bring a fork to its parent's newest approved version (needs ``edit``): the draft becomes
    that version's implementation and is published as the fork's next version. Nothing happens
    without this call, whatever the parent publishes."""
    require_permission(component.project, actor, Permission.EDIT)
    fork = Fork.objects.select_for_update(of=("self",)).select_related("listing__approved_version")
    fork = fork.filter(component=component)
    found = fork.first()
    if found is None:
        raise ValidationError({"component": ["this component is not a fork"]})
    if not found.update_available:
        raise ValidationError({"component": ["the fork is up to date"]})
    listing = found.listing
    assert listing is not None  # update_available says so
    assert listing.approved_version is not None
    version = listing.approved_version
    component = Component.objects.select_for_update().get(pk=component.pk)
    _copy_version(component, version)
    component.save()  # the draft, bypassing component_update: a closed fork refuses implementation edits
    found.version = version
    found.version_number = version.number
    found.closed_source = found.closed_source or listing.closed_source
    found.save(update_fields=["version", "version_number", "closed_source", "updated_at"])
    component_services.component_publish(
        component=component, actor=actor, changelog=f"Updated from the marketplace (v{version.number})"
    )
    publish_change(
        ROOM_STATE,
        filters={"id": listing.pk, "component_id": component.pk, "project_id": component.project_id},
        recipients=member_ids(component.project),
    )
    return component


@transaction.atomic
def collection_save(*, collection: Collection, listings: list[Listing] | None = None) -> Collection:
    """Create or change a curated collection (the superadmin checks the ``marketplace`` role)."""
    collection.full_clean()
    collection.save()
    if listings is not None:
        collection.listings.set(listings)
    publish_change(ROOM_COLLECTION, filters={"id": collection.pk}, recipients=None)
    return collection


@transaction.atomic
def collection_delete(*, collection: Collection) -> None:
    pk = collection.pk
    collection.delete()
    publish_change(ROOM_COLLECTION, filters={"id": pk}, recipients=None)
