"""GitLab (REST API v4, https://docs.gitlab.com/api/): GitLab.com or a self-managed instance."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

CONNECTORS = (
    Connector(
        name="gitlab-create-issue",
        title="GitLab: create an issue",
        icon="🦊",
        provider="GitLab",
        # No fixed base URL: the instance is an input (GitLab.com by default).
        docs="https://docs.gitlab.com/api/issues/#new-issue",
        description="Opens an issue in a GitLab project, on GitLab.com or a self-managed instance.",
        tags=["gitlab", "issues", "developer"],
        inputs=[
            {"name": "token", "type": "secret", "description": "A personal, project or group access token (api scope)"},
            {"name": "project", **TEXT, "description": "The project's id or full path (group/project)"},
            {"name": "title", **TEXT},
            {"name": "description", **TEXT, "optional": True, "default": "", "description": "Markdown"},
            {"name": "labels", **TEXT, "optional": True, "default": "", "description": "Comma-separated label names"},
            {
                "name": "instance_url",
                "type": "text",
                "subtype": "url",
                "optional": True,
                "default": "https://gitlab.com",
                "description": "The GitLab instance",
            },
        ],
        outputs=[
            {"name": "id", "type": "number", "subtype": "integer"},
            {"name": "iid", "type": "number", "subtype": "integer", "description": "The issue's number in its project"},
            {"name": "url", "type": "text", "subtype": "url"},
        ],
        http={
            "method": "POST",
            # A path's slashes are encoded: group/project → group%2Fproject.
            "url": (
                "{{ inputs.instance_url.rstrip('/') }}/api/v4/projects/"
                "{{ inputs.project|urlencode|replace('/', '%2F') }}/issues"
            ),
            "headers": {"Authorization": "Bearer {{ inputs.token }}"},
            "body": {
                "type": "json",
                "value": {
                    "title": "{{ inputs.title }}",
                    "description": "{{ inputs.description }}",
                    "labels": "{{ inputs.labels }}",
                },
            },
            "outputs": {"id": "body.id", "iid": "body.iid", "url": "body.web_url"},
            "error_message": "body.message",
        },
    ),
)
