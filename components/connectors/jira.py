"""Jira Cloud (REST API v3, https://developer.atlassian.com/cloud/jira/platform/rest/v3/)."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

# The description in Atlassian Document Format: one paragraph, or an empty document.
DESCRIPTION = (
    "{{ {'type': 'doc', 'version': 1, 'content': ([{'type': 'paragraph', 'content': "
    "[{'type': 'text', 'text': inputs.description}]}] if inputs.description else [])} }}"
)

CONNECTORS = (
    Connector(
        name="jira-create-issue",
        title="Jira: create an issue",
        icon="🎫",
        provider="Jira",
        # No fixed base URL: each Jira Cloud site has its own (https://your-domain.atlassian.net).
        docs="https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post",
        description=(
            "Creates an issue (a task, a bug, a story…) in a Jira Cloud project, signed in with an "
            "Atlassian account's email and API token."
        ),
        tags=["jira", "atlassian", "issues", "developer"],
        inputs=[
            {
                "name": "site_url",
                "type": "text",
                "subtype": "url",
                "description": "Your Jira site, e.g. https://your-domain.atlassian.net",
            },
            {"name": "email", "type": "text", "subtype": "email", "description": "The Atlassian account's email"},
            {"name": "api_token", "type": "secret", "description": "The account's API token, a credential"},
            {"name": "project_key", **TEXT, "description": "e.g. ENG"},
            {"name": "summary", **TEXT, "description": "The issue's title"},
            {"name": "issue_type", **TEXT, "optional": True, "default": "Task", "description": "Task, Bug, Story…"},
            {"name": "description", **TEXT, "optional": True, "default": "", "description": "Plain text"},
            {"name": "labels", "type": "list", "subtype": "text", "optional": True, "default": []},
        ],
        outputs=[
            {"name": "id", **TEXT},
            {"name": "key", **TEXT, "description": "e.g. ENG-24"},
            {"name": "api_url", "type": "text", "subtype": "url", "description": "The issue in the REST API"},
        ],
        http={
            "method": "POST",
            "url": "{{ inputs.site_url.rstrip('/') }}/rest/api/3/issue",
            "auth": {"type": "basic", "username": "{{ inputs.email }}", "credential": "{{ inputs.api_token }}"},
            "headers": {"Accept": "application/json"},
            "body": {
                "type": "json",
                "value": {
                    "fields": {
                        "project": {"key": "{{ inputs.project_key }}"},
                        "issuetype": {"name": "{{ inputs.issue_type }}"},
                        "summary": "{{ inputs.summary }}",
                        "description": DESCRIPTION,
                        "labels": "{{ inputs.labels }}",
                    }
                },
            },
            "outputs": {"id": "body.id", "key": "body.key", "api_url": "body.self"},
            # Field errors come as {"errors": {"summary": "…"}}, others as {"errorMessages": ["…"]}.
            "error_message": "body.errors",
        },
    ),
)
