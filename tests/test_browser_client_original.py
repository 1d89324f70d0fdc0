"""A page written for the original product's browser library (1.0.js), unchanged, in Chromium.

``tests/legacy_pages/original_1_0.html`` follows the original documentation: it loads the library
from the platform (``/js/1.0.min.js``, where the original export tab pointed), calls
``Synchronise.init(PUBLIC_KEY)`` and nothing else to set it up, and uses ``Component.run``,
``Workflow.run`` and ``Cloud.run`` with ``realtime`` and ``cacheFirst``. It is served from a second
loopback origin (a tiny ``http.server``, the customer's site) that the publishable key allows; only
the tokens the original export tab filled in (host, key, ids) are replaced. A real Celery worker
runs the steps; a real fork changes the marketplace list the page follows."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts import services as account_services
from accounts.models import ApiKeyKind
from components.marketplace import services as marketplace_services
from tests import servers
from tests.factories import make_component, make_project, make_workflow
from tests.marketplace_setup import listed, make_greeter, make_validator

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.services]

PAGE = Path(__file__).parent / "legacy_pages" / "original_1_0.html"
NUMBER = {"type": "number"}


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with django_db_blocker.unblock(), servers.celery_worker(name="original"):
        yield


@pytest.fixture
def site(asgi_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The customer's site on another loopback port (another origin than the platform's). It serves
    the page with the tokens of ``tokens`` filled in, as the original export tab did."""
    tokens: dict[str, str] = {"[SYNCHRONISE HOST]": asgi_url}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b""
            if self.path == "/":
                text = PAGE.read_text()
                for token, value in tokens.items():
                    text = text.replace(token, value)
                body = text.encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tokens
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def setup(site, alice, bob, project) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Alice's public adder and two-step doubler, a key that allows the site, a listed component,
    and a component of Bob's own project (which Alice's key must not reach)."""
    origin, tokens = site
    adder = make_component(
        project=project,
        actor=alice,
        name="Adder",
        public=True,
        code="def run(inputs, ctx):\n    return {'sum': inputs['a'] + inputs['b']}\n",
        inputs=[{"name": "a", **NUMBER}, {"name": "b", **NUMBER}],
        outputs=[{"name": "sum", **NUMBER}],
    )
    doubling = make_component(
        project=project,
        actor=alice,
        name="Double",
        public=True,
        code="def run(inputs, ctx):\n    ctx.log('doubling')\n    return {'n': inputs['n'] * 2}\n",
        inputs=[{"name": "n", **NUMBER}],
        outputs=[{"name": "n", **NUMBER}],
    )
    doubler = make_workflow(
        project=project,
        actor=alice,
        name="Double twice",
        public=True,
        inputs=[{"name": "n", **NUMBER}],
        steps=[
            {"id": "first", "component": doubling.pk, "inputs": {"n": "{{ input.n }}"}},
            {"id": "second", "component": doubling.pk, "inputs": {"n": "{{ steps.first.output.n }}"}},
        ],
        outputs=[{"name": "n", "value": "{{ steps.second.output.n }}", **NUMBER}],
    )
    bobs = make_project(owner=bob, name="Bob's project")
    other = make_component(project=bobs, actor=bob, name="Bob's adder", public=True)
    listing = listed(make_greeter(project=project, actor=alice), alice, make_validator())
    _key, publishable = account_services.api_key_create(
        project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE, allowed_origins=[origin]
    )
    tokens["[YOUR PUBLIC KEY]"] = publishable
    tokens["[ID OF THE ADDER]"] = str(adder.pk)
    tokens["[ID OF THE WORKFLOW]"] = str(doubler.pk)
    tokens["[ID OF A COMPONENT OF ANOTHER PROJECT]"] = str(other.pk)
    return {"origin": origin, "listing": listing, "bobs": bobs}


def open_page(browser, origin: str) -> Page:  # type: ignore[no-untyped-def]
    """The page, in ``browser`` (a Browser, or a BrowserContext to share its storage)."""
    page = browser.new_page()
    page.on("console", lambda message: print("console:", message.text))
    page.on("pageerror", lambda error: print("page error:", error))
    page.on("requestfailed", lambda request: print("failed:", request.method, request.url, request.failure))
    page.goto(origin + "/")
    assert page.evaluate("location.origin") == origin
    return page


def events(page: Page, *, market: bool = False) -> list[list[Any]]:
    """The callbacks' lines: the marketplace list's (``market``) or the buttons' (the others)."""
    lines = [json.loads(text) for text in page.locator("#events li").all_text_contents()]
    return [line for line in lines if line[0].startswith("market") == market]


def click_and_wait(page: Page, button: str, until: Callable[[list[list[Any]]], bool]) -> list[list[Any]]:
    """The events the click added, once ``until`` holds for them (and nothing more came after)."""
    before = len(events(page))
    page.locator(f"#{button}").click()
    for _ in range(300):
        added = events(page)[before:]
        if until(added):
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)  # nothing may follow `always`
    return events(page)[before:]


def ends_with_always(added: list[list[Any]]) -> bool:
    return bool(added) and added[-1] == ["always"]


def fork(listing, owner_project, actor) -> None:  # type: ignore[no-untyped-def]
    # Off Playwright's thread: its event loop would stop async_to_sync from publishing.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(marketplace_services.component_fork, listing=listing, project=owner_project, actor=actor).result()


def test_the_library_is_served_where_the_original_was(asgi_url) -> None:  # type: ignore[no-untyped-def]
    today = urllib.request.urlopen(f"{asgi_url}/static/synchronise.js").read()
    for path in ("/js/1.0.js", "/js/1.0.min.js"):
        with urllib.request.urlopen(asgi_url + path) as answer:
            assert answer.status == 200
            assert "javascript" in answer.headers["Content-Type"]
            assert answer.read() == today


def test_component_run_answers_outputs_and_error_codes_then_always(worker, chromium, setup) -> None:  # type: ignore[no-untyped-def]
    page = open_page(chromium, setup["origin"])
    expect(page.locator("#connection")).to_have_text("Connected", timeout=20_000)

    added = click_and_wait(page, "add", ends_with_always)
    assert added == [["success", {"sum": 5}], ["always"]]  # the outputs object itself, then always()
    expect(page.locator("#sum")).to_have_text("5")
    expect(page.locator("#loading")).to_be_hidden()

    page.locator("#a").fill("two")
    added = click_and_wait(page, "add-text", ends_with_always)
    assert [name for name, *_ in added] == ["error", "always"]
    wrong = added[0][1]
    assert wrong["code"] == 101
    assert [entry["name"] for entry in wrong["incorrect"]] == ["a"]
    assert wrong["message"]
    expect(page.locator("#error")).to_contain_text("101 ")

    page.locator("#a").fill("2")
    added = click_and_wait(page, "add-a-only", ends_with_always)
    assert [name for name, *_ in added] == ["error", "always"]
    assert added[0][1]["code"] == 102
    assert added[0][1]["missing"] == ["b"]

    for button in ("run-unknown", "run-other"):  # no such id; another project's component
        added = click_and_wait(page, button, ends_with_always)
        assert [name for name, *_ in added] == ["error", "always"], button
        assert added[0][1]["code"] == 104, button
        assert added[0][1]["message"], button


def step(number: int, percentage: int, name: str) -> dict[str, Any]:
    """The first argument of ``progress``: the original's three figures, then our step's own."""
    return {
        "percentage": percentage, "totalSteps": 2, "currentStep": number,
        "step": number, "steps": 2, "status": "succeeded", "name": name,
    }  # fmt: skip


def test_workflow_run_reports_progress_per_step_then_outputs(worker, chromium, setup) -> None:  # type: ignore[no-untyped-def]
    page = open_page(chromium, setup["origin"])
    added = click_and_wait(page, "double", ends_with_always)

    assert added == [
        ["progress", step(1, 50, "first"), {"type": "component", "status": "success", "id": "first"}],
        ["progress", step(2, 100, "second"), {"type": "component", "status": "success", "id": "second"}],
        ["success", {"n": 8}],
        ["always"],
    ]
    expect(page.locator("#doubled")).to_have_text("8")
    expect(page.locator("#step")).to_have_text("Step 2 of 2")
    assert page.evaluate("document.getElementById('bar').value") == 100


def market(page: Page) -> list[list[Any]]:
    return events(page, market=True)


def forks_shown(entry: list[Any]) -> list[int]:
    return [listing["forks"] for listing in entry[1]]


def test_cloud_run_realtime_refreshes_and_cache_first_answers_from_the_cache_first(
    worker, chromium, setup, bob, charlie
) -> None:  # type: ignore[no-untyped-def]
    visitor = chromium.new_context(
        viewport={"width": 375, "height": 800}
    )  # a phone; one visitor: the reopened page shares the first one's storage
    page = open_page(visitor, setup["origin"])
    expect(page.locator("#market")).to_have_text("Greeter (0 forks)", timeout=10_000)
    assert market(page) == [["market", market(page)[0][1]], ["market-always"]]  # nothing cached yet

    # Someone forks the listed component: the page's realtime call runs again by itself.
    fork(setup["listing"], setup["bobs"], bob)
    expect(page.locator("#market")).to_have_text("Greeter (1 forks)", timeout=5_000)
    assert [forks_shown(entry) for entry in market(page) if entry[0] == "market"] == [[0], [1]]
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload

    # While nobody looks, another fork. Opened again, the page shows the last list it saw at once
    # (the original's order: always(), then success(cached)), then the server's answer.
    page.close()
    fork(setup["listing"], make_project(owner=charlie, name="Charlie's project"), charlie)
    page = open_page(visitor, setup["origin"])
    expect(page.locator("#market")).to_have_text("Greeter (2 forks)", timeout=10_000)
    seen = market(page)
    assert [entry[0] for entry in seen] == ["market-always", "market", "market", "market-always"]
    assert forks_shown(seen[1]) == [1]  # from the cache, before the server answered
    assert forks_shown(seen[2]) == [2]


def test_a_key_reaches_only_its_sites_and_its_project(worker, chromium, setup, alice, project, charlie) -> None:  # type: ignore[no-untyped-def]
    """The same page with a key for another site gets no answer (the browser hides the refusal:
    no CORS header); with Charlie's key, an outsider's, Alice's adder is unknown (104)."""
    _key, elsewhere = account_services.api_key_create(
        project=project, actor=alice, kind=ApiKeyKind.PUBLISHABLE, allowed_origins=["https://shop.example"]
    )
    charlies = make_project(owner=charlie, name="Charlie's own")
    _key, his = account_services.api_key_create(
        project=charlies, actor=charlie, kind=ApiKeyKind.PUBLISHABLE, allowed_origins=[setup["origin"]]
    )
    page = open_page(chromium, setup["origin"])
    for key, code in ((elsewhere, "network"), (his, 104)):
        page.evaluate("(key) => Synchronise.init(key)", key)
        added = click_and_wait(page, "add", ends_with_always)
        assert [name for name, *_ in added] == ["error", "always"]
        assert added[0][1]["code"] == code
    assert page.locator("#sum").text_content() == ""
