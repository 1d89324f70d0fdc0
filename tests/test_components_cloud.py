"""Components over the realtime protocol: loading, listing, and live refresh on change."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from components import services
from tests.realtime_helpers import Socket

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_edit_refreshes_the_members_editor_and_list(alice, bob, charlie, project):
    component = services.component_create(project=project, actor=alice, name="Echo")

    async def go() -> None:
        b, c = Socket(bob), Socket(charlie)
        await b.connect()
        await c.connect()
        loaded = await b.run("loadComponent", {"id": component.pk}, request_id="editor", realtime=True)
        assert loaded["data"]["name"] == "Echo"
        listed = await b.run("listComponents", {"project_id": project.pk}, request_id="list", realtime=True)
        assert [c["name"] for c in listed["data"]] == ["Echo"]
        assert (await c.run("loadComponent", {"id": component.pk}, request_id="peek", realtime=True))["status"] == 404

        await sync_to_async(services.component_update)(component=component, actor=alice, name="Echo 2")
        assert {(await b.receive())["request_id"], (await b.receive())["request_id"]} == {"editor", "list"}
        assert await c.nothing_within(0.5)
        await b.close()
        await c.close()

    async_to_sync(go)()
