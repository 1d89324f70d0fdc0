"""The API keys tab and the "connect" page.

A new key's plaintext exists only in the response to the POST that created it: it is put
in that page's context and nowhere else (not in the session, not in a message, not in a
redirect). That response is marked ``no-store`` and rewrites its URL to the keys page, so
reloading it shows the key's prefix only.

Until its banner is dismissed ("I have saved it"), a shown key travels on with every form of
that page as a hidden ``pending`` field, so creating a secret key right after the publishable
one stacks both banners instead of losing the first (issue 15). The server shows a pending
key again only if it is an active key of this project (its digest matches); a page opened
afresh (a GET, a reload) has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from accounts import services
from accounts.forms import AllowedOriginsForm, SecretKeyForm
from accounts.models import ApiKey, ApiKeyKind, Membership, Permission, Project
from accounts.snippets import Snippet, connect_snippets
from accounts.views.access import member_project, signed_in
from accounts.views.pages import projects_of
from accounts.views.projects import tab_context

REVOKED_SHOWN = 10
PENDING_KEPT = 10  # more one-time banners than anyone creates in a row


@dataclass(frozen=True)
class Revealed:
    """A key shown in full on this page, with its "try it" snippets."""

    key: ApiKey
    plaintext: str
    snippets: list[Snippet]
    field_id: str  # "new-key" for the newest (what the first banner always had), then new-key-2…


def publishable_key_of(project: Project) -> ApiKey | None:
    return ApiKey.objects.active().filter(project=project, kind=ApiKeyKind.PUBLISHABLE).first()


def pending_of(request: HttpRequest, project: Project) -> list[tuple[ApiKey, str]]:
    """The keys this page showed and the user has not dismissed yet, if still active here."""
    found: list[tuple[ApiKey, str]] = []
    for raw in request.POST.getlist("pending")[:PENDING_KEPT]:
        key = ApiKey.objects.active().filter(project=project, digest=services.api_key_digest(raw)).first()
        if key is not None and all(key.pk != shown.pk for shown, _ in found):
            found.append((key, raw))
    return found


def revealed_of(request: HttpRequest, shown: list[tuple[ApiKey, str]]) -> list[Revealed]:
    base_url = request.build_absolute_uri("/")
    return [
        Revealed(
            key=key,
            plaintext=plaintext,
            snippets=connect_snippets(
                base_url=base_url,
                secret=plaintext if key.kind == ApiKeyKind.SECRET else None,
                publishable=plaintext if key.kind == ApiKeyKind.PUBLISHABLE else None,
            ),
            field_id="new-key" if number == 1 else f"new-key-{number}",
        )
        for number, (key, plaintext) in enumerate(shown, start=1)
    ]


def render_keys(
    request: HttpRequest,
    project: Project,
    membership: Membership,
    *,
    secret_form: SecretKeyForm | None = None,
    origins_form: AllowedOriginsForm | None = None,
    created: tuple[ApiKey, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    publishable = publishable_key_of(project)
    origins = "\n".join(publishable.allowed_origins) if publishable else ""
    keys = ApiKey.objects.filter(project=project).select_related("created_by")
    shown = [pair for pair in pending_of(request, project) if created is None or pair[0].pk != created[0].pk]
    if created is not None:
        shown.insert(0, created)
    context: dict[str, Any] = {
        **tab_context(project, membership, "keys"),
        "publishable": publishable,
        "secrets": keys.active().filter(kind=ApiKeyKind.SECRET),
        "revoked": keys.filter(revoked_at__isnull=False).order_by("-revoked_at")[:REVOKED_SHOWN],
        "secret_form": secret_form or SecretKeyForm(),
        "origins_form": origins_form or AllowedOriginsForm(initial={"allowed_origins": origins}),
        "revealed": revealed_of(request, shown),
    }
    if created is not None:
        context["created_key"], context["created_plaintext"] = created
    response = render(request, "accounts/project_keys.html", context, status=status)
    if shown:
        add_never_cache_headers(response)
    return response


def keys_page_after(request: HttpRequest, project: Project, membership: Membership) -> HttpResponse:
    """Back to the keys page after a change: a redirect, unless keys are still being shown
    (then the page itself, so their banners survive; its messages are shown at once)."""
    if pending_of(request, project):
        return render_keys(request, project, membership)
    return redirect("project_keys", project.pk)


@login_required
@require_GET
def project_keys(request: HttpRequest, pk: int) -> HttpResponse:
    project, membership = member_project(request, pk)
    return render_keys(request, project, membership)


@login_required
@require_POST
def secret_key_create(request: HttpRequest, pk: int) -> HttpResponse:
    project, membership = member_project(request, pk, Permission.EDIT)
    form = SecretKeyForm(request.POST)
    created = form.create(project=project, actor=signed_in(request)) if form.is_valid() else None
    if created is None:
        return render_keys(request, project, membership, secret_form=form, status=400)
    return render_keys(request, project, membership, created=created)


@login_required
@require_POST
def publishable_key_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Create the project's publishable key, or rotate it: the new one keeps the old one's origins."""
    project, membership = member_project(request, pk, Permission.EDIT)
    current = publishable_key_of(project)
    created = services.api_key_create(
        project=project,
        actor=signed_in(request),
        kind=ApiKeyKind.PUBLISHABLE,
        allowed_origins=current.allowed_origins if current else [],
    )
    return render_keys(request, project, membership, created=created)


@login_required
@require_POST
def publishable_key_origins(request: HttpRequest, pk: int) -> HttpResponse:
    project, membership = member_project(request, pk, Permission.EDIT)
    key = publishable_key_of(project)
    if key is None:
        messages.error(request, "Create a publishable key first.")
        return redirect("project_keys", project.pk)
    form = AllowedOriginsForm(request.POST)
    if not (form.is_valid() and form.save(key=key, actor=signed_in(request))):
        return render_keys(request, project, membership, origins_form=form, status=400)
    messages.success(request, "Allowed origins saved.")
    return keys_page_after(request, project, membership)


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, pk: int, key_id: int) -> HttpResponse:
    project, membership = member_project(request, pk, Permission.EDIT)
    key = get_object_or_404(ApiKey.objects.active(), pk=key_id, project=project)
    services.api_key_revoke(key=key, actor=signed_in(request))
    messages.success(request, f"Key {key.prefix}… revoked: it no longer works.")
    return keys_page_after(request, project, membership)


@login_required
@require_GET
def project_connect(request: HttpRequest, pk: int) -> HttpResponse:
    project, membership = member_project(request, pk)
    publishable = publishable_key_of(project)
    context = {
        **tab_context(project, membership, "connect"),
        "publishable": publishable,
        "snippets": connect_snippets(
            base_url=request.build_absolute_uri("/"),
            publishable=f"{publishable.prefix}…" if publishable else None,
        ),
    }
    return render(request, "accounts/project_connect.html", context)


@login_required
@require_GET
def connect(request: HttpRequest) -> HttpResponse:
    """Pick the project to connect to; with a single project, go straight to it."""
    projects = projects_of(request)
    chosen = request.GET.get("project")
    if chosen and chosen.isdigit():
        return redirect("project_connect", int(chosen))
    if len(projects) == 1:
        return redirect("project_connect", projects[0].pk)
    return render(request, "accounts/connect.html", {"projects": projects})
