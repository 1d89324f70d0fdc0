"""The superadmin: a face over the same services as the UI and the API."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from accounts import services
from accounts.models import AccountUsage, ApiKey, Invitation, Membership, Plan, Project, ProjectUsage, User
from realtime import wiring
from realtime.models import RealtimeSubscription


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "name", "plan", "is_staff", "is_superuser", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups", "plan")
    search_fields = ("email", "name")
    fieldsets = (
        (None, {"fields": ("email", "password", "name")}),
        ("Plan", {"fields": ("plan",)}),
        ("Roles", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    filter_horizontal = ("groups",)
    readonly_fields = ("last_login", "date_joined")
    # The `admin` role may change users (their name, plan, whether they are active) but not raise
    # anyone, itself included, to staff, superuser or another role, nor set passwords (a user resets
    # their own by mail): only superusers do that, and only superusers change a superuser.
    PRIVILEGED_FIELDS = ("is_staff", "is_superuser", "groups")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else fields + self.PRIVILEGED_FIELDS

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or request.user.is_superuser:
            return fieldsets
        # The hashed password and the link to the form that sets one.
        return [(name, {**options, "fields": tuple(f for f in options["fields"] if f != "password")})
                for name, options in fieldsets]  # fmt: skip

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin[Plan]):
    list_display = ("name", "slug", "monthly_quota", "rate_limit", "is_default")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "is_default", "monthly_quota", "rate_limit")}),
        (
            "Run limits",
            {
                "description": "Per run in the projects of this plan's users; empty uses the SANDBOX_* settings "
                "(OUTBOUND_MAX_BYTES for responses). See docs/components.md.",
                "fields": (
                    ("run_wall_seconds", "run_cpu_seconds", "run_memory_mb"),
                    ("run_output_bytes", "run_log_bytes"),
                    ("run_http_calls", "run_response_bytes"),
                ),
            },
        ),
    )


class MembershipInline(admin.TabularInline[Membership, Project]):
    model = Membership
    extra = 0
    can_delete = False
    readonly_fields = ("user", "permission", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    list_display = ("name", "community", "created_at", "updated_at")
    list_filter = ("community",)
    search_fields = ("name", "memberships__user__email")
    fields = ("name", "description", "icon", "color", "background_color", "community")
    inlines = (MembershipInline,)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # projects have an owner: they are created by people, in the UI or the API

    def save_model(self, request: HttpRequest, obj: Project, form: Any, change: bool) -> None:
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        # The form has already set the values on obj; reload so the service sees the stored row.
        stored = Project.objects.get(pk=obj.pk)
        services.project_update(project=stored, actor=request.user, **changes)  # type: ignore[arg-type]

    def delete_model(self, request: HttpRequest, obj: Project) -> None:
        services.project_delete(project=obj, actor=request.user, confirm_name=obj.name)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        for project in queryset:
            self.delete_model(request, project)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    """Keys are shown by prefix and digest only; the plaintext was never stored."""

    list_display = ("prefix", "kind", "name", "project", "created_at", "last_used_at", "revoked_at")
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "name", "project__name")
    readonly_fields = (
        "project", "kind", "name", "prefix", "digest", "allowed_origins",
        "created_by", "created_at", "last_used_at", "revoked_at",
    )  # fmt: skip
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.select_related("project"):
            services.api_key_revoke(key=key, actor=request.user)  # type: ignore[arg-type]
        messages.success(request, f"Revoked {queryset.count()} key(s).")


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin[Invitation]):
    list_display = ("email", "project", "permission", "invited_by", "created_at", "accepted_at")
    search_fields = ("email", "project__name")
    readonly_fields = ("project", "email", "permission", "invited_by", "created_at", "accepted_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccountUsage)
class AccountUsageAdmin(ReadOnlyAdmin):
    list_display = ("user", "month", "count")
    list_filter = ("month",)
    search_fields = ("user__email",)


@admin.register(ProjectUsage)
class ProjectUsageAdmin(ReadOnlyAdmin):
    list_display = ("project", "month", "count")
    list_filter = ("month",)
    search_fields = ("project__name",)


class WiringImportForm(forms.Form):
    wiring = forms.JSONField(help_text="A list of {room, function, params, enabled, description}, as exported.")
    replace = forms.BooleanField(required=False, help_text="Delete the wiring that the import does not list.")


@admin.register(RealtimeSubscription)
class RealtimeSubscriptionAdmin(admin.ModelAdmin[RealtimeSubscription]):
    """The realtime wiring: room (a change) → the cloud functions whose callers must refresh."""

    list_display = ("room", "function", "params", "enabled", "description")
    list_filter = ("enabled", "room")
    list_editable = ("enabled",)
    search_fields = ("room", "function", "description")
    actions = ("export_json",)
    change_list_template = "superadmin/realtime_changelist.html"

    @admin.action(description="Export the selected wiring as JSON")
    def export_json(self, request: HttpRequest, queryset: QuerySet[RealtimeSubscription]) -> HttpResponse:
        selected = set(queryset.values_list("room", "function"))
        entries = [e for e in wiring.wiring_export() if (e["room"], e["function"]) in selected]
        response = HttpResponse(json.dumps(entries, indent=2), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="realtime-wiring.json"'
        return response

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path("export/", self.admin_site.admin_view(self.export_all_view), name="realtime_wiring_export"),
            path("import/", self.admin_site.admin_view(self.import_view), name="realtime_wiring_import"),
        ]
        return custom + super().get_urls()

    def export_all_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self.export_json(request, RealtimeSubscription.objects.all())

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = WiringImportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                count = wiring.wiring_import(form.cleaned_data["wiring"], replace=form.cleaned_data["replace"])
            except ValidationError as error:
                form.add_error("wiring", error)
            else:
                messages.success(request, f"Imported {count} wiring entries.")
                return redirect("admin:realtime_realtimesubscription_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "title": "Import realtime wiring"}
        return render(request, "superadmin/realtime_import.html", context)


# The marketplace's validation queue and curated collections.
# Components, workflows, executions and credentials: metadata only.
from superadmin import builder_admin as builder_admin  # noqa: E402
from superadmin import marketplace as marketplace  # noqa: E402

# OAuth2 provider apps (client ids and secrets for OAuth2 credentials).
from superadmin import oauth2_admin as oauth2_admin  # noqa: E402
