"""Microsoft Teams: messages through a channel's incoming webhook (a Workflows webhook or the older
Office 365 connector; both take an Adaptive Card message)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

# The card's text blocks: the title (when given) in bold, then the message.
CARD_BODY = (
    "{{ ([{'type': 'TextBlock', 'text': inputs.title, 'weight': 'Bolder', 'size': 'Medium', 'wrap': true}]"
    " if inputs.title else []) + [{'type': 'TextBlock', 'text': inputs.text, 'wrap': true}] }}"
)

CONNECTORS = (
    Connector(
        name="teams-send-message",
        title="Microsoft Teams: send a message",
        icon="👥",
        provider="Microsoft Teams",
        docs="https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook",
        description=(
            "Posts a message (an Adaptive Card with an optional title) to a Teams channel through its incoming webhook."
        ),
        tags=["teams", "microsoft", "chat", "notify"],
        inputs=[
            {
                "name": "webhook_url",
                "type": "secret",
                "description": "The channel's incoming webhook URL, a credential",
            },
            {"name": "text", **TEXT, "description": "The message (Adaptive Card markdown)"},
            {"name": "title", **TEXT, "optional": True, "description": "A bold heading above the message"},
        ],
        outputs=[{"name": "status", "type": "number", "subtype": "integer"}],
        http={
            "method": "POST",
            "url": "{{ inputs.webhook_url }}",
            "body": {
                "type": "json",
                "value": {
                    "type": "message",
                    "attachments": [
                        {
                            "contentType": "application/vnd.microsoft.card.adaptive",
                            "contentUrl": None,
                            "content": {
                                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                                "type": "AdaptiveCard",
                                "version": "1.4",
                                "body": CARD_BODY,
                            },
                        }
                    ],
                },
            },
            "outputs": {"status": "status"},
            "error_message": "body",
        },
    ),
)
