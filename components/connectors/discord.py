"""Discord (https://discord.com/developers/docs): messages through a channel webhook."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}
STATUS = {"name": "status", "type": "number", "subtype": "integer"}

CONNECTORS = (
    Connector(
        name="discord-message",
        title="Discord: send a message",
        icon="🎮",
        provider="Discord",
        docs="https://discord.com/developers/docs/resources/webhook#execute-webhook",
        description="Posts a message to a Discord channel through a webhook.",
        tags=["discord", "chat", "notify"],
        inputs=[
            {"name": "webhook_url", "type": "secret", "description": "The channel's webhook URL, a credential"},
            {"name": "content", **TEXT, "description": "The message (up to 2000 characters)"},
        ],
        outputs=[STATUS],
        http={
            "method": "POST",
            "url": "{{ inputs.webhook_url }}",
            "body": {"type": "json", "value": {"content": "{{ inputs.content }}"}},
            "outputs": {"status": "status"},
            "error_message": "body.message",
        },
    ),
)
