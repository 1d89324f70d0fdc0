"""Pages of OAuth2 credentials, mounted at the site's root in synchronise/urls.py."""

from __future__ import annotations

from django.urls import path

from components.oauth2 import views

urlpatterns = [
    path("projects/<int:pk>/credentials/connect/", views.oauth2_connect, name="oauth2_connect"),
    path(
        "projects/<int:pk>/credentials/<str:name>/disconnect/",
        views.oauth2_disconnect_view,
        name="oauth2_disconnect",
    ),
    # The redirect URI to register with every provider: <site>/oauth2/callback/
    path("oauth2/callback/", views.oauth2_callback, name="oauth2_callback"),
]
