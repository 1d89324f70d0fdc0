"""Notion (https://developers.notion.com/reference): pages."""

from __future__ import annotations

from components.connectors import Connector

TEXT = {"type": "text"}

# The page's content: one paragraph of text, or none. (No "}}" inside: it would end the expression.)
CHILDREN = (
    "{{ [{'object': 'block', 'type': 'paragraph', 'paragraph': {'rich_text': "
    "[{'type': 'text', 'text': {'content': inputs.content} }]} }] if inputs.content else [] }}"
)

CONNECTORS = (
    Connector(
        name="notion-create-page",
        title="Notion: create a page",
        icon="📝",
        provider="Notion",
        base_url="https://api.notion.com",
        docs="https://developers.notion.com/reference/post-page",
        description=(
            "Creates a page under a page or in a database (a row whose title property is set), with an "
            "optional paragraph of text; the integration must have access to the parent."
        ),
        tags=["notion", "docs", "database", "business"],
        inputs=[
            {
                "name": "token",
                "type": "secret",
                "description": "An integration's secret (ntn_… / secret_…), a credential",
            },
            {"name": "parent_id", **TEXT, "description": "The parent page's or database's id"},
            {
                "name": "parent_type",
                **TEXT,
                "optional": True,
                "default": "page_id",
                "description": "page_id, or database_id for a database row",
            },
            {"name": "title", **TEXT},
            {
                "name": "title_property",
                **TEXT,
                "optional": True,
                "default": "title",
                "description": "The database's title property (Name, Task…); title under a page",
            },
            {"name": "content", **TEXT, "optional": True, "default": "", "description": "A paragraph of text"},
        ],
        outputs=[
            {"name": "id", **TEXT},
            {"name": "url", "type": "text", "subtype": "url"},
            {"name": "created_time", **TEXT},
        ],
        http={
            "method": "POST",
            "url": "https://api.notion.com/v1/pages",
            "headers": {"Authorization": "Bearer {{ inputs.token }}", "Notion-Version": "2022-06-28"},
            "body": {
                "type": "json",
                "value": {
                    "parent": {"{{ inputs.parent_type }}": "{{ inputs.parent_id }}"},
                    "properties": {
                        "{{ inputs.title_property }}": {"title": [{"text": {"content": "{{ inputs.title }}"}}]}
                    },
                    "children": CHILDREN,
                },
            },
            "outputs": {"id": "body.id", "url": "body.url", "created_time": "body.created_time"},
            "error_message": "body.message",
        },
    ),
)
