"""Telegram (Bot API, https://core.telegram.org/bots/api): messages from a bot."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

CONNECTORS = (
    Connector(
        name="telegram-send-message",
        title="Telegram: send a message",
        icon="✈️",
        provider="Telegram",
        base_url="https://api.telegram.org",
        docs="https://core.telegram.org/bots/api#sendmessage",
        description="Sends a text message from a Telegram bot to a chat, a group or a channel (sendMessage).",
        tags=["telegram", "chat", "notify"],
        inputs=[
            {"name": "bot_token", "type": "secret", "description": "The bot's token from @BotFather, a credential"},
            {"name": "chat_id", **TEXT, "description": "The chat's numeric id, or @channelusername"},
            {"name": "text", **TEXT, "description": "The message, 1-4096 characters"},
            {
                "name": "parse_mode",
                **TEXT,
                "optional": True,
                "description": "MarkdownV2, HTML or Markdown; plain text when left out",
            },
            {"name": "disable_notification", "type": "bool", "optional": True, "default": False},
        ],
        outputs=[
            {"name": "message_id", "type": "number", "subtype": "integer"},
            {"name": "chat_id", "type": "number", "subtype": "integer"},
            {"name": "date", "type": "number", "subtype": "integer", "description": "Unix time it was sent"},
        ],
        http={
            "method": "POST",
            # The token is part of the path (the Bot API's only way); the run's logs mask it.
            "url": "https://api.telegram.org/bot{{ inputs.bot_token }}/sendMessage",
            "body": {
                "type": "form",
                "value": {
                    "chat_id": "{{ inputs.chat_id }}",
                    "text": "{{ inputs.text }}",
                    "parse_mode": "{{ inputs.parse_mode }}",
                    "disable_notification": "{{ inputs.disable_notification }}",
                },
            },
            "outputs": {
                "message_id": "body.result.message_id",
                "chat_id": "body.result.chat.id",
                "date": "body.result.date",
            },
            "ok_when": "body.ok",
            "error_message": "body.description",
            "retry_after": "body.parameters.retry_after",
        },
    ),
)
