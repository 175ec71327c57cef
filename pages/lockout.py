"""What someone locked out of signing in is told (django-axes' AXES_LOCKOUT_CALLABLE):
429 with the time to wait, as JSON on /api/ and as the sign-in page's message elsewhere.
The same answer whether or not the account exists."""

import math

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import ngettext


def _wait_text() -> str:
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return ngettext(
        "Too many failed sign-ins. Try again in %(minutes)d minute.",
        "Too many failed sign-ins. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(request, original_response=None, credentials=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _wait_text()}, status=429)
    return render(request, "registration/locked_out.html", {"message": _wait_text()}, status=429)
