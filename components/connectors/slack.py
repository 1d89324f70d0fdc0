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
    Connector(
        name="slack-post-message",
        title="Slack: post a message as a bot",
        icon="💬",
        provider="Slack",
        base_url="https://slack.com",
        docs="https://docs.slack.dev/reference/methods/chat.postMessage",
        description=(
            "Posts a message to a channel, a private group or a direct message with a bot token "
            "(chat.postMessage), optionally as a reply in a thread or with Block Kit blocks."
        ),
        tags=["slack", "chat", "notify"],
        inputs=[
            {"name": "token", "type": "secret", "description": "A bot token (xoxb-…) with chat:write, a credential"},
            {"name": "channel", **TEXT, "description": "A channel id (C0123…) or name (#general), or a user id"},
            {"name": "text", **TEXT, "description": "The message (Slack mrkdwn); the notification text with blocks"},
            {"name": "thread_ts", **TEXT, "optional": True, "description": "Reply in the thread of this message ts"},
            {"name": "blocks", "type": "json", "subtype": "array", "optional": True, "description": "Block Kit blocks"},
        ],
        outputs=[
            {"name": "ts", **TEXT, "description": "The message's timestamp, its id in the channel"},
            {"name": "channel", **TEXT, "description": "The channel id it was posted in"},
        ],
        http={
            "method": "POST",
            "url": "https://slack.com/api/chat.postMessage",
            "headers": {"Authorization": "Bearer {{ inputs.token }}"},
            # A form body: a field left out (no thread, no blocks) is not sent at all.
            "body": {
                "type": "form",
                "value": {
                    "channel": "{{ inputs.channel }}",
                    "text": "{{ inputs.text }}",
                    "thread_ts": "{{ inputs.thread_ts }}",
                    "blocks": "{{ inputs.blocks|tojson if inputs.blocks else none }}",
                },
            },
            "outputs": {"ts": "body.ts", "channel": "body.channel"},
            # Slack answers 200 with {"ok": false, "error": "…"} for most failures.
            "ok_when": "body.ok",
            "error_message": "body.error",
            "error_statuses": {
                "not_authed": 401,
                "invalid_auth": 401,
                "account_inactive": 401,
                "token_revoked": 401,
                "token_expired": 401,
                "missing_scope": 403,
                "not_allowed_token_type": 403,
                "ratelimited": 429,
            },
        },
    ),
)
