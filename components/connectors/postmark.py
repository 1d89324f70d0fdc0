"""Postmark (https://postmarkapp.com/developer): send a single email."""

from __future__ import annotations

from components.connectors import EMAIL_MESSAGE_INPUTS, Connector

TEXT = {"type": "text"}

CONNECTORS = (
    Connector(
        name="postmark-send-email",
        title="Postmark: send an email",
        icon="📮",
        provider="Postmark",
        base_url="https://api.postmarkapp.com",
        docs="https://postmarkapp.com/developer/api/email-api#send-a-single-email",
        description="Sends one email through a Postmark server (a confirmed sender signature; up to 50 "
        "recipients, plain text and/or HTML); returns Postmark's MessageID.",
        tags=["email", "postmark", "notify"],
        inputs=[
            {"name": "server_token", "type": "secret", "description": "The server's API token, a credential"},
            *(dict(field) for field in EMAIL_MESSAGE_INPUTS),
            {"name": "stream", **TEXT, "default": "outbound", "description": "The message stream"},
        ],
        outputs=[
            {"name": "message_id", **TEXT},
            {"name": "submitted_at", **TEXT},
            {"name": "to", **TEXT},
        ],
        http={
            "method": "POST",
            "url": "https://api.postmarkapp.com/email",
            "headers": {"Accept": "application/json", "X-Postmark-Server-Token": "{{ inputs.server_token }}"},
            "body": {
                "type": "json",
                "value": {
                    "From": "{{ inputs.sender }}",
                    "To": "{{ inputs.to }}",
                    "Cc": "{{ inputs.cc or none }}",
                    "Subject": "{{ inputs.subject }}",
                    "TextBody": "{{ inputs.text or none }}",
                    "HtmlBody": "{{ inputs.html or none }}",
                    "MessageStream": "{{ inputs.stream }}",
                },
            },
            "outputs": {"message_id": "body.MessageID", "submitted_at": "body.SubmittedAt", "to": "body.To"},
            "error_message": "body.Message",
            "fail_when": "body.ErrorCode",
        },
    ),
)
