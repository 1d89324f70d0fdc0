"""GitHub (REST API, https://docs.github.com/en/rest)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}
HEADERS = {
    "Authorization": "Bearer {{ inputs.token }}",
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}

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
    Connector(
        name="github-create-comment",
        title="GitHub: comment on an issue",
        icon="🐙",
        provider="GitHub",
        base_url="https://api.github.com",
        docs="https://docs.github.com/en/rest/issues/comments#create-an-issue-comment",
        description="Adds a comment to an issue or a pull request of a GitHub repository.",
        tags=["github", "issues", "developer"],
        inputs=[
            {"name": "token", "type": "secret", "description": "A token that may write issues, a credential"},
            {"name": "repository", **TEXT, "description": "owner/name"},
            {
                "name": "issue_number",
                "type": "number",
                "subtype": "integer",
                "description": "The issue or pull request",
            },
            {"name": "body", **TEXT, "description": "The comment (Markdown)"},
        ],
        outputs=[
            {"name": "id", "type": "number", "subtype": "integer"},
            {"name": "url", "type": "text", "subtype": "url"},
            {"name": "created_at", "type": "date", "subtype": "datetime"},
        ],
        http={
            "method": "POST",
            "url": "https://api.github.com/repos/{{ inputs.repository }}/issues/{{ inputs.issue_number }}/comments",
            "headers": HEADERS,
            "body": {"type": "json", "value": {"body": "{{ inputs.body }}"}},
            "outputs": {"id": "body.id", "url": "body.html_url", "created_at": "body.created_at"},
            "error_message": "body.message",
        },
    ),
    Connector(
        name="github-list-issues",
        title="GitHub: list issues",
        icon="🐙",
        provider="GitHub",
        base_url="https://api.github.com",
        docs="https://docs.github.com/en/rest/issues/issues#list-repository-issues",
        description=(
            "Lists a repository's issues (pull requests included, as GitHub does), newest first, "
            "following the Link header's next page up to max_pages pages of 100."
        ),
        tags=["github", "issues", "developer"],
        inputs=[
            {"name": "token", "type": "secret", "description": "A token that may read issues, a credential"},
            {"name": "repository", **TEXT, "description": "owner/name"},
            {"name": "state", **TEXT, "optional": True, "default": "open", "description": "open, closed or all"},
            {"name": "labels", **TEXT, "optional": True, "description": "Comma-separated label names, all required"},
            {"name": "since", "type": "date", "subtype": "datetime", "optional": True, "description": "Updated since"},
            {"name": "max_pages", "type": "number", "subtype": "integer", "optional": True, "default": 10},
        ],
        outputs=[
            {"name": "issues", "type": "json", "subtype": "array", "description": "Every issue of every page"},
        ],
        http={
            "method": "GET",
            "url": "https://api.github.com/repos/{{ inputs.repository }}/issues",
            "query": {
                "state": "{{ inputs.state }}",
                "labels": "{{ inputs.labels }}",
                "since": "{{ inputs.since }}",
                "per_page": "100",
            },
            "headers": HEADERS,
            "paginate": {"items": "body", "next": {"link": True}, "max_pages": "{{ inputs.max_pages }}"},
            "outputs": {"issues": "items"},
            "error_message": "body.message",
        },
    ),
)
