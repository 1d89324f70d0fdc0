"""The API's shapes. Serializers validate and present; every write goes through ``accounts.services``."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlsplit

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import ApiKey, ApiKeyKind, Invitation, Membership, Permission, Plan, Project, User

hex_color = RegexValidator(r"^#[0-9a-fA-F]{6}$", "use a colour like #4f46e5")


class MemberPermissionField(serializers.ChoiceField):
    """``view`` or ``edit``: what a member may be given. ``own`` is refused with a reason.

    The choices stay the model's three, so the schema has one ``PermissionEnum``.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "'view' or 'edit'; ownership moves only by transfer.")
        super().__init__(choices=Permission.choices, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = str(super().to_internal_value(data))
        if value == Permission.OWN:
            raise serializers.ValidationError("use 'view' or 'edit'; ownership moves only by transfer")
        return value


class UserSummarySerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ("id", "email", "name")
        read_only_fields = fields


# --- projects -----------------------------------------------------------------------------


class ProjectSerializer(serializers.ModelSerializer[Project]):
    permission = serializers.SerializerMethodField(help_text="Your permission on the project.")
    owner = serializers.SerializerMethodField()
    color = serializers.CharField(validators=[hex_color], required=False)
    background_color = serializers.CharField(validators=[hex_color], required=False)

    class Meta:
        model = Project
        fields = (
            "id",
            "name",
            "description",
            "icon",
            "color",
            "background_color",
            "community",
            "permission",
            "owner",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "permission", "owner", "created_at", "updated_at")

    @extend_schema_field(serializers.ChoiceField(choices=Permission.choices, allow_null=True))
    def get_permission(self, project: Project) -> str | None:
        return getattr(project, "requester_permission", None)

    @extend_schema_field(UserSummarySerializer(allow_null=True))
    def get_owner(self, project: Project) -> dict[str, Any] | None:
        # Views prefetch the owner's membership into ``owner_memberships`` (one query per page).
        memberships = getattr(project, "owner_memberships", None)
        if memberships is None:
            return UserSummarySerializer(project.owner()).data if project.owner() else None
        owner = memberships[0].user if memberships else None
        return UserSummarySerializer(owner).data if owner else None


class ProjectDeleteSerializer(serializers.Serializer[Any]):
    confirm_name = serializers.CharField(help_text="The project's name, typed back to confirm deletion.")


class TransferSerializer(serializers.Serializer[Any]):
    user = serializers.CharField(help_text="The new owner's user id or email address; they must be a member.")


# --- members and invitations --------------------------------------------------------------


class MemberSerializer(serializers.ModelSerializer[Membership]):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ("user", "permission", "created_at")
        read_only_fields = fields


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    invited_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Invitation
        fields = ("id", "email", "permission", "invited_by", "created_at")
        read_only_fields = fields


class InviteSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField()
    permission = MemberPermissionField(default=Permission.VIEW.value)


class InviteResultSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=[("added", "added"), ("invited", "invited")],
        help_text="'added': the address has an account and is a member now; 'invited': an invitation was emailed.",
    )
    membership = MemberSerializer(allow_null=True)
    invitation = InvitationSerializer(allow_null=True)


class MemberPermissionSerializer(serializers.Serializer[Any]):
    permission = MemberPermissionField()


# --- API keys -----------------------------------------------------------------------------


class OriginField(serializers.CharField):
    """A browser origin: ``scheme://host[:port]``, nothing after it."""

    def to_internal_value(self, data: Any) -> str:
        value = str(super().to_internal_value(data)).rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
            raise serializers.ValidationError("an origin is scheme://host[:port], e.g. https://app.example.com")
        return value


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    """A key as it is listed: never its digest, never the key itself."""

    created_by = UserSummarySerializer(read_only=True, allow_null=True)
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields: tuple[str, ...] = (
            "id",
            "name",
            "kind",
            "prefix",
            "allowed_origins",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked",
            "revoked_at",
        )
        read_only_fields: tuple[str, ...] = fields

    def get_revoked(self, key: ApiKey) -> bool:
        return key.revoked_at is not None


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.SerializerMethodField(help_text="The key itself. Shown in this response only; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = ("key", *ApiKeySerializer.Meta.fields)
        read_only_fields = fields

    def get_key(self, key: ApiKey) -> str:
        return str(self.context["plaintext"])


class ApiKeyCreateSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=ApiKeyKind.choices, default=ApiKeyKind.SECRET)
    name = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    allowed_origins = serializers.ListField(
        child=OriginField(),
        required=False,
        default=list,
        help_text="Publishable keys only: the origins allowed to use the key (empty: any origin).",
    )


class ApiKeyOriginsSerializer(serializers.Serializer[Any]):
    allowed_origins = serializers.ListField(child=OriginField(), allow_empty=True)


# --- the account --------------------------------------------------------------------------


class PlanSerializer(serializers.ModelSerializer[Plan]):
    quota = serializers.IntegerField(read_only=True, help_text="Requests per calendar month; -1 is unlimited.")
    unlimited = serializers.BooleanField(source="is_unlimited", read_only=True)
    rate_limit = serializers.CharField(source="effective_rate_limit", read_only=True, help_text="Per API key.")

    class Meta:
        model = Plan
        fields = ("name", "slug", "quota", "unlimited", "rate_limit")
        read_only_fields = fields


class ProjectUsageSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    used = serializers.IntegerField(help_text="Requests made in this project this month.")


class UsageSerializer(serializers.Serializer[Any]):
    month = serializers.CharField(help_text="The calendar month, YYYY-MM.")
    plan = PlanSerializer()
    quota = serializers.IntegerField(help_text="-1 is unlimited.")
    used = serializers.IntegerField()
    remaining = serializers.IntegerField(allow_null=True, help_text="Null when the plan is unlimited.")
    projects = ProjectUsageSerializer(many=True, help_text="The projects you own: their requests count here.")


class UsageQuerySerializer(serializers.Serializer[Any]):
    # Year 0000 matches the pattern but is no date (Python's dates start at year 1): refused, not a 500.
    month = serializers.RegexField(
        r"^(?!0000)\d{4}-(0[1-9]|1[0-2])$", required=False, help_text="YYYY-MM; the current month by default."
    )

    def validated_day(self) -> datetime.date | None:
        month = self.validated_data.get("month")
        return datetime.date.fromisoformat(f"{month}-01") if month else None


class ApiKeySummarySerializer(serializers.ModelSerializer[ApiKey]):
    class Meta:
        model = ApiKey
        fields = ("id", "prefix", "kind", "project")
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer[User]):
    roles = serializers.SerializerMethodField()
    plan = PlanSerializer(source="effective_plan", read_only=True)
    api_key = serializers.SerializerMethodField(help_text="The key this request was made with, if any.")

    class Meta:
        model = User
        fields = ("id", "email", "name", "display_name", "is_staff", "is_superuser", "roles", "plan", "api_key")
        read_only_fields = fields

    def get_roles(self, user: User) -> list[str]:
        return sorted(group.name for group in user.groups.all())

    @extend_schema_field(ApiKeySummarySerializer(allow_null=True))
    def get_api_key(self, user: User) -> dict[str, Any] | None:
        key = self.context.get("api_key")
        return ApiKeySummarySerializer(key).data if key else None
