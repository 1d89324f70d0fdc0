"""Waiting by notification (synchronise/lib/waits.py) on the real Redis of this run (the embedded one,
or REDIS_URL), and synchronous runs that wake when the worker finishes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from django.db import connection

from components import services
from components.models import Execution, Status
from components.runs import run_execute, run_wait
from synchronise.lib import waits
from tests import servers

# A notification must wake a waiter well before the fallback poll would have; the tests that show
# it set the fallback far out, so that only the notification can explain a quick wake-up.
QUICK = 0.25


@pytest.fixture
def no_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(waits, "FALLBACK_POLL_SECONDS", 30.0)


def later(seconds: float, action: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()), daemon=True)
    thread.start()
    return thread


def test_a_waiter_wakes_when_another_thread_notifies(no_fallback):
    done = threading.Event()
    sent: list[float] = []

    def finish() -> None:
        done.set()
        sent.append(time.monotonic())
        waits.notify("thing-1")

    thread = later(0.3, finish)
    assert waits.wait_for("thing-1", 10, until=done.is_set) is True
    woke = time.monotonic()
    thread.join()
    assert woke - sent[0] < QUICK


def test_a_waiter_wakes_when_another_process_notifies(no_fallback):
    key = f"thing-{time.monotonic_ns()}"
    script = (
        "import time, django; django.setup()\n"
        "from synchronise.lib import waits\n"
        "time.sleep(0.5)\n"  # the waiter is subscribed by now
        f"print(time.time(), flush=True); waits.notify({key!r})\n"
    )
    notifier = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=servers.ROOT,
        env=servers.process_env(DJANGO_SETTINGS_MODULE="synchronise.settings"),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert waits.wait_for(key, 30) is True  # without `until`: only the notification can wake it
        woke = time.time()
        output, _ = notifier.communicate(timeout=30)
    finally:
        servers.stop(notifier)
    assert notifier.returncode == 0
    assert woke - float(output.split()[0]) < QUICK


def test_a_timeout_returns_false():
    started = time.monotonic()
    assert waits.wait_for("nobody-notifies-this", 0.3) is False
    assert 0.3 <= time.monotonic() - started < 2.0


def test_a_condition_that_stays_false_times_out_after_polling():
    looks: list[float] = []

    def never() -> bool:
        looks.append(time.monotonic())
        return False

    assert waits.wait_for("nobody-notifies-this", 0.6, until=never, poll=0.1) is False
    # Once subscribed, every 0.1 s, and once more at the deadline (fewer on a busy machine).
    assert 3 <= len(looks) <= 9
    assert looks[-1] - looks[0] >= 0.4


def test_a_change_made_before_the_wait_is_seen_at_once(no_fallback):
    waits.notify("thing-2")  # nobody listens yet: this message is gone
    started = time.monotonic()
    assert waits.wait_for("thing-2", 10, until=lambda: True) is True
    assert time.monotonic() - started < QUICK


def test_a_notification_for_another_key_does_not_wake(no_fallback):
    thread = later(0.1, lambda: waits.notify("thing-3"))
    assert waits.wait_for("thing-4", 0.6) is False
    thread.join()


def test_a_lost_notification_costs_only_the_fallback_poll():
    done = threading.Event()
    thread = later(0.1, done.set)  # changes the state, never notifies
    started = time.monotonic()
    assert waits.wait_for("thing-5", 10, until=done.is_set, poll=0.2) is True
    assert time.monotonic() - started < 1.0
    thread.join()


def test_without_redis_it_polls_and_notify_does_not_raise(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{servers.free_port()}/0"  # nothing listens there
    waits.notify("thing-6")
    done = threading.Event()
    thread = later(0.2, done.set)
    started = time.monotonic()
    assert waits.wait_for("thing-6", 10, until=done.is_set, poll=0.1) is True
    assert time.monotonic() - started < 2.0
    thread.join()


def test_keys_are_kind_and_id():
    assert waits.key_for("execution", 7) == "execution-7"
    assert waits.key_for("workflow-execution", 3) == "workflow-execution-3"


# --- Waiting on an event loop (async views) --------------------------------------------------------


def run_async(main: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(main())


def test_an_async_waiter_wakes_when_notified_and_shares_one_subscription(no_fallback):
    done = threading.Event()
    sent: list[float] = []

    def finish() -> None:
        done.set()
        sent.append(time.monotonic())
        waits.notify("thing-a1")

    async def until() -> bool:
        return done.is_set()

    async def main() -> tuple[list[bool], int]:
        thread = later(0.4, finish)
        results = await asyncio.gather(*(waits.await_for("thing-a1", 10, until=until) for _ in range(20)))
        thread.join()
        listeners = {id(waits._listener(asyncio.get_running_loop()))}
        return list(results), len(listeners)

    results, listeners = run_async(main)
    woke = time.monotonic()
    assert results == [True] * 20
    assert listeners == 1
    assert woke - sent[0] < QUICK


def test_an_async_waiter_is_not_woken_by_another_key_and_times_out(no_fallback):
    looks: list[float] = []

    async def until() -> bool:
        looks.append(time.monotonic())
        return False

    async def main() -> bool:
        thread = later(0.2, lambda: waits.notify("thing-a2"))
        result = await waits.await_for("thing-a3", 0.8, until=until)
        thread.join()
        return result

    started = time.monotonic()
    assert run_async(main) is False
    assert 0.75 < time.monotonic() - started < 3
    assert len(looks) == 2  # once subscribed, once at the deadline: the other key woke nothing


def test_an_async_waiter_polls_when_a_notification_is_lost():
    done = threading.Event()

    async def until() -> bool:
        return done.is_set()

    async def main() -> bool:
        thread = later(0.1, done.set)  # changes the state, never notifies
        result = await waits.await_for("thing-a4", 10, until=until, poll=0.2)
        thread.join()
        return result

    started = time.monotonic()
    assert run_async(main) is True
    assert time.monotonic() - started < 1.0


def test_an_async_waiter_without_redis_polls(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{servers.free_port()}/0"  # nothing listens there
    done = threading.Event()

    async def until() -> bool:
        return done.is_set()

    async def main() -> bool:
        thread = later(0.2, done.set)
        result = await waits.await_for("thing-a5", 10, until=until, poll=0.1)
        thread.join()
        return result

    started = time.monotonic()
    assert run_async(main) is True
    assert time.monotonic() - started < 2.0


def test_a_notification_heard_before_the_waiter_came_settles_it_without_a_look(no_fallback):
    """``since``: what the listener heard after the mark is the waiter's, even if it came before
    the waiter did (the run ended before its starter got back); ``settle`` reads its message."""
    looks: list[float] = []

    async def until() -> bool:
        looks.append(time.monotonic())
        return False

    async def main() -> tuple[bool, list[bytes]]:
        await waits.await_for("thing-warm", 0.05, until=until)  # the listener is up and subscribed
        mark = waits.mark()
        waits.notify("thing-m1", b'{"answer": 42}')
        await asyncio.sleep(0.2)  # heard, with nobody waiting yet
        settled: list[bytes] = []
        result = await waits.await_for(
            "thing-m1", 5, until=until, since=mark, settle=lambda message: settled.append(message) or True
        )
        return result, settled

    looks.clear()
    result, settled = run_async(main)
    assert result is True
    assert settled == [b'{"answer": 42}']
    assert len(looks) == 2  # both from the warm-up wait: none for the settled one


def test_with_a_mark_and_no_notification_the_first_look_is_skipped_but_polling_is_not(no_fallback):
    looks: list[float] = []

    async def until() -> bool:
        looks.append(time.monotonic())
        return len(looks) >= 1

    async def main() -> tuple[bool, float]:
        await waits.await_for("thing-warm2", 0.05, until=lambda: asyncio.sleep(0, False))
        mark = waits.mark()
        started = time.monotonic()
        result = await waits.await_for("thing-m2", 5, until=until, poll=0.3, since=mark)
        return result, started

    result, started = run_async(main)
    assert result is True
    assert len(looks) == 1
    assert looks[0] - started >= 0.25  # not looked at once: at the first poll


def test_an_old_notification_or_a_bare_wake_up_is_not_taken_for_an_answer(no_fallback):
    """A message heard before the mark (an earlier thing with the same key) is ignored; a message
    ``settle`` refuses makes the waiter look at the source of truth instead."""
    done = threading.Event()

    async def until() -> bool:
        return done.is_set()

    async def main() -> tuple[bool, list[bytes]]:
        await waits.await_for("thing-warm3", 0.05, until=lambda: asyncio.sleep(0, False))
        waits.notify("thing-m3", b"old")
        await asyncio.sleep(0.2)
        mark = waits.mark()
        offered: list[bytes] = []

        def finish() -> None:
            done.set()
            waits.notify("thing-m3", b"1")

        thread = later(0.2, finish)
        result = await waits.await_for(
            "thing-m3", 5, until=until, since=mark, settle=lambda m: offered.append(m) or False
        )
        thread.join()
        return result, offered

    started = time.monotonic()
    result, offered = run_async(main)
    assert result is True
    assert b"old" not in offered
    assert offered == [b"1"]
    assert time.monotonic() - started < 1.5  # woken by the bare wake-up, not by a poll


def test_a_message_too_long_for_a_notification_is_sent_as_a_bare_wake_up(no_fallback):
    async def main() -> list[bytes]:
        await waits.await_for("thing-warm4", 0.05, until=lambda: asyncio.sleep(0, False))
        mark = waits.mark()
        waits.notify("thing-m4", b"x" * (waits.MAX_MESSAGE_BYTES + 1))
        offered: list[bytes] = []
        await waits.await_for(
            "thing-m4", 2, until=lambda: asyncio.sleep(0, True), since=mark, settle=lambda m: offered.append(m) or False
        )
        return offered

    assert run_async(main) == [b"1"]


# --- Synchronous runs ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_run_wait_wakes_when_the_worker_finishes(no_fallback, alice, project):
    component = services.component_create(
        project=project, actor=alice, name="Quick", code="def run(inputs, ctx):\n    return {}\n"
    )
    # Queued as run_start leaves it, without a message to a broker: this test is the worker.
    execution = Execution.objects.create(project=project, component=component, inputs={})

    def work() -> None:
        try:
            run_execute(execution.pk)
        finally:
            connection.close()

    thread = later(0.3, work)
    finished = run_wait(execution, timeout=20)
    woke = time.time()
    thread.join()
    assert finished.status == Status.SUCCEEDED
    assert finished.finished_at is not None
    # Woken by the notification the worker sent after recording the end: the fallback poll is 30 s here.
    assert woke - finished.finished_at.timestamp() < QUICK


@pytest.mark.django_db(transaction=True)
def test_run_wait_returns_the_unfinished_execution_after_the_timeout(alice, project):
    component = services.component_create(
        project=project, actor=alice, name="Never", code="def run(inputs, ctx):\n    return {}\n"
    )
    execution = Execution.objects.create(project=project, component=component, inputs={})
    started = time.monotonic()
    assert run_wait(execution, timeout=0.3).status == Status.QUEUED
    assert 0.3 <= time.monotonic() - started < 1.5
