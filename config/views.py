from django.db import connection
from django.http import JsonResponse
from django.urls import reverse

from config.channel_drops import channel_sends_dropped


def healthz(request):
    """For load balancers and compose health checks: 200 when the database answers;
    with the count of live notifications the channel layer dropped, for operators."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "channel_sends_dropped": channel_sends_dropped()})


def api_root(request):
    return JsonResponse(
        {
            "schema": reverse("api:schema"),
            "docs": reverse("api:docs"),
            "incidents": reverse("api:incidents"),
            "log": reverse("api:log"),
            "me": reverse("api:me"),
        }
    )


def api_not_found(request, rest: str = ""):
    return JsonResponse({"detail": f"No API endpoint at {request.path}."}, status=404)
