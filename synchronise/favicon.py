"""``/favicon.ico``: browsers and feed readers ask for it whatever the page says; answer with the logo.

Pages name the SVG logo as their icon (``templates/base.html``); this redirect serves the
clients that ask for the old path, so it no longer answers 404 in every browser console.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    return HttpResponsePermanentRedirect(static("img/logo.svg"))
