"""RSS 2.0 and Atom feeds. A code connector: the feed is untrusted XML, so it is fetched with
``ctx.http`` (the SSRF guard, on the host) and parsed with ``xml.etree`` inside the sandbox, never
on the host."""

from __future__ import annotations

from components.connectors import Connector

CODE = r'''
import datetime
import re
import xml.etree.ElementTree as ET

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
ZONES = {"UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7,
         "MDT": -6, "PST": -8, "PDT": -7}
RFC822 = re.compile(
    r"^\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"\s*([+-]\d{4}|[A-Za-z]{1,5})?\s*$"
)


def utc(moment):
    return moment.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def rfc822(value):
    """RSS dates (RFC 822: 'Tue, 10 Jun 2003 04:00:00 GMT') as ISO 8601 in UTC, or None."""
    match = RFC822.match(value or "")
    if not match or match.group(2).lower() not in MONTHS:
        return None
    day, month, year, hour, minute, second, zone = match.groups()
    year = int(year) + (0 if len(year) == 4 else 2000 if int(year) < 50 else 1900)
    if zone and zone[0] in "+-":
        offset = (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 60 + int(zone[3:5]))
    else:
        offset = ZONES.get((zone or "UT").upper(), 0) * 60
    tz = datetime.timezone(datetime.timedelta(minutes=offset))
    try:
        moment = datetime.datetime(year, MONTHS.index(month.lower()) + 1, int(day), int(hour), int(minute),
                                   int(second or 0), tzinfo=tz)
    except ValueError:
        return None
    return utc(moment)


def rfc3339(value):
    """Atom dates ('2003-12-13T18:30:02Z') as ISO 8601 in UTC, or None."""
    try:
        moment = datetime.datetime.fromisoformat((value or "").strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return utc(moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc))


def text(element, *tags):
    for tag in tags:
        found = element.find(tag)
        if found is not None and (found.text or "").strip():
            return found.text.strip()
    return ""


def atom_link(element):
    links = element.findall(ATOM + "link")
    for link in links:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href")
    return links[0].get("href", "") if links else ""


def rss(root, limit):
    channel = root.find("channel")
    if channel is None:
        raise ComponentError("the RSS document has no channel", 422)
    items = []
    for item in channel.findall("item")[:limit]:
        guid = text(item, "guid")
        items.append({
            "title": text(item, "title"),
            "link": text(item, "link") or (guid if guid.startswith("http") else ""),
            "id": guid or text(item, "link"),
            "published": rfc822(text(item, "pubDate")) or rfc3339(text(item, DC + "date")),
            "summary": text(item, "description"),
            "content": text(item, CONTENT + "encoded"),
            "author": text(item, "author", DC + "creator"),
        })
    return {"format": "rss", "title": text(channel, "title"), "link": text(channel, "link"), "items": items}


def atom(root, limit):
    items = []
    for entry in root.findall(ATOM + "entry")[:limit]:
        author = entry.find(ATOM + "author")
        items.append({
            "title": text(entry, ATOM + "title"),
            "link": atom_link(entry),
            "id": text(entry, ATOM + "id"),
            "published": rfc3339(text(entry, ATOM + "published", ATOM + "updated")),
            "summary": text(entry, ATOM + "summary"),
            "content": text(entry, ATOM + "content"),
            "author": text(author, ATOM + "name") if author is not None else "",
        })
    return {"format": "atom", "title": text(root, ATOM + "title"), "link": atom_link(root), "items": items}


def run(inputs, ctx):
    accept = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
    response = ctx.http("GET", inputs["url"], headers={"Accept": accept})
    if response.status == 429:
        wait = response.headers.get("retry-after", "")
        raise ComponentError("the feed's server asks to slow down", 429,
                             **({"retry_after": int(wait)} if wait.isdigit() else {}))
    if not response.ok:
        raise ComponentError(f"the feed's server answered {response.status}",
                             response.status if response.status >= 400 else 502)
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError as error:
        raise ComponentError(f"the feed is not well-formed XML: {error}", 422)
    limit = max(0, min(int(inputs.get("limit", 20)), 500))
    if root.tag == "rss":
        return rss(root, limit)
    if root.tag == ATOM + "feed":
        return atom(root, limit)
    raise ComponentError(f"not an RSS 2.0 or Atom feed (the root element is {root.tag})", 422)
'''

CONNECTORS = (
    Connector(
        name="rss-read",
        title="RSS/Atom: read a feed",
        icon="📰",
        provider="RSS",
        kind="code",
        code=CODE,
        docs="https://www.rssboard.org/rss-specification",
        description="Fetches an RSS 2.0 or Atom feed and returns its title and newest items (title, link, id, "
        "date in UTC, summary, content, author). The XML is parsed in the sandbox.",
        tags=["rss", "atom", "feed", "news"],
        inputs=[
            {"name": "url", "type": "text", "subtype": "url", "description": "The feed's URL"},
            {
                "name": "limit",
                "type": "number",
                "subtype": "integer",
                "default": 20,
                "description": "At most this many items",
            },
        ],
        outputs=[
            {"name": "format", "type": "text", "description": "rss or atom"},
            {"name": "title", "type": "text"},
            {"name": "link", "type": "text"},
            {"name": "items", "type": "list", "description": "{title, link, id, published, summary, content, author}"},
        ],
    ),
)
