"""Forms of the web UI. They validate input, then hand it to ``accounts.services``.

Each form's action method (``create``, ``save``, ``invite``…) calls one service and turns the
``ValidationError`` it may raise into form errors, returning ``None`` when it failed. A
``PermissionDenied`` is not caught (Django answers 403); views find the project through the
user's membership first, so a non-member gets a 404 before any service is called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from accounts import services
from accounts.models import ApiKey, ApiKeyKind, Membership, Permission, Project, User

T = TypeVar("T")

colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #4f46e5.")

INVITE_PERMISSIONS = [(Permission.VIEW.value, "Can view"), (Permission.EDIT.value, "Can edit")]


class ServiceForm(forms.Form):
    """A form whose action is one service call."""

    def call(self, service: Callable[..., T], **kwargs: Any) -> T | None:
        """``service(**kwargs)``, or ``None`` with the service's validation errors added to the form."""
        try:
            return service(**kwargs)
        except ValidationError as exc:
            self._add_service_errors(exc)
            return None

    def _add_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc)
            return
        for field, errors in exc.error_dict.items():
            self.add_error(field if field in self.fields else None, errors)


class ProjectForm(ServiceForm):
    name = forms.CharField(max_length=120)
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    icon = forms.CharField(
        max_length=32, required=False, help_text="Usually an emoji.", widget=forms.TextInput(attrs={"size": 4})
    )
    color = forms.CharField(
        label="Colour", initial="#4f46e5", validators=[colour], widget=forms.TextInput(attrs={"type": "color"})
    )
    background_color = forms.CharField(
        label="Background colour",
        initial="#eef2ff",
        validators=[colour],
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    community = forms.BooleanField(
        label="Community project",
        required=False,
        help_text="Anyone signed in can find this project and join it as an editor.",
    )

    def __init__(self, *args: Any, can_set_community: bool = True, read_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not can_set_community:
            del self.fields["community"]
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    @staticmethod
    def initial_of(project: Project) -> dict[str, Any]:
        """The project's current values; ``save`` sends only the fields that differ from them."""
        return {field: getattr(project, field) for field in services.PROJECT_EDITABLE_FIELDS}

    def create(self, *, owner: User) -> Project | None:
        return self.call(services.project_create, owner=owner, **self.cleaned_data)

    def save(self, *, project: Project, actor: User) -> Project | None:
        changes = {field: self.cleaned_data[field] for field in self.changed_data}
        if not changes:
            return project
        return self.call(services.project_update, project=project, actor=actor, **changes)


class DeleteProjectForm(ServiceForm):
    confirm_name = forms.CharField(label="Project name", max_length=120)

    def delete(self, *, project: Project, actor: User) -> bool:
        self.call(services.project_delete, project=project, actor=actor, confirm_name=self.cleaned_data["confirm_name"])
        return not self.errors


class InviteForm(ServiceForm):
    email = forms.EmailField(label="Email address")
    permission = forms.ChoiceField(choices=INVITE_PERMISSIONS, initial=Permission.VIEW)

    def invite(self, *, project: Project, actor: User) -> services.InviteResult | None:
        return self.call(services.member_invite, project=project, actor=actor, **self.cleaned_data)


class MemberPermissionForm(ServiceForm):
    permission = forms.ChoiceField(choices=INVITE_PERMISSIONS)

    def save(self, *, project: Project, actor: User, user: User) -> bool:
        self.call(
            services.member_set_permission,
            project=project,
            actor=actor,
            user=user,
            permission=self.cleaned_data["permission"],
        )
        return not self.errors


class MemberChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return obj.email


class TransferOwnershipForm(ServiceForm):
    new_owner = MemberChoiceField(queryset=User.objects.none(), label="New owner", empty_label="Choose a member")

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast("forms.ModelChoiceField[User]", self.fields["new_owner"])
        # Filter on one membership row: the member's row in *this* project must not be the owner's.
        others = Membership.objects.filter(project=project).exclude(permission=Permission.OWN)
        field.queryset = User.objects.filter(memberships__in=others).order_by("email")

    def transfer(self, *, project: Project, actor: User) -> bool:
        self.call(
            services.project_transfer_ownership, project=project, actor=actor, new_owner=self.cleaned_data["new_owner"]
        )
        return not self.errors


class SecretKeyForm(ServiceForm):
    name = forms.CharField(max_length=80, label="Key name", help_text="What uses this key, e.g. “production server”.")

    def create(self, *, project: Project, actor: User) -> tuple[ApiKey, str] | None:
        name = self.cleaned_data["name"]
        return self.call(services.api_key_create, project=project, actor=actor, kind=ApiKeyKind.SECRET, name=name)


def parse_origin(value: str) -> str:
    """``https://app.example.com`` (scheme, host, optional port; no path), or ``ValidationError``."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") or parts.query:
        raise ValidationError(f"“{value}” is not an origin like https://app.example.com")
    return f"{parts.scheme}://{parts.netloc}"


class AllowedOriginsForm(ServiceForm):
    allowed_origins = forms.CharField(
        label="Allowed origins",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "https://app.example.com"}),
        help_text="One per line. Browsers on other sites cannot use the key. Empty allows any origin.",
    )

    def clean_allowed_origins(self) -> list[str]:
        lines = [line for line in self.cleaned_data["allowed_origins"].splitlines() if line.strip()]
        origins: list[str] = []
        errors: list[ValidationError] = []
        for line in lines:
            try:
                origin = parse_origin(line)
            except ValidationError as exc:
                errors.append(exc)
                continue
            if origin not in origins:
                origins.append(origin)
        if errors:
            raise ValidationError(errors)
        return origins

    def save(self, *, key: ApiKey, actor: User) -> ApiKey | None:
        return self.call(
            services.api_key_update_origins, key=key, actor=actor, allowed_origins=self.cleaned_data["allowed_origins"]
        )
