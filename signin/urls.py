"""Sign-in's REST API, under /api/ (config/urls.py puts it in the "api" namespace)."""

from django.urls import path

from signin import api

urlpatterns = [
    path("auth/sms/", api.SmsCodeRequest.as_view(), name="sign-in-sms"),
    path("auth/sms/verify/", api.SmsCodeVerify.as_view(), name="sign-in-sms-verify"),
    path("me/tokens/revoke/", api.MyTokensRevoke.as_view(), name="my-tokens-revoke"),
]
