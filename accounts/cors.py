"""Which browser origins may read the answers of the run endpoints (CORS, by django-cors-headers).

The settings (``CORS_*`` in synchronise/settings.py) limit CORS to the paths a publishable key may
use and allow no origin by themselves; the receiver below decides per request:

* a preflight (``OPTIONS`` with ``Access-Control-Request-Method``) on those paths: any origin. It
  cannot carry the key's value, only the header's name, and grants nothing by itself: the request
  that follows is checked in full.
* the request itself: only when DRF authenticated it with a publishable key whose allow-list has
  the request's ``Origin`` (``PublishableKeyAuthentication`` refuses the others with 403; this
  repeats the check so that the header never depends on that alone). Secret keys and sessions get
  no header: cross-origin they gain nothing, and no credentials are allowed anyway.

The middleware adds the headers after the view has run, when DRF has set ``request.auth`` on the
underlying ``HttpRequest`` (DRF does so on purpose, for middleware).
"""

from __future__ import annotations

import re
from typing import Any

from corsheaders.apps import CorsHeadersAppConfig
from corsheaders.signals import check_request_enabled
from django.conf import settings
from django.http import HttpRequest


def allow_publishable_key_origin(sender: Any, request: HttpRequest, **kwargs: Any) -> bool:
    """Whether the CORS headers go on this response (``check_request_enabled`` receiver)."""
    # Also asked for every other path ("is CORS enabled here?"): never widen CORS_URLS_REGEX.
    if not re.match(settings.CORS_URLS_REGEX, request.path_info):
        return False
    if request.method == "OPTIONS" and "access-control-request-method" in request.headers:
        return True
    # Imported here: this module is loaded while the app registry is still being populated.
    from accounts.models import ApiKey, ApiKeyKind

    key = getattr(request, "auth", None)
    return (
        isinstance(key, ApiKey)
        and key.kind == ApiKeyKind.PUBLISHABLE
        and key.allows_origin(request.headers.get("origin"))
    )


class CorsHeadersConfig(CorsHeadersAppConfig):
    """Installed in place of ``corsheaders`` so the receiver is connected wherever it runs."""

    def ready(self) -> None:
        super().ready()
        check_request_enabled.connect(allow_publishable_key_origin, dispatch_uid="accounts.cors")
