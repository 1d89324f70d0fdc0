"""The HTTP face of cloud functions: ``POST /api/v1/cloud/<name>`` with the parameters as the JSON body.

Same validation, permission checks and error shapes as over the WebSocket; progress and
log lines are not streamed over HTTP.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import PublishableKeyAuthentication, SecretKeyAuthentication
from realtime import calls
from realtime.registry import Call, CloudError


class CloudFunctionView(APIView):
    authentication_classes = (SecretKeyAuthentication, PublishableKeyAuthentication, SessionAuthentication)
    # Each function declares who may call it; `calls.authorize` decides, here as on the socket.
    permission_classes = (AllowAny,)
    allows_publishable_key = True

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.ANY},
        summary="Call a cloud function",
        description="The body is the function's parameters. Errors: `{code, message, …}` with a 4xx status.",
    )
    def post(self, request: Request, name: str) -> Response:
        api_key = request.auth if request.auth is not None else None
        call = Call(user=request.user, api_key=api_key)  # type: ignore[arg-type]
        try:
            result = calls.run(name, request.data, call)
        except CloudError as error:
            return Response(error.as_dict(), status=error.status)
        return Response(result.data, status=result.status)
