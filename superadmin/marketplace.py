"""The marketplace in the superadmin: the validation queue (``marketplace_validation`` role and
superusers: read the code, run it in the sandbox, approve, reject with a reason) and the curated
collections (``marketplace`` role). Every change goes through ``components.marketplace.services``."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from components.marketplace import services
from components.marketplace.models import Collection, Listing, ListingState, Submission
from components.types import carries_secrets


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin[Submission]):
    """The validation queue. Reading and deciding need the validation role; nothing is edited here."""

    list_display = ("name", "publisher", "version_number", "state", "closed_source", "submitted_by", "created_at")
    list_filter = ("state", "closed_source")
    search_fields = ("name", "description", "listing__project__name")
    # What waits for a validator first, oldest first; then what was decided.
    ordering = (
        Case(When(state=ListingState.SUBMITTED, then=Value(0)), default=Value(1), output_field=IntegerField()).asc(),
        "created_at",
    )
    actions = ("approve_selected",)
    change_form_template = "superadmin/marketplace_submission.html"
    readonly_fields = (
        "name", "publisher", "version_number", "state", "reason", "description", "tags", "icon", "closed_source",
        "submitted_by", "created_at", "reviewed_by", "reviewed_at", "kind", "interface", "implementation",
    )  # fmt: skip
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Submission]:
        return super().get_queryset(request).select_related("listing__project", "version", "submitted_by")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return services.is_validator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return services.is_validator(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="publisher")
    def publisher(self, obj: Submission) -> str:
        return obj.listing.project.name

    @admin.display(description="version")
    def version_number(self, obj: Submission) -> int:
        return obj.version.number

    @admin.display(description="kind")
    def kind(self, obj: Submission) -> str:
        return obj.version.get_kind_display()

    @admin.display(description="interface")
    def interface(self, obj: Submission) -> str:
        shape = {"inputs": obj.version.inputs, "outputs": obj.version.outputs}
        return format_html("<pre>{}</pre>", json.dumps(shape, indent=2))

    @admin.display(description="code")
    def implementation(self, obj: Submission) -> str:
        version = obj.version
        text = version.code if version.kind == "code" else json.dumps(version.http, indent=2)
        return format_html('<pre data-testid="submission-code">{}</pre>', text)

    @admin.action(description="Approve the selected submissions")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        done = 0
        for submission in queryset.filter(state=ListingState.SUBMITTED):
            services.listing_approve(submission=submission, actor=request.user)  # type: ignore[arg-type]
            done += 1
        messages.success(request, f"Approved {done} submission(s).")

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        custom = [
            path("<int:pk>/approve/", view(require_POST(self.approve_view)), name="marketplace_approve"),
            path("<int:pk>/reject/", view(require_POST(self.reject_view)), name="marketplace_reject"),
        ]
        return custom + super().get_urls()

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        submission = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if submission is not None:
            extra.update(
                submission=submission,
                reject_form=RejectForm(),
                run_url=reverse("api-component-run", args=[submission.listing.component_id])
                + f"?version={submission.version.number}",
                # Inputs that name credentials are left out: a validator runs them with their defaults.
                example_inputs=json.dumps(
                    {spec["name"]: "" for spec in submission.version.inputs if not carries_secrets(spec)}
                ),
            )
        return super().change_view(request, object_id, form_url, extra)

    def _decide(self, request: HttpRequest, pk: int) -> Submission:
        if not services.is_validator(request.user):
            raise PermissionDenied
        return get_object_or_404(Submission, pk=pk)

    def approve_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        submission = self._decide(request, pk)
        try:
            services.listing_approve(submission=submission, actor=request.user)  # type: ignore[arg-type]
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Approved “{submission.name}” version {submission.version.number}.")
        return redirect("admin:components_submission_changelist")

    def reject_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        submission = self._decide(request, pk)
        form = RejectForm(request.POST)
        try:
            if not form.is_valid():
                raise ValidationError({"reason": ["say why, so the author can fix it"]})
            services.listing_reject(submission=submission, actor=request.user, reason=form.cleaned_data["reason"])  # type: ignore[arg-type]
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("admin:components_submission_change", submission.pk)
        messages.success(request, f"Rejected “{submission.name}” version {submission.version.number}.")
        return redirect("admin:components_submission_changelist")


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 70}), max_length=2000, help_text="What the author must fix."
    )


class CollectionForm(forms.ModelForm[Collection]):
    class Meta:
        model = Collection
        fields = ("title", "slug", "description", "position", "listings")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["listings"].queryset = Listing.objects.public().order_by("name")  # type: ignore[attr-defined]


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin[Collection]):
    """Curated sections of the marketplace home (the ``marketplace`` role's model permissions)."""

    form = CollectionForm
    list_display = ("title", "slug", "position", "size")
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ("listings",)

    @admin.display(description="components")
    def size(self, obj: Collection) -> int:
        return obj.listings.count()

    def save_model(self, request: HttpRequest, obj: Collection, form: Any, change: bool) -> None:
        pass  # saved with its listings in save_related, through the service

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        services.collection_save(collection=form.instance, listings=list(form.cleaned_data["listings"]))

    def delete_model(self, request: HttpRequest, obj: Collection) -> None:
        services.collection_delete(collection=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Collection]) -> None:
        for collection in queryset:
            services.collection_delete(collection=collection)
