"""The user guide at /docs/: public pages rendered from docs/guide/, navigation, search with
snippets, the endpoint table from the OpenAPI schema, the app's links to it, and 375 px."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from playwright.sync_api import Browser, expect

from synchronise import docs_site
from tests.realtime_helpers import session_cookie

PAGES = docs_site.guide_files()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))
        if found.get("id"):
            self.ids.add(str(found["id"]))


def links_of(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def test_the_guide_has_its_pages_in_order() -> None:
    slugs = [slug for slug, _ in PAGES]
    assert slugs[0] == "index"
    needed = [
        "getting-started",
        "concepts",
        "components",
        "types-and-errors",
        "expressions",
        "workflows",
        "triggers",
        "realtime",
        "clients",
        "cli",
        "original-clients",
        "rest-api",
        "self-hosting",
        "security",
    ]
    for name in needed:
        assert name in slugs
    assert slugs.index("getting-started") < slugs.index("concepts") < slugs.index("security")


@pytest.mark.django_db
@pytest.mark.parametrize("slug", [slug for slug, _ in PAGES])
def test_every_page_is_public_and_links_only_to_pages_that_exist(client: Client, slug: str) -> None:
    url = "/docs/" if slug == "index" else f"/docs/{slug}/"
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    page = docs_site.load_pages()[slug]
    assert f"<title>{page.title} · Synchronise docs</title>" in html.replace("&#x27;", "'")
    # The navigation lists every page, marks this one, and the search form is there.
    nav = html.split('<nav class="docs-nav"', 1)[1].split("</nav>", 1)[0]
    for _slug, other in docs_site.load_pages().items():
        assert f'href="{other.url}"' in nav
    assert f'href="{url}" aria-current="page"' in nav
    assert 'action="/docs/search/"' in nav
    # No fence's run mark reaches the reader; every link to another page of the guide resolves.
    assert not re.search(r'class="language-\w+ (run|norun)', html)
    parsed = links_of(html)
    for href in parsed.hrefs:
        path, _, fragment = href.partition("#")
        if path.startswith("/docs/"):
            assert client.get(path).status_code == 200, href
            if fragment:
                assert fragment in links_of(client.get(path).content.decode()).ids, href
        assert ".md" not in path, href  # a Markdown link left unmapped


def test_includes_stay_inside_docs_and_norun_marks_their_examples() -> None:
    page = docs_site.GUIDE_DIR / "99-made-up.md"
    with pytest.raises(ValueError, match="not a file of docs/"):
        docs_site.resolve_includes("<!-- include ../../README.md -->\n", page)
    with pytest.raises(ValueError, match="not a file of docs/"):
        docs_site.resolve_includes("<!-- include ../nothing.md -->\n", page)
    source, included = docs_site.resolve_includes("# T\n<!-- include ../cli.md norun -->\n", page)
    assert included == [(docs_site.DOCS_DIR / "cli.md").resolve()]
    assert "```sh norun\nsynchronise login" in source
    assert "# The `synchronise` command" not in source  # the page gives the title
    marked = docs_site.mark_not_runnable("```sh\nx\n```\n```\ny\n```\n```python run\nz\n```\n")
    assert marked == "```sh norun\nx\n```\n```text\ny\n```\n```python run\nz\n```\n"


@pytest.mark.django_db
def test_an_unknown_page_is_a_404(client: Client) -> None:
    assert client.get("/docs/nothing-here/").status_code == 404


@pytest.mark.django_db
def test_pages_render_markdown_tables_code_anchors_and_includes(client: Client) -> None:
    html = client.get("/docs/types-and-errors/").content.decode()
    assert '<h2 id="errors">Errors</h2>' in html
    assert "<table>" in html
    assert "<td>101</td>" in html
    assert "not_authenticated" in html  # from docs/errors.md, included
    assert "# Errors of the API" not in html  # the included file's own title is dropped
    getting_started = client.get("/docs/getting-started/").content.decode()
    assert '<pre><code class="language-bash">make run' in getting_started
    assert 'href="/docs/self-hosting/"' in getting_started  # 11-self-hosting.md, mapped


@pytest.mark.django_db
def test_the_rest_api_page_lists_the_endpoints_of_the_schema(client: Client) -> None:
    html = client.get("/docs/rest-api/").content.decode()
    assert 'href="/api/docs/"' in html
    assert 'href="/api/schema/"' in html
    table = html.split('<table class="docs-endpoints">', 1)[1].split("</table>", 1)[0]
    assert "<code>/api/v1/workflows/{id}/run</code>" in table
    assert "<code>POST</code>" in table
    assert "<code>DELETE</code>" in table
    assert table.count("<tr>") > 50


@pytest.mark.django_db
def test_search_finds_words_case_insensitively_with_snippets(client: Client) -> None:
    html = client.get("/docs/search/", {"q": "IDEMPOTENCY-key"}).content.decode()
    assert 'href="/docs/workflows/"' in html
    assert 'href="/docs/triggers/"' in html
    assert re.search(r'<p class="docs-snippet">[^<]*<mark>Idempotency-Key</mark>', html)
    assert 'value="IDEMPOTENCY-key"' in html  # the box keeps the query
    # Every word must be on the page; the words may be apart.
    both = docs_site.search("bubblewrap landlock")
    assert {r["page"].slug for r in both} >= {"components", "security"}
    assert all("bubblewrap" in r["page"].text.lower() and "landlock" in r["page"].text.lower() for r in both)
    assert "No page matches" in client.get("/docs/search/", {"q": "xylophone-quartz"}).content.decode()
    assert "Type words" in client.get("/docs/search/").content.decode()


@pytest.mark.django_db
def test_search_snippets_escape_the_pages_text(client: Client) -> None:
    html = client.get("/docs/search/", {"q": "data-synchronise-subscribe"}).content.decode()
    assert "&lt;div" in html  # the page's code sample, shown as text in the snippet
    assert "<div data-synchronise-subscribe" not in html.split('class="docs-results"', 1)[1]
    evil = client.get("/docs/search/", {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in evil


@pytest.mark.django_db
def test_the_app_links_the_docs_signed_in_and_out(client: Client, alice) -> None:
    assert 'href="/docs/"' in client.get("/").content.decode()
    client.force_login(alice)
    assert 'href="/docs/" data-testid="docs-link"' in client.get("/dashboard/").content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_docs_in_chromium_at_375_pixels(chromium: Browser, asgi_url: str, alice) -> None:
    context = chromium.new_context(viewport={"width": 375, "height": 812})
    name, value = session_cookie(alice).decode().split("=", 1)
    context.add_cookies([{"name": name, "value": value, "url": asgi_url}])
    page = context.new_page()
    page.goto(f"{asgi_url}/dashboard/")
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="Documentation").click()
    expect(page.get_by_role("heading", name="Synchronise documentation", level=1)).to_be_visible()
    for slug in ("workflows", "rest-api", "types-and-errors"):
        page.goto(f"{asgi_url}/docs/{slug}/")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), slug
    contents = page.locator(".docs-contents")
    expect(contents).not_to_have_attribute("open", "")  # folded on a phone: the page comes first
    expect(page.get_by_role("link", name="Triggers")).to_be_hidden()
    contents.locator("summary").click()
    page.get_by_role("link", name="Triggers").click()
    expect(page).to_have_url(f"{asgi_url}/docs/triggers/")
    page.get_by_role("searchbox", name="Search the documentation").fill("retry_after")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".docs-snippet mark").first).to_have_text(re.compile("retry_after", re.I))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    anonymous = chromium.new_context(viewport={"width": 375, "height": 812}).new_page()
    anonymous.goto(asgi_url + "/")
    anonymous.get_by_role("link", name="Docs", exact=True).click()
    expect(anonymous).to_have_url(f"{asgi_url}/docs/")
    assert anonymous.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
