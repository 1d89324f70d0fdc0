"""The pages of OAuth2 credentials: Connect (and Reconnect), the provider's callback, Disconnect.

Thin: ``components.oauth2.flow`` runs the flow, ``components.oauth2.services`` changes the data.
Editors only (``member_project(…, EDIT)``: 404 for outsiders, 403 for viewers); the callback checks
again, since a membership may change while the user is at the provider.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Permission, Project
from accounts.views.access import member_project, signed_in
from components.models import Credential
from components.oauth2 import flow, providers
from components.oauth2.services import oauth2_disconnect


class ConnectForm(forms.Form):
    """Connect a provider as the credential ``name``; empty ``scopes``: the provider's defaults."""

    provider = forms.ChoiceField(choices=())
    name = forms.CharField(max_length=64, help_text="Capitals, digits and underscores, e.g. GITHUB.")
    scopes = forms.CharField(
        max_length=5000, required=False, help_text="Separated by spaces; empty: the provider's default scopes."
    )

    def __init__(self, *args: object, available: list[providers.Provider] | None = None, **kwargs: object) -> None:
        kwargs.setdefault("auto_id", "oauth2-%s")  # ids apart from the credential form's: oauth2-name…
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        found = providers.available() if available is None else available
        self.fields["provider"].choices = [(p.slug, p.label) for p in found]  # type: ignore[attr-defined]


def _explain(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{field}: {' '.join(problems)}" for field, problems in error.message_dict.items())
    return " ".join(error.messages)


@login_required
@require_POST
def oauth2_connect(request: HttpRequest, pk: int) -> HttpResponse:
    """Start the flow: redirect to the provider's authorize page (or back, with what was wrong)."""
    project, _ = member_project(request, pk, Permission.EDIT)
    form = ConnectForm(request.POST)
    if not form.is_valid():
        problems = {field: [str(problem) for problem in errors] for field, errors in form.errors.items()}
        messages.error(request, "Not connected: " + _explain(ValidationError(problems)))
        return redirect("project_credentials", project.pk)
    try:
        url = flow.begin(
            request.session,
            project=project,
            actor=signed_in(request),
            provider=form.cleaned_data["provider"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            redirect_uri=request.build_absolute_uri(reverse("oauth2_callback")),
        )
    except ValidationError as error:
        messages.error(request, "Not connected: " + _explain(error))
        return redirect("project_credentials", project.pk)
    return HttpResponseRedirect(url)


@login_required
@require_GET
def oauth2_callback(request: HttpRequest) -> HttpResponse:
    """Where the provider sends the user back (the URL to register with every provider)."""
    try:
        credential = flow.finish(request.session, actor=signed_in(request), query=request.GET.dict())
    except flow.FlowError as error:
        return render(request, "components/oauth2_failed.html", {"reason": str(error)}, status=400)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None
    messages.success(request, f"{credential.name} is connected.")
    return redirect("project_credentials", credential.project_id)


@login_required
@require_POST
def oauth2_disconnect_view(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """Forget an OAuth2 credential and its tokens."""
    project, _ = member_project(request, pk, Permission.EDIT)
    try:
        oauth2_disconnect(project=project, actor=signed_in(request), name=name)
    except Credential.DoesNotExist:
        raise Http404("No such OAuth2 credential.") from None
    messages.success(request, f"{name} is disconnected.")
    return redirect("project_credentials", project.pk)
