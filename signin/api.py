"""Sign-in without passwords, for apps and scripts (REST, under /api/):
`POST /api/auth/sms/` texts a code, `POST /api/auth/sms/verify/` trades it for a token,
`POST /api/me/tokens/revoke/` signs the caller out everywhere."""

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ErrorSerializer
from signin.client import client_address, number_locked_out
from signin.services import (
    SignInRateLimited,
    phone_or_error,
    sign_ins_revoke,
    signin_code_request,
    signin_token_for,
)

PHONE_MAX_LENGTH = 32

LOCKED_OR_LIMITED = OpenApiResponse(
    response=ErrorSerializer,
    description=(
        "Too many codes asked for this number or from this address (with Retry-After), "
        "or sign-ins for this number or from this address are locked after too many "
        "wrong codes."
    ),
)


class CodeRequestSerializer(serializers.Serializer):
    phone = serializers.CharField(
        max_length=PHONE_MAX_LENGTH, help_text="A mainland mobile number, e.g. 13800138000."
    )


class CodeVerifySerializer(CodeRequestSerializer):
    code = serializers.RegexField(
        r"^[0-9]{6}$", max_length=6, min_length=6, help_text="The 6 digits texted."
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")


def _rate_limited(error: SignInRateLimited) -> Response:
    return Response(
        {"detail": error.message},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(error.retry_after)},
    )


def _locked() -> Response:
    # django-axes' middleware replaces this with its own 429 (pages/lockout.py).
    return Response({"detail": _("Locked.")}, status=status.HTTP_429_TOO_MANY_REQUESTS)


class SmsCodeRequest(APIView):
    """Text a 6-digit sign-in code to a member's mobile number. The answer is the same
    202 whether or not the number is a member's (no SMS goes to other numbers)."""

    # Nobody is signed in yet: no credentials read, none needed.
    authentication_classes = []
    permission_classes = []
    serializer_class = CodeRequestSerializer

    @extend_schema(
        auth=[],
        request=CodeRequestSerializer,
        responses={
            202: inline_serializer("SignInCodeSent", {"detail": serializers.CharField()}),
            429: LOCKED_OR_LIMITED,
        },
    )
    def post(self, request):
        form = CodeRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            number = phone_or_error(form.validated_data["phone"])
        except DjangoValidationError as error:
            return Response(error.message_dict, status=status.HTTP_400_BAD_REQUEST)
        if number_locked_out(request, number):
            return _locked()
        try:
            signin_code_request(phone=number, client_address=client_address(request))
        except SignInRateLimited as error:
            return _rate_limited(error)
        return Response(
            {"detail": _("If this number is a member's, a sign-in code is on its way by SMS.")},
            status=status.HTTP_202_ACCEPTED,
        )


class SmsCodeVerify(APIView):
    """Trade the texted code for an API token. A code works once, for a few minutes;
    wrong codes count as failed sign-ins (django-axes) and lock the number, and the
    address, as wrong passwords do."""

    authentication_classes = []
    permission_classes = []
    serializer_class = CodeVerifySerializer

    @extend_schema(
        auth=[],
        request=CodeVerifySerializer,
        responses={200: TokenSerializer, 429: LOCKED_OR_LIMITED},
    )
    def post(self, request):
        form = CodeVerifySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            phone = phone_or_error(form.validated_data["phone"])
        except DjangoValidationError as error:
            return Response(error.message_dict, status=status.HTTP_400_BAD_REQUEST)
        django_request = request._request
        user = authenticate(
            django_request, username=phone, sign_in_code=form.validated_data["code"]
        )
        if getattr(django_request, "axes_locked_out", False):
            return _locked()
        if user is None:
            return Response(
                {"detail": _("Wrong or expired code. Ask for a new one if needed.")},
                status=status.HTTP_400_BAD_REQUEST,
            )
        # As a page sign-in: forgives the number its failures, records last_login.
        user_logged_in.send(sender=type(user), request=django_request, user=user)
        return Response({"token": signin_token_for(user=user)})


class MyTokensRevoke(APIView):
    """Sign out everywhere: the caller's API token is deleted and their sessions end;
    their open sockets close within WS_RECHECK_SECONDS."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "SignInsRevoked",
                {"tokens": serializers.IntegerField(), "sessions": serializers.IntegerField()},
            )
        },
    )
    def post(self, request):
        return Response(sign_ins_revoke(users=[request.user]))
