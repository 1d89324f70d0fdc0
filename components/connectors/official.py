"""The connectors shipped with this release. Each must pass ``validate_http_spec`` against its own
interface (``tests/test_connectors.py`` checks them all)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}
STATUS = {"name": "status", "type": "number", "subtype": "integer"}

CONNECTORS = (
    Connector(
        name="slack-message",
        title="Slack: send a message",
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
        name="discord-message",
        title="Discord: send a message",
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
    Connector(
        name="github-issue",
        title="GitHub: create an issue",
        description="Opens an issue in a GitHub repository.",
        tags=["github", "issues", "developer"],
        inputs=[
            {"name": "token", "type": "secret", "description": "A token that may write issues, a credential"},
            {"name": "repository", **TEXT, "description": "owner/name"},
            {"name": "title", **TEXT},
            {"name": "body", **TEXT, "optional": True, "default": ""},
        ],
        outputs=[
            {"name": "number", "type": "number", "subtype": "integer"},
            {"name": "url", "type": "text", "subtype": "url"},
        ],
        http={
            "method": "POST",
            "url": "https://api.github.com/repos/{{ inputs.repository }}/issues",
            "headers": {
                "Authorization": "Bearer {{ inputs.token }}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
            "body": {"type": "json", "value": {"title": "{{ inputs.title }}", "body": "{{ inputs.body }}"}},
            "outputs": {"number": "body.number", "url": "body.html_url"},
            "error_message": "body.message",
        },
    ),
    Connector(
        name="post-json",
        title="Webhook: POST JSON",
        description="Sends a JSON document to any HTTPS endpoint and returns its answer.",
        tags=["webhook", "http", "json"],
        inputs=[
            {"name": "url", "type": "text", "subtype": "url"},
            {"name": "payload", "type": "json"},
        ],
        outputs=[STATUS, {"name": "response", "type": "json", "optional": True}],
        http={
            "method": "POST",
            "url": "{{ inputs.url }}",
            "body": {"type": "json", "value": "{{ inputs.payload }}"},
            "outputs": {"status": "status", "response": "body"},
        },
    ),
)
