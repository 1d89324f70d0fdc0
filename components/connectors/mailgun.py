"""Mailgun (https://documentation.mailgun.com): send an email through the Messages API (US region)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

CONNECTORS = (
    Connector(
        name="mailgun-send-email",
        title="Mailgun: send an email",
        icon="📨",
        provider="Mailgun",
        base_url="https://api.mailgun.net",
        docs="https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages/post-v3--domain-name--messages",
        description="Sends an email from one of your Mailgun sending domains (US region), plain text and "
        "optional HTML; returns Mailgun's message id.",
        tags=["email", "mailgun", "notify"],
        inputs=[
            {"name": "api_key", "type": "secret", "description": "A Mailgun API key, a credential"},
            {"name": "domain", **TEXT, "description": "The sending domain, e.g. mg.example.com"},
            {"name": "sender", **TEXT, "description": "From: an address, or Name <address>"},
            {"name": "to", **TEXT, "description": "Recipients, separated by commas"},
            {"name": "cc", **TEXT, "default": ""},
            {"name": "subject", **TEXT},
            {"name": "text", **TEXT, "default": "", "description": "The plain-text body"},
            {"name": "html", **TEXT, "default": "", "description": "An HTML body"},
        ],
        outputs=[
            {"name": "id", **TEXT, "description": "Mailgun's message id"},
            {"name": "message", **TEXT},
        ],
        http={
            "method": "POST",
            "url": "https://api.mailgun.net/v3/{{ inputs.domain|urlencode }}/messages",
            "auth": {"type": "basic", "username": "api", "credential": "{{ inputs.api_key }}"},
            "body": {
                "type": "multipart",
                "value": {
                    "from": "{{ inputs.sender }}",
                    "to": "{{ inputs.to }}",
                    "cc": "{{ inputs.cc or none }}",
                    "subject": "{{ inputs.subject }}",
                    "text": "{{ inputs.text or none }}",
                    "html": "{{ inputs.html or none }}",
                },
            },
            "outputs": {"id": "body.id", "message": "body.message"},
            "error_message": "body.message",
        },
    ),
)
