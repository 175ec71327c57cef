"""Tongxin's one settings module, driven by the environment (README: Configuration).

Nothing set: the embedded default. SQLite, an in-process channel layer and a Celery
worker + beat running in threads of the server process (config/embedded.py). Same
code paths as production; only the backends differ.

DATABASE_URL / REDIS_URL set: production backends (PostgreSQL, channels-redis, Celery
on Redis, the Redis location index).
"""

import contextlib
import importlib.util
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.csp import content_security_policy
from config.env import (
    env_bool,
    env_int,
    env_list,
    env_str,
    redis_url_with_db_offset,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
EMBEDDED = not REDIS_URL

# No DATABASE_URL: the demo on this machine (`make run`), which must run with nothing
# configured. With one: a deployment, which says what it wants.
LOCAL_DEMO = not DATABASE_URL

# Django's debug pages (a traceback, every URL listed on a 404) only when asked for, with
# DEBUG=1: the demo too answers with the site's own 404 and 500 pages.
DEBUG = env_bool("DEBUG", default=False)


def _local_secret_key(path: Path) -> str:
    """The demo's own secret key, made on its first start and kept in var/ (not in git),
    so sessions outlive a restart. Not a fixed key in the code: that one would be
    published, and anyone could sign a session cookie for a demo put on a network."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, made = tempfile.mkstemp(dir=path.parent, prefix=".secret_key-")
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(50))
            # Two commands starting at once (the server, a manage.py) keep one key:
            # the link fails for the second.
            with contextlib.suppress(FileExistsError):
                os.link(made, path)
        finally:
            os.unlink(made)
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not LOCAL_DEMO:
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is")
    SECRET_KEY = _local_secret_key(BASE_DIR / "var" / "secret_key")

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if LOCAL_DEMO or DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Behind the load balancer TLS ends at the proxy; HTTPS says the public URL is https.
# Django does not read X-Forwarded-Proto itself (no SECURE_PROXY_SSL_HEADER): anyone can
# send that header. uvicorn (--proxy-headers) takes the scheme and the client's address
# from it only when the connection comes from FORWARDED_ALLOW_IPS, the proxy's address,
# and Django sees the result in the request.
HTTPS = env_bool("HTTPS", default=not (LOCAL_DEMO or DEBUG))
SECURE_SSL_REDIRECT = HTTPS
# Load balancers probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# A script injected into a page cannot read the CSRF token from the cookie; the pages
# write it in base.html's data-csrf for their own scripts (config/csp.py).
CSRF_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS

INSTALLED_APPS = [
    # First, so that its pages (sign-in, 403) take precedence over the admin's.
    "pages",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "volunteers",
    "incidents",
    "dispatch",
    # Sign-in without passwords: codes by SMS, invitations (issue 11).
    "signin",
    # Messages to those on duty, briefings, safety talks (issue 13).
    "briefings",
    # Idempotency keys of the API's creating POSTs: shared by the domain apps' APIs.
    "config.idempotency",
    # The faces, one per kind of user (README: Architecture).
    "dashboard",
    "phone",
    "review",
]

MIDDLEWARE = [
    # Outermost: a 5xx from /api/ is JSON, wherever inside it came from.
    "config.api.api_server_errors_as_json",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The Content-Security-Policy (config/csp.py), then its one exception, inside it.
    "csp.middleware.CSPMiddleware",
    "config.csp.inline_styles_on_tool_pages",
    # Last: turns a sign-in refused for too many failures into a 429 (pages/lockout.py).
    "axes.middleware.AxesMiddleware",
]

# Sign-in throttling (django-axes): after SIGN_IN_FAILURE_LIMIT failed sign-ins for one
# account, or from one client address, further attempts are refused for
# SIGN_IN_LOCKOUT_MINUTES — on the pages and on /api/auth/token/ alike. Attempts are
# kept in PostgreSQL, shared by every web process, and still counted when Redis is
# down. Behind the proxy, uvicorn's --proxy-headers gives the client's own address.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # A code by SMS (signin/backends.py), behind django-axes like a password.
    "signin.backends.SmsCodeBackend",
]
AXES_FAILURE_LIMIT = env_int("SIGN_IN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGN_IN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "pages.lockout.lockout_response"
AXES_VERBOSE = False
# Kept out of axes' records and logs, with its defaults: the sign-in code typed.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]

# Sign-in without passwords (signin/, issue 11). A code by SMS is valid
# SIGN_IN_CODE_MINUTES, once, and dies after SIGN_IN_CODE_ATTEMPTS wrong tries (wrong
# codes are failed sign-ins for django-axes too: the number is locked as above). Codes
# asked for: one per SIGN_IN_CODE_INTERVAL_SECONDS and SIGN_IN_CODES_PER_NUMBER_PER_HOUR
# per number, SIGN_IN_CODES_PER_ADDRESS_PER_HOUR per client address, members' numbers
# or not. An invitation link (a QR code) works once, within INVITATION_HOURS.
SIGN_IN_CODE_MINUTES = env_int("SIGN_IN_CODE_MINUTES", 5)
SIGN_IN_CODE_ATTEMPTS = env_int("SIGN_IN_CODE_ATTEMPTS", 5)
SIGN_IN_CODE_INTERVAL_SECONDS = env_int("SIGN_IN_CODE_INTERVAL_SECONDS", 60)
SIGN_IN_CODES_PER_NUMBER_PER_HOUR = env_int("SIGN_IN_CODES_PER_NUMBER_PER_HOUR", 5)
SIGN_IN_CODES_PER_ADDRESS_PER_HOUR = env_int("SIGN_IN_CODES_PER_ADDRESS_PER_HOUR", 30)
INVITATION_HOURS = env_int("INVITATION_HOURS", 48)

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _pool(max_size: int) -> dict:
    """A connection pool (psycopg_pool) for the ASGI server. Without one, every
    database call of a consumer or view, run in a thread of its own, opens and closes
    a PostgreSQL connection: a few milliseconds on each of a thousand phones' acks.
    Persistent connections (DB_CONN_MAX_AGE) are the alternative for Celery workers,
    whose prefork children must not inherit a pool's threads."""
    if env_int("DB_CONN_MAX_AGE", 0):
        raise ImproperlyConfigured("DB_POOL_MAX_SIZE and DB_CONN_MAX_AGE exclude each other")
    # A request that finds the pool empty waits this long, then fails with a 500 rather
    # than hanging: size the pool to the thread pool (ASGI_THREADS) and PostgreSQL's
    # max_connections across processes.
    return {"min_size": min(4, max_size), "max_size": max_size, "timeout": 10}


def _database_from_environment() -> dict:
    if DATABASE_URL:
        if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
            raise ImproperlyConfigured("DATABASE_URL must be a postgres:// URL")
        database = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))
        database["CONN_HEALTH_CHECKS"] = True
        pool_size = env_int("DB_POOL_MAX_SIZE", 0)
        if pool_size:
            database["OPTIONS"] = {**database.get("OPTIONS", {}), "pool": _pool(pool_size)}
        return database
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env_str("SQLITE_PATH") or str(BASE_DIR / "db.sqlite3"),
        "OPTIONS": {
            # The embedded worker writes from its own thread while the server serves:
            # WAL lets readers go on during a write, and IMMEDIATE takes the write lock
            # at BEGIN so two writers queue on busy_timeout instead of one failing
            # with "database is locked" halfway through its transaction.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }


DATABASES = {"default": _database_from_environment()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "var" / "static")
# Leaflet's files from the django-leaflet package, served as /static/leaflet/...: the
# package's Django app itself needs GeoDjango (GDAL), which Tongxin does not use.
STATICFILES_DIRS = [
    Path(importlib.util.find_spec("leaflet").submodule_search_locations[0]) / "static",
]
# STATIC_HASHED=1 where collectstatic runs before the server (`make run`, the Docker
# image): the files are collected with their contents' hash in their names and gzipped
# (config/storage.py), the pages ask for those names, and WhiteNoise serves them from
# STATIC_ROOT with a year-long immutable Cache-Control. Off (tests, a server started by
# hand): the plain names, served straight from the apps' folders, never an old copy.
STATIC_HASHED = env_bool("STATIC_HASHED", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "config.storage.HashedStaticFilesStorage"
        if STATIC_HASHED
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
# With DEBUG on, Django's hashed storage hands out the plain names: served, as written,
# from the apps' folders.
WHITENOISE_USE_FINDERS = DEBUG or not STATIC_HASHED

# --- REST API -----------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "config.api.ApiAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "config.pagination.CappedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tongxin (同心) API",
    "DESCRIPTION": "Emergency volunteer dispatch: incidents, volunteers, the deployment log.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the installed sidecar package: no CDN, the system runs on intranets.
    "SWAGGER_UI_DIST": "SIDECAR",
    # Tongxin's icon, as on every other page (pages.views.favicon).
    "SWAGGER_UI_FAVICON_HREF": "/favicon.ico",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "AssignmentStatusEnum": "dispatch.models.AssignmentStatus",
        "IncidentKindEnum": "incidents.models.Incident.Kind",
        "NeedKindEnum": "incidents.models.Need.Kind",
        "TeamKindEnum": "volunteers.models.Team.Kind",
        "TownshipKindEnum": "volunteers.models.Township.Kind",
        "VehicleKindEnum": "volunteers.models.VehicleKind",
    },
}

# --- Channels -----------------------------------------------------------------------

# channels-redis drops a group member this long after it joined (see CHANNEL_LAYERS).
CHANNEL_GROUP_EXPIRY_SECONDS = env_int("CHANNEL_GROUP_EXPIRY_SECONDS", 86400)
if EMBEDDED:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"group_expiry": CHANNEL_GROUP_EXPIRY_SECONDS},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": redis_url_with_db_offset(REDIS_URL, 0),
                        # channels-redis waits on Redis with BZPOPMIN for 5 s; redis-py's
                        # own 5 s read timeout fired first and killed an idle socket's
                        # consumer (bench/live.py). And a pool of 100 connections
                        # refused group_discard calls when many sockets closed at once.
                        "socket_timeout": 15,
                        "max_connections": 1000,
                    }
                ],
                # Group sends are at-most-once; the deployment log is the truth and
                # clients resume with since=<seq>. Capacity bounds a stalled client's
                # backlog, expiry drops messages nobody read within the time a
                # reconnecting client would replay from the log anyway.
                "capacity": env_int("CHANNEL_CAPACITY", 1000),
                "expiry": env_int("CHANNEL_EXPIRY_SECONDS", 30),
                "prefix": env_str("CHANNEL_PREFIX", "tongxin"),
                # A socket's group membership lapses this long after it (re)joined:
                # set on purpose, and consumers re-join every WS_RECHECK_SECONDS, far
                # sooner, so a phone left open for weeks keeps receiving.
                "group_expiry": CHANNEL_GROUP_EXPIRY_SECONDS,
            },
        }
    }

# --- Celery -------------------------------------------------------------------------

# The longest countdown any task is scheduled with (offer time-outs, escalation). The
# broker must not redeliver a task before it is due, so its visibility timeout is set
# well above this; tests/test_settings.py holds the two apart.
CELERY_MAX_COUNTDOWN_SECONDS = env_int("CELERY_MAX_COUNTDOWN_SECONDS", 3600)

CELERY_BROKER_URL = "memory://localhost/" if EMBEDDED else redis_url_with_db_offset(REDIS_URL, 1)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3 * CELERY_MAX_COUNTDOWN_SECONDS),
    # Embedded: the in-process worker polls the memory transport every 10 ms.
    **({"polling_interval": 0.01} if EMBEDDED else {}),
}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# After losing Redis the worker tries it again every second, for ever (Celery's default
# gives up after 100 tries), and asks for the sweeps once it is back (dispatch.tasks).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CONSUMER = "dispatch.tasks:CatchUpConsumer"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "relay-unpublished-events": {
        "task": "dispatch.tasks.events_relay",
        "schedule": float(env_int("EVENT_RELAY_SECONDS", 5)),
    },
    "expire-unanswered-offers": {
        "task": "dispatch.tasks.offers_expire",
        "schedule": float(env_int("OFFER_SWEEP_SECONDS", 5)),
    },
    "redispatch-unfilled-needs": {
        "task": "dispatch.tasks.needs_redispatch",
        "schedule": float(env_int("REDISPATCH_SECONDS", 30)),
    },
    # A withdrawal whose task the broker lost (DESIGN.md §4 rule 3): open offers of
    # whoever is busy are withdrawn and their needs offered to others.
    "withdraw-offers-of-the-busy": {
        "task": "dispatch.tasks.offers_withdraw_from_busy_sweep",
        "schedule": float(env_int("WITHDRAW_SWEEP_SECONDS", 10)),
    },
    # Reserved shifts coming due become active work (dispatch.services.shifts_take_up).
    "take-up-due-shifts": {
        "task": "dispatch.tasks.shifts_take_up",
        "schedule": float(env_int("SHIFT_SWEEP_SECONDS", 60)),
    },
    "reconcile-location-index": {
        "task": "dispatch.tasks.index_reconcile",
        "schedule": float(env_int("INDEX_RECONCILE_SECONDS", 60)),
    },
    "text-undelivered-offers": {
        "task": "dispatch.tasks.offers_sms_fallback",
        "schedule": float(env_int("SMS_SWEEP_SECONDS", 10)),
    },
    # Messages to those on duty that no phone confirmed (briefings.sms).
    "text-undelivered-broadcasts": {
        "task": "briefings.tasks.broadcasts_sms_fallback",
        "schedule": float(env_int("SMS_SWEEP_SECONDS", 10)),
    },
    "expire-idempotency-keys": {
        "task": "dispatch.tasks.idempotency_keys_expire",
        "schedule": 3600.0,
    },
    "forget-old-personal-data": {
        "task": "dispatch.tasks.personal_data_expire",
        "schedule": 3600.0,
    },
}

# What is kept only for a while (dispatch.tasks.personal_data_expire, hourly).
LOCATION_RETENTION_DAYS = env_int("LOCATION_RETENTION_DAYS", 30)
SMS_RETENTION_DAYS = env_int("SMS_RETENTION_DAYS", 90)
TOKEN_MAX_AGE_DAYS = env_int("TOKEN_MAX_AGE_DAYS", 90)

# --- Dispatch -----------------------------------------------------------------------

# How long an offer waits for an answer before it expires and the next candidate is
# asked, by incident priority (4 critical .. 1 low).
OFFER_TIMEOUT_SECONDS = {
    4: env_int("OFFER_TIMEOUT_CRITICAL", 90),
    3: env_int("OFFER_TIMEOUT_HIGH", 180),
    2: env_int("OFFER_TIMEOUT_NORMAL", 600),
    1: env_int("OFFER_TIMEOUT_LOW", 1800),
}
# Urgent needs are offered to this many percent more people than they need: few
# accept, the first to accept win and the others are told "not needed" (DESIGN.md §5).
URGENT_EXTRA_OFFERS_PERCENT = env_int("URGENT_EXTRA_OFFERS_PERCENT", 50)
# Candidates fetched from the location index per offer wanted, before filtering.
CANDIDATES_PER_OFFER = env_int("CANDIDATES_PER_OFFER", 10)
# Needs that become dispatchable within this many milliseconds of each other (incidents
# opened, needs added or enlarged) are planned together, across incidents, and a lone
# incident waits this long at most (dispatch/batching.py). 0 (the default, for now:
# docs/decisions.md, "Planning together"): each incident is planned alone, at once.
DISPATCH_BATCH_WINDOW_MS = env_int("DISPATCH_BATCH_WINDOW_MS", 0)
# Nobody left to ask (issue 13, dispatch.escalation): a people need nobody within reach
# can take is searched further by itself, step by step, each step reaching this far
# whatever the volunteers' own travel ranges (15 km unless they said), up to
# ESCALATION_MAX_KM; then the dashboard raises it. Steps beyond the maximum are dropped.
ESCALATION_STEPS_KM = [int(km) for km in env_list("ESCALATION_STEPS_KM", ["20", "30"])]
ESCALATION_MAX_KM = env_int("ESCALATION_MAX_KM", 50)
# Shifts hold a place, not the person (issue 13, dispatch.shifts): a shift accepted
# more than this many minutes before it starts is reserved (the volunteer stays free
# for other work) and becomes their active work this long before it starts.
SHIFT_RESERVE_LEAD_MINUTES = env_int("SHIFT_RESERVE_LEAD_MINUTES", 60)
# How long urgent work (a rescue) is expected to take: someone with a shift reserved
# within this many hours is not offered it (incidents have no expected duration).
URGENT_TASK_HOURS = env_int("URGENT_TASK_HOURS", 3)

# A creating POST's Idempotency-Key and its answer are kept this long for retries
# (config/idempotency), then deleted by beat every hour.
IDEMPOTENCY_KEY_HOURS = env_int("IDEMPOTENCY_KEY_HOURS", 24)

# --- Live delivery (docs/websockets.md) -----------------------------------------------

WS_MAX_FRAME_BYTES = env_int("WS_MAX_FRAME_BYTES", 8192)
WS_RATE_LIMIT_PER_MINUTE = env_int("WS_RATE_LIMIT_PER_MINUTE", 120)
# A client further behind than this many events gets a fresh snapshot, not a replay.
WS_REPLAY_LIMIT = env_int("WS_REPLAY_LIMIT", 1000)
# How often an open socket checks that its user may still have it (not deactivated,
# token or session not revoked, role kept) and re-joins its groups.
WS_RECHECK_SECONDS = env_int("WS_RECHECK_SECONDS", 300)
# How often each web process asks whether its channel layer's Redis restarted (and so
# lost every group): its sockets are then closed with 4503, to resume from the log.
WS_LAYER_CHECK_SECONDS = env_int("WS_LAYER_CHECK_SECONDS", 2)

# --- Pages ----------------------------------------------------------------------------

# Map tiles for the dashboard, e.g. an intranet tile server's
# "https://tiles.example.cn/{z}/{x}/{y}.png". Empty: no tiles, the map still shows
# incidents, volunteers and vehicles on a plain background.
MAP_TILES_URL = env_str("MAP_TILES_URL")
MAP_TILES_ATTRIBUTION = env_str("MAP_TILES_ATTRIBUTION")
# No inline script on any page; the tile server is the one other origin (config/csp.py).
CONTENT_SECURITY_POLICY = content_security_policy(MAP_TILES_URL)
# Addresses typed on the dashboard: empty, the offline gazetteer (townships, open
# incidents and sites by name); or a geopy service name such as "nominatim", asked at
# GEOCODER_URL (e.g. an intranet "http://nominatim.internal"), the gazetteer as fallback.
GEOCODER = env_str("GEOCODER")
GEOCODER_URL = env_str("GEOCODER_URL")
# The key of a service that needs one: "amap" (高德, GCJ-02) or "baidu" (BD-09), whose
# points incidents.geocoding converts to WGS-84.
GEOCODER_API_KEY = env_str("GEOCODER_API_KEY")

# The location index (DESIGN.md §5): Redis GEO sets in production, in-process otherwise.
LOCATION_INDEX_URL = "" if EMBEDDED else redis_url_with_db_offset(REDIS_URL, 2)
LOCATION_INDEX_PREFIX = env_str("LOCATION_INDEX_PREFIX", "tongxin:geo:")

# --- SMS fallback (dispatch/sms/; docs/websockets.md, "SMS fallback") -----------------

# An offer no phone confirmed within SMS_FALLBACK_SECONDS goes out by SMS, once.
SMS_FALLBACK_SECONDS = env_int("SMS_FALLBACK_SECONDS", 30)
# The gateway: dispatch.sms.gateways.ConsoleSmsBackend logs (and appends to SMS_OUTBOX_FILE,
# one JSON line a message); dispatch.sms.gateways.HttpSmsBackend POSTs to SMS_HTTP_URL.
SMS_BACKEND = env_str("SMS_BACKEND", "dispatch.sms.gateways.ConsoleSmsBackend")
SMS_OUTBOX_FILE = env_str("SMS_OUTBOX_FILE")
SMS_HTTP_URL = env_str("SMS_HTTP_URL")
SMS_HTTP_TOKEN = env_str("SMS_HTTP_TOKEN")
SMS_HTTP_TIMEOUT_SECONDS = env_int("SMS_HTTP_TIMEOUT_SECONDS", 10)
# Replies to numbers that are no volunteer's, in all, per hour (each costs an SMS).
SMS_STRANGER_REPLIES_PER_HOUR = env_int("SMS_STRANGER_REPLIES_PER_HOUR", 60)
# The gateway's inbound webhook sends this in X-Tongxin-Sms-Secret; empty: webhook off.
SMS_INBOUND_SECRET = env_str("SMS_INBOUND_SECRET")

# --- Web Push (dispatch/push.py; docs/decisions.md, "Web Push") -------------------------

# Off unless a VAPID private key is set (`python manage.py webpush_keys` makes one): the
# intranets this runs on often cannot reach the browsers' push services.
WEB_PUSH_VAPID_PRIVATE_KEY = env_str("WEB_PUSH_VAPID_PRIVATE_KEY")
# Who runs this server, for the push services (a mailto: or https: URL).
WEB_PUSH_CONTACT = env_str("WEB_PUSH_CONTACT", "mailto:dispatch@tongxin.invalid")
# The push services a subscription may name (scheme and host, "*." for any subdomain):
# the server POSTs to a subscription's endpoint, so it must never be an address of the
# user's choosing.
WEB_PUSH_SERVICES = env_list(
    "WEB_PUSH_SERVICES",
    [
        "https://fcm.googleapis.com",
        "https://updates.push.services.mozilla.com",
        "https://web.push.apple.com",
        "https://*.notify.windows.com",
    ],
)
WEB_PUSH_TIMEOUT_SECONDS = env_int("WEB_PUSH_TIMEOUT_SECONDS", 5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"count_dropped_sends": {"()": "config.channel_drops.CountDroppedSends"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "celery": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
        # Its INFO line about dropped sends is raised to WARNING and counted.
        "channels_redis.core": {"level": "INFO", "filters": ["count_dropped_sends"]},
    },
}
