"""The marketplace's rows: a listing per submitted component, its submissions (the validation queue),
forks (copies in other projects that remember their parent) and curated collections.

Imported at the end of ``components/models.py`` so the app registry sees them.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import Project
from components.models import Component, ComponentVersion, Execution


class ListingState(models.TextChoices):
    PRIVATE = "private", "Private"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ListingQuerySet(models.QuerySet["Listing"]):
    def public(self) -> ListingQuerySet:
        """Listings with an approved version: readable by anyone, signed in or not."""
        return self.filter(approved_version__isnull=False).select_related("project", "approved_version")

    def search(self, query: str) -> ListingQuerySet:
        """Every word must appear in the name, the description or a tag."""
        found = self
        for word in query.split()[:10]:
            found = found.filter(Q(name__icontains=word) | Q(description__icontains=word) | Q(tags__icontains=word))
        return found

    def with_usage(self) -> ListingQuerySet:
        """``fork_count``, ``run_count`` (runs of the forks) and ``usage`` (their sum), for "most used"."""
        runs = (
            Execution.objects.filter(component__fork__listing=OuterRef("pk"))
            .order_by()
            .values("component__fork__listing")
            .annotate(n=Count("pk"))
            .values("n")
        )
        forks = Fork.objects.filter(listing=OuterRef("pk")).order_by().values("listing").annotate(n=Count("pk"))
        return self.annotate(
            fork_count=Coalesce(Subquery(forks.values("n")), Value(0)),
            run_count=Coalesce(Subquery(runs), Value(0)),
        ).annotate(usage=models.F("fork_count") + models.F("run_count"))


class Listing(models.Model):
    """A component offered to everyone. The public face (name, description, tags, icon, closed-source
    flag, version) is what the last approval made it; ``state`` follows the latest submission, so an
    approved listing stays public while a newer submission waits."""

    component = models.OneToOneField(Component, on_delete=models.CASCADE, related_name="listing")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="listings", help_text="The publisher.")
    state = models.CharField(max_length=10, choices=ListingState.choices, default=ListingState.PRIVATE)
    name = models.CharField(max_length=120, blank=True)
    description = models.TextField(blank=True, max_length=5000)
    tags = models.JSONField(default=list, blank=True)
    icon = models.CharField(max_length=32, blank=True)
    closed_source = models.BooleanField(default=False, help_text="Only the interface is shown; the code still runs.")
    approved_version = models.ForeignKey(
        ComponentVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ListingQuerySet.as_manager()

    class Meta:
        ordering = ("-approved_at", "-id")

    def __str__(self) -> str:
        return self.name or str(self.component)

    @property
    def is_public(self) -> bool:
        return self.approved_version_id is not None

    def latest_submission(self) -> Submission | None:
        return self.submissions.order_by("-created_at", "-id").first()


class Submission(models.Model):
    """One published version sent for validation, with the listing's text as the author wants it."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="submissions")
    version = models.ForeignKey(ComponentVersion, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(
        max_length=10,
        choices=[c for c in ListingState.choices if c[0] != ListingState.PRIVATE],
        default=ListingState.SUBMITTED,
        db_index=True,
    )
    name = models.CharField(max_length=120)
    description = models.TextField(max_length=5000)
    tags = models.JSONField(default=list, blank=True)
    icon = models.CharField(max_length=32, blank=True)
    closed_source = models.BooleanField(default=False)
    reason = models.TextField(blank=True, max_length=2000, help_text="Why it was rejected.")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.name} v{self.version.number} ({self.state})"


class Fork(models.Model):
    """What makes a component of some project a fork: its parent listing and the version it copies.

    ``closed_source`` is copied from the listing and kept even if the listing goes, so the code of a
    closed-source fork never becomes readable to the forker."""

    component = models.OneToOneField(Component, on_delete=models.CASCADE, related_name="fork")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    listing = models.ForeignKey(Listing, null=True, on_delete=models.SET_NULL, related_name="forks")
    version = models.ForeignKey(ComponentVersion, null=True, on_delete=models.SET_NULL, related_name="+")
    version_number = models.PositiveIntegerField(help_text="The parent's version number it copies.")
    closed_source = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["project", "listing"], name="one_fork_per_project")]

    def __str__(self) -> str:
        return f"fork of {self.listing_id} v{self.version_number} in {self.project_id}"

    @property
    def update_available(self) -> bool:
        """The parent has an approved version newer than the one this fork copies."""
        listing = self.listing
        if listing is None or listing.approved_version is None:
            return False
        return listing.approved_version.number > self.version_number


class Collection(models.Model):
    """A curated section of the marketplace home, managed in the superadmin by the ``marketplace`` role."""

    title = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True, max_length=2000)
    position = models.PositiveIntegerField(default=0, help_text="Lower comes first on the home page.")
    listings = models.ManyToManyField(Listing, blank=True, related_name="collections")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("position", "title")

    def __str__(self) -> str:
        return self.title


def code_hidden(component: Component) -> bool:
    """Whether the component is a closed-source fork: its code and request spec are never shown to
    anyone, its own project included (they still run)."""
    try:
        return bool(component.fork.closed_source)
    except Fork.DoesNotExist:
        return False
