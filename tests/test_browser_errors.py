"""The IDE shows the API's error message, not "400:": a run input over the body size limit is
answered by a JSON 413 (docs/errors.md) whose code and message the run panel shows."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.factories import make_component
from tests.realtime_helpers import session_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1366, 375])
def test_a_run_input_over_the_size_limit_shows_the_limit(chromium, asgi_url, alice, project, artifacts, width):
    component = make_component(
        project=project, actor=alice, name="Echo", inputs=[{"name": "text", "type": "text"}], publish=False
    )
    context = chromium.new_context(viewport={"width": width, "height": 900})
    name, value = session_cookie(alice).decode().split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": asgi_url}])
    page = context.new_page()
    page.goto(f"{asgi_url}/components/{component.pk}/")
    page.locator("#run-text").fill("x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
    page.get_by_role("button", name="Run", exact=True).click()
    error = page.get_by_test_id("run-error")
    expect(error).to_contain_text(
        f"payload_too_large: the body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes", timeout=15000
    )
    expect(error).to_be_in_viewport()
    page.screenshot(path=artifacts / f"component-editor-run-too-large-{width}.png")
    context.close()
