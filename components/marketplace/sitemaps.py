"""``/sitemap.xml``: the public marketplace pages (home, components, tags, publishers)."""

from __future__ import annotations

from typing import Any

from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps.views import sitemap
from django.contrib.sites.requests import RequestSite
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from components.marketplace import queries
from components.marketplace.models import Listing


class OnThisHost:
    """Addresses on the host the sitemap was asked on: the ``Site`` row (for allauth's mails) is
    not kept in line with where the platform is served."""

    def __init__(self, request: HttpRequest) -> None:
        self.request_site = RequestSite(request)

    def get_urls(self, page: Any = 1, site: Any = None, protocol: Any = None) -> Any:
        return super().get_urls(page=page, site=self.request_site, protocol=protocol)  # type: ignore[misc]


class MarketplaceHomeSitemap(Sitemap[str]):
    changefreq = "daily"

    def items(self) -> list[str]:
        return ["marketplace_home"]

    def location(self, item: str) -> str:
        return reverse(item)


class ListingSitemap(Sitemap[Listing]):
    changefreq = "weekly"

    def items(self) -> Any:
        return queries.public_listings().order_by("id")

    def location(self, item: Listing) -> str:
        return reverse("marketplace_component", args=[item.pk])

    def lastmod(self, item: Listing) -> Any:
        return item.approved_at


class TagSitemap(Sitemap[str]):
    def items(self) -> list[str]:
        return sorted({tag for tags in Listing.objects.public().values_list("tags", flat=True) for tag in tags})

    def location(self, item: str) -> str:
        return reverse("marketplace_tag", args=[item])


class PublisherSitemap(Sitemap[int]):
    def items(self) -> list[int]:
        return sorted(set(Listing.objects.public().values_list("project_id", flat=True)))

    def location(self, item: int) -> str:
        return reverse("marketplace_publisher", args=[item])


SITEMAPS: dict[str, type[Sitemap[Any]]] = {
    "marketplace": MarketplaceHomeSitemap,
    "components": ListingSitemap,
    "tags": TagSitemap,
    "publishers": PublisherSitemap,
}


def sitemap_view(request: HttpRequest) -> HttpResponse:
    """``/sitemap.xml``."""
    bound = {name: type(name, (OnThisHost, cls), {})(request) for name, cls in SITEMAPS.items()}
    return sitemap(request, sitemaps=bound)
