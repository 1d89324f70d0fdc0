"""Workflow API routes under ``/api/v1/`` (mounted in synchronise/urls.py): ``workflows/…``,
``workflows/{id}/run`` and ``workflow-executions/…``."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from workflows.api.executions import WorkflowExecutionViewSet
from workflows.api.runs import WorkflowRunView
from workflows.api.workflows import WorkflowViewSet

# Resource URLs end with a slash, as DRF's routers and the components API have them; the run
# endpoint does not, as the components' run endpoint does not.
router = SimpleRouter(use_regex_path=False)
router.register("workflows", WorkflowViewSet, basename="api-workflow")
router.register("workflow-executions", WorkflowExecutionViewSet, basename="api-workflow-execution")

urlpatterns: list[URLPattern | URLResolver] = [
    path("workflows/<int:pk>/run", WorkflowRunView.as_view(), name="api-workflow-run"),
    *router.urls,
]
