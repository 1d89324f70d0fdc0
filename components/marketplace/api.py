"""``/api/v1/marketplace/…``: public reads, submit and fork for signed-in people, and the
validation queue for the ``marketplace_validation`` role. Writes go through
``components.marketplace.services``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.authentication import request_api_key
from accounts.models import ApiKeyKind, Permission, Project, User
from accounts.services import require_permission
from components.api import ComponentSerializer, visible_components
from components.marketplace import queries, services
from components.marketplace.models import Fork, Listing, ListingState, Submission
from components.models import Component
from synchronise.lib.queryparams import query_int


def _errors(error: ValidationError) -> DRFValidationError:
    return DRFValidationError(error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages})


def _person(request: Request) -> User:
    """The signed-in person or secret key's creator; publishable keys only run components."""
    key = request_api_key(request)
    if key is not None and key.kind == ApiKeyKind.PUBLISHABLE:
        raise PermissionDenied("a publishable key only runs components")
    return request.user  # type: ignore[return-value]


class IsValidator(BasePermission):
    """The validation role or a superuser, signed in as a person: never an API key."""

    message = "this needs the marketplace_validation role"

    def has_permission(self, request: Request, view: Any) -> bool:
        return request_api_key(request) is None and services.is_validator(request.user)


class PublisherSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ListingSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    icon = serializers.CharField()
    closed_source = serializers.BooleanField()
    publisher = PublisherSerializer()
    version = serializers.IntegerField(allow_null=True)
    kind = serializers.CharField(allow_null=True)
    forks = serializers.IntegerField(allow_null=True)
    runs = serializers.IntegerField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)


class ListingVersionSerializer(serializers.Serializer[Any]):
    number = serializers.IntegerField()
    approved_at = serializers.DateTimeField(allow_null=True)


class ListingDetailSerializer(ListingSerializer):
    inputs = serializers.ListField(child=serializers.DictField())
    outputs = serializers.ListField(child=serializers.DictField())
    code = serializers.CharField(allow_null=True, help_text="null when the component is closed source")
    http = serializers.DictField(allow_null=True, help_text="null when the component is closed source")
    versions = ListingVersionSerializer(many=True)


class ForkRequestSerializer(serializers.Serializer[Any]):
    project = serializers.IntegerField(help_text="The project to fork it into (you need 'edit').")


class CollectionSerializer(serializers.Serializer[Any]):
    title = serializers.CharField()
    slug = serializers.CharField()
    description = serializers.CharField()
    listings = ListingSerializer(many=True)


class OfficialSerializer(serializers.Serializer[Any]):
    connector = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())


class CollectionsSerializer(serializers.Serializer[Any]):
    official = OfficialSerializer(many=True, help_text="The official connectors: install them, not fork.")
    collections = CollectionSerializer(many=True)


LIST_PARAMETERS = [
    OpenApiParameter("q", OpenApiTypes.STR, description="Words to find in the name, description or tags."),
    OpenApiParameter("tag", OpenApiTypes.STR, description="Only components with this tag."),
    OpenApiParameter("publisher", OpenApiTypes.INT, description="Only components of this publisher (a project id)."),
    OpenApiParameter("order", OpenApiTypes.STR, enum=list(queries.ORDERS), description="latest (default) or popular."),
]


@extend_schema(tags=["marketplace"])
class MarketplaceComponentViewSet(viewsets.ViewSet):
    """The approved components: readable by anyone, signed in or not."""

    permission_classes = (AllowAny,)

    def get_permissions(self) -> list[BasePermission]:
        return [IsAuthenticated()] if self.action == "fork" else [AllowAny()]

    @extend_schema(parameters=LIST_PARAMETERS, responses=ListingSerializer(many=True), summary="Marketplace components")
    def list(self, request: Request) -> Response:
        params = request.query_params
        publisher = params.get("publisher", "")
        order = params.get("order", queries.LATEST)
        if order not in queries.ORDERS:
            raise DRFValidationError({"order": [f"one of {', '.join(queries.ORDERS)}"]})
        listings = queries.public_listings(
            q=params.get("q", "")[:200],
            tag=params.get("tag", "")[:40],
            publisher=query_int(request, "publisher", minimum=1) if publisher.isdigit() else None,
            order=order,
        )[:100]
        return Response(ListingSerializer([queries.listing_summary(li) for li in listings], many=True).data)

    @extend_schema(responses=ListingDetailSerializer, summary="One marketplace component")
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ListingDetailSerializer(queries.listing_detail(self._listing(pk))).data)

    @extend_schema(
        request=ForkRequestSerializer,
        responses={201: ComponentSerializer, 200: ComponentSerializer},
        summary="Fork it into a project",
        description="Needs 'edit' in the project. 201 with the new component, published; 200 with the "
        "project's fork when it has one already. The fork runs with the project's credentials and quota.",
    )
    @action(detail=True, methods=["post"])
    def fork(self, request: Request, pk: str) -> Response:
        listing = self._listing(pk)
        body = ForkRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        actor = _person(request)
        key = request_api_key(request)
        project = Project.objects.visible_to(actor).filter(pk=body.validated_data["project"]).first()
        if project is None or (key is not None and key.project_id != project.pk):
            raise DRFValidationError({"project": ["unknown project"]})
        try:
            component, created = services.component_fork(listing=listing, project=project, actor=actor)
        except ValidationError as error:
            raise _errors(error) from None
        component = Component.objects.prefetch_related("versions").get(pk=component.pk)
        return Response(ComponentSerializer(component).data, status=201 if created else 200)

    @staticmethod
    def _listing(pk: str) -> Listing:
        found = Listing.objects.public().filter(pk=pk if str(pk).isdigit() else 0).first()
        if found is None:
            raise Http404("no marketplace component by that id")
        return found


@extend_schema(tags=["marketplace"])
class CollectionViewSet(viewsets.ViewSet):
    permission_classes = (AllowAny,)

    @extend_schema(responses=CollectionsSerializer, summary="The curated collections and the official connectors")
    def list(self, request: Request) -> Response:
        collections = [
            {**vars(section), "listings": [queries.listing_summary(li) for li in section.listings]}
            for section in queries.collections()
        ]
        return Response(CollectionsSerializer({"official": queries.official(), "collections": collections}).data)


class SubmitSerializer(serializers.Serializer[Any]):
    component = serializers.IntegerField(help_text="Your component (you need 'edit' in its project).")
    version = serializers.IntegerField(required=False, help_text="A published version; the latest if left out.")
    description = serializers.CharField(max_length=5000)
    tags = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=10)
    icon = serializers.CharField(max_length=32, required=False, allow_blank=True)
    closed_source = serializers.BooleanField(required=False, help_text="Show only the interface, never the code.")


class SubmissionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    listing = serializers.IntegerField()
    component = serializers.IntegerField()
    publisher = PublisherSerializer()
    state = serializers.ChoiceField(choices=ListingState.choices)
    name = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    icon = serializers.CharField()
    closed_source = serializers.BooleanField()
    version = serializers.IntegerField()
    reason = serializers.CharField()
    submitted_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    reviewed_at = serializers.DateTimeField(allow_null=True)


class SubmissionDetailSerializer(SubmissionSerializer):
    kind = serializers.CharField()
    inputs = serializers.ListField(child=serializers.DictField())
    outputs = serializers.ListField(child=serializers.DictField())
    code = serializers.CharField()
    http = serializers.DictField()


class RejectSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=2000, help_text="What the author must fix.")


class ReviewResultSerializer(serializers.Serializer[Any]):
    listing = serializers.IntegerField()
    state = serializers.CharField()


@extend_schema(tags=["marketplace"])
class SubmissionViewSet(viewsets.ViewSet):
    """Submitting (editors of the component's project) and the validation queue (validators)."""

    def get_permissions(self) -> list[BasePermission]:
        return [IsAuthenticated()] if self.action == "create" else [IsValidator()]

    @extend_schema(
        request=SubmitSerializer,
        responses={201: SubmissionSerializer},
        summary="Submit a component version for validation",
        description="Needs 'edit' in the component's project; the version must be published.",
    )
    def create(self, request: Request) -> Response:
        body = SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        actor = _person(request)
        component = visible_components(request).filter(pk=data.pop("component")).first()
        if component is None:
            raise DRFValidationError({"component": ["unknown component"]})
        try:
            submission = services.listing_submit(component=component, actor=actor, **data)
        except ValidationError as error:
            raise _errors(error) from None
        return Response(SubmissionSerializer(queries.submission_data(submission)).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("state", OpenApiTypes.STR, enum=["submitted", "approved", "rejected"])],
        responses=SubmissionSerializer(many=True),
        summary="The validation queue (validators)",
    )
    def list(self, request: Request) -> Response:
        state = request.query_params.get("state", ListingState.SUBMITTED)
        if state not in ListingState.values:
            raise DRFValidationError({"state": [f"one of {', '.join(ListingState.values)}"]})
        found = queries.queue(state)[:200]
        return Response(SubmissionSerializer([queries.submission_data(s) for s in found], many=True).data)

    @extend_schema(responses=SubmissionDetailSerializer, summary="One submission with its code (validators)")
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(SubmissionDetailSerializer(queries.submission_data(self._submission(pk), full=True)).data)

    @extend_schema(request=None, responses=ReviewResultSerializer, summary="Approve a submission (validators)")
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        try:
            listing = services.listing_approve(submission=self._submission(pk), actor=request.user)  # type: ignore[arg-type]
        except ValidationError as error:
            raise _errors(error) from None
        return Response({"listing": listing.pk, "state": listing.state})

    @extend_schema(
        request=RejectSerializer, responses=ReviewResultSerializer, summary="Reject a submission (validators)"
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        body = RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            listing = services.listing_reject(
                submission=self._submission(pk),
                actor=request.user,  # type: ignore[arg-type]
                reason=body.validated_data["reason"],
            )
        except ValidationError as error:
            raise _errors(error) from None
        return Response({"listing": listing.pk, "state": listing.state})

    @staticmethod
    def _submission(pk: str) -> Submission:
        found = queries.queue("").filter(pk=pk if str(pk).isdigit() else 0).first()
        if found is None:
            raise Http404("no such submission")
        return found


class LatestSubmissionSerializer(serializers.Serializer[Any]):
    state = serializers.CharField()
    version = serializers.IntegerField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class ForkStatusSerializer(serializers.Serializer[Any]):
    component = serializers.IntegerField()
    listing = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    version = serializers.IntegerField(help_text="The parent's version this fork copies.")
    latest_version = serializers.IntegerField(allow_null=True, help_text="The parent's newest approved version.")
    update_available = serializers.BooleanField()
    closed_source = serializers.BooleanField()


class StatusSerializer(serializers.Serializer[Any]):
    state = serializers.ChoiceField(choices=ListingState.choices)
    listing = serializers.IntegerField(allow_null=True)
    public_version = serializers.IntegerField(allow_null=True)
    latest_submission = LatestSubmissionSerializer(allow_null=True)
    fork = ForkStatusSerializer(allow_null=True)


def component_status(component: Component) -> dict[str, Any]:
    """The author's view (state, the last reason) and, for a fork, its parent and "update available"."""
    listing = Listing.objects.filter(component=component).select_related("approved_version").first()
    latest = listing.latest_submission() if listing else None
    fork = Fork.objects.filter(component=component).select_related("listing__approved_version").first()
    return {
        "state": listing.state if listing else ListingState.PRIVATE,
        "listing": listing.pk if listing else None,
        "public_version": listing.approved_version.number if listing and listing.approved_version else None,
        "latest_submission": {
            "state": latest.state,
            "version": latest.version.number,
            "reason": latest.reason,
            "created_at": latest.created_at,
        }
        if latest
        else None,
        "fork": queries.fork_data(fork) if fork else None,
    }


@extend_schema(tags=["marketplace"])
class StatusViewSet(viewsets.ViewSet):
    """``/api/v1/marketplace/status/{component}/``: a member's view of one of their components."""

    @extend_schema(responses=StatusSerializer, summary="A component's marketplace state, or its fork's")
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(StatusSerializer(component_status(self._component(request, pk))).data)

    @extend_schema(
        request=None,
        responses=ComponentSerializer,
        summary="Update a fork to its parent's newest version",
        description="Needs 'edit'. 400 when the fork is up to date.",
    )
    @action(detail=True, methods=["post"], url_path="update")
    def update_fork(self, request: Request, pk: str) -> Response:
        component = self._component(request, pk)
        actor = _person(request)
        require_permission(component.project, actor, Permission.EDIT)
        try:
            component = services.fork_update(component=component, actor=actor)
        except ValidationError as error:
            raise _errors(error) from None
        component = Component.objects.prefetch_related("versions").get(pk=component.pk)
        return Response(ComponentSerializer(component).data)

    @extend_schema(
        request=None,
        responses=StatusSerializer,
        summary="Withdraw a component from the marketplace",
        description="Needs 'edit'. It becomes private; forks keep working but get no more updates.",
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        component = self._component(request, pk)
        try:
            services.listing_withdraw(component=component, actor=_person(request))
        except ValidationError as error:
            raise _errors(error) from None
        return Response(StatusSerializer(component_status(component)).data)

    @staticmethod
    def _component(request: Request, pk: str) -> Component:
        found = visible_components(request).filter(pk=pk if str(pk).isdigit() else 0).first()
        if found is None:
            raise Http404("unknown component")
        return found
