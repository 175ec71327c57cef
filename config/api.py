"""What every API view shares: role permissions and the error format.

Errors are JSON with the right 4xx status: `{"detail": "..."}`, or for invalid input
`{"field": ["message", ...]}` (DRF's shape). A Django ValidationError raised by a
service (a model or database constraint) becomes the same 400 instead of a 500. And a
5xx from any /api/ path is JSON too, `{"detail": "..."}` (api_server_errors_as_json).
The schema documents those answers (ApiAutoSchema, and each view's own 409, 422, 429).
"""

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.utils.decorators import sync_and_async_middleware
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from volunteers.roles import Role, user_has_role, user_may_watch


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


# --- the errors in the schema ---------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in the caller's language.")


# Invalid input: `{"field": ["message", ...]}` (a list's items by their index, e.g.
# `{"needs": {"1": {"skill": ["..."]}}}`), `{"non_field_errors": [...]}`, or
# `{"detail": "..."}` for malformed JSON or a refused change of state.
INVALID_INPUT_RESPONSE = OpenApiResponse(
    response={"type": "object", "additionalProperties": {}},
    description='Invalid input: `{"field": ["message", ...]}`, or `{"detail": "..."}`.',
)
FORBIDDEN_RESPONSE = OpenApiResponse(
    response=ErrorSerializer,
    description="Not signed in (no or wrong credentials), or not allowed to do this.",
)
NOT_FOUND_RESPONSE = OpenApiResponse(response=ErrorSerializer, description="No such object.")
UNSUPPORTED_MEDIA_TYPE_RESPONSE = OpenApiResponse(
    response=ErrorSerializer,
    description="A body in a content type this operation does not read (or none named).",
)
CONFLICT_RESPONSE = OpenApiResponse(
    response=ErrorSerializer, description="The current state does not allow it; `detail` says why."
)


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the errors every operation may answer documented
    beside what the view declares: 400 when it takes input (a body, or query
    parameters), 403 when it checks who asks, 404 when its path names an object, 415
    when it reads a body. The errors only some views give (409, 422, 429) are in their
    own extend_schema.
    Schemathesis holds the API to this (tests/config/test_api_schema.py)."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        # An optional query parameter sent empty (`?status=`, as a form sends "any") is
        # read as not given, by the filters and the pages alike: say so.
        for parameter in query:
            if not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        errors = {}
        if self.method in ("POST", "PUT", "PATCH") or query:
            errors["400"] = INVALID_INPUT_RESPONSE
        if self.view.authentication_classes or self.view.permission_classes:
            errors["403"] = FORBIDDEN_RESPONSE
        if "{" in self.path:
            errors["404"] = NOT_FOUND_RESPONSE
        if "requestBody" in operation:
            errors["415"] = UNSUPPORTED_MEDIA_TYPE_RESPONSE
        responses = operation["responses"]
        for code, error in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(error, code)
        operation["responses"] = dict(sorted(responses.items()))
        return operation


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = ValidationError(detail)
    return drf_exception_handler(exc, context)


class IsCoordinator(permissions.BasePermission):
    message = "Only coordinators may do this."

    def has_permission(self, request, view):
        return user_has_role(request.user, Role.COORDINATOR)


class IsCoordinatorOrCommander(permissions.BasePermission):
    message = "Only coordinators and commanders may see this."

    def has_permission(self, request, view):
        return user_may_watch(request.user)


class IsVolunteer(permissions.BasePermission):
    message = "Only volunteers have a volunteer profile."

    def has_permission(self, request, view):
        return hasattr(request.user, "volunteer")


def query_filters(request, filter_serializer: type) -> dict:
    """The request's query filters, validated by `filter_serializer`: a malformed one
    is a 400 naming it, not a 500. Filters not given are left out."""
    form = filter_serializer(data=request.query_params)
    form.is_valid(raise_exception=True)
    return {name: value for name, value in form.validated_data.items() if value is not None}


SERVER_ERROR_DETAIL = (
    "Server error: the request could not be completed. Try again in a moment; a request "
    "sent with an Idempotency-Key is safe to repeat with the same key."
)


@sync_and_async_middleware
def api_server_errors_as_json(get_response):
    """Middleware, outermost: every 5xx answer to an /api/ path is JSON
    `{"detail": ...}` with its status, never Django's HTML error page, whether the error
    came from a DRF view, a plain Django view or another middleware. Django has already
    logged the exception (with its traceback) and made its 500 page by then, debugging
    or not; this only replaces the body. Answers already in JSON are left alone."""

    if iscoroutinefunction(get_response):

        async def middleware(request):
            return _json_if_api_server_error(request, await get_response(request))

    else:

        def middleware(request):
            return _json_if_api_server_error(request, get_response(request))

    return middleware


def _json_if_api_server_error(request, response):
    if response.status_code < 500 or not request.path.startswith("/api/"):
        return response
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    replaced = JsonResponse({"detail": SERVER_ERROR_DETAIL}, status=response.status_code)
    if response.has_header("Retry-After"):
        replaced["Retry-After"] = response["Retry-After"]
    return replaced
