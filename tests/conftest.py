from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import Browser, sync_playwright

from synchronise.lib import embedded_redis
from tests import servers
from tests.factories import make_project, make_user

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session", autouse=True)
def _data_dir() -> Iterator[None]:
    """This run's data directory (see tests/environment.py) starts without mail from an
    earlier run (CI reuses its name) and goes when the run ends."""
    shutil.rmtree(Path(settings.DATA_DIR) / "mail", ignore_errors=True)
    yield
    shutil.rmtree(settings.DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def redis_service(_data_dir: None) -> Iterator[None]:
    """The embedded Redis when REDIS_URL is unset; otherwise the real one must answer.

    In CI (``SYNCHRONISE_REQUIRE_SERVICES=1``) a missing service fails the run, never skips it.
    """
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
        except redis.RedisError as exc:
            pytest.fail(f"REDIS_URL is set but Redis does not answer: {exc}", pytrace=False)
        yield
        return
    socket_path = Path(settings.EMBEDDED_REDIS_SOCKET)
    process = embedded_redis.start(socket_path)
    yield
    if process is not None:
        process.terminate()
        process.wait(5)
        socket_path.unlink(missing_ok=True)


@pytest.fixture(scope="session", autouse=True)
def _no_session_left(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Torn down just before the test database is dropped: on PostgreSQL, end the sessions still
    open on it. Servers and workers are gone by then; what is left is a pooled connection that a
    helper thread of this process took (its last statement was the realtime wiring read of an
    in-process publish) and never handed back, which made the drop fail with "being accessed by
    other users" and leave the database behind."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    if connection.settings_dict["NAME"] != connection.settings_dict["TEST"]["NAME"]:
        return  # no test of this run used the database: it was never created (tests/test_platform.py alone)
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Rate-limit counters and throttles live in the cache; every test starts from zero.
    # On Redis only this run's keys go: `clear()` would flush what other processes use.
    from django.core.cache import cache

    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()
    # The workflow engine keeps immutable rows by primary key per process; a rolled-back test
    # transaction hands the same keys to different rows in the next test.
    from workflows import engine, runs

    engine.forget_cached()
    runs.forget_cached()


@pytest.fixture
def alice(db):  # type: ignore[no-untyped-def]
    """Owns projects. Always created first, so she is the installation's first user (superuser);
    Bob and Charlie depend on her, so an outsider can never become superuser by fixture order."""
    return make_user(email="alice@example.com", name="Alice")


@pytest.fixture
def bob(alice):  # type: ignore[no-untyped-def]
    """Is on Alice's team (given a membership by the test)."""
    return make_user(email="bob@example.com", name="Bob")


@pytest.fixture
def charlie(alice):  # type: ignore[no-untyped-def]
    """An outsider: signed in, member of nothing of Alice's."""
    return make_user(email="charlie@example.com", name="Charlie")


@pytest.fixture
def project(alice, bob):  # type: ignore[no-untyped-def]
    """Alice owns it; Bob may edit it."""
    return make_project(owner=alice, name="Alice's project", members={bob: "edit"})


@pytest.fixture
def viewer(project):  # type: ignore[no-untyped-def]
    """Viola may only view Alice's project: she reads (and runs published versions), changes nothing."""
    from accounts.models import Membership, Permission

    user = make_user(email="viola@example.com", name="Viola")
    Membership.objects.create(project=project, user=user, permission=Permission.VIEW)
    return user


@pytest.fixture(scope="session")
def asgi_url(django_db_setup, django_db_blocker) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A real uvicorn process serving the platform on the test database (tests using it need
    ``transactional_db`` so what they write is committed and visible to it)."""
    with django_db_blocker.unblock(), servers.asgi_server() as url:
        yield url


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def chromium(browser_type_launch_args, monkeypatch) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    """Chromium, driven by a Playwright started for this test only.

    Playwright's sync API runs an asyncio loop in the main thread for as long as it is started.
    pytest-playwright's ``browser`` and ``page`` keep it for the whole session, which breaks every
    later test that calls ``async_to_sync`` or ``asyncio.run``; here it stops with the test.
    While it runs, Django refuses ORM calls from this thread unless told they are safe (they are:
    the loop only drives the browser), and keeps their connections in a context-local store that
    the database teardown does not see, so they are closed here.
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**browser_type_launch_args)
        try:
            yield browser
        finally:
            connections.close_all()
            browser.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):  # type: ignore[no-untyped-def]
    """pytest-playwright launches Debian's Chromium; it cannot download its own here."""
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ],
    }  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: pytest-playwright keeps an event loop in the main thread for the
    rest of the session, and Django's async_to_sync refuses to run beside it."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
