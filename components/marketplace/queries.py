"""What the marketplace shows: the public listings, searches, sections and the shapes every face
(pages, REST API, cloud functions) answers with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from components import connectors
from components.marketplace.models import Collection, Fork, Listing, ListingState, Submission

SECTION_SIZE = 8
LATEST = "latest"
POPULAR = "popular"
ORDERS = (LATEST, POPULAR)


def public_listings(
    *, q: str = "", tag: str = "", publisher: int | None = None, order: str = LATEST
) -> QuerySet[Listing]:
    """Approved listings, filtered by words (``q``), a tag and a publisher (project id);
    newest approval first, or most used (forks + runs of the forks) first."""
    found = Listing.objects.public().with_usage()
    if q:
        found = found.search(q)
    if tag:
        # The tags' JSON text holds each tag in quotes: the same exact match on SQLite and PostgreSQL.
        found = found.filter(tags__icontains=f'"{tag.lower()}"')
    if publisher is not None:
        found = found.filter(project_id=publisher)
    if order == POPULAR:
        return found.order_by("-usage", "-approved_at", "-id")  # type: ignore[misc]  # annotated in with_usage
    return found.order_by("-approved_at", "-id")


def listing_summary(listing: Listing) -> dict[str, Any]:
    version = listing.approved_version
    return {
        "id": listing.pk,
        "name": listing.name,
        "description": listing.description,
        "tags": list(listing.tags),
        "icon": listing.icon,
        "closed_source": listing.closed_source,
        "publisher": {"id": listing.project_id, "name": listing.project.name},
        "version": version.number if version else None,
        "kind": version.kind if version else None,
        "forks": getattr(listing, "fork_count", None),
        "runs": getattr(listing, "run_count", None),
        "approved_at": listing.approved_at.isoformat() if listing.approved_at else None,
    }


def listing_detail(listing: Listing) -> dict[str, Any]:
    """The public page's data: the interface always, the code unless closed source."""
    version = listing.approved_version
    data = listing_summary(listing)
    data.update(
        inputs=version.inputs if version else [],
        outputs=version.outputs if version else [],
        code=None if listing.closed_source or version is None else version.code,
        http=None if listing.closed_source or version is None else version.http,
        versions=[
            {"number": s.version.number, "approved_at": s.reviewed_at.isoformat() if s.reviewed_at else None}
            for s in listing.submissions.filter(state=ListingState.APPROVED).select_related("version")
        ],
    )
    return data


def submission_data(submission: Submission, *, full: bool = False) -> dict[str, Any]:
    """A submission as validators see it; ``full`` adds the code and request spec (always: they
    review it, closed source or not)."""
    version = submission.version
    listing = submission.listing
    data: dict[str, Any] = {
        "id": submission.pk,
        "listing": listing.pk,
        "component": listing.component_id,
        "publisher": {"id": listing.project_id, "name": listing.project.name},
        "state": submission.state,
        "name": submission.name,
        "description": submission.description,
        "tags": list(submission.tags),
        "icon": submission.icon,
        "closed_source": submission.closed_source,
        "version": version.number,
        "reason": submission.reason,
        "submitted_by": submission.submitted_by.email if submission.submitted_by else None,
        "created_at": submission.created_at.isoformat(),
        "reviewed_at": submission.reviewed_at.isoformat() if submission.reviewed_at else None,
    }
    if full:
        data.update(kind=version.kind, inputs=version.inputs, outputs=version.outputs)
        data.update(code=version.code, http=version.http)
    return data


def queue(state: str = ListingState.SUBMITTED) -> QuerySet[Submission]:
    found = Submission.objects.select_related("listing__project", "version", "submitted_by")
    return found.filter(state=state).order_by("created_at", "id") if state else found


def fork_data(fork: Fork) -> dict[str, Any]:
    listing = fork.listing
    latest = listing.approved_version if listing is not None else None
    return {
        "component": fork.component_id,
        "listing": fork.listing_id,
        "name": listing.name if listing is not None else None,
        "version": fork.version_number,
        "latest_version": latest.number if latest else None,
        "update_available": fork.update_available,
        "closed_source": fork.closed_source,
    }


@dataclass(frozen=True)
class Section:
    title: str
    slug: str
    description: str
    listings: list[Listing]


def collections() -> list[Section]:
    """The curated collections with their approved listings, in their order."""
    sections = []
    for collection in Collection.objects.prefetch_related("listings__project", "listings__approved_version"):
        shown = [listing for listing in collection.listings.all() if listing.is_public]
        sections.append(Section(collection.title, collection.slug, collection.description, shown))
    return sections


def official() -> list[dict[str, Any]]:
    """The "Official" collection: the connectors shipped with Synchronise (installed, not forked)."""
    return [connector.as_entry() for connector in connectors.catalog()]
