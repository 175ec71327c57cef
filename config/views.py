import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from config.channel_drops import channel_sends_dropped

logger = logging.getLogger(__name__)

# A health check answers within the load balancer's patience even when Redis hangs.
REDIS_CHECK_TIMEOUT_SECONDS = 1


def healthz(request):
    """For load balancers and compose health checks, and for operators.

    200 while the database answers, whatever Redis does: with Redis down every page,
    every read and every write still works (DESIGN.md §4 rule 5: live notifications,
    queued tasks and the location index catch up from the database once it is back),
    so a load balancer must not take the web nodes out. 503 when the database does not
    answer: nothing works then. The body says which part is down:

        {"status": "ok", "database": "ok", "redis": "down", "channel_layer": "down",
         "broker": "down", "location_index": "down", "channel_sends_dropped": null}

    `redis` is "ok" only when all three of its parts answer; in the embedded default
    (no REDIS_URL) it and they are "embedded". `channel_sends_dropped` counts the live
    notifications the channel layer dropped (null when Redis does not answer, or
    embedded). No separate readiness check: a web node that reaches the database is
    ready, and one that failed readiness with Redis would fail on every node at once.
    """
    database = _database_state()
    parts = _redis_states()
    if settings.EMBEDDED:
        redis_state = "embedded"
    else:
        redis_state = "ok" if all(state == "ok" for state in parts.values()) else "down"
    body = {
        "status": "ok" if database == "ok" else "down",
        "database": database,
        "redis": redis_state,
        **parts,
        "channel_sends_dropped": _channel_sends_dropped() if redis_state == "ok" else None,
    }
    return JsonResponse(body, status=200 if database == "ok" else 503)


def _database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        logger.warning("health check: the database does not answer", exc_info=True)
        return "down"
    return "ok"


def _redis_states() -> dict[str, str]:
    if settings.EMBEDDED:
        return dict.fromkeys(("channel_layer", "broker", "location_index"), "embedded")
    urls = {
        "channel_layer": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"],
        "broker": settings.CELERY_BROKER_URL,
        "location_index": settings.LOCATION_INDEX_URL,
    }
    return {part: _redis_state(url) for part, url in urls.items()}


def _redis_state(url: str) -> str:
    client = redis.Redis.from_url(
        url,
        socket_timeout=REDIS_CHECK_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_CHECK_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except redis.RedisError:
        return "down"
    finally:
        client.close()
    return "ok"


def _channel_sends_dropped() -> int | None:
    try:
        return channel_sends_dropped()
    except redis.RedisError:
        return None


# Exempt from the CSRF check as api_not_found below: a POST here is a JSON 405, not
# Django's HTML "CSRF verification failed" page.
@csrf_exempt
def api_root(request):
    if request.method not in ("GET", "HEAD"):
        refusal = JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
        refusal["Allow"] = "GET, HEAD"
        return refusal
    return JsonResponse(
        {
            "schema": reverse("api:schema"),
            "docs": reverse("api:docs"),
            "incidents": reverse("api:incidents"),
            "log": reverse("api:log"),
            "me": reverse("api:me"),
        }
    )


# Exempt from the CSRF check: it changes nothing, and a POST to a mistyped /api/ path
# (or a malformed id, `/api/needs/x/assign/`) is a JSON 404 like any other, not
# Django's HTML "CSRF verification failed" page.
@csrf_exempt
def api_not_found(request, rest: str = ""):
    return JsonResponse({"detail": f"No API endpoint at {request.path}."}, status=404)
