"""The component pages (``/components/…``), mounted in synchronise/urls.py; the API is in components/urls.py."""

from __future__ import annotations

from django.urls import path

from components import views
from components.marketplace import views as marketplace

urlpatterns = [
    path("", views.component_list, name="components_home"),
    path("new/", views.component_create, name="components_create"),
    path("projects/<int:project_pk>/", views.component_project_list, name="components_project_list"),
    path("<int:pk>/", views.component_editor, name="components_editor"),
    path("<int:pk>/syntax/", views.component_syntax, name="components_syntax"),
    path("<int:pk>/http/curl/", views.component_http_curl, name="components_http_curl"),
    path("<int:pk>/http/test/", views.component_http_test, name="components_http_test"),
    path("<int:pk>/versions/", views.component_versions, name="components_versions"),
    path("<int:pk>/settings/", views.component_settings, name="components_settings"),
    path("<int:pk>/export/", views.component_export, name="components_export"),
    path("<int:pk>/duplicate/", views.component_duplicate, name="components_duplicate"),
    path("<int:pk>/delete/", views.component_delete, name="components_delete"),
    path("<int:pk>/marketplace/", marketplace.component_marketplace, name="components_marketplace"),
    path("<int:pk>/marketplace/update/", marketplace.component_fork_update, name="components_fork_update"),
    path("<int:pk>/marketplace/withdraw/", marketplace.component_withdraw, name="components_withdraw"),
]
