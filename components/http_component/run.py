"""Running an ``http`` spec: build the request, send it through the SSRF guard (page after page when
it paginates), map the answer to outputs or to an error. Never raises for a remote or template
problem: those come back as ``HttpRunResult.error``."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from jinja2.sandbox import SecurityError

from components.credentials import (
    CredentialError,
    CredentialHostRefused,
    host_guard,
    mask,
    refuse_credential_in_authority,
)
from components.http_component.answer import MISSING, TIMED_OUT, TRANSPORT_FAILED, Failed, lookup, parsed_body, refused
from components.http_component.request import Request, Secrets, build, resolve_secret_inputs
from components.http_component.spec import BODY_PATH, MAX_PAGES, next_problem, validate_http_spec
from synchronise.lib import outbound
from synchronise.lib.expressions import TemplateProblem, as_text, render

MAX_LOGGED_BODY = 500
BUILD_FAILED = 400
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"})
# X-Gitlab-Token, X-Auth-Token, X-Webhook-Secret, X-Shopify-Access-Token…; not signatures (an HMAC
# proves, it does not open).
SENSITIVE_HEADER = re.compile(r"x-(?:[a-z0-9-]+-)?(?:token|secret|key|password|auth)")
LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]*)*)")


def sensitive_header(name: str) -> bool:
    """Whether a header carries a credential: masked in request logs, not kept from webhooks."""
    name = name.lower()
    return name in SENSITIVE_HEADERS or SENSITIVE_HEADER.fullmatch(name) is not None


@dataclass(frozen=True)
class HttpRunResult:
    """``outputs`` on a 2xx answer, else ``error`` (``{code, message, reason, …}``); ``request_log``:
    log lines. Every part has the project's secrets masked. ``response``: the last answer's ``{status,
    headers, text}`` when asked for and one came (the editor's "Send test request"), else ``None``."""

    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    request_log: list[str] = field(default_factory=list)
    status: int | None = None
    response: dict[str, Any] | None = None


def _rendered_text(source: Any, context: Mapping[str, Any]) -> str:
    value = render(source, context) if isinstance(source, str) else source
    return "" if value is None or value is False else as_text(value).strip()


def paging(spec: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any] | None:
    """The spec's ``paginate`` rendered (its fields may be templates), or ``None``: one request. A
    ``next`` whose ``link`` renders false and whose ``cursor`` renders empty turns paging off."""
    paginate = spec["paginate"]
    if paginate is None:
        return None
    raw = paginate["next"]
    link = render(raw["link"], context) if isinstance(raw["link"], str) else raw["link"]
    following = {
        "link": link is True or (isinstance(link, str) and link.strip().lower() in ("true", "1", "yes")),
        **{key: _rendered_text(raw[key], context) for key in ("cursor", "param", "more")},
    }
    if not following["link"] and not following["cursor"]:
        return None
    problem = next_problem(following)
    if problem:
        raise TemplateProblem(f"paginate.next{'.' + problem[0] if problem[0] else ''}: {problem[1]}")
    items = _rendered_text(paginate["items"], context)
    if not BODY_PATH.match(items):
        raise TemplateProblem(f"paginate.items: {items!r} is not body or body.<path>")
    pages = paginate["max_pages"]
    if isinstance(pages, str):
        rendered = render(pages, context)
        try:
            pages = int(rendered)
        except (TypeError, ValueError):
            raise TemplateProblem(f"paginate.max_pages: {rendered!r} is not a number") from None
    return {"items": items, "next": following, "max_pages": max(1, min(int(pages), MAX_PAGES))}


def next_link(header: str) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header (RFC 8288), or ``None``."""
    for target, params in LINK.findall(header or ""):
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "rel" and "next" in value.strip().strip('"').lower().split():
                return target.strip()
    return None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def _next_page(paged: dict[str, Any], built: Request, response: outbound.OutboundResponse, body: Any) -> Request | None:
    """The request of the next page, or ``None`` after the last one."""
    following = paged["next"]
    if following["link"]:
        target = next_link(response.headers.get("link", ""))
        if not target:
            return None
        url = urljoin(response.url, target)
        if _origin(url) != _origin(built.url):
            # The request's credentials would follow: a next page goes to the same origin only.
            raise Failed(TRANSPORT_FAILED, "blocked: the next page's link leads to another origin", reason="blocked")
        # The link carries the query, except an API key sent as a parameter, which it rarely repeats.
        linked = {key for key, _value in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
        return replace(built, url=url, params=[(key, value) for key, value in built.kept if key not in linked])
    if following["more"]:
        more = lookup(response, body, following["more"])
        if more is MISSING or not more:
            return None
    cursor = lookup(response, body, following["cursor"])
    if cursor is MISSING or cursor is None or cursor == "":
        return None
    params = [(key, value) for key, value in built.params if key != following["param"]]
    return replace(built, params=[*params, (following["param"], as_text(cursor))])


def _send(built: Request, *, timeout: float, max_bytes: int, check_host: Any) -> outbound.OutboundResponse:
    try:
        return outbound.request(
            built.method,
            built.url,
            headers=built.headers,
            params=built.params or None,
            data=built.data,
            timeout=timeout,
            max_bytes=max_bytes,
            check_host=check_host,  # each hop, before anything is sent there
        )
    except CredentialHostRefused as error:
        raise Failed(BUILD_FAILED, error.reason, reason="credential_host", credential=error.name) from None
    except outbound.OutboundTimeout as error:
        raise Failed(TIMED_OUT, error.reason, reason="timeout") from None
    except outbound.OutboundBlocked as error:
        raise Failed(TRANSPORT_FAILED, f"blocked: {error.reason}", reason="blocked") from None
    except outbound.OutboundTooLarge as error:
        # max_bytes is the plan's run_response_bytes when the caller passes it; the outbound default otherwise.
        too_large = f"response size limit of {error.limit} bytes exceeded: {error.reason}"
        raise Failed(TRANSPORT_FAILED, too_large, reason="too_large", limit=error.limit) from None
    except outbound.OutboundError as error:
        raise Failed(TRANSPORT_FAILED, error.reason, reason="unreachable") from None


def _exchange(
    spec: dict[str, Any],
    built: Request,
    paged: dict[str, Any] | None,
    *,
    secrets: Mapping[str, str],
    used: set[str],
    timeout: float,
    max_bytes: int,
    log: list[str],
    answered: dict[str, Any],
) -> tuple[outbound.OutboundResponse, Any, list[Any] | None]:
    """Send the request (and the next pages'); the last answer, its parsed body, every page's items.
    ``answered`` is filled with the last answer's status, headers and text as it arrives."""
    pages = paged["max_pages"] if paged else 1
    deadline = time.monotonic() + timeout
    shown = {k: "••••••" if sensitive_header(k) else v for k, v in built.headers.items()}
    items: list[Any] = []
    for page in range(1, pages + 1):
        query = ("&" if "?" in built.url else "?") + urlencode(built.params) if built.params else ""
        log.append(f"→ {built.method} {built.url}{query}")
        if page == 1:
            log.append(f"  headers {json.dumps(shown, ensure_ascii=False)}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Failed(TIMED_OUT, f"the request took longer than {timeout:g} s", reason="timeout")
        response = _send(built, timeout=remaining, max_bytes=max_bytes, check_host=host_guard(used, secrets))
        max_bytes -= len(response.content)  # every page counts against one size limit
        redirects = f" after {len(response.redirects)} redirect(s)" if response.redirects else ""
        size = len(response.content)
        log.append(f"← {response.status} {response.reason} in {response.elapsed_ms:.0f} ms, {size} bytes{redirects}")
        answered.update(status=response.status, headers=dict(response.headers.items()), text=response.text)
        error = refused(spec, response)
        if error is not None:
            log.append(f"  body {response.text[:MAX_LOGGED_BODY]}")
            raise Failed(**error)
        body = parsed_body(response) if paged or _reads_body(spec) else None
        if not paged:
            return response, body, None
        found = lookup(response, body, paged["items"])
        if found is not MISSING and found is not None:
            if not isinstance(found, list):
                message = f"paginate.items: {paged['items']} is not a list on page {page}"
                raise Failed(TRANSPORT_FAILED, message, reason="remote")
            items.extend(found)
        following = _next_page(paged, built, response, body) if page < pages else None
        if following is None:
            break
        built = following
    log.append(f"  {page} page(s), {len(items)} item(s)")
    return response, body, items


def _reads_body(spec: dict[str, Any]) -> bool:
    return any(path.startswith("body") for path in spec["outputs"].values())


def run_http_component(
    spec: dict[str, Any],
    inputs: Mapping[str, Any],
    secrets: Mapping[str, str],
    *,
    idempotency_key: str,
    timeout: float | None = None,
    max_bytes: int | None = None,
    secret_inputs: Iterable[str] = (),
    keep_response: bool = False,
) -> HttpRunResult:
    """Render the request, send it through the SSRF guard, map the answer. Never raises for a
    remote or template problem: those come back as ``error``. ``secret_inputs``: names of inputs
    declared of type ``secret``, whose ``{{ secrets.NAME }}`` value is substituted. ``max_bytes``:
    the largest response body (all pages together), the plan's
    (``code_runner.response_bytes_for(project)``) for a run; ``None`` is ``OUTBOUND_MAX_BYTES``.
    ``keep_response``: also return the last answer (``response``), masked; off for runs, which
    would mask a body nobody reads."""
    values = list(secrets.values())
    log: list[str] = []
    timeout = float(timeout if timeout is not None else settings.OUTBOUND_TIMEOUT)
    max_bytes = int(max_bytes if max_bytes is not None else settings.OUTBOUND_MAX_BYTES)

    answered: dict[str, Any] = {}

    def failed(error: dict[str, Any]) -> HttpRunResult:
        log.append(f"error {error['code']}: {error['message']}")
        return HttpRunResult(
            outputs=None,
            error=mask(error, values),
            request_log=mask(log, values),
            status=error.get("status"),
            response=mask(answered, values) if answered and keep_response else None,
        )

    used: set[str] = set()  # the credentials this request carries, however a template used them
    try:
        spec = validate_http_spec(spec)
        context = {
            "inputs": resolve_secret_inputs(inputs, secrets, secret_inputs, used),
            "secrets": Secrets(secrets, used),
        }
        if spec["body"] is not None and spec["body"]["type"] == "email":
            from components.http_component import smtp

            message = smtp.build(spec, context)
            refuse_credential_in_authority(f"smtp://{message.host}/", secrets)  # before any DNS lookup
        else:
            built = build(spec, context)
            refuse_credential_in_authority(built.url, secrets)  # before any DNS lookup of that host
            paged = paging(spec, context)
    except ValidationError as error:
        return failed(
            {
                "code": BUILD_FAILED,
                "message": "the HTTP spec is invalid: " + "; ".join(error.messages),
                "reason": "spec",
            }
        )
    except (CredentialError, TemplateProblem, SecurityError, ValueError) as error:
        return failed(
            {"code": BUILD_FAILED, "message": f"the request could not be built: {error}", "reason": "template"}
        )
    except Failed as failure:
        return failed(failure.error)
    try:
        if spec["body"] is not None and spec["body"]["type"] == "email":
            sent = smtp.send(message, secrets=secrets, used=used, timeout=timeout, outputs=spec["outputs"], log=log)
            return HttpRunResult(
                outputs=mask(sent, values), error=None, request_log=mask(log, values), status=smtp.SENT
            )
        if not built.has_header("Idempotency-Key"):
            built.headers["Idempotency-Key"] = idempotency_key
        response, body, items = _exchange(
            spec,
            built,
            paged,
            secrets=secrets,
            used=used,
            timeout=timeout,
            max_bytes=max_bytes,
            log=log,
            answered=answered,
        )
    except Failed as failure:
        return failed(failure.error)
    outputs: dict[str, Any] = {}
    for name, path in spec["outputs"].items():
        # "items": every page's items; none when paging was turned off
        value = lookup(response, body, path) if path != "items" else (MISSING if items is None else items)
        if value is MISSING:
            log.append(f"  output {name}: {path} is not in the response")
        else:
            outputs[name] = value
    return HttpRunResult(
        outputs=mask(outputs, values),
        error=None,
        request_log=mask(log, values),
        status=response.status,
        response=mask(answered, values) if keep_response else None,
    )
