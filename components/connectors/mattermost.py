"""Mattermost: messages through an incoming webhook (https://developers.mattermost.com/integrate/webhooks/incoming/)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

CONNECTORS = (
    Connector(
        name="mattermost-send-message",
        title="Mattermost: send a message",
        icon="💬",
        provider="Mattermost",
        docs="https://developers.mattermost.com/integrate/webhooks/incoming/",
        description=(
            "Posts a message to a Mattermost channel through an incoming webhook; the channel, user name "
            "and icon can be overridden when the webhook allows it."
        ),
        tags=["mattermost", "chat", "notify"],
        inputs=[
            {"name": "webhook_url", "type": "secret", "description": "The incoming webhook URL, a credential"},
            {"name": "text", **TEXT, "description": "The message (Markdown)"},
            {"name": "channel", **TEXT, "optional": True, "default": "", "description": "Another channel's name"},
            {"name": "username", **TEXT, "optional": True, "default": "", "description": "Post under this name"},
            {"name": "icon_url", **TEXT, "optional": True, "default": "", "description": "Post with this picture"},
        ],
        outputs=[{"name": "status", "type": "number", "subtype": "integer"}],
        http={
            "method": "POST",
            "url": "{{ inputs.webhook_url }}",
            # Mattermost ignores an empty override.
            "body": {
                "type": "json",
                "value": {
                    "text": "{{ inputs.text }}",
                    "channel": "{{ inputs.channel }}",
                    "username": "{{ inputs.username }}",
                    "icon_url": "{{ inputs.icon_url }}",
                },
            },
            "outputs": {"status": "status"},
            "error_message": "body.message",
        },
    ),
)
