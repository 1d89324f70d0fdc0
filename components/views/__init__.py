"""The component pages (``pages``) and the editor's JSON endpoints for HTTP components (``http``).

Names other apps import (``member_component``, ``_editor_context``, ``project_credentials``) stay
importable from ``components.views``.
"""

from __future__ import annotations

from components.views.http import component_http_curl, component_http_test
from components.views.pages import (
    _editor_context,
    component_create,
    component_delete,
    component_duplicate,
    component_editor,
    component_export,
    component_list,
    component_project_list,
    component_settings,
    component_syntax,
    component_versions,
    member_component,
    project_credentials,
)

__all__ = [
    "_editor_context",
    "component_create",
    "component_delete",
    "component_duplicate",
    "component_editor",
    "component_export",
    "component_http_curl",
    "component_http_test",
    "component_list",
    "component_project_list",
    "component_settings",
    "component_syntax",
    "component_versions",
    "member_component",
    "project_credentials",
]
