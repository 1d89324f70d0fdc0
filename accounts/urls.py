from __future__ import annotations

from django.urls import path

from accounts.views import keys, pages, projects, team

urlpatterns = [
    path("", pages.landing, name="landing"),
    path("dashboard/", pages.dashboard, name="dashboard"),
    path("dashboard/panels/<slug:name>/", pages.dashboard_panel, name="dashboard_panel"),
    path("connect/", keys.connect, name="connect"),
    path("projects/", projects.project_list, name="project_list"),
    path("projects/new/", projects.project_create, name="project_create"),
    path("projects/<int:pk>/", projects.project_detail, name="project_detail"),
    path("projects/<int:pk>/header/", projects.project_header, name="project_header"),
    path("projects/<int:pk>/delete/", projects.project_delete, name="project_delete"),
    path("projects/<int:pk>/join/", projects.project_join, name="project_join"),
    path("projects/<int:pk>/team/", team.project_team, name="project_team"),
    path("projects/<int:pk>/team/invite/", team.member_invite, name="project_member_invite"),
    path("projects/<int:pk>/team/<int:user_id>/permission/", team.member_permission, name="project_member_permission"),
    path("projects/<int:pk>/team/<int:user_id>/remove/", team.member_remove, name="project_member_remove"),
    path(
        "projects/<int:pk>/invitations/<int:invitation_id>/cancel/",
        team.invitation_cancel,
        name="project_invitation_cancel",
    ),
    path("projects/<int:pk>/transfer/", team.project_transfer, name="project_transfer"),
    path("projects/<int:pk>/leave/", team.project_leave, name="project_leave"),
    path("projects/<int:pk>/keys/", keys.project_keys, name="project_keys"),
    path("projects/<int:pk>/keys/secret/", keys.secret_key_create, name="project_secret_key_create"),
    path("projects/<int:pk>/keys/publishable/", keys.publishable_key_create, name="project_publishable_key_create"),
    path(
        "projects/<int:pk>/keys/publishable/origins/",
        keys.publishable_key_origins,
        name="project_publishable_key_origins",
    ),
    path("projects/<int:pk>/keys/<int:key_id>/revoke/", keys.api_key_revoke, name="project_key_revoke"),
    path("projects/<int:pk>/connect/", keys.project_connect, name="project_connect"),
]
