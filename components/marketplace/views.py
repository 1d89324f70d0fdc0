"""The public marketplace pages (no sign-in needed to read), "Use this component" (sign in, pick a
project, fork), and the Marketplace tab of a component (submit; the state and the validator's
reason; a fork's "update available"). Writes go through ``components.marketplace.services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Permission, Project
from accounts.views.access import signed_in
from accounts.views.pages import projects_of
from components import connectors
from components import services as component_services
from components.marketplace import queries, services
from components.marketplace.api import component_status
from components.marketplace.models import Listing
from components.views import _editor_context, member_component


def _editable(request: HttpRequest) -> list[Project]:
    return [p for p in projects_of(request) if p.my_permission in (Permission.EDIT, Permission.OWN)]  # type: ignore[attr-defined]


def _lists(request: HttpRequest) -> dict[str, Any]:
    """The home's lists: the search results when there is a query, else the sections."""
    q = request.GET.get("q", "").strip()[:200]
    if q:
        return {"q": q, "results": list(queries.public_listings(q=q)[:100])}
    return {
        "q": "",
        "collections": queries.collections(),
        "official": queries.official(),
        "latest": list(queries.public_listings()[: queries.SECTION_SIZE]),
        "popular": list(queries.public_listings(order=queries.POPULAR)[: queries.SECTION_SIZE]),
    }


@require_GET
def marketplace_home(request: HttpRequest) -> HttpResponse:
    return render(request, "components/marketplace/home.html", _lists(request))


@require_GET
def marketplace_lists(request: HttpRequest) -> HttpResponse:
    """The home's lists alone, fetched again when the marketplace changes (``listMarketplace``)."""
    return render(request, "components/marketplace/partials/lists.html", _lists(request))


@require_GET
def marketplace_tag(request: HttpRequest, tag: str) -> HttpResponse:
    listings = list(queries.public_listings(tag=tag))
    return render(request, "components/marketplace/listings.html", {"title": f"Tagged “{tag}”", "listings": listings})


@require_GET
def marketplace_publisher(request: HttpRequest, pk: int) -> HttpResponse:
    listings = list(queries.public_listings(publisher=pk))
    if not listings:
        raise Http404("No such publisher.")
    publisher = listings[0].project
    context = {"title": publisher.name, "lead": publisher.description, "listings": listings, "publisher": publisher}
    return render(request, "components/marketplace/listings.html", context)


def _public(pk: int) -> Listing:
    return get_object_or_404(Listing.objects.public(), pk=pk)


@require_GET
def marketplace_component(request: HttpRequest, pk: int) -> HttpResponse:
    listing = _public(pk)
    context = {"listing": listing, "detail": queries.listing_detail(listing)}
    return render(request, "components/marketplace/component.html", context)


class ProjectChoiceForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.none(), empty_label=None, label="Project")

    def __init__(self, *args: Any, projects: list[Project], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.filter(pk__in=[p.pk for p in projects])  # type: ignore[attr-defined]


@login_required
@require_http_methods(["GET", "POST"])
def marketplace_use(request: HttpRequest, pk: int) -> HttpResponse:
    """Pick one of your projects (``edit``) and fork the component into it."""
    listing = _public(pk)
    projects = _editable(request)
    form = ProjectChoiceForm(request.POST or None, projects=projects)
    if request.method == "POST" and form.is_valid():
        try:
            component, created = services.component_fork(
                listing=listing, project=form.cleaned_data["project"], actor=signed_in(request)
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if created:
                messages.success(request, f"Forked “{listing.name}” into {component.project.name}.")
            else:
                messages.info(request, f"{component.project.name} has this component already.")
            return redirect("components_editor", component.pk)
    context = {"listing": listing, "form": form, "projects": projects, "title": listing.name}
    return render(request, "components/marketplace/use.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def marketplace_install(request: HttpRequest, name: str) -> HttpResponse:
    """The Official collection's "Use": install the connector into one of your projects."""
    connector = connectors.get(name)
    if connector is None:
        raise Http404("No such connector.")
    projects = _editable(request)
    form = ProjectChoiceForm(request.POST or None, projects=projects)
    if request.method == "POST" and form.is_valid():
        component, _ = component_services.connector_install(
            project=form.cleaned_data["project"], actor=signed_in(request), name=connector.name
        )
        messages.success(request, f"“{component.name}” is in {component.project.name}.")
        return redirect("components_editor", component.pk)
    context = {"connector": connector, "form": form, "projects": projects, "title": connector.title}
    return render(request, "components/marketplace/use.html", context)


class SubmitForm(forms.Form):
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)
    tags = forms.CharField(required=False, max_length=500, help_text="Words separated by commas.")
    icon = forms.CharField(required=False, max_length=32, help_text="An emoji or a short name.")
    closed_source = forms.BooleanField(
        required=False, label="Closed source", help_text="Show only the interface: the code stays private, and runs."
    )


@login_required
@require_http_methods(["GET", "POST"])
def component_marketplace(request: HttpRequest, pk: int) -> HttpResponse:
    """The component's Marketplace tab: its state and the validator's reason, and the submit form;
    for a fork, its parent and "update available"."""
    needed = Permission.EDIT if request.method == "POST" else Permission.VIEW
    component, membership = member_component(request, pk, needed)
    status = component_status(component)
    listing = getattr(component, "listing", None)
    # A resubmission starts from what was sent last time: the author fixes, rarely rewrites.
    last = listing.latest_submission() if listing is not None else None
    initial = {
        "description": last.description if last else component.description,
        "tags": ", ".join((last.tags if last else component.tags) or []),
        "icon": last.icon if last else component.icon,
        "closed_source": last.closed_source if last else False,
    }
    form = SubmitForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.listing_submit(
                component=component,
                actor=signed_in(request),
                description=data["description"],
                tags=[t for t in data["tags"].split(",") if t.strip()],
                icon=data["icon"],
                closed_source=data["closed_source"],
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            messages.success(request, "Submitted: a validator will review it.")
            return redirect("components_marketplace", component.pk)
    context = {**_editor_context(component, membership, "marketplace"), "status": status, "form": form}
    return render(request, "components/marketplace/component_tab.html", context)


@login_required
@require_POST
def component_fork_update(request: HttpRequest, pk: int) -> HttpResponse:
    component, _ = member_component(request, pk, Permission.EDIT)
    try:
        services.fork_update(component=component, actor=signed_in(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Updated to the newest version.")
    return redirect("components_marketplace", component.pk)


@login_required
@require_POST
def component_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    component, _ = member_component(request, pk, Permission.EDIT)
    try:
        services.listing_withdraw(component=component, actor=signed_in(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Withdrawn: the component is private again.")
    return redirect("components_marketplace", component.pk)
