"""SendGrid (Twilio SendGrid v3 API, https://www.twilio.com/docs/sendgrid/api-reference): send an email."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

CONNECTORS = (
    Connector(
        name="sendgrid-send-email",
        title="SendGrid: send an email",
        icon="📧",
        provider="SendGrid",
        base_url="https://api.sendgrid.com",
        docs="https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send",
        description="Sends an email with SendGrid's Mail Send API (a verified sender, one recipient, plain "
        "text and optional HTML); returns the X-Message-Id SendGrid assigned.",
        tags=["email", "sendgrid", "notify"],
        inputs=[
            {
                "name": "api_key",
                "type": "secret",
                "description": "A SendGrid API key with Mail Send access, a credential",
            },
            {"name": "sender", **TEXT, "subtype": "email", "description": "A verified sender address"},
            {"name": "sender_name", **TEXT, "default": ""},
            {"name": "to", **TEXT, "subtype": "email"},
            {"name": "subject", **TEXT},
            {"name": "text", **TEXT, "description": "The plain-text body"},
            {"name": "html", **TEXT, "default": "", "description": "An HTML body, sent as well"},
        ],
        outputs=[
            {"name": "status", "type": "number", "subtype": "integer"},
            {"name": "message_id", **TEXT, "optional": True},
        ],
        http={
            "method": "POST",
            "url": "https://api.sendgrid.com/v3/mail/send",
            "auth": {"type": "bearer", "credential": "{{ inputs.api_key }}"},
            "body": {
                "type": "json",
                "value": {
                    "personalizations": [{"to": [{"email": "{{ inputs.to }}"}]}],
                    "from": "{{ {'email': inputs.sender, 'name': inputs.sender_name} if inputs.sender_name "
                    "else {'email': inputs.sender} }}",
                    "subject": "{{ inputs.subject }}",
                    "content": "{{ [{'type': 'text/plain', 'value': inputs.text}] + "
                    "([{'type': 'text/html', 'value': inputs.html}] if inputs.html else []) }}",
                },
            },
            "outputs": {"status": "status", "message_id": "headers.X-Message-Id"},
            "error_message": "body.errors.0.message",
        },
    ),
)
