"""Forms of the component pages: each validates, calls one service and turns its errors into form errors."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Project, User
from components import services
from components.models import Component, Kind

EDITOR_KINDS = ((Kind.CODE.value, Kind.CODE.label), (Kind.HTTP.value, Kind.HTTP.label))


def _add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's ``ValidationError`` as form errors: known fields on the field, the rest on the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class ComponentCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    project = forms.ModelChoiceField(queryset=Project.objects.none(), empty_label=None)
    kind = forms.ChoiceField(choices=EDITOR_KINDS, initial=Kind.CODE, label="Kind")

    def __init__(self, *args: object, projects: list[Project], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["project"].queryset = Project.objects.filter(pk__in=[p.pk for p in projects])  # type: ignore[attr-defined]

    def create(self, *, actor: User) -> Component | None:
        """The new component, or ``None`` with the service's errors on the form."""
        data = self.cleaned_data
        extra = {"code": STARTER_CODE} if data["kind"] == Kind.CODE else {}
        try:
            return services.component_create(
                project=data["project"], actor=actor, name=data["name"], kind=data["kind"], **extra
            )
        except ValidationError as error:
            _add_service_errors(self, error)
            return None


STARTER_CODE = '''def run(inputs, ctx):
    """Return a dict with one value per declared output."""
    return {}
'''


class ComponentSettingsForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)
    tags = forms.CharField(required=False, help_text="Words separated by commas.", max_length=500)
    public = forms.BooleanField(
        required=False, label="Public", help_text="Anyone with the project's publishable key may run it."
    )

    @staticmethod
    def initial_of(component: Component) -> dict[str, object]:
        return {
            "name": component.name,
            "description": component.description,
            "tags": ", ".join(component.tags),
            "public": component.public,
        }

    def __init__(self, *args: object, read_only: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    def clean_tags(self) -> list[str]:
        return [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]

    def save(self, *, component: Component, actor: User) -> bool:
        try:
            services.component_update(component=component, actor=actor, **self.cleaned_data)
        except ValidationError as error:
            _add_service_errors(self, error)
            return False
        return True


class CredentialForm(forms.Form):
    """Add a credential (or replace one by its name), or change an existing one from its row.

    ``cleaned_data`` is the keyword arguments of ``credential_set``: ``value`` is ``None`` when left
    empty in a row's form (keep the stored one), ``allowed_hosts`` is ``None`` when left empty in the
    add form (keep the stored list), a list otherwise. A row's form sends ``replace_hosts``: its
    value may be left empty, and an empty hosts field means "any public host". The add form needs
    a value (a new credential has none to keep), so its label no longer says "optional".
    """

    name = forms.CharField(max_length=64, help_text="Capitals, digits and underscores, e.g. STRIPE_KEY.")
    value = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        strip=False,
        label="Value",
        error_messages={"required": "Enter its value: a credential needs a value when it is added."},
        help_text="Stored encrypted and never shown again. An existing name gets this new value.",
    )
    allowed_hosts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "api.example.com\n*.example.com"}),
        required=False,
        label="Allowed hosts",
        help_text="Where the value may be sent, one per line: api.example.com, *.example.com (its subdomains) "
        "or an IP address. Empty: any public host (an existing credential keeps its list).",
    )
    replace_hosts = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The add form needs a value; a row's form (it sends replace_hosts) may keep the stored one.
        self.fields["value"].required = not self.data.get("replace_hosts")

    def clean_value(self) -> str | None:
        return self.cleaned_data["value"] or None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        text = cleaned.get("allowed_hosts") or ""
        hosts = [part for part in re.split(r"[\s,]+", text) if part]
        replace = cleaned.pop("replace_hosts", False)
        cleaned["allowed_hosts"] = hosts if hosts or replace else None
        return cleaned
