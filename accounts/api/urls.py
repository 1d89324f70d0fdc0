"""``/api/v1/`` (mounted by ``synchronise/urls.py``)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from accounts.api import schema, views

# Registers the OpenAPI descriptions of our authentication classes before any schema is built.
assert schema

router = SimpleRouter(use_regex_path=False)
router.register("projects", views.ProjectViewSet, basename="api-project")
router.register("projects/<int:project_pk>/members", views.MemberViewSet, basename="api-member")
router.register("projects/<int:project_pk>/invitations", views.InvitationViewSet, basename="api-invitation")
router.register("projects/<int:project_pk>/keys", views.ApiKeyViewSet, basename="api-key")

urlpatterns: list[URLPattern | URLResolver] = [
    *router.urls,
    path("usage/", views.UsageView.as_view(), name="api-usage"),
    path("me/", views.MeView.as_view(), name="api-me"),
]
