"""``/api/v1/components/``, ``/api/v1/executions/`` and the original ``POST /component/run``.

Views find components through ``visible_components`` (membership, the API key's project, or the
validation roles) and change them through ``components.services`` / ``components.runs``.
"""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.access import ServiceErrorsMixin
from accounts.authentication import PublishableKeyAuthentication, SecretKeyAuthentication, request_api_key
from accounts.models import ApiKeyKind, Permission, Project, User
from accounts.services import require_permission
from components import connectors, credentials, errors, legacy, runs, services
from components.errors import RunError
from components.models import Component, ComponentVersion, Credential, Execution, Trigger
from components.oauth2.serializers import OAuth2StatusSerializer, oauth2_status
from components.usage import ComponentInUse, component_uses
from synchronise.lib.queryparams import query_int

SYNC_TIMEOUT_SECONDS = 30.0
MAX_TIMEOUT_SECONDS = 120.0


def actor(request: Request) -> User:
    """The person behind the request (a secret key acts as its creator); only after authentication."""
    return cast("User", request.user)


def visible_components(request: Request) -> QuerySet[Component]:
    """Components the requester may read: a key's project only; people: their projects."""
    key = request_api_key(request)
    components = Component.objects.select_related("project")
    if key is not None:
        components = components.filter(project_id=key.project_id)
        return components.filter(public=True) if key.kind == ApiKeyKind.PUBLISHABLE else components
    if not request.user.is_authenticated:
        return components.none()
    return components.filter(project__in=Project.objects.visible_to(request.user))


def _may_run_any(request: Request) -> bool:
    """The validation roles, signed in: a key reaches its own project only, whoever created it."""
    user = request.user
    return request_api_key(request) is None and user.is_authenticated and user.has_perm("accounts.run_any_component")


def runnable_component(request: Request, pk: Any) -> Component:
    """The component to run, or ``RunError`` 104 (unknown, or not yours: existence does not leak)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise RunError(errors.UNKNOWN_ID, "unknown component") from None
    found = visible_components(request).filter(pk=pk).first()
    if found is None and _may_run_any(request):
        found = Component.objects.select_related("project").filter(pk=pk).first()  # validation roles
    if found is None:
        raise RunError(errors.UNKNOWN_ID, f"unknown component {pk}")
    return found


class ComponentSerializer(serializers.ModelSerializer[Component]):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    latest_version = serializers.SerializerMethodField()

    class Meta:
        model = Component
        fields = (
            "id", "project", "name", "description", "tags", "icon", "public", "kind",
            "inputs", "outputs", "code", "http", "builtin", "connector", "latest_version", "created_at", "updated_at",
        )  # fmt: skip
        read_only_fields = ("id", "connector", "latest_version", "created_at", "updated_at")
        extra_kwargs = {"code": {"trim_whitespace": False}}  # code is kept exactly as typed

    def get_latest_version(self, component: Component) -> int | None:
        return max((v.number for v in component.versions.all()), default=None)

    def to_representation(self, instance: Component) -> dict[str, Any]:
        return hide_code(instance, super().to_representation(instance))


def hide_code(component: Component, data: dict[str, Any]) -> dict[str, Any]:
    """A closed-source marketplace fork answers ``code`` and ``http`` as null, to its own project too."""
    from components.marketplace.models import code_hidden

    if code_hidden(component):
        data.update(code=None, http=None)
    return data


class VersionSerializer(serializers.ModelSerializer[ComponentVersion]):
    class Meta:
        model = ComponentVersion
        fields = ("number", "changelog", "kind", "inputs", "outputs", "code", "http", "builtin", "created_at")

    def to_representation(self, instance: ComponentVersion) -> dict[str, Any]:
        return hide_code(instance.component, super().to_representation(instance))


class ExecutionSerializer(serializers.ModelSerializer[Execution]):
    version = serializers.IntegerField(source="version.number", allow_null=True, default=None)

    class Meta:
        model = Execution
        fields = (
            "id", "component", "version", "status", "trigger", "inputs", "outputs", "logs", "error",
            "created_at", "started_at", "finished_at", "duration_ms",
        )  # fmt: skip


def _field_errors(error: ValidationError) -> DRFValidationError:
    return DRFValidationError(error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages})


def run_response(execution: Execution) -> Response:
    """200 with outputs; the error's status and body; 202 with the id when still running."""
    body = ExecutionSerializer(execution).data
    if not execution.is_finished:
        return Response(body, status=status.HTTP_202_ACCEPTED)
    if execution.error:
        return Response({**execution.error, "execution": body}, status=errors.http_status(execution.error["code"]))
    return Response(body, status=status.HTTP_200_OK)


@extend_schema(tags=["components"])
@extend_schema_view(
    list=extend_schema(summary="Your components"),
    create=extend_schema(summary="Create a component", description="Needs 'edit' in the project."),
    retrieve=extend_schema(summary="One component, with its draft"),
    partial_update=extend_schema(summary="Change the draft and settings", description="Needs 'edit'."),
    destroy=extend_schema(
        summary="Delete a component",
        description=(
            "Needs 'edit'; its versions and runs go too. 409 (`component_in_use`, with `uses`) while the "
            "latest published version of a workflow of the project uses it. `GET .../uses/` lists them first."
        ),
    ),
)
class ComponentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet[Component],
):
    """Components of your projects. Members with ``edit`` change them; ``view`` reads and runs."""

    serializer_class = ComponentSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Component]:
        return visible_components(self.request).prefetch_related("versions").order_by("project_id", "name", "id")

    def get_object(self) -> Component:
        component = super().get_object()
        if self.request.method not in ("GET", "HEAD", "OPTIONS") or self.action in ("publish", "duplicate"):
            self._require(component.project, Permission.EDIT)
        return component

    def _require(self, project: Project, needed: str) -> None:
        key = request_api_key(self.request)
        if key is not None and key.kind == ApiKeyKind.PUBLISHABLE:
            raise PermissionDenied("a publishable key only runs components")
        require_permission(project, self.request.user, needed)  # type: ignore[arg-type]

    def perform_create(self, serializer: ComponentSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        project = data.pop("project")
        key = request_api_key(self.request)
        if not Project.objects.visible_to(self.request.user).filter(pk=project.pk).exists() or (
            key is not None and key.project_id != project.pk
        ):
            raise DRFValidationError({"project": ["unknown project"]})
        try:
            serializer.instance = services.component_create(project=project, actor=self.request.user, **data)  # type: ignore[arg-type]
        except ValidationError as error:
            raise _field_errors(error) from None

    def perform_update(self, serializer: ComponentSerializer) -> None:  # type: ignore[override]
        data = dict(serializer.validated_data)
        data.pop("project", None)
        try:
            serializer.instance = services.component_update(
                component=cast("Component", serializer.instance), actor=actor(self.request), **data
            )
        except ValidationError as error:
            raise _field_errors(error) from None

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        component = self.get_object()
        try:
            services.component_delete(component=component, actor=actor(request))
        except ComponentInUse as refused:
            # 409 naming the workflows whose latest published version calls it.
            body = {"code": "component_in_use", "message": f"“{component.name}” cannot be deleted: {refused.message}"}
            return Response({**body, "uses": [u.as_dict() for u in refused.uses]}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="What uses the component",
        description=(
            "The workflows of its project whose draft or versions call it: `[{kind, id, name, url, where, "
            "blocking}]`; a blocking use (the latest published version) keeps it from being deleted."
        ),
    )
    @action(detail=True, methods=["get"])
    def uses(self, request: Request, pk: str) -> Response:
        return Response([use.as_dict() for use in component_uses(self.get_object())])

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: VersionSerializer}, summary="Publish the draft")
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str) -> Response:
        component = self.get_object()
        try:
            changelog = request.data.get("changelog", "") if isinstance(request.data, dict) else ""
            version = services.component_publish(component=component, actor=actor(request), changelog=str(changelog))
        except ValidationError as error:
            raise _field_errors(error) from None
        return Response(VersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={201: ComponentSerializer}, summary="Copy the component")
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: str) -> Response:
        try:
            copy = services.component_duplicate(component=self.get_object(), actor=request.user)  # type: ignore[arg-type]
        except ValidationError as error:
            raise _field_errors(error) from None
        return Response(ComponentSerializer(copy).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=VersionSerializer(many=True), summary="The published versions")
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str) -> Response:
        return Response(VersionSerializer(self.get_object().versions.all(), many=True).data)


class ConnectorSerializer(serializers.Serializer[Any]):
    connector = serializers.CharField(help_text="The connector's name, for `install`.")
    name = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    icon = serializers.CharField(help_text="A short emoji.")
    provider = serializers.CharField(help_text="GitHub, Slack, Utility…")
    docs = serializers.CharField(help_text="The provider's documentation of the call.")
    kind = serializers.CharField(help_text="http (a declarative request) or code (runs in the sandbox).")
    inputs = serializers.ListField(child=serializers.DictField())
    outputs = serializers.ListField(child=serializers.DictField())


class InstallSerializer(serializers.Serializer[Any]):
    project = serializers.IntegerField(help_text="The project to install it in (you need 'edit').")


@extend_schema(tags=["components"])
class ConnectorViewSet(viewsets.ViewSet):
    """The official connectors (``components/connectors``): ready-made components any project may
    install, as a published copy of its own."""

    lookup_field = "name"
    lookup_value_converter = "slug"

    @extend_schema(responses=ConnectorSerializer(many=True), summary="The official connectors")
    def list(self, request: Request) -> Response:
        return Response([connector.as_entry() for connector in connectors.catalog()])

    @extend_schema(responses=ConnectorSerializer, summary="One official connector")
    def retrieve(self, request: Request, name: str) -> Response:
        return Response(self._connector(name).as_entry())

    @extend_schema(
        request=InstallSerializer,
        responses={201: ComponentSerializer, 200: ComponentSerializer},
        summary="Install it in a project",
        description="Needs 'edit' in the project. 201 with the new component, published; 200 with the "
        "project's copy when it has one already.",
    )
    @action(detail=True, methods=["post"])
    def install(self, request: Request, name: str) -> Response:
        connector = self._connector(name)
        body = InstallSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = request_api_key(request)
        if key is not None and key.kind == ApiKeyKind.PUBLISHABLE:
            raise PermissionDenied("a publishable key only runs components")
        project = Project.objects.visible_to(request.user).filter(pk=body.validated_data["project"]).first()
        if project is None or (key is not None and key.project_id != project.pk):
            raise DRFValidationError({"project": ["unknown project"]})
        component, created = services.connector_install(project=project, actor=actor(request), name=connector.name)
        component = Component.objects.prefetch_related("versions").get(pk=component.pk)
        return Response(ComponentSerializer(component).data, status=status.HTTP_201_CREATED if created else 200)

    @staticmethod
    def _connector(name: str) -> connectors.Connector:
        found = connectors.get(name)
        if found is None:
            raise Http404("no official connector by that name")
        return found


class RunOptionsSerializer(serializers.Serializer[Any]):
    """The query string of the run endpoints (``async`` and ``version`` are read as they are)."""

    timeout = serializers.FloatField(required=False, min_value=0, default=SYNC_TIMEOUT_SECONDS)

    def validate_timeout(self, value: float) -> float:
        return min(value, MAX_TIMEOUT_SECONDS)


class RunView(APIView):
    """``POST /api/v1/components/{id}/run``: the body is the inputs."""

    authentication_classes = (SecretKeyAuthentication, PublishableKeyAuthentication, SessionAuthentication)
    permission_classes = (AllowAny,)  # who may run is `runnable_component`'s business: 104 otherwise
    allows_publishable_key = True

    @extend_schema(
        tags=["components"],
        summary="Run a component",
        request=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter("async", OpenApiTypes.BOOL, description="Return 202 with the execution at once."),
            OpenApiParameter("version", OpenApiTypes.STR, description="A version number, or 'draft' (editors)."),
            OpenApiParameter("timeout", OpenApiTypes.FLOAT, description="Seconds to wait (default 30)."),
        ],
        responses={200: ExecutionSerializer, 202: ExecutionSerializer},
    )
    def post(self, request: Request, pk: str) -> HttpResponseBase:
        return self.run(request, pk, request.data, trigger=Trigger.API)

    def run(self, request: Request, pk: Any, inputs: Any, *, trigger: str) -> HttpResponseBase:
        version = request.query_params.get("version")
        # The query is read before anything is recorded: a bad timeout once answered 500 after the
        # run was recorded and counted, so a retrying client ran it twice.
        options = RunOptionsSerializer(data=request.query_params)
        options.is_valid(raise_exception=True)
        try:
            if not isinstance(inputs, dict):
                raise RunError(errors.INCORRECT_INPUT, "the body must be a JSON object of inputs")
            component = runnable_component(request, pk)
            if version == runs.DRAFT:
                self._require_editor(request, component)
            execution = runs.run_start(
                component=component,
                inputs=dict(inputs),
                trigger=Trigger.EDITOR if version == runs.DRAFT else trigger,
                version=version,
                user=request.user,  # type: ignore[arg-type]
                api_key=request_api_key(request),
            )
        except RunError as error:
            return self.refused(error)
        if request.query_params.get("async") in ("1", "true"):
            return run_response(execution)
        timeout = options.validated_data["timeout"]
        return self.answer(runs.run_wait(execution, timeout=timeout), timeout=timeout)

    def refused(self, error: RunError) -> HttpResponseBase:
        return Response(error.as_dict(), status=error.http_status)

    def answer(self, execution: Execution, *, timeout: float) -> HttpResponseBase:
        return run_response(execution)

    def _require_editor(self, request: Request, component: Component) -> None:
        if request_api_key(request) is not None and request_api_key(request).kind == ApiKeyKind.PUBLISHABLE:  # type: ignore[union-attr]
            raise RunError(errors.NOT_ALLOWED, "the draft runs only for the project's editors")
        try:
            require_permission(component.project, request.user, Permission.EDIT)  # type: ignore[arg-type]
        except (PermissionDenied, Project.DoesNotExist):
            raise RunError(errors.NOT_ALLOWED, "the draft runs only for the project's editors") from None


class LegacyRunView(RunView):
    """The original ``POST /component/run`` with ``x-synchronise-public-key`` and ``{id, …inputs}``:
    200 with the outputs object, 500 with ``{code, message, …}`` for every failure, ``S_C`` for the
    Arduino (``components.legacy``, docs/legacy-clients.md)."""

    @extend_schema(
        tags=["components"],
        summary="Run a component (original route)",
        description=(
            "The original product's route, for its clients (npm `synchronise`, the browser client, "
            "Arduino). The body is `{id, …inputs}`; authenticate with `x-synchronise-public-key` "
            "(components marked `public`) or as for the API. **200 with the outputs object itself** "
            "when the run succeeded; **500 with `{code, message, …}` on every failure** (103 no id, "
            "104 unknown, 105 not allowed or a bad/revoked key, 101 `incorrect`, 102 `missing`, "
            "108 quota, the component's own code ≥ 200, 126 still running after `timeout`, "
            "`rate_limited`…). A truthy `S_C` field (Arduino) prefixes the answer with `1` or `0` "
            "as `text/plain`. `?async=1` (not in the original) answers 202 with the execution. "
            "See docs/legacy-clients.md."
        ),
        request=OpenApiTypes.OBJECT,
        responses=legacy.schema_responses("the run", ExecutionSerializer),
    )
    def post(self, request: Request, pk: str = "") -> HttpResponseBase:
        try:
            component_id, inputs = legacy.split_body(legacy.request_body(request), what="Component")
            if not request.user.is_authenticated and request_api_key(request) is None:
                raise RunError(errors.NOT_ALLOWED, legacy.NO_KEY_MESSAGE)
        except RunError as error:
            return self.refused(error)
        return self.run(request, component_id, inputs, trigger=Trigger.LEGACY)

    def refused(self, error: RunError) -> HttpResponseBase:
        return legacy.refused(error, arduino=legacy.wants_arduino(self.request))

    def answer(self, execution: Execution, *, timeout: float) -> HttpResponseBase:
        arduino = legacy.wants_arduino(self.request)
        if not execution.is_finished:
            follow = f"/api/v1/executions/{execution.pk}/"
            return legacy.still_running(execution_id=execution.pk, follow=follow, waited=timeout, arduino=arduino)
        return legacy.finished(
            status=execution.status, outputs=execution.outputs, error=execution.error, arduino=arduino
        )

    # DRF's dispatch needs only an HttpResponse here (finalize_response), not its Response.
    def handle_exception(self, exc: Exception) -> HttpResponseBase:  # type: ignore[override]
        response = super().handle_exception(exc)  # re-raises what DRF does not answer (a bug: 500 page)
        return legacy.exception_answer(exc, response, arduino=legacy.wants_arduino(self.request))


class RunnerOrMember(BasePermission):
    """Signed-in people, secret keys, and publishable keys (which see only the runs they started)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user.is_authenticated or request_api_key(request) is not None)


@extend_schema(tags=["components"])
@extend_schema_view(
    list=extend_schema(summary="Component runs you may see"),
    retrieve=extend_schema(summary="One component run"),
)
class ExecutionViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet[Execution]):
    """Executions of the components you can read; with a publishable key, the runs it started."""

    serializer_class = ExecutionSerializer
    authentication_classes = (SecretKeyAuthentication, PublishableKeyAuthentication, SessionAuthentication)
    permission_classes = (RunnerOrMember,)
    allows_publishable_key = True

    def get_queryset(self) -> QuerySet[Execution]:
        queryset = Execution.objects.select_related("version")
        key = request_api_key(self.request)
        if key is not None and key.kind == ApiKeyKind.PUBLISHABLE:
            queryset = queryset.filter(api_key=key)
        else:
            queryset = queryset.filter(component__in=visible_components(self.request))
        # Bounded like every list's integer filters (a 400 beyond 64 bits, not the database's overflow);
        # anything else than digits is ignored, as it always was.
        digits = self.request.query_params.get("component", "").isdigit()
        component = query_int(self.request, "component") if digits else None
        return queryset.filter(component_id=component) if component is not None else queryset


class CredentialSerializer(serializers.Serializer[Any]):
    """Write-only values: answers carry the name, the allowed hosts and dates, never the value."""

    name = serializers.CharField(max_length=64)
    value = serializers.CharField(write_only=True, trim_whitespace=False)
    allowed_hosts = serializers.ListField(
        child=serializers.CharField(max_length=300),
        required=False,
        max_length=credentials.MAX_ALLOWED_HOSTS,
        help_text="Hosts the value may be sent to: api.example.com, *.example.com or an IP address; "
        "empty: any public host. Left out: unchanged (a new credential: empty).",
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    kind = serializers.CharField(read_only=True, help_text="secret, or oauth2 (connected on the credentials page)")
    oauth2 = serializers.SerializerMethodField(help_text="An OAuth2 connection's provider and status; tokens never.")

    @extend_schema_field(OAuth2StatusSerializer(allow_null=True))
    def get_oauth2(self, credential: Credential) -> dict[str, Any] | None:
        return oauth2_status(credential)


class CredentialChangeSerializer(serializers.Serializer[Any]):
    """``PATCH``: a new value, new allowed hosts, or both; what is left out stays."""

    value = serializers.CharField(write_only=True, trim_whitespace=False, required=False)
    allowed_hosts = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, max_length=credentials.MAX_ALLOWED_HOSTS
    )


@extend_schema(tags=["credentials"], parameters=[OpenApiParameter("project_pk", OpenApiTypes.INT, "path")])
class CredentialViewSet(ServiceErrorsMixin, viewsets.ViewSet):
    """``/api/v1/projects/{id}/credentials/``: list names and allowed hosts (members), set, change
    and delete (``edit``). A project deleted while a request is under way (the services raise
    ``Project.DoesNotExist``) is a 404, as for an outsider."""

    serializer_class = CredentialSerializer
    lookup_field = "name"

    def _project(self, request: Request, project_pk: int) -> Project:
        key = request_api_key(request)
        if key is not None and key.project_id != int(project_pk):
            raise Http404
        project = Project.objects.visible_to(request.user).filter(pk=project_pk).first()
        if project is None:
            raise Http404
        return project

    @extend_schema(responses=CredentialSerializer(many=True), summary="The project's credentials (names only)")
    def list(self, request: Request, project_pk: int) -> Response:
        project = self._project(request, project_pk)
        credentials_ = project.credentials.select_related("oauth2").order_by("name")
        return Response(CredentialSerializer(credentials_, many=True).data)

    @extend_schema(request=CredentialSerializer, responses={201: CredentialSerializer}, summary="Store a credential")
    def create(self, request: Request, project_pk: int) -> Response:
        """Create or replace a credential (the value can never be read back)."""
        project = self._project(request, project_pk)
        serializer = CredentialSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            credential = credentials.credential_set(project=project, actor=request.user, **serializer.validated_data)  # type: ignore[arg-type]
        except ValidationError as error:
            raise _field_errors(error) from None
        return Response(CredentialSerializer(credential).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CredentialChangeSerializer, responses={200: CredentialSerializer}, summary="Change a credential"
    )
    def partial_update(self, request: Request, project_pk: int, name: str) -> Response:
        """Change the allowed hosts, the value, or both, of an existing credential."""
        project = self._project(request, project_pk)
        serializer = CredentialChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not project.credentials.filter(name=name).exists():
            raise Http404
        data = serializer.validated_data
        try:
            credential = credentials.credential_set(
                project=project,
                actor=request.user,  # type: ignore[arg-type]
                name=name,
                value=data.get("value"),
                allowed_hosts=data.get("allowed_hosts"),
            )
        except ValidationError as error:
            raise _field_errors(error) from None
        return Response(CredentialSerializer(credential).data)

    @extend_schema(responses={204: None}, summary="Delete a credential")
    def destroy(self, request: Request, project_pk: int, name: str) -> Response:
        project = self._project(request, project_pk)
        try:
            credentials.credential_delete(project=project, actor=request.user, name=name)  # type: ignore[arg-type]
        except Credential.DoesNotExist:
            raise Http404 from None
        return Response(status=status.HTTP_204_NO_CONTENT)
