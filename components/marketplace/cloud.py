"""Cloud functions of the marketplace (imported by ``components/cloud.py``) and the wiring that
refreshes their callers when a listing is submitted, reviewed or forked, or a collection changes.

The public lists take ``q``/``tag``/``publisher``/``order``: a page that subscribes to a filtered
list passes ``realtime: {ignore: ["q", "tag", "publisher", "order"]}`` so every change reaches it.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from rest_framework import serializers

from accounts.roles import MARKETPLACE_VALIDATION
from components.marketplace import queries, services
from components.marketplace.models import Listing, ListingState, Submission
from realtime.registry import Call, Result, cloud_function
from realtime.wiring import register_default_wiring

PUBLIC_LISTS = [
    ("listMarketplace", {}),
    ("loadMarketplaceComponent", {"id": {"filter": "id"}}),
]
register_default_wiring(services.ROOM_QUEUE, [("listMarketplaceSubmissions", {})])
register_default_wiring(services.ROOM_REVIEW, PUBLIC_LISTS)
register_default_wiring(services.ROOM_STATE, [("loadComponent", {"id": {"filter": "component_id"}})])
register_default_wiring(services.ROOM_FORK, PUBLIC_LISTS)
register_default_wiring(services.ROOM_COLLECTION, [("listMarketplace", {})])


def _validator(call: Call) -> None:
    """People with the role, signed in: an API key never validates, whoever created it."""
    if call.api_key is not None:
        raise PermissionDenied("validation is for people, not API keys")
    services.require_validator(call.user)


@cloud_function(
    "listMarketplace",
    params={
        "q": serializers.CharField(required=False, allow_blank=True, max_length=200),
        "tag": serializers.CharField(required=False, allow_blank=True, max_length=40),
        "publisher": serializers.IntegerField(required=False),
        "order": serializers.ChoiceField(choices=queries.ORDERS, required=False),
    },
    login_required=False,
    publishable=True,
)
def list_marketplace(
    call: Call, q: str = "", tag: str = "", publisher: int | None = None, order: str = queries.LATEST
) -> Result:
    """The approved marketplace components, searched by words and tag; public."""
    listings = queries.public_listings(q=q, tag=tag, publisher=publisher, order=order)[:100]
    return Result([queries.listing_summary(listing) for listing in listings])


@cloud_function(
    "loadMarketplaceComponent",
    params={"id": serializers.IntegerField()},
    login_required=False,
    publishable=True,
)
def load_marketplace_component(call: Call, id: int) -> Result:
    """One approved marketplace component: interface, versions, and code unless closed source; public."""
    return Result(queries.listing_detail(Listing.objects.public().get(pk=id)))


@cloud_function(
    "listMarketplaceSubmissions",
    params={"state": serializers.ChoiceField(choices=ListingState.choices, required=False)},
    roles=(MARKETPLACE_VALIDATION,),
)
def list_marketplace_submissions(call: Call, state: str = ListingState.SUBMITTED) -> Result:
    """The validation queue (validators only)."""
    _validator(call)
    return Result([queries.submission_data(s) for s in queries.queue(state)[:200]])


@cloud_function(
    "loadMarketplaceSubmission",
    params={"id": serializers.IntegerField()},
    roles=(MARKETPLACE_VALIDATION,),
)
def load_marketplace_submission(call: Call, id: int) -> Result:
    """One submission with its code, closed source or not (validators only)."""
    _validator(call)
    return Result(queries.submission_data(queries.queue("").get(pk=id), full=True))


@cloud_function(
    "approveMarketplaceListing",
    params={"id": serializers.IntegerField(help_text="The submission.")},
    roles=(MARKETPLACE_VALIDATION,),
)
def approve_marketplace_listing(call: Call, id: int) -> Result:
    """Approve a submission: its version becomes the public one (validators only)."""
    _validator(call)
    listing = services.listing_approve(submission=Submission.objects.get(pk=id), actor=call.user)
    return Result({"listing": listing.pk, "state": listing.state})


@cloud_function(
    "rejectMarketplaceListing",
    params={"id": serializers.IntegerField(help_text="The submission."), "reason": serializers.CharField()},
    roles=(MARKETPLACE_VALIDATION,),
)
def reject_marketplace_listing(call: Call, id: int, reason: str) -> Result:
    """Reject a submission with a reason the author reads (validators only)."""
    _validator(call)
    listing = services.listing_reject(submission=Submission.objects.get(pk=id), actor=call.user, reason=reason)
    return Result({"listing": listing.pk, "state": listing.state})
