"""The user guide at ``/docs/``: Markdown pages of ``docs/guide/`` rendered with markdown-it-py.

Pages are ours (read from the repository, never from users), so the HTML is not sanitised. The
guide's order is the files' numeric prefixes (``01-getting-started.md`` → ``/docs/getting-started/``);
a page's title is its first ``# `` heading. A line ``<!-- include ../errors.md -->`` pulls in another
Markdown file of ``docs/`` (its first heading dropped), so pages reuse the maintainers' notes instead of
copying them. Links to ``*.md`` files become links to the page that shows them; a link to a file the
guide does not show keeps its text only. Code fences carry ``run`` or ``norun`` after the language
(tests/test_docs_samples.py runs the former against a live server); the word is not shown.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.text import slugify
from markdown_it import MarkdownIt
from markdown_it.token import Token

DOCS_DIR = Path(settings.BASE_DIR) / "docs"
GUIDE_DIR = DOCS_DIR / "guide"
INCLUDE = re.compile(r"^<!--\s*include\s+(?P<path>\S+)(?P<norun>\s+norun)?\s*-->\s*$", re.MULTILINE)
PAGE_FILE = re.compile(r"^(?P<order>\d+)-(?P<slug>[a-z0-9-]+)\.md$")
SNIPPET_CHARS = 80  # characters of context on each side of a search hit
MAX_RESULTS = 30
ENDPOINTS = "<!-- endpoints -->"  # replaced by the table of the REST API's operations


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    path: Path
    source: str  # the Markdown with its includes resolved
    html: str
    headings: list[Heading] = field(default_factory=list)
    text: str = ""  # the page as plain text, for search

    @property
    def url(self) -> str:
        return "/docs/" if self.slug == "index" else f"/docs/{self.slug}/"


def guide_files() -> list[tuple[str, Path]]:
    """(slug, path) of every guide page, in the guide's order; ``index.md`` first."""
    pages = [("index", GUIDE_DIR / "index.md")]
    numbered = sorted(
        (int(m["order"]), m["slug"], path)
        for path in GUIDE_DIR.glob("*.md")
        if (m := PAGE_FILE.match(path.name)) is not None
    )
    return pages + [(slug, path) for _order, slug, path in numbered]


def resolve_includes(source: str, base: Path) -> tuple[str, list[Path]]:
    """``source`` with each include line replaced by that file (without its title); the files included."""
    included: list[Path] = []

    def pull(match: re.Match[str]) -> str:
        target = (base.parent / match["path"]).resolve()
        if not target.is_relative_to(DOCS_DIR.resolve()) or not target.is_file():
            raise ValueError(f"{base.name}: include {match['path']} is not a file of docs/")
        included.append(target)
        body = re.sub(r"\A# .*\n", "", target.read_text(encoding="utf-8")).lstrip("\n")  # the page gives the title
        return mark_not_runnable(body) if match["norun"] else body

    return INCLUDE.sub(pull, source), included


def mark_not_runnable(source: str) -> str:
    """Every fence of ``source`` marked ``norun`` (a bare one becomes ``text``): the examples of a
    note included with ``norun`` use placeholders (example.com, ids) and are shown, not run."""
    lines, inside = [], False
    for line in source.split("\n"):
        fence = re.match(r"^(\s*)```(.*)$", line)
        if fence and not inside:
            words = fence[2].split()
            language = words[0] if words else "text"
            marks = [] if language in ("text", "json") or "run" in words or "norun" in words else ["norun"]
            line = f"{fence[1]}```{' '.join([language, *words[1:], *marks])}"
            inside = True
        elif fence and not fence[2].strip():
            inside = False
        lines.append(line)
    return "\n".join(lines)


def _fence_language(info: str) -> str:
    """``python run`` → ``python``: the run marks are for the tests, not the reader."""
    return info.split()[0] if info.split() else ""


class _Renderer:
    """One markdown-it parser; headings get ids, links to ``.md`` files are mapped to the guide."""

    def __init__(self, link_map: dict[Path, str]) -> None:
        self.link_map = link_map
        self.md = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")

    def render(self, source: str, origin: Path, included: list[Path]) -> tuple[str, list[Heading], str]:
        tokens = self.md.parse(source)
        headings = self._anchor_headings(tokens)
        for token in tokens:
            if token.type == "fence":
                token.info = _fence_language(token.info)
            for child in token.children or []:
                if child.type == "link_open":
                    self._map_link(child, origin, included)
        body = self.md.renderer.render(tokens, self.md.options, {})
        body = re.sub(r"<a (?P<attrs>[^>]*)data-unlinked=\"1\"[^>]*>(?P<text>.*?)</a>", r"\g<text>", body)
        return body, headings, _plain_text(tokens)

    @staticmethod
    def _anchor_headings(tokens: list[Token]) -> list[Heading]:
        headings: list[Heading] = []
        seen: dict[str, int] = {}
        for index, token in enumerate(tokens):
            if token.type != "heading_open":
                continue
            text = tokens[index + 1].content
            plain = re.sub(r"[`*_]", "", text)
            anchor = slugify(plain) or "section"
            seen[anchor] = seen.get(anchor, 0) + 1
            if seen[anchor] > 1:
                anchor = f"{anchor}-{seen[anchor]}"
            token.attrSet("id", anchor)
            headings.append(Heading(level=int(token.tag[1]), text=plain, anchor=anchor))
        return headings

    def _map_link(self, token: Token, origin: Path, included: list[Path]) -> None:
        href = str(token.attrGet("href") or "")
        if re.match(r"^[a-z][a-z0-9+.-]*:|^/|^#", href):
            return  # absolute URLs, the platform's own paths and anchors stay as written
        target, _, fragment = href.partition("#")
        # An included file's links are relative to that file; try the page's own folder first.
        for folder in [origin.parent, *(path.parent for path in included)]:
            path = (folder / target).resolve()
            if path in self.link_map:
                token.attrSet("href", self.link_map[path] + (f"#{fragment}" if fragment else ""))
                return
        token.attrSet("data-unlinked", "1")  # a note the guide does not show: keep the words only


def _plain_text(tokens: list[Token]) -> str:
    parts: list[str] = []
    for token in tokens:
        if token.type in ("inline",):
            parts.append("".join(child.content for child in token.children or [] if child.content))
        elif token.type in ("fence", "code_block"):
            parts.append(token.content)
    return re.sub(r"\s+", " ", " ".join(parts)).strip()


@functools.lru_cache(maxsize=1)
def _load(signature: tuple[tuple[str, float], ...]) -> dict[str, Page]:
    files = guide_files()
    sources: dict[str, tuple[Path, str, list[Path]]] = {}
    link_map: dict[Path, str] = {}
    for slug, path in files:
        source, included = resolve_includes(path.read_text(encoding="utf-8"), path)
        sources[slug] = (path, source, included)
        url = "/docs/" if slug == "index" else f"/docs/{slug}/"
        link_map[path.resolve()] = url
        for other in included:
            link_map.setdefault(other, url)  # a note included by a page is read on that page
    renderer = _Renderer(link_map)
    pages: dict[str, Page] = {}
    for slug, (path, source, included) in sources.items():
        body, headings, text = renderer.render(source, path.resolve(), included)
        title = next((h.text for h in headings if h.level == 1), slug)
        pages[slug] = Page(slug=slug, title=title, path=path, source=source, html=body, headings=headings, text=text)
    return pages


def load_pages() -> dict[str, Page]:
    """Every page, in order; rendered once and again when a file of ``docs/`` changes (edits show
    without a restart in development, and a deployed server reads the files once)."""
    signature = tuple(sorted((str(p), p.stat().st_mtime) for p in DOCS_DIR.rglob("*.md")))
    return _load(signature)


def search(query: str) -> list[dict[str, Any]]:
    """Pages whose text holds every word of ``query`` (case-insensitive), best first, with snippets."""
    words = [w for w in query.lower().split() if w][:10]
    if not words:
        return []
    results: list[dict[str, Any]] = []
    for page in load_pages().values():
        lowered = page.text.lower()
        if not all(word in lowered for word in words):
            continue
        score = sum(lowered.count(word) for word in words) + 20 * sum(word in page.title.lower() for word in words)
        results.append({"page": page, "score": score, "snippets": _snippets(page.text, words)})
    results.sort(key=lambda r: -r["score"])
    return results[:MAX_RESULTS]


def _snippets(text: str, words: list[str], limit: int = 3) -> list[str]:
    """Up to ``limit`` pieces of ``text`` around the first hits, as HTML with the words in ``<mark>``."""
    lowered = text.lower()
    spans: list[tuple[int, int]] = []
    for word in words:
        start = 0
        while (at := lowered.find(word, start)) >= 0 and len(spans) < 20:
            spans.append((max(0, at - SNIPPET_CHARS), min(len(text), at + len(word) + SNIPPET_CHARS)))
            start = at + len(word)
    merged: list[tuple[int, int]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((begin, end))
    pattern = re.compile("|".join(re.escape(html.escape(w)) for w in sorted(words, key=len, reverse=True)), re.I)
    snippets = []
    for begin, end in merged[:limit]:
        piece = html.escape(text[begin:end])
        piece = pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", piece)
        snippets.append(("…" if begin else "") + piece + ("…" if end < len(text) else ""))
    return snippets


@functools.lru_cache(maxsize=1)
def endpoints_html() -> str:
    """The REST API's operations, from the same OpenAPI schema as /api/schema/, as a table."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    rows = []
    for path, operations in sorted(schema.get("paths", {}).items()):
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            summary = operation.get("summary") or operation.get("description", "").split("\n")[0]
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(summary)}</td></tr>"
            )
    return (
        '<table class="docs-endpoints"><thead><tr><th>method</th><th>path</th><th>what</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def page_view(request: HttpRequest, slug: str = "index") -> HttpResponse:
    pages = load_pages()
    page = pages.get(slug)
    if page is None:
        raise Http404("no such page")
    ordered = list(pages.values())
    at = ordered.index(page)
    body = page.html
    if ENDPOINTS in body:
        body = body.replace(ENDPOINTS, endpoints_html())
    context = {
        "page": page,
        "html": body,
        "pages": ordered,
        "previous": ordered[at - 1] if at > 0 else None,
        "next": ordered[at + 1] if at + 1 < len(ordered) else None,
    }
    return render(request, "docs/page.html", context)


def search_view(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    pages = list(load_pages().values())
    return render(request, "docs/search.html", {"query": query, "results": search(query), "pages": pages})
