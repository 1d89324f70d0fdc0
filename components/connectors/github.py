"""GitHub (REST API, https://docs.github.com/en/rest)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

CONNECTORS = (
    Connector(
        name="github-issue",
        title="GitHub: create an issue",
        icon="🐙",
        provider="GitHub",
        base_url="https://api.github.com",
        docs="https://docs.github.com/en/rest/issues/issues#create-an-issue",
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
)
