"""The realtime wiring: seeded defaults, superadmin editing, JSON export and import."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from realtime import wiring
from realtime.models import RealtimeSubscription
from realtime.publish import updates_for
from realtime.subscriptions import subscription_key
from tests.factories import make_user


@pytest.fixture
def root(db):  # type: ignore[no-untyped-def]
    return make_user(email="root@example.com")


def test_defaults_exist_after_migrate(db):
    pairs = set(RealtimeSubscription.objects.values_list("room", "function"))
    assert ("createOrUpdateProject", "getProject") in pairs
    assert ("createOrUpdateProject", "projectList") in pairs
    assert ("updateKeys", "projectKeys") in pairs


def test_a_change_maps_to_the_subscription_keys(db):
    keys = updates_for("createOrUpdateProject", {"id": 7})
    assert subscription_key("getProject", {"id": 7}) in keys
    assert subscription_key("projectList", {}) in keys
    assert subscription_key("getProject", {"id": 8}) not in keys


def test_fixed_values_and_disabled_rows(db):
    RealtimeSubscription.objects.create(room="r", function="f", params={"kind": {"value": "secret"}})
    RealtimeSubscription.objects.create(room="r", function="g", params={}, enabled=False)
    assert updates_for("r", {}) == [subscription_key("f", {"kind": "secret"})]


def test_export_then_import_round_trips(db):
    exported = wiring.wiring_export()
    RealtimeSubscription.objects.all().delete()
    assert wiring.wiring_import(exported) == len(exported)
    assert wiring.wiring_export() == exported


def test_an_invalid_import_changes_nothing(db):
    before = wiring.wiring_export()
    bad = [
        {"room": "ok", "function": "fine", "params": {}},
        {"room": "x", "function": "y", "params": {"id": {"from": "id"}}},
    ]
    with pytest.raises(ValidationError, match="entry 1: params"):
        wiring.wiring_import(bad)
    assert wiring.wiring_export() == before


def test_superadmin_exports_json(client, root):
    client.force_login(root)
    response = client.get("/superadmin/realtime/realtimesubscription/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    entries = json.loads(response.content)
    assert any(e["room"] == "updateKeys" and e["function"] == "projectKeys" for e in entries)


def test_superadmin_imports_json_with_replace(client, root):
    client.force_login(root)
    payload = [{"room": "renameThing", "function": "getThing", "params": {"id": {"filter": "id"}}}]
    response = client.post(
        "/superadmin/realtime/realtimesubscription/import/", {"wiring": json.dumps(payload), "replace": "on"}
    )
    assert response.status_code == 302
    assert list(RealtimeSubscription.objects.values_list("room", "function")) == [("renameThing", "getThing")]


def test_superadmin_import_reports_errors(client, root):
    client.force_login(root)
    response = client.post("/superadmin/realtime/realtimesubscription/import/", {"wiring": '{"not": "a list"}'})
    assert response.status_code == 200
    assert b"the wiring is a JSON list" in response.content


def test_it_rejects_non_staff(client, root, charlie):
    client.force_login(charlie)
    response = client.get("/superadmin/realtime/realtimesubscription/export/")
    assert response.status_code == 302
    assert response["Location"].startswith("/superadmin/login/")
    assert response.get("Content-Type") != "application/json"


def test_the_same_refresh_asked_for_in_a_burst_is_sent_twice_the_last_after_the_burst(db):
    """A workflow announces every step: a burst of identical refreshes becomes one message at once
    and one at the end of the window; a different refresh is not held back."""
    import asyncio
    import time

    from channels.layers import get_channel_layer
    from django.db import connection

    from realtime import publish
    from realtime.hub import HUBS_GROUP

    layer = get_channel_layer()

    def burst() -> None:
        try:
            for _ in range(20):
                publish.deliver("createOrUpdateProject", {"id": 7}, [1])
            publish.deliver("createOrUpdateProject", {"id": 8}, [1])
        finally:
            connection.close()  # this thread's

    async def main() -> list[tuple[float, list[str]]]:
        channel = await layer.new_channel()
        await layer.group_add(HUBS_GROUP, channel)
        try:
            started = time.monotonic()
            await asyncio.to_thread(burst)  # as a worker does, from a plain thread
            received = []
            while True:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), 1.0)
                except TimeoutError:
                    return received
                received.append((time.monotonic() - started, message["keys"]))
        finally:
            await layer.group_discard(HUBS_GROUP, channel)

    received = asyncio.run(main())
    seven = [at for at, keys in received if subscription_key("getProject", {"id": 7}) in keys]
    eight = [at for at, keys in received if subscription_key("getProject", {"id": 8}) in keys]
    assert len(seven) == 2
    assert seven[1] >= publish.COALESCE_SECONDS * 0.9  # the trailing one, after the window
    assert len(eight) == 1
    assert eight[0] < seven[1]  # not held back by the burst of another refresh
