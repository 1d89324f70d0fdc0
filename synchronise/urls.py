from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from components.api import LegacyRunView
from components.marketplace.sitemaps import sitemap_view
from components.views import project_credentials
from realtime.api import CloudFunctionView
from synchronise import docs_site
from synchronise.favicon import favicon
from synchronise.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("superadmin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/cloud/<str:name>", CloudFunctionView.as_view(), name="cloud_function"),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("components.urls")),
    path("api/v1/", include("workflows.urls")),
    path("api/v1/", include("workflows.trigger_urls")),
    path("hooks/", include("workflows.hook_urls")),
    # The original product's route, kept for its clients.
    path("component/run", LegacyRunView.as_view(), name="legacy-component-run"),
    path("", include("workflows.legacy_urls")),  # POST /workflow/run
    # The original browser library's addresses (/js/1.0.js, /js/1.0.min.js) serve today's client.
    re_path(
        r"^js/1\.0(?:\.min)?\.js$", serve, {"path": "synchronise.js", "document_root": settings.BASE_DIR / "static"}
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
    path("docs/", docs_site.page_view, name="docs_index"),
    path("docs/search/", docs_site.search_view, name="docs_search"),
    path("docs/<slug:slug>/", docs_site.page_view, name="docs_page"),
    path("components/", include("components.page_urls")),
    path("marketplace/", include("components.marketplace.urls")),
    path("sitemap.xml", sitemap_view, name="sitemap"),
    path("workflows/", include("workflows.page_urls")),
    path("projects/<int:pk>/credentials/", project_credentials, name="project_credentials"),
    path("", include("components.oauth2.urls")),  # Connect/Disconnect OAuth2 credentials, /oauth2/callback/
    path("", include("accounts.urls")),
]

# JSON under /api/ and /hooks/, the usual HTML pages elsewhere (synchronise/errors.py).
handler400 = "synchronise.errors.bad_request"
handler403 = "synchronise.errors.permission_denied"
handler404 = "synchronise.errors.page_not_found"
handler500 = "synchronise.errors.server_error"
