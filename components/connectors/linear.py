"""Linear (GraphQL API, https://linear.app/developers/graphql)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

ISSUE_CREATE = (
    "mutation IssueCreate($input: IssueCreateInput!) "
    "{ issueCreate(input: $input) { success issue { id identifier title url } } }"
)

CONNECTORS = (
    Connector(
        name="linear-create-issue",
        title="Linear: create an issue",
        icon="📐",
        provider="Linear",
        base_url="https://api.linear.app",
        docs="https://linear.app/developers/graphql#creating-and-editing-issues",
        description="Creates an issue in a Linear team through the GraphQL API (issueCreate).",
        tags=["linear", "issues", "developer"],
        inputs=[
            {"name": "api_key", "type": "secret", "description": "A personal API key (lin_api_…), a credential"},
            {"name": "team_id", **TEXT, "description": "The team's id (a UUID)"},
            {"name": "title", **TEXT},
            {"name": "description", **TEXT, "optional": True, "default": "", "description": "Markdown"},
            {
                "name": "priority",
                "type": "number",
                "subtype": "integer",
                "optional": True,
                "default": 0,
                "description": "0 none, 1 urgent, 2 high, 3 medium, 4 low",
            },
        ],
        outputs=[
            {"name": "id", **TEXT},
            {"name": "identifier", **TEXT, "description": "The issue's key, e.g. ENG-123"},
            {"name": "url", "type": "text", "subtype": "url"},
        ],
        http={
            "method": "POST",
            "url": "https://api.linear.app/graphql",
            # A personal API key goes as it is; OAuth access tokens would be "Bearer …".
            "headers": {"Authorization": "{{ inputs.api_key }}"},
            "body": {
                "type": "json",
                "value": {
                    "query": ISSUE_CREATE,
                    "variables": {
                        "input": {
                            "teamId": "{{ inputs.team_id }}",
                            "title": "{{ inputs.title }}",
                            "description": "{{ inputs.description }}",
                            "priority": "{{ inputs.priority }}",
                        }
                    },
                },
            },
            "outputs": {
                "id": "body.data.issueCreate.issue.id",
                "identifier": "body.data.issueCreate.issue.identifier",
                "url": "body.data.issueCreate.issue.url",
            },
            # GraphQL answers 200 with {"errors": […]} when the operation failed.
            "fail_when": "body.errors",
            "error_message": "body.errors.0.message",
            # When these come in a 200 answer, they are what their words say.
            "error_statuses": {"Authentication required, not authenticated": 401, "Rate limit exceeded": 429},
        },
    ),
)
