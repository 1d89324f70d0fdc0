"""Marketplace lists refresh live over a real WebSocket: submit refreshes the validation queue,
approve and reject the public lists, the listing's page and the author's component, a fork the
public lists; outsiders cannot subscribe to the queue."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from components.marketplace import services
from components.marketplace.models import Collection
from tests.factories import make_project
from tests.marketplace_setup import make_greeter, make_validator, submit
from tests.realtime_helpers import Socket, settle

pytestmark = pytest.mark.django_db(transaction=True)


def test_lists_refresh_on_submit_review_fork_and_curation(alice, bob, charlie, project):
    vera = make_validator()
    component = make_greeter(project=project, actor=bob)
    mine = make_project(owner=charlie, name="Charlie's")

    async def go() -> None:
        await settle(0.3)  # the set-up's own refreshes (coalesced, sent at the end of their window) are out
        public, validator, author, outsider = Socket(), Socket(vera), Socket(bob), Socket(charlie)
        for socket in (public, validator, author, outsider):
            assert await socket.connect()
        assert (await public.run("listMarketplace", {}, request_id="home", realtime=True))["data"] == []
        queue = await validator.run("listMarketplaceSubmissions", {}, request_id="queue", realtime=True)
        assert queue["data"] == []
        refused = await outsider.run("listMarketplaceSubmissions", {}, request_id="peek", realtime=True)
        assert refused["status"] == 403
        # Bob, the author's editor, is no validator either: the queue's refreshes never reach him.
        assert (await author.run("listMarketplaceSubmissions", {}, request_id="peek", realtime=True))["status"] == 403
        await author.run("loadComponent", {"id": component.pk}, request_id="mine", realtime=True)

        submission = await sync_to_async(submit)(component, bob)
        assert (await validator.receive())["request_id"] == "queue"
        assert (await author.receive())["request_id"] == "mine"  # the component's Marketplace state
        assert await public.nothing_within(0.3)  # nothing public changed yet
        again = await validator.run("listMarketplaceSubmissions", {}, request_id="queue-2")
        assert [s["id"] for s in again["data"]] == [submission.pk]

        listing = await sync_to_async(services.listing_approve)(submission=submission, actor=vera)
        assert (await public.receive())["type"] == "cloud.data_update"
        assert (await author.receive())["request_id"] == "mine"
        assert (await validator.receive())["request_id"] == "queue"
        home = await public.run("listMarketplace", {}, request_id="home-2")
        assert [entry["id"] for entry in home["data"]] == [listing.pk]
        page = await public.run("loadMarketplaceComponent", {"id": listing.pk}, request_id="page", realtime=True)
        assert page["data"]["name"] == "Greeter"

        await sync_to_async(services.component_fork)(listing=listing, project=mine, actor=charlie)
        updates = {(await public.receive())["request_id"], (await public.receive())["request_id"]}
        assert updates == {"home", "page"}

        await sync_to_async(services.collection_save)(
            collection=Collection(title="Picks", slug="picks"), listings=[listing]
        )
        assert (await public.receive())["request_id"] == "home"
        assert await outsider.nothing_within(0.3)
        assert await author.nothing_within(0.1)  # no queue refresh reached the non-validator
        for socket in (public, validator, author, outsider):
            await socket.close()

    async_to_sync(go)()


def test_the_wiring_defaults_are_shipped(db):
    from realtime.models import RealtimeSubscription
    from realtime.publish import updates_for
    from realtime.subscriptions import subscription_key

    pairs = set(RealtimeSubscription.objects.values_list("room", "function"))
    assert {
        (services.ROOM_QUEUE, "listMarketplaceSubmissions"),
        (services.ROOM_REVIEW, "listMarketplace"),
        (services.ROOM_REVIEW, "loadMarketplaceComponent"),
        (services.ROOM_STATE, "loadComponent"),
        (services.ROOM_FORK, "listMarketplace"),
        (services.ROOM_COLLECTION, "listMarketplace"),
    } <= pairs
    keys = updates_for(services.ROOM_REVIEW, {"id": 7, "component_id": 3, "project_id": 1})
    assert subscription_key("loadMarketplaceComponent", {"id": 7}) in keys
    assert subscription_key("listMarketplace", {}) in keys
