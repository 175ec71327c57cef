"""What every API view shares: role permissions and the error format.

Errors are JSON with the right 4xx status: `{"detail": "..."}`, or for invalid input
`{"field": ["message", ...]}` (DRF's shape). A Django ValidationError raised by a
service (a model or database constraint) becomes the same 400 instead of a 500. And a
5xx from any /api/ path is JSON too, `{"detail": "..."}` (api_server_errors_as_json).
"""

from asgiref.sync import iscoroutinefunction
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.utils.decorators import sync_and_async_middleware
from rest_framework import permissions, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from volunteers.roles import Role, user_has_role, user_may_watch


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


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
