"""Anthropic (Messages API, https://docs.anthropic.com/en/api/messages)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

# The request: `system` is sent only when given (an empty one is refused).
REQUEST = (
    "{{ {'model': inputs.model, 'max_tokens': inputs.max_tokens, "
    "'messages': [{'role': 'user', 'content': inputs.prompt}], 'system': inputs.system} if inputs.system else "
    "{'model': inputs.model, 'max_tokens': inputs.max_tokens, "
    "'messages': [{'role': 'user', 'content': inputs.prompt}]} }}"
)

CONNECTORS = (
    Connector(
        name="anthropic-create-message",
        title="Anthropic: create a message",
        icon="🧠",
        provider="Anthropic",
        base_url="https://api.anthropic.com",
        docs="https://docs.anthropic.com/en/api/messages",
        description="Asks a Claude model for a reply to a prompt, with optional system instructions (Messages API).",
        tags=["anthropic", "claude", "ai", "llm"],
        inputs=[
            {"name": "api_key", "type": "secret", "description": "An API key (sk-ant-…), a credential"},
            {"name": "prompt", **TEXT, "description": "The user's message"},
            {"name": "model", **TEXT, "optional": True, "default": "claude-sonnet-4-5"},
            {"name": "system", **TEXT, "optional": True, "default": "", "description": "Instructions for the model"},
            {"name": "max_tokens", "type": "number", "subtype": "integer", "optional": True, "default": 1024},
        ],
        outputs=[
            {"name": "text", **TEXT, "description": "The reply's first text block"},
            {"name": "stop_reason", **TEXT, "description": "end_turn, max_tokens, stop_sequence…"},
            {"name": "model", **TEXT},
            {"name": "id", **TEXT},
            {"name": "usage", "type": "json", "subtype": "object", "optional": True, "description": "Token counts"},
        ],
        http={
            "method": "POST",
            "url": "https://api.anthropic.com/v1/messages",
            "headers": {"x-api-key": "{{ inputs.api_key }}", "anthropic-version": "2023-06-01"},
            "body": {"type": "json", "value": REQUEST},
            "outputs": {
                "text": "body.content.0.text",
                "stop_reason": "body.stop_reason",
                "model": "body.model",
                "id": "body.id",
                "usage": "body.usage",
            },
            "error_message": "body.error.message",
        },
    ),
)
