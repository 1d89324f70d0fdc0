"""Generic HTTP connectors: any request, a signed webhook, JSON to any endpoint."""

from __future__ import annotations

from components.connectors import Connector

STATUS = {"name": "status", "type": "number", "subtype": "integer"}

CONNECTORS = (
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
