"""The original product's ``POST /workflow/run`` (mounted at the site root in synchronise/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from workflows.api.runs import LegacyWorkflowRunView

urlpatterns: list[URLPattern | URLResolver] = [
    path("workflow/run", LegacyWorkflowRunView.as_view(), name="legacy-workflow-run"),
]
