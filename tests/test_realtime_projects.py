"""Project changes refresh the right sockets, whichever face made them, and only for members."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from accounts import services
from tests.realtime_helpers import Socket

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_rename_refreshes_members_and_not_outsiders(alice, bob, charlie, project):
    async def go() -> None:
        a, b, c = Socket(alice), Socket(bob), Socket(charlie)
        for socket in (a, b, c):
            await socket.connect()
        assert (await a.run("getProject", {"id": project.pk}, request_id="detail", realtime=True))["status"] == 200
        assert (await a.run("projectList", {}, request_id="list", realtime=True))["status"] == 200
        outsider = await c.run("getProject", {"id": project.pk}, request_id="peek", realtime=True)
        assert outsider["status"] == 404

        reply = await b.run("createOrUpdateProject", {"id": project.pk, "name": "Renamed"}, request_id="rename")
        assert reply["data"]["name"] == "Renamed"

        updates = {(await a.receive())["request_id"], (await a.receive())["request_id"]}
        assert updates == {"detail", "list"}
        assert await a.nothing_within(0.3)
        assert await c.nothing_within(0.5)
        fresh = await a.run("getProject", {"id": project.pk}, request_id="again")
        assert fresh["data"]["name"] == "Renamed"
        for socket in (a, b, c):
            await socket.close()

    async_to_sync(go)()


def test_a_change_made_outside_the_socket_publishes_the_same(alice, bob, project):
    """Services publish, not faces: a change made by a plain service call (as views, the API,
    the admin and tasks make them) refreshes the subscribed socket."""

    async def go() -> None:
        b = Socket(bob)
        await b.connect()
        assert (await b.run("projectKeys", {"project_id": project.pk}, request_id="keys", realtime=True))[
            "status"
        ] == 200
        await sync_to_async(services.api_key_create)(project=project, actor=alice, name="deploy")
        assert await b.receive() == {"type": "cloud.data_update", "request_id": "keys"}
        await b.close()

    async_to_sync(go)()


def test_a_removed_member_stops_getting_updates(alice, bob, project):
    async def go() -> None:
        b = Socket(bob)
        await b.connect()
        await b.run("projectList", {}, request_id="list", realtime=True)
        await b.run("getProject", {"id": project.pk}, request_id="detail", realtime=True)

        await sync_to_async(services.member_remove)(project=project, actor=alice, user=bob)
        # The removal itself is the last thing Bob hears: his list and page drop the project.
        assert {(await b.receive())["request_id"], (await b.receive())["request_id"]} == {"list", "detail"}

        await sync_to_async(services.project_update)(project=project, actor=alice, name="Secret plans")
        assert await b.nothing_within(0.5)
        assert (await b.run("getProject", {"id": project.pk}, request_id="again"))["status"] == 404
        await b.close()

    async_to_sync(go)()


def test_deleting_a_project_refreshes_members_lists(alice, bob, project):
    async def go() -> None:
        b = Socket(bob)
        await b.connect()
        await b.run("projectList", {}, request_id="list", realtime=True)
        await sync_to_async(services.project_delete)(project=project, actor=alice, confirm_name=project.name)
        assert await b.receive() == {"type": "cloud.data_update", "request_id": "list"}
        assert (await b.run("projectList", {}, request_id="again"))["data"] == []
        await b.close()

    async_to_sync(go)()
