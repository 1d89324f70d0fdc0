from __future__ import annotations

from django.urls import path

from accounts.views import pages, projects

urlpatterns = [
    path("", pages.landing, name="landing"),
    path("dashboard/", pages.dashboard, name="dashboard"),
    path("projects/", projects.project_list, name="project_list"),
    path("projects/<int:pk>/", projects.project_detail, name="project_detail"),
]
