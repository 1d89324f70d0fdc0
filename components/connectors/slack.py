"""Slack (https://api.slack.com): messages through an incoming webhook."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}
STATUS = {"name": "status", "type": "number", "subtype": "integer"}

CONNECTORS = (
    Connector(
        name="slack-message",
        title="Slack: send a message",
        icon="💬",
        provider="Slack",
        docs="https://api.slack.com/messaging/webhooks",
        description="Posts a message to a Slack channel through an incoming webhook.",
        tags=["slack", "chat", "notify"],
        inputs=[
            {"name": "webhook_url", "type": "secret", "description": "The incoming webhook URL, a credential"},
            {"name": "text", **TEXT, "description": "The message (Slack mrkdwn)"},
        ],
        outputs=[STATUS],
        http={
            "method": "POST",
            "url": "{{ inputs.webhook_url }}",
            "body": {"type": "json", "value": {"text": "{{ inputs.text }}"}},
            "outputs": {"status": "status"},
            "error_message": "body",
        },
    ),
)
