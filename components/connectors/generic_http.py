"""Generic HTTP connectors: any request (auth, body and paging chosen by inputs), a webhook signed
with HMAC-SHA256, JSON to any endpoint. Their URL is an input, so they have no base URL."""

from __future__ import annotations

from typing import Any

from components.connectors import Connector

STATUS = {"name": "status", "type": "number", "subtype": "integer"}
WHEN_CURSOR = "if inputs.paginate == 'cursor' else ''"

HTTP_REQUEST_INPUTS: list[dict[str, Any]] = [
    {
        "name": "method",
        "type": "text",
        "default": "GET",
        "description": "GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS",
    },
    {"name": "url", "type": "text", "subtype": "url", "description": "The full URL, a query string may be part of it"},
    {"name": "query", "type": "json", "subtype": "object", "default": {}, "description": "Query parameters to add"},
    {"name": "headers", "type": "json", "subtype": "object", "default": {}, "description": "Request headers"},
    {"name": "body_type", "type": "text", "default": "none", "description": "none, json, form, multipart or raw"},
    {
        "name": "body",
        "type": "json",
        "optional": True,
        "description": "json: any value; form/multipart: an object; raw: text",
    },
    {"name": "content_type", "type": "text", "default": "", "description": "For a raw body (text/plain by default)"},
    {
        "name": "auth",
        "type": "text",
        "default": "none",
        "description": "none, bearer, basic, header (API key) or query (API key)",
    },
    {
        "name": "credential",
        "type": "secret",
        "optional": True,
        "description": "The token, the API key, or user:password for basic (or the password, with username)",
    },
    {
        "name": "username",
        "type": "text",
        "default": "",
        "description": "basic: the user name (credential is then the password)",
    },
    {
        "name": "auth_name",
        "type": "text",
        "default": "",
        "description": "header: its name (X-API-Key); query: the parameter (api_key)",
    },
    {"name": "paginate", "type": "text", "default": "none", "description": 'none, link (Link: rel="next") or cursor'},
    {
        "name": "items_path",
        "type": "text",
        "default": "body",
        "description": "Where each page's list is: body or body.<path>",
    },
    {
        "name": "cursor_path",
        "type": "text",
        "default": "",
        "description": "cursor: the next cursor in the answer, e.g. body.next",
    },
    {"name": "cursor_param", "type": "text", "default": "", "description": "cursor: the query parameter that sends it"},
    {
        "name": "more_path",
        "type": "text",
        "default": "",
        "description": "cursor: stop when this is false, e.g. body.has_more",
    },
    {
        "name": "max_pages",
        "type": "number",
        "subtype": "integer",
        "default": 10,
        "description": "At most this many pages (1 to 100)",
    },
]

CONNECTORS = (
    Connector(
        name="http-request",
        title="HTTP: send a request",
        icon="🌐",
        provider="HTTP",
        docs="https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Methods",
        description="Sends any HTTP request (any method; JSON, form, multipart or raw body; bearer, basic or "
        "API-key authentication with a credential) and returns the answer; can follow pages by Link header or cursor.",
        tags=["http", "api", "rest", "generic"],
        inputs=HTTP_REQUEST_INPUTS,
        outputs=[
            STATUS,
            {"name": "body", "type": "json", "optional": True, "description": "The answer (of the last page)"},
            {"name": "items", "type": "list", "optional": True, "description": "Every page's items, when paging"},
        ],
        http={
            "method": "{{ inputs.method }}",
            "url": "{{ inputs.url }}",
            "query": "{{ inputs.query }}",
            "headers": "{{ inputs.headers }}",
            "body": {
                "type": "{{ inputs.body_type }}",
                "value": "{{ inputs.body }}",
                "content_type": "{{ inputs.content_type }}",
            },
            "auth": {
                "type": "{{ inputs.auth }}",
                "credential": "{{ inputs.credential }}",
                "username": "{{ inputs.username }}",
                "name": "{{ inputs.auth_name }}",
            },
            "paginate": {
                "items": "{{ inputs.items_path }}",
                "next": {
                    "link": "{{ inputs.paginate == 'link' }}",
                    "cursor": "{{ inputs.cursor_path " + WHEN_CURSOR + " }}",
                    "param": "{{ inputs.cursor_param " + WHEN_CURSOR + " }}",
                    "more": "{{ inputs.more_path " + WHEN_CURSOR + " }}",
                },
                "max_pages": "{{ inputs.max_pages }}",
            },
            "outputs": {"status": "status", "body": "body", "items": "items"},
            "error_message": "body",
        },
    ),
    Connector(
        name="webhook-signed",
        title="Webhook: send a signed event",
        icon="🔏",
        provider="HTTP",
        docs="https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries",
        description="POSTs a JSON event to a receiver with an X-Signature-256 header: sha256= and the hex "
        "HMAC-SHA256 of the exact body, keyed with a signing secret the receiver shares, so it can tell the "
        "event came from you.",
        tags=["webhook", "http", "hmac", "signature"],
        inputs=[
            {"name": "url", "type": "text", "subtype": "url", "description": "The receiver's URL"},
            {"name": "payload", "type": "json", "description": "The event, sent as JSON"},
            {"name": "signing_secret", "type": "secret", "description": "The shared signing secret, a credential"},
            {"name": "event", "type": "text", "default": "", "description": "Sent as X-Event-Type when given"},
        ],
        outputs=[STATUS, {"name": "response", "type": "json", "optional": True}],
        http={
            "method": "POST",
            "url": "{{ inputs.url }}",
            "headers": {"X-Event-Type": "{{ inputs.event or none }}"},
            "body": {"type": "json", "value": "{{ inputs.payload }}"},
            "sign": {"header": "X-Signature-256", "secret": "{{ inputs.signing_secret }}", "prefix": "sha256="},
            "outputs": {"status": "status", "response": "body"},
            "error_message": "body",
        },
    ),
    Connector(
        name="post-json",
        title="Webhook: POST JSON",
        icon="🪝",
        provider="HTTP",
        docs="https://developer.mozilla.org/en-US/docs/Web/HTTP/Methods/POST",
        description="Sends a JSON document to any HTTPS endpoint and returns its answer.",
        tags=["webhook", "http", "json"],
        inputs=[
            {"name": "url", "type": "text", "subtype": "url"},
            {"name": "payload", "type": "json"},
        ],
        outputs=[STATUS, {"name": "response", "type": "json", "optional": True}],
        http={
            "method": "POST",
            "url": "{{ inputs.url }}",
            "body": {"type": "json", "value": "{{ inputs.payload }}"},
            "outputs": {"status": "status", "response": "body"},
        },
    ),
)
