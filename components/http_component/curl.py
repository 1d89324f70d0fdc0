"""Turning a pasted ``curl`` command into an ``http`` spec (the editor's "Import from cURL").

Tokens come from ``shlex`` (POSIX rules, as the shell that would have run the command), after two
rewrites the shell does and ``shlex`` does not: backslash-newline continuations and ``$'…'``
(ANSI-C quoting, which Chrome's "Copy as cURL" uses for bodies holding quotes or newlines). The
options are read against ``FLAGS``, a table in the manner of ``argparse``: which option takes a
value and where it goes. Options that change nothing about the request (``--compressed``, ``-s``,
``-L``…) are ignored silently; options we do not know are reported, never guessed at.

Secrets never reach the spec: an ``Authorization`` header, ``-u``, ``--oauth2-bearer``, an API-key
header or query parameter and cookies become ``{{ secrets.NAME }}`` references (mostly through the
spec's ``auth``), and the answer lists the credentials the editor must create. The values typed in
the command are not echoed back either.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit, urlunsplit

from components.http_component.run import sensitive_header

MAX_COMMAND = 100_000
# What an option does: "method", "header", "data" (with its curl flavour), "form", "user", "url",
# "get", "head", "json", "bearer", "cookie", "agent", "referer"; "skip" takes a value and ignores it;
# "noop" takes none.
FLAGS: dict[str, tuple[str, bool]] = {
    "-X": ("method", True), "--request": ("method", True),
    "-H": ("header", True), "--header": ("header", True),
    "-d": ("data", True), "--data": ("data", True), "--data-ascii": ("data", True),
    "--data-raw": ("data-raw", True), "--data-binary": ("data-binary", True),
    "--data-urlencode": ("data-urlencode", True),
    "-F": ("form", True), "--form": ("form", True), "--form-string": ("form-string", True),
    "-u": ("user", True), "--user": ("user", True),
    "--url": ("url", True),
    "-G": ("get", False), "--get": ("get", False),
    "-I": ("head", False), "--head": ("head", False),
    "--json": ("json", True),
    "--oauth2-bearer": ("bearer", True),
    "-b": ("cookie", True), "--cookie": ("cookie", True),
    "-A": ("agent", True), "--user-agent": ("agent", True),
    "-e": ("referer", True), "--referer": ("referer", True),
    # Transport details the platform decides itself (TLS is always verified, redirects followed
    # within its limit, responses decompressed): no effect on the spec.
    "--compressed": ("noop", False), "-s": ("noop", False), "--silent": ("noop", False),
    "-S": ("noop", False), "--show-error": ("noop", False), "-L": ("noop", False),
    "--location": ("noop", False), "-k": ("noop", False), "--insecure": ("noop", False),
    "-i": ("noop", False), "--include": ("noop", False), "-v": ("noop", False), "--verbose": ("noop", False),
    "-f": ("noop", False), "--fail": ("noop", False), "--fail-with-body": ("noop", False),
    "-N": ("noop", False), "--no-buffer": ("noop", False), "-g": ("noop", False), "--globoff": ("noop", False),
    "-#": ("noop", False), "--progress-bar": ("noop", False), "--no-progress-meter": ("noop", False),
    "--http1.1": ("noop", False), "--http2": ("noop", False), "--tr-encoding": ("noop", False),
    "-o": ("skip", True), "--output": ("skip", True), "-m": ("skip", True), "--max-time": ("skip", True),
    "--connect-timeout": ("skip", True), "--retry": ("skip", True), "-w": ("skip", True),
    "--write-out": ("skip", True), "--max-redirs": ("skip", True), "-c": ("skip", True),
    "--cookie-jar": ("skip", True), "--cacert": ("skip", True), "--limit-rate": ("skip", True),
}  # fmt: skip
# Headers a browser adds by itself ("Copy as cURL" keeps them): noise in a component's spec.
BROWSER_HEADERS = re.compile(r"^(sec-ch-ua.*|sec-fetch-.*|priority|upgrade-insecure-requests)$", re.IGNORECASE)
KEY_PARAMETER = re.compile(r"^(api[_-]?key|apikey|key|access[_-]?token|token|auth[_-]?token|secret)$", re.IGNORECASE)
ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'", re.DOTALL)
CONTINUATION = re.compile(r"\\\r?\n")


class CurlError(ValueError):
    """The command cannot be read (not curl, unbalanced quotes, no URL); the message says why."""


@dataclass
class CurlImport:
    """``spec``: a valid-shaped ``http`` spec; ``credentials``: ``[{name, used_for}]`` the spec names
    and the editor must create; ``notes``: what was left out or changed, one sentence each;
    ``unknown``: options we do not know (ignored)."""

    spec: dict[str, Any]
    credentials: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "credentials": self.credentials, "notes": self.notes, "unknown": self.unknown}


def _ansi_c(match: re.Match[str]) -> str:
    """``$'…'`` decoded (``\\n``, ``\\'``, ``\\u00e9``…) and quoted again for ``shlex``."""
    text = match.group(1)
    try:
        decoded = text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError as error:
        raise CurlError(f"cannot read $'…' quoting: {error.reason}") from None
    # unicode_escape reads the UTF-8 of non-ASCII text as Latin-1: put it back together.
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        decoded = decoded.encode("latin-1").decode("utf-8")
    return shlex.quote(decoded)


def tokens(command: str) -> list[str]:
    """The command's words, as a POSIX shell would split them; raises ``CurlError``."""
    if len(command) > MAX_COMMAND:
        raise CurlError(f"the command is longer than {MAX_COMMAND} characters")
    text = CONTINUATION.sub(" ", command.strip())
    text = ANSI_C.sub(_ansi_c, text)
    try:
        words = shlex.split(text, comments=False, posix=True)
    except ValueError as error:
        raise CurlError(f"cannot read the command: {error}") from None
    if words and words[0] == "$":  # copied with the prompt
        words = words[1:]
    if not words or words[0].rsplit("/", 1)[-1] not in ("curl", "curl.exe"):
        raise CurlError("the command does not start with curl")
    return words[1:]


@dataclass
class _Options:
    method: str = ""
    urls: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    data: list[tuple[str, str]] = field(default_factory=list)  # (flavour, value)
    form: list[tuple[str, str]] = field(default_factory=list)
    user: str | None = None
    bearer: str | None = None
    cookies: list[str] = field(default_factory=list)
    get: bool = False
    head: bool = False
    json: bool = False
    unknown: list[str] = field(default_factory=list)


def _read_options(words: list[str]) -> _Options:
    options = _Options()
    index = 0

    def take(flag: str, attached: str | None) -> str:
        nonlocal index
        if attached is not None:
            return attached
        index += 1
        if index >= len(words):
            raise CurlError(f"{flag} needs a value")
        return words[index]

    while index < len(words):
        word = words[index]
        if word == "--" or not word.startswith("-") or word == "-":
            options.urls.extend(words[index + 1 :] if word == "--" else [word])
            if word == "--":
                break
            index += 1
            continue
        pending: list[tuple[str, str | None]] = []
        if word.startswith("--"):
            name, equals, value = word.partition("=")
            pending.append((name, value if equals else None))
        else:
            # Short options cluster (-sSL) and take a value glued on (-XPOST, -HAccept:x).
            letters = word[1:]
            for position, letter in enumerate(letters):
                flag = "-" + letter
                rest = letters[position + 1 :]
                if FLAGS.get(flag, ("", False))[1]:
                    pending.append((flag, rest or None))
                    break
                pending.append((flag, None))
        for flag, attached in pending:
            if flag not in FLAGS:
                options.unknown.append(flag)
                continue
            action, has_value = FLAGS[flag]
            value = take(flag, attached) if has_value else ""
            _apply(options, action, value)
        index += 1
    return options


def _apply(options: _Options, action: str, value: str) -> None:
    if action == "method":
        options.method = value.upper()
    elif action == "header":
        options.headers.append(value)
    elif action.startswith("data"):
        options.data.append((action, value))
    elif action in ("form", "form-string"):
        options.form.append((action, value))
    elif action == "user":
        options.user = value
    elif action == "url":
        options.urls.append(value)
    elif action == "get":
        options.get = True
    elif action == "head":
        options.head = True
    elif action == "json":
        options.json = True
        options.data.append(("data-binary", value))
    elif action == "bearer":
        options.bearer = value
    elif action == "cookie":
        options.cookies.append(value)
    elif action == "agent":
        options.headers.append(f"User-Agent: {value}")
    elif action == "referer":
        options.headers.append(f"Referer: {value}")


class _Credentials:
    """Names for the credentials the spec asks for: ``<SERVICE>_<ROLE>`` from the host
    (``api.stripe.com`` → ``STRIPE_KEY``), or a credential of the project whose name starts so."""

    def __init__(self, host: str, existing: list[str]) -> None:
        labels = [label for label in host.lower().split(".") if label not in ("api", "www", "")]
        core = labels[-2] if len(labels) >= 2 else (labels[0] if labels else "api")
        service = re.sub(r"[^A-Z0-9]+", "_", core.upper()).strip("_") or "API"
        if not service[0].isalpha() or re.fullmatch(r"[0-9_]+", service):
            service = "API"
        self.service = service
        self.existing = existing
        self.asked: list[dict[str, str]] = []

    def name(self, role: str, used_for: str) -> str:
        matching = [name for name in self.existing if name.startswith(self.service)]
        taken = {entry["name"] for entry in self.asked}
        if len(matching) == 1 and matching[0] not in taken:
            chosen = matching[0]
        else:
            chosen, counter = f"{self.service}_{role}"[:64], 2
            while chosen in taken:
                chosen, counter = f"{self.service}_{role}_{counter}"[:64], counter + 1
        self.asked.append({"name": chosen, "used_for": used_for})
        return chosen


def _reference(name: str) -> str:
    return "{{ secrets." + name + " }}"


def _split_header(line: str) -> tuple[str, str] | None:
    if ":" not in line:
        if line.endswith(";"):  # curl's "Name;": send the header empty
            return line[:-1].strip(), ""
        return None
    name, _, value = line.partition(":")
    return name.strip(), value.strip()


def _data_pairs(data: list[tuple[str, str]]) -> list[tuple[str, str]] | None:
    """Name/value pairs of url-encoded data, or ``None`` when a part has no name (a raw body)."""
    found: list[tuple[str, str]] = []
    for flavour, value in data:
        if flavour == "data-urlencode":
            name, equals, content = value.partition("=")
            if not equals or not name:
                return None
            found.append((name, content))
            continue
        for part in value.split("&"):
            if "=" not in part:
                return None
            found.extend(parse_qsl(part, keep_blank_values=True))
    return found


def _joined(data: list[tuple[str, str]]) -> str:
    parts = []
    for flavour, value in data:
        if flavour == "data-urlencode":
            name, equals, content = value.partition("=")
            parts.append(f"{name}={quote_plus(content)}" if equals and name else quote_plus(content or name))
        else:
            # -d strips newlines from what it reads; text on the command line has none to strip.
            parts.append(value)
    return "&".join(parts)


def parse_curl(command: str, *, credentials: list[str] | None = None) -> CurlImport:
    """The ``http`` spec of a curl command; ``credentials``: the project's credential names (one
    whose name starts with the service's is reused). Raises ``CurlError`` for what cannot be read."""
    options = _read_options(tokens(command))
    notes: list[str] = []
    if not options.urls:
        raise CurlError("the command has no URL")
    if len(options.urls) > 1:
        notes.append(f"{len(options.urls)} URLs given: the first is used")
    raw_url = options.urls[0]
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", raw_url):
        raw_url = "http://" + raw_url  # as curl does
    parts = urlsplit(raw_url)
    if parts.scheme.lower() not in ("http", "https"):
        raise CurlError(f"{parts.scheme}:// URLs are not HTTP")
    names = _Credentials(parts.hostname or "", sorted(credentials or []))
    spec: dict[str, Any] = {"method": "GET", "url": "", "query": {}, "headers": {}, "body": None, "outputs": {}}
    auth: dict[str, str] | None = None
    key_parameter = ""  # an API key in the query: the auth, unless the command has another

    # The query string moves to the query table unless a name repeats (the table has one value per name).
    query = parse_qsl(parts.query, keep_blank_values=True)
    url_query = ""
    if len({key for key, _ in query}) == len(query):
        for key, value in query:
            if KEY_PARAMETER.match(key) and value and "{{" not in value:
                spec["query"][key] = _reference(names.name("KEY", f"query {key}"))
                key_parameter = key_parameter or key
            else:
                spec["query"][key] = value
    else:
        url_query = parts.query
    if parts.username or parts.password:
        options.user = options.user or f"{parts.username or ''}:{parts.password or ''}"
        notes.append("the user:password@ part of the URL became basic authentication")
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    if parts.hostname and ":" in parts.hostname:
        netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    spec["url"] = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", url_query, ""))

    content_type = ""
    dropped: list[str] = []
    for line in options.headers:
        header = _split_header(line)
        if header is None:
            notes.append(f"header {line!r} has no colon: left out")
            continue
        name, value = header
        lower = name.lower()
        if BROWSER_HEADERS.match(name):
            dropped.append(name)
            continue
        if lower == "content-type":
            content_type = value
        if lower == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and auth is None:
                auth = {"type": "bearer", "credential": _reference(names.name("TOKEN", "bearer token"))}
                continue
            if scheme.lower() == "basic" and auth is None and options.user is None:
                try:
                    options.user = base64.b64decode(token.strip(), validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    pass
                else:
                    continue
            spec["headers"][name] = _reference(names.name("AUTHORIZATION", f"header {name}"))
            continue
        if lower == "cookie":
            options.cookies.append(value)
            continue
        if sensitive_header(name) and value:
            if auth is None:
                auth = {"type": "header", "name": name, "credential": _reference(names.name("KEY", f"header {name}"))}
            else:
                spec["headers"][name] = _reference(names.name("KEY", f"header {name}"))
            continue
        spec["headers"][name] = value
    if dropped:
        notes.append(f"headers the browser adds by itself were left out: {', '.join(dropped)}")
    if options.cookies:
        spec["headers"]["Cookie"] = _reference(names.name("COOKIE", "Cookie header"))
        notes.append("cookies are often a browser session: they go in a credential, not in the spec")
    if options.bearer is not None and auth is None:
        auth = {"type": "bearer", "credential": _reference(names.name("TOKEN", "bearer token"))}
    if options.user is not None and auth is None:
        user, colon, password = options.user.partition(":")
        if colon and password:
            password_name = names.name("PASSWORD", "basic password")
            auth = {"type": "basic", "username": user, "credential": _reference(password_name)}
        else:
            # An API key given as the user name (Stripe: -u sk_…:): the whole "user:" pair is the secret.
            pair = names.name("KEY", "basic user:password pair")
            auth = {"type": "basic", "credential": _reference(pair)}
            notes.append(f"-u: the user name is the secret; store it followed by a colon in {pair}")

    if key_parameter and auth is None:
        auth = {"type": "query", "name": key_parameter, "credential": spec["query"].pop(key_parameter)}
    _body(spec, options, content_type, notes)
    if options.method:
        spec["method"] = options.method
    elif options.head:
        spec["method"] = "HEAD"
    elif spec["body"] is not None:
        spec["method"] = "POST"
    if auth is not None:
        spec["auth"] = auth
    if options.unknown:
        notes.append(f"options not understood, ignored: {', '.join(dict.fromkeys(options.unknown))}")
    return CurlImport(spec=spec, credentials=names.asked, notes=notes, unknown=list(dict.fromkeys(options.unknown)))


def _body(spec: dict[str, Any], options: _Options, content_type: str, notes: list[str]) -> None:
    """Fill ``spec["body"]`` (or the query, with ``-G``) from ``-d``/``-F``; drop a Content-Type header
    the body type sets by itself."""
    # --data-raw sends "@" as text; the other -d flavours read a file we do not have.
    data = [(flavour, value) for flavour, value in options.data if flavour == "data-raw" or not value.startswith("@")]
    if len(data) < len(options.data):
        notes.append("data read from a file (@file) cannot be imported: left out")
    if options.form:
        fields: dict[str, str] = {}
        for flavour, value in options.form:
            name, _, content = value.partition("=")
            if content.startswith(("@", "<")) and flavour == "form":
                notes.append(f"form field {name} uploads a file: left out")
                continue
            fields[name] = content
        spec["body"] = {"type": "multipart", "value": fields}
        _drop_header(spec, "content-type")
        return
    if not data:
        return
    if options.get:
        pairs = _data_pairs(data)
        if pairs is None:
            notes.append("-G with data that is not name=value: left out")
            return
        spec["query"].update(dict(pairs))
        return
    joined = _joined(data)
    kind = content_type.split(";")[0].strip().lower()
    if options.json or kind == "application/json" or kind.endswith("+json") or not kind:
        try:
            parsed = json.loads(joined)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict | list):
            spec["body"] = {"type": "json", "value": parsed}
            if kind in ("", "application/json"):
                _drop_header(spec, "content-type")
            return
    if kind in ("", "application/x-www-form-urlencoded"):
        pairs = _data_pairs(data)
        if pairs is not None and len({key for key, _ in pairs}) == len(pairs):
            spec["body"] = {"type": "form", "value": dict(pairs)}
            _drop_header(spec, "content-type")
            return
    spec["body"] = {"type": "raw", "value": joined, "content_type": content_type or "application/x-www-form-urlencoded"}
    _drop_header(spec, "content-type")


def _drop_header(spec: dict[str, Any], name: str) -> None:
    spec["headers"] = {key: value for key, value in spec["headers"].items() if key.lower() != name}
