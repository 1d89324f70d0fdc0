"""Mailgun (https://documentation.mailgun.com): send an email through the Messages API (US region)."""

from __future__ import annotations

from components.connectors import EMAIL_MESSAGE_INPUTS, Connector

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
            *(dict(field) for field in EMAIL_MESSAGE_INPUTS),
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
