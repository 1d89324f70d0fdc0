"""The component pages: the list grouped by project, the editor (Code / Settings / Export) and deletion.

Views are thin: they find the component through the user's membership (non-members get 404, members
without ``edit`` a 403 on writes) and change it through ``components.services`` via the forms. The
editor's JavaScript saves, runs and publishes through the REST API (``/api/v1/components/…``).
"""

from __future__ import annotations

import json
from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.authentication import PUBLIC_KEY_HEADER
from accounts.models import Membership, Permission, Project
from accounts.views.access import member_project, signed_in
from accounts.views.keys import publishable_key_of
from accounts.views.pages import projects_of
from components import services
from components.forms import ComponentCreateForm, ComponentSettingsForm, CredentialForm
from components.marketplace.models import code_hidden
from components.models import Component, Credential, Kind
from components.types import TYPES
from components.usage import ComponentInUse, component_uses


def member_component(request: HttpRequest, pk: int, needed: str = Permission.VIEW) -> tuple[Component, Membership]:
    """The component and the user's membership of its project: ``Http404`` for non-members (and
    unknown ids), ``PermissionDenied`` when the membership does not allow ``needed``."""
    component = Component.objects.select_related("project").filter(pk=pk).first()
    if component is None:
        raise Http404("No such component.")
    _, membership = member_project(request, component.project_id, needed)
    return component, membership


def _can_edit(project: Project) -> bool:
    """For projects from ``projects_of``, which carry the user's ``my_permission``."""
    return Membership(permission=project.my_permission).allows(Permission.EDIT)  # type: ignore[attr-defined]


def _editable_projects(projects: list[Project]) -> list[Project]:
    return [project for project in projects if _can_edit(project)]


def _groups(projects: list[Project]) -> list[tuple[Project, list[Component], bool]]:
    """Each project with its components and whether the user may edit them (two queries in all)."""
    by_project: dict[int, list[Component]] = defaultdict(list)
    for component in Component.objects.filter(project__in=projects):
        by_project[component.project_id].append(component)
    return [(project, by_project[project.pk], _can_edit(project)) for project in projects]


@login_required
@require_GET
def component_list(request: HttpRequest) -> HttpResponse:
    projects = projects_of(request)
    groups = _groups(projects)
    editable = _editable_projects(projects)
    form = ComponentCreateForm(projects=editable, initial={"project": editable[0].pk if editable else None})
    return render(request, "components/component_list.html", {"groups": groups, "form": form, "editable": editable})


@login_required
@require_GET
def component_project_list(request: HttpRequest, project_pk: int) -> HttpResponse:
    """One project's components alone, fetched again when they change (``listComponents``)."""
    project, membership = member_project(request, project_pk, Permission.VIEW)
    components = project.components.all()
    return render(
        request,
        "components/partials/project_components.html",
        {"project": project, "components": components, "can_edit": membership.allows(Permission.EDIT)},
    )


@login_required
@require_POST
def component_create(request: HttpRequest) -> HttpResponse:
    projects = _editable_projects(projects_of(request))
    form = ComponentCreateForm(request.POST, projects=projects)
    if form.is_valid():
        component = form.create(actor=signed_in(request))
        if component is not None:
            messages.success(request, f"Component “{component.name}” created.")
            return redirect("components_editor", component.pk)
    context = {"groups": _groups(projects_of(request)), "form": form, "editable": projects}
    return render(request, "components/component_list.html", context, status=400)


@login_required
@require_POST
def component_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    component, _ = member_component(request, pk, Permission.EDIT)
    try:
        copy = services.component_duplicate(component=component, actor=signed_in(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("components_editor", component.pk)
    messages.success(request, f"Copied to “{copy.name}”.")
    return redirect("components_editor", copy.pk)


@login_required
@require_http_methods(["GET", "POST"])
def component_delete(request: HttpRequest, pk: int) -> HttpResponse:
    component, membership = member_component(request, pk, Permission.EDIT)
    if request.method == "POST":
        try:
            services.component_delete(component=component, actor=signed_in(request))
        except ComponentInUse as refused:
            messages.error(request, f"“{component.name}” was not deleted: {refused.message}.")
        else:
            messages.success(request, f"Component “{component.name}” deleted.")
            return redirect("components_home")
    uses = component_uses(component)  # named on the page: what deleting it would break, or leave with a problem
    context = {**_editor_context(component, membership, "delete"), "uses": uses}
    return render(request, "components/component_delete.html", {**context, "blocked": any(u.blocking for u in uses)})


def _editor_context(component: Component, membership: Membership, tab: str) -> dict[str, object]:
    return {
        "component": component,
        "project": component.project,
        "can_edit": membership.allows(Permission.EDIT),
        "tab": tab,
        "versions": component.versions.order_by("-number"),
        "code_hidden": code_hidden(component),
    }


@login_required
@require_GET
def component_editor(request: HttpRequest, pk: int) -> HttpResponse:
    """The Code tab: interface, code, run panel and versions (the page script saves through the API)."""
    component, membership = member_component(request, pk, Permission.VIEW)
    context = _editor_context(component, membership, "code")
    hidden = context["code_hidden"]  # a closed-source marketplace fork: runs, never shows its code
    config: dict[str, object] = {
        "id": component.pk,
        "kind": component.kind,
        "code": "" if hidden else component.code,
        "http": json.dumps(component.http, indent=2) if component.http and not hidden else "{}",
        "inputs": component.inputs,
        "outputs": component.outputs,
        "canEdit": context["can_edit"] and not hidden,
        "types": {name: list(subtypes) for name, (_, subtypes) in TYPES.items()},
        "apiUrl": reverse("api-component-detail", args=[component.pk]),
        "runUrl": reverse("api-component-run", args=[component.pk]) + "?version=draft",
        "syntaxUrl": reverse("components_syntax", args=[component.pk]),
        "syntaxError": services.syntax_error(component.code) if component.kind == Kind.CODE and not hidden else None,
    }
    context["editor_config"] = config
    if component.kind == Kind.HTTP:
        config.update(
            {
                "curlUrl": reverse("components_http_curl", args=[component.pk]),
                "testUrl": reverse("components_http_test", args=[component.pk]),
                # Names only, for completion and the auth picker: values never leave the server.
                "credentials": [
                    {"name": name, "kind": kind}
                    for name, kind in component.project.credentials.order_by("name").values_list("name", "kind")
                ],
                "credentialsUrl": reverse("project_credentials", args=[component.project_id]),
            }
        )
    return render(request, "components/component_code.html", context)


@login_required
@require_GET
def component_syntax(request: HttpRequest, pk: int) -> JsonResponse:
    """``{"error": {line, col, message} | null}`` for the saved draft's code (nothing is executed)."""
    component, _ = member_component(request, pk, Permission.VIEW)
    hidden = code_hidden(component)
    error = services.syntax_error(component.code) if component.kind == Kind.CODE and not hidden else None
    return JsonResponse({"error": error})


@login_required
@require_GET
def component_versions(request: HttpRequest, pk: int) -> HttpResponse:
    """The version list alone, fetched again when the component changes (``loadComponent``)."""
    component, membership = member_component(request, pk, Permission.VIEW)
    return render(request, "components/partials/versions.html", _editor_context(component, membership, "code"))


@login_required
@require_http_methods(["GET", "POST"])
def component_settings(request: HttpRequest, pk: int) -> HttpResponse:
    needed = Permission.EDIT if request.method == "POST" else Permission.VIEW
    component, membership = member_component(request, pk, needed)
    context = _editor_context(component, membership, "settings")
    form = ComponentSettingsForm(
        request.POST or None,
        initial=ComponentSettingsForm.initial_of(component),
        read_only=not context["can_edit"],
    )
    if request.method == "POST" and form.is_valid() and form.save(component=component, actor=signed_in(request)):
        messages.success(request, "Settings saved.")
        return redirect("components_settings", component.pk)
    return render(request, "components/component_settings.html", {**context, "form": form})


@login_required
@require_GET
def component_export(request: HttpRequest, pk: int) -> HttpResponse:
    component, membership = member_component(request, pk, Permission.VIEW)
    key = publishable_key_of(component.project)
    publishable = f"{key.prefix}…" if key else "pk_…"
    example = {spec["name"]: _example_value(spec["type"]) for spec in component.inputs}
    context = _editor_context(component, membership, "export")
    context.update(
        {
            "publishable": publishable,
            "has_key": key is not None,
            "base_url": request.build_absolute_uri("/").rstrip("/"),
            "inputs_json": json.dumps(example),
            "legacy_json": json.dumps({"id": component.pk, **example}),
            "python_inputs": repr(example),
            "header": PUBLIC_KEY_HEADER,
        }
    )
    return render(request, "components/component_export.html", context)


def _example_value(type_name: str) -> object:
    return {"number": 1, "bool": True, "json": {}, "list": [], "date": "2026-01-01"}.get(type_name, "text")


@login_required
@require_http_methods(["GET", "POST"])
def project_credentials(request: HttpRequest, pk: int) -> HttpResponse:
    """A project's credentials: names for every member; editors set and delete (values are write-only)."""
    from accounts.views.projects import tab_context
    from components import credentials

    project, membership = member_project(request, pk, Permission.VIEW)
    form = CredentialForm(request.POST or None)
    if request.method == "POST":
        member_project(request, pk, Permission.EDIT)  # 403 for viewers
        if "delete" in request.POST:
            try:
                credentials.credential_delete(project=project, actor=signed_in(request), name=request.POST["delete"])
            except Credential.DoesNotExist:
                raise Http404("No such credential.") from None
            messages.success(request, f"Credential {request.POST['delete']} deleted.")
            return redirect("project_credentials", project.pk)
        if form.is_valid():
            try:
                credentials.credential_set(project=project, actor=signed_in(request), **form.cleaned_data)
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                messages.success(request, f"Credential {form.cleaned_data['name']} saved.")
                return redirect("project_credentials", project.pk)
    from components.oauth2.views import ConnectForm

    context = {
        **tab_context(project, membership, "credentials"),
        "form": form,
        "credentials": project.credentials.select_related("oauth2").order_by("name"),
        "connect_form": ConnectForm() if membership.allows(Permission.EDIT) else None,
    }
    return render(request, "components/project_credentials.html", context)
