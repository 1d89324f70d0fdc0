"""The realtime protocol of DESIGN.md §4, through the real consumer, channel layer and database."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction
from rest_framework import serializers

from accounts.models import Plan
from realtime.models import RealtimeSubscription
from realtime.registry import Call, Result, cloud_function, registry
from synchronise.lib.events import publish_change
from tests.realtime_helpers import Socket, settle

pytestmark = pytest.mark.django_db(transaction=True)


def _register_test_functions() -> None:
    if "testEcho" in registry:
        return

    @cloud_function("testEcho", params={"text": serializers.CharField(), "n": serializers.IntegerField(required=False)})
    def echo(call: Call, text: str, n: int = 0) -> Result:
        return Result({"text": text, "n": n, "user": getattr(call.user, "email", None)})

    @cloud_function(
        "testChange",
        params={
            "text": serializers.CharField(),
            "to": serializers.ListField(child=serializers.IntegerField(), required=False),
        },
    )
    def change(call: Call, text: str, to: list[int] | None = None) -> Result:
        Plan.objects.filter(slug="free").update(name="Free")  # a write, inside the call's transaction
        return Result({"changed": text}, filters={"text": text}, recipients=to)

    @cloud_function("testAdminOnly", roles=("admin",))
    def admin_only(call: Call) -> Result:
        return Result("secret")

    @cloud_function("testProgress")
    def progress(call: Call) -> Result:
        call.log("starting")
        call.progress(1, 2, "half")
        call.progress(2, 2, "done")
        return Result("finished")

    @cloud_function("testPublic", publishable=True, login_required=False)
    def public(call: Call) -> Result:
        return Result({"project": call.api_key.project_id if call.api_key else None})


_register_test_functions()


@pytest.fixture
def wiring(db):  # type: ignore[no-untyped-def]
    return RealtimeSubscription.objects.create(
        room="testChange", function="testEcho", params={"text": {"filter": "text"}}
    )


def scenario(coroutine_function: Any) -> Any:
    return async_to_sync(coroutine_function)()


def test_ping_gets_pong(alice):
    async def go() -> None:
        socket = Socket(alice)
        assert await socket.connect()
        await socket.send({"type": "ping"})
        assert await socket.receive() == {"type": "pong"}
        await socket.close()

    scenario(go)


def test_run_returns_data_status_and_timing(alice):
    async def go() -> None:
        socket = Socket(alice)
        await socket.connect()
        reply = await socket.run("testEcho", {"text": "hi", "n": 3}, request_id="r1")
        assert reply["type"] == "cloud.result"
        assert reply["status"] == 200
        assert reply["data"] == {"text": "hi", "n": 3, "user": "alice@example.com"}
        assert reply["execution_ms"] >= 0
        await socket.close()

    scenario(go)


def test_bad_parameters_are_named(alice):
    async def go() -> None:
        socket = Socket(alice)
        await socket.connect()
        reply = await socket.run("testEcho", {"n": "many", "colour": "red"})
        assert reply["status"] == 400
        assert reply["code"] == "invalid_params"
        assert set(reply["errors"]) == {"text", "n", "colour"}
        assert "text" in reply["message"]
        await socket.close()

    scenario(go)


def test_unknown_function_suggests_close_names(alice):
    async def go() -> None:
        socket = Socket(alice)
        await socket.connect()
        reply = await socket.run("projectLst")
        assert reply["status"] == 404
        assert reply["code"] == "unknown_function"
        assert "projectList" in reply["suggestions"]
        assert "did you mean projectList" in reply["message"]
        await socket.close()

    scenario(go)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_message"),
        ("[1, 2]", "bad_message"),
        ('{"type": "cloud.explode"}', "bad_message"),
        ('{"type": "cloud.run", "function": "testEcho", "params": []}', "bad_message"),
        ('{"type": "cloud.run", "function": "testEcho"}', "bad_message"),  # no request_id
        ('{"type": "cloud.run", "request_id": "x", "function": 5}', "bad_message"),
        ("x" * 70_000, "message_too_large"),
        ("[" * 5000 + "]" * 5000, "bad_message"),  # nested deeper than the JSON limit: refused before parsing
    ],
)
def test_bad_messages_get_an_error_and_the_socket_survives(alice, raw, code):
    async def go() -> None:
        socket = Socket(alice)
        await socket.connect()
        await socket.send(raw)
        reply = await socket.receive()
        assert reply["type"] == "cloud.result"
        assert reply["status"] >= 400
        assert reply["code"] == code
        await socket.send({"type": "ping"})
        assert await socket.receive() == {"type": "pong"}
        await socket.close()

    scenario(go)


def test_message_rate_is_limited_per_socket(alice):
    async def go() -> None:
        socket = Socket(alice)
        await socket.connect()
        for _ in range(80):
            await socket.send({"type": "ping"})
        replies = [await socket.receive() for _ in range(80)]
        limited = [r for r in replies if r.get("code") == "rate_limited"]
        assert limited, "80 messages at once must hit the limit"
        assert all(r["status"] == 429 for r in limited)
        assert any(r == {"type": "pong"} for r in replies)
        await socket.close()

    scenario(go)


def test_progress_and_log_lines_are_streamed(alice):
    async def go() -> None:
        socket = Socket(alice)
        await socket.connect()
        await socket.send({"type": "cloud.run", "function": "testProgress", "params": {}, "request_id": "p"})
        replies = [await socket.receive() for _ in range(4)]
        assert [r["status"] for r in replies] == [100, 206, 206, 200]
        assert replies[0]["data"] == {"message": "starting"}
        assert replies[2]["data"] == {"step": 2, "steps": 2, "message": "done"}
        assert replies[3]["data"] == "finished"
        await socket.close()

    scenario(go)


def test_a_change_refreshes_exactly_the_subscribed_call(alice, bob, wiring):
    async def go() -> None:
        watcher, other, changer = Socket(alice), Socket(bob), Socket(bob)
        for socket in (watcher, other, changer):
            await socket.connect()
        first = await watcher.run("testEcho", {"text": "hello"}, request_id="w1", realtime=True)
        assert first["status"] == 200
        await other.run("testEcho", {"text": "goodbye"}, request_id="o1", realtime=True)

        reply = await changer.run("testChange", {"text": "hello"}, request_id="c1")
        assert reply["status"] == 200
        assert await watcher.receive() == {"type": "cloud.data_update", "request_id": "w1"}
        assert await watcher.nothing_within(0.3)  # exactly one message per change
        assert await other.nothing_within(0.3)
        for socket in (watcher, other, changer):
            await socket.close()

    scenario(go)


def test_only_recipients_are_told(alice, charlie, wiring):
    async def go() -> None:
        a, c = Socket(alice), Socket(charlie)
        await a.connect()
        await c.connect()
        await a.run("testEcho", {"text": "t"}, request_id="a", realtime=True)
        await c.run("testEcho", {"text": "t"}, request_id="c", realtime=True)
        await a.run("testChange", {"text": "t", "to": [alice.pk]}, request_id="change")
        assert await a.receive() == {"type": "cloud.data_update", "request_id": "a"}
        assert await c.nothing_within(0.5)
        await a.close()
        await c.close()

    scenario(go)


def test_unsubscribe_stops_updates(alice, wiring):
    async def go() -> None:
        socket = Socket(alice)
        await socket.connect()
        await socket.run("testEcho", {"text": "t"}, request_id="s", realtime=True)
        await socket.send({"type": "cloud.unsubscribe", "request_id": "s"})
        await settle()
        await socket.run("testChange", {"text": "t"}, request_id="change")
        assert await socket.nothing_within(0.5)
        await socket.close()

    scenario(go)


def test_skip_execution_subscribes_without_running(alice, wiring):
    async def go() -> None:
        socket = Socket(alice)
        await socket.connect()
        reply = await socket.run("testEcho", {"text": "t"}, request_id="s", realtime=True, skip_execution=True)
        assert reply["status"] == 204
        assert reply["data"] is None
        await socket.run("testChange", {"text": "t"}, request_id="change")
        assert await socket.receive() == {"type": "cloud.data_update", "request_id": "s"}
        await socket.close()

    scenario(go)


def test_ignored_parameters_are_not_part_of_the_identity(alice, wiring):
    async def go() -> None:
        socket = Socket(alice)
        await socket.connect()
        await socket.run("testEcho", {"text": "t", "n": 7}, request_id="s", realtime={"ignore": ["n"]})
        await socket.run("testChange", {"text": "t"}, request_id="change")
        assert await socket.receive() == {"type": "cloud.data_update", "request_id": "s"}
        await socket.close()

    scenario(go)


def test_realtime_inside_params_is_accepted_like_the_original_client(alice, wiring):
    async def go() -> None:
        socket = Socket(alice)
        await socket.connect()
        reply = await socket.run("testEcho", {"text": "t", "realtime": True}, request_id="s")
        assert reply["status"] == 200
        await socket.run("testChange", {"text": "t"}, request_id="change")
        assert await socket.receive() == {"type": "cloud.data_update", "request_id": "s"}
        await socket.close()

    scenario(go)


def test_disconnect_drops_the_sockets_subscriptions(alice, bob, wiring):
    async def go() -> None:
        leaving, staying = Socket(alice), Socket(bob)
        await leaving.connect()
        await staying.connect()
        await leaving.run("testEcho", {"text": "t"}, request_id="l", realtime=True)
        await staying.run("testEcho", {"text": "t"}, request_id="s", realtime=True)
        subscribed_before = await _group_size("testEcho", {"text": "t"})
        await leaving.close()
        await settle()
        assert await _group_size("testEcho", {"text": "t"}) == subscribed_before - 1
        await staying.run("testChange", {"text": "t"}, request_id="change")
        assert await staying.receive() == {"type": "cloud.data_update", "request_id": "s"}
        await staying.close()

    scenario(go)


async def _group_size(function: str, params: dict[str, Any]) -> int:
    """How many sockets of this process are subscribed to the call."""
    from realtime.hub import hub
    from realtime.subscriptions import subscription_key

    return hub.subscriber_count(subscription_key(function, params))


def test_a_rolled_back_change_publishes_nothing(alice, wiring):
    async def go() -> None:
        socket = Socket(alice)
        await socket.connect()
        await socket.run("testEcho", {"text": "t"}, request_id="s", realtime=True)

        def change_then_fail() -> None:
            try:
                with transaction.atomic():
                    publish_change("testChange", filters={"text": "t"})
                    raise RuntimeError("rolled back")
            except RuntimeError:
                pass

        from asgiref.sync import sync_to_async

        await sync_to_async(change_then_fail)()
        assert await socket.nothing_within(0.5)
        await sync_to_async(publish_change)("testChange", filters={"text": "t"})
        assert await socket.receive() == {"type": "cloud.data_update", "request_id": "s"}
        await socket.close()

    scenario(go)


def test_a_missing_filter_is_logged_with_room_and_parameter(alice, wiring, caplog):
    caplog.set_level(logging.ERROR, logger="realtime.publish")
    publish_change("testChange", filters={"other": 1})  # outside a transaction: runs at once
    assert "testChange" in caplog.text
    assert "'text'" in caplog.text


def test_anonymous_sockets_cannot_call_private_functions(db):
    async def go() -> None:
        socket = Socket(None)
        assert await socket.connect()
        reply = await socket.run("projectList")
        assert reply["status"] == 401
        assert reply["code"] == "not_authenticated"
        await socket.close()

    scenario(go)


def test_roles_are_enforced(alice, charlie):
    from django.contrib.auth.models import Group

    alice.groups.add(Group.objects.get(name="admin"))

    async def go() -> None:
        outsider, admin = Socket(charlie), Socket(alice)
        await outsider.connect()
        await admin.connect()
        assert (await outsider.run("testAdminOnly"))["status"] == 403
        assert (await admin.run("testAdminOnly"))["data"] == "secret"
        await outsider.close()
        await admin.close()

    scenario(go)


def test_publishable_key_sockets_reach_only_public_functions(alice, project):
    from accounts import services

    _key, raw = services.api_key_create(
        project=project, actor=alice, kind="publishable", allowed_origins=["https://shop.example"]
    )

    async def go() -> None:
        socket = Socket(None, query=f"key={raw}", origin="https://shop.example")
        assert await socket.connect()
        assert (await socket.run("testPublic"))["data"] == {"project": project.pk}
        assert (await socket.run("projectList"))["status"] == 401
        await socket.close()

        wrong_origin = Socket(None, query=f"key={raw}", origin="https://evil.example")
        assert not await wrong_origin.connect()
        bad_key = Socket(None, query="key=pk_nope", origin="https://shop.example")
        assert not await bad_key.connect()

    scenario(go)
