"""Email by SMTP to any mail server: STARTTLS (port 587) or implicit TLS (465), always verified, through
the platform's outbound rules (``components/http_component/smtp.py``)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

CONNECTORS = (
    Connector(
        name="smtp-send",
        title="SMTP: send an email",
        icon="✉️",
        provider="SMTP",
        docs="https://www.rfc-editor.org/rfc/rfc6409",
        description="Sends an email through your SMTP server (STARTTLS or TLS, the certificate verified), "
        "plain text and optional HTML, with a password kept as a credential.",
        tags=["email", "smtp", "notify"],
        inputs=[
            {"name": "host", **TEXT, "description": "The SMTP server, e.g. smtp.example.com"},
            {
                "name": "port",
                "type": "number",
                "subtype": "integer",
                "default": 587,
                "description": "587 (STARTTLS) or 465 (TLS)",
            },
            {"name": "security", **TEXT, "default": "starttls", "description": "starttls or tls"},
            {"name": "username", **TEXT, "default": "", "description": "The login, if the server asks for one"},
            {
                "name": "password",
                "type": "secret",
                "optional": True,
                "description": "The login's password, a credential",
            },
            {"name": "sender", **TEXT, "description": "From: an address, or Name <address>"},
            {"name": "to", **TEXT, "description": "Recipients, separated by commas"},
            {"name": "cc", **TEXT, "default": ""},
            {"name": "bcc", **TEXT, "default": ""},
            {"name": "reply_to", **TEXT, "default": ""},
            {"name": "subject", **TEXT},
            {"name": "text", **TEXT, "default": "", "description": "The plain-text body"},
            {"name": "html", **TEXT, "default": "", "description": "An HTML body, sent as an alternative"},
        ],
        outputs=[
            {"name": "accepted", "type": "list", "subtype": "text", "description": "The recipients the server took"},
            {"name": "status", "type": "number", "subtype": "integer"},
        ],
        http={
            "method": "POST",
            "url": "{{ 'smtps' if inputs.security == 'tls' else 'smtp' }}://{{ inputs.host }}:{{ inputs.port }}",
            "body": {
                "type": "email",
                "value": {
                    "from": "{{ inputs.sender }}",
                    "to": "{{ inputs.to }}",
                    "cc": "{{ inputs.cc }}",
                    "bcc": "{{ inputs.bcc }}",
                    "reply_to": "{{ inputs.reply_to }}",
                    "subject": "{{ inputs.subject }}",
                    "text": "{{ inputs.text }}",
                    "html": "{{ inputs.html }}",
                    "username": "{{ inputs.username }}",
                    "password": "{{ inputs.password }}",
                },
            },
            "outputs": {"accepted": "body.accepted", "status": "status"},
        },
    ),
)
