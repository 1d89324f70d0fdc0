"""Component API routes: ``/api/v1/components/…`` and ``/api/v1/executions/…`` (mounted in synchronise/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path
from rest_framework.routers import SimpleRouter

from components import api
from components.marketplace import api as marketplace

router = SimpleRouter(use_regex_path=False)
router.register("components", api.ComponentViewSet, basename="api-component")
router.register("connectors", api.ConnectorViewSet, basename="api-connector")
router.register("executions", api.ExecutionViewSet, basename="api-execution")
router.register("marketplace/components", marketplace.MarketplaceComponentViewSet, basename="api-marketplace-component")
router.register("marketplace/collections", marketplace.CollectionViewSet, basename="api-marketplace-collection")
router.register("marketplace/submissions", marketplace.SubmissionViewSet, basename="api-marketplace-submission")
router.register("marketplace/status", marketplace.StatusViewSet, basename="api-marketplace-status")
router.register("projects/<int:project_pk>/credentials", api.CredentialViewSet, basename="api-credential")

urlpatterns: list[URLPattern | URLResolver] = [
    path("components/<int:pk>/run", api.RunView.as_view(), name="api-component-run"),
    *router.urls,
]
