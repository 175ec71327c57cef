"""The SMS gateway's webhook, POST /api/sms/inbound/ (dispatch/urls.py): the gateway,
not a user, hands over each SMS it received, authenticated by a shared secret header.
What a message means is dispatch.sms.replies's business."""

import hmac

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import INVALID_INPUT_RESPONSE, ErrorSerializer
from dispatch.models import SmsOutcome
from dispatch.sms.replies import phone_digits, sms_inbound_handle

SECRET_HEADER = "X-Tongxin-Sms-Secret"
TEXT_MAX_CHARS = 1600


class SmsGatewaySecret(permissions.BasePermission):
    """The gateway, not a user: it proves itself with the shared secret. With no
    secret configured the webhook does not exist (404)."""

    message = f"Wrong or missing {SECRET_HEADER} header."

    def has_permission(self, request, view):
        secret = settings.SMS_INBOUND_SECRET
        if not secret:
            raise NotFound(f"No API endpoint at {request.path}.")
        given = request.headers.get(SECRET_HEADER, "")
        return hmac.compare_digest(given.encode(), secret.encode())


class SmsInboundSerializer(serializers.Serializer):
    # `from` is a Python keyword, so the fields are declared here rather than as
    # class attributes.
    def get_fields(self):
        return {
            "from": serializers.CharField(
                max_length=40, help_text="The sender's number, e.g. `+86 138 0013 8000`."
            ),
            "text": serializers.CharField(
                allow_blank=True,
                trim_whitespace=False,
                help_text="The message, e.g. `Y 4821`. Longer than "
                f"{TEXT_MAX_CHARS} characters: the rest is dropped.",
            ),
        }

    def validate_from(self, value):
        if not 5 <= len(phone_digits(value)) <= 20:
            raise serializers.ValidationError("Not a phone number.")
        return value

    def validate_text(self, value):
        return value[:TEXT_MAX_CHARS]


class SmsAnswerSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=SmsOutcome.choices)
    reply = serializers.CharField(help_text="The text sent back to the sender by SMS.")


class SmsInbound(APIView):
    """A message from a phone, as the SMS gateway received it: an answer to an offer
    sent by SMS ("Y 4821" accepts, "N 4821" declines; also 是/否, any case, full-width)
    or free text, which is kept. Always 200 for what a person may type; the outcome
    says what happened and `reply` is what was texted back."""

    authentication_classes = []
    permission_classes = [SmsGatewaySecret]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    throttle_classes = []

    @extend_schema(
        operation_id="sms_inbound",
        request=SmsInboundSerializer,
        responses={
            200: SmsAnswerSerializer,
            400: OpenApiResponse(
                response=INVALID_INPUT_RESPONSE.response,
                description="Malformed JSON or a missing field",
            ),
            403: OpenApiResponse(
                response=ErrorSerializer, description=f"Wrong or missing {SECRET_HEADER}"
            ),
            404: OpenApiResponse(
                response=ErrorSerializer,
                description="The webhook is off (SMS_INBOUND_SECRET unset)",
            ),
        },
        parameters=[
            OpenApiParameter(
                SECRET_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="The shared secret, SMS_INBOUND_SECRET.",
            )
        ],
        auth=[],
    )
    def post(self, request):
        form = SmsInboundSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        answer = sms_inbound_handle(
            sender=form.validated_data["from"], text=form.validated_data["text"]
        )
        return Response({"outcome": answer.outcome.value, "reply": answer.reply})
