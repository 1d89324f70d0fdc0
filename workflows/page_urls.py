"""The workflow pages (``/workflows/…``), mounted in synchronise/urls.py; the API is in workflows/urls.py."""

from __future__ import annotations

from django.urls import path

from workflows.views import editor, executions, lists, tabs

urlpatterns = [
    path("", lists.workflow_list, name="workflows_home"),
    path("new/", lists.workflow_create, name="workflows_create"),
    path("import/", lists.workflow_import, name="workflows_import"),
    path("projects/<int:project_pk>/", lists.workflow_project_list, name="workflows_project_list"),
    path("projects/<int:project_pk>/executions/", executions.project_executions, name="workflows_project_executions"),
    path(
        "projects/<int:project_pk>/executions/rows/",
        executions.project_executions_rows,
        name="workflows_project_executions_rows",
    ),
    # One workflow, tab by tab
    path("<int:pk>/", editor.workflow_editor, name="workflows_editor"),
    path("<int:pk>/definition/", editor.workflow_definition, name="workflows_definition"),
    path("<int:pk>/publish/", editor.workflow_publish, name="workflows_publish"),
    path("<int:pk>/versions/", editor.workflow_versions, name="workflows_versions"),
    path("<int:pk>/run/", editor.workflow_run, name="workflows_run"),
    path("<int:pk>/settings/", tabs.workflow_settings, name="workflows_settings"),
    path("<int:pk>/triggers/", tabs.workflow_triggers, name="workflows_triggers"),
    path("<int:pk>/triggers/schedule-preview/", tabs.schedule_preview, name="workflows_schedule_preview"),
    path("<int:pk>/export/", tabs.workflow_export, name="workflows_export"),
    path("<int:pk>/executions/", executions.workflow_executions, name="workflows_executions"),
    path("<int:pk>/executions/rows/", executions.workflow_executions_rows, name="workflows_executions_rows"),
    path("<int:pk>/executions/rerun-failed/", executions.workflow_rerun_failed, name="workflows_rerun_failed"),
    path("<int:pk>/duplicate/", lists.workflow_duplicate, name="workflows_duplicate"),
    path("<int:pk>/delete/", lists.workflow_delete, name="workflows_delete"),
    # One execution
    path("executions/<int:pk>/", executions.execution_detail, name="workflows_execution"),
    path("executions/<int:pk>/timeline/", executions.execution_timeline, name="workflows_execution_timeline"),
    path("executions/<int:pk>/progress/", executions.execution_progress, name="workflows_execution_progress"),
    path("executions/<int:pk>/cancel/", executions.execution_cancel, name="workflows_execution_cancel"),
    path("executions/<int:pk>/replay/", executions.execution_replay, name="workflows_execution_replay"),
    path("executions/<int:pk>/restart/", executions.execution_restart, name="workflows_execution_restart"),
]
