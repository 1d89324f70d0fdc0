"""The marketplace pages (``/marketplace/…``), mounted in synchronise/urls.py; the API is in components/urls.py."""

from __future__ import annotations

from django.urls import path

from components.marketplace import views

urlpatterns = [
    path("", views.marketplace_home, name="marketplace_home"),
    path("lists/", views.marketplace_lists, name="marketplace_lists"),
    path("tags/<str:tag>/", views.marketplace_tag, name="marketplace_tag"),
    path("publishers/<int:pk>/", views.marketplace_publisher, name="marketplace_publisher"),
    path("components/<int:pk>/", views.marketplace_component, name="marketplace_component"),
    path("components/<int:pk>/use/", views.marketplace_use, name="marketplace_use"),
    path("official/<slug:name>/use/", views.marketplace_install, name="marketplace_install"),
]
