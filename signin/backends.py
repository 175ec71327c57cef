"""Signing in with a code by SMS, as an authentication backend: `authenticate(request,
username=<phone>, sign_in_code=<code>)`. Going through django.contrib.auth's
authenticate() puts django-axes around it, as around a password: a wrong code is a
failed sign-in for that number and that client address, and after SIGN_IN_FAILURE_LIMIT
of them both are refused (429) for SIGN_IN_LOCKOUT_MINUTES, even with the right code."""

from django.contrib.auth.backends import ModelBackend

from signin.services import signin_code_verify


class SmsCodeBackend(ModelBackend):
    def authenticate(self, request, username=None, sign_in_code=None, **kwargs):
        if username is None or sign_in_code is None:
            return None
        user = signin_code_verify(phone=username, code=sign_in_code)
        return user if user is not None and self.user_can_authenticate(user) else None
