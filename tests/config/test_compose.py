"""docker-compose.yml, the Dockerfile and .dockerignore, checked without Docker: the
services exist and are watched, and every command names something that really exists."""

import fnmatch
import importlib
import inspect
import re
import shlex
from pathlib import Path

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from django.conf import settings
from django.test import RequestFactory
from django.urls import resolve

ROOT = Path(__file__).resolve().parents[2]
LONG_RUNNING = ["postgres", "redis", "web", "worker", "beat"]
APP_SERVICES = ["web", "worker", "beat"]
CELERY_SERVICES = {"worker": "worker", "beat": "beat"}


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def _command(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]


def _environment(service: dict) -> dict:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    return environment


def _celery_app_and_subcommand(args: list[str]) -> tuple[str, str]:
    """The -A/--app value and the sub-command of a `celery ...` command line."""
    assert args[0] == "celery"
    app = subcommand = None
    rest = iter(args[1:])
    for arg in rest:
        if arg in ("-A", "--app"):
            app = next(rest)
        elif arg.startswith("--app="):
            app = arg.split("=", 1)[1]
        elif not arg.startswith("-") and subcommand is None:
            subcommand = arg
    return app, subcommand


def test_it_defines_the_five_services(services):
    assert set(LONG_RUNNING) <= set(services)


# Ids not bare service names: a bare "redis" id would be a "redis" keyword, which the
# suite's summary counts as a test that ran against Redis.
@pytest.mark.parametrize("name", LONG_RUNNING, ids=lambda name: f"service-{name}")
def test_it_watches_each_long_running_service_with_a_healthcheck(services, name):
    healthcheck = services[name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable")
    assert healthcheck["test"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_it_gives_the_app_services_the_database_and_redis(services, name):
    environment = _environment(services[name])
    assert environment.get("DATABASE_URL", "").startswith("postgres://")
    assert environment.get("REDIS_URL", "").startswith("redis://")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_it_takes_the_secret_key_from_the_environment_without_a_default(services, name):
    assert _environment(services[name])["SECRET_KEY"].startswith("${SECRET_KEY:?")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_it_starts_the_app_services_once_their_backends_are_ready(services, name):
    depends_on = services[name]["depends_on"]
    assert depends_on["postgres"]["condition"] == "service_healthy"
    assert depends_on["redis"]["condition"] == "service_healthy"
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"


def test_it_pools_webs_database_connections_and_keeps_the_workers(services):
    web, worker = _environment(services["web"]), _environment(services["worker"])
    assert int(web["DB_POOL_MAX_SIZE"]) > 0
    assert "DB_CONN_MAX_AGE" not in web  # Django refuses a pool with persistent connections
    assert int(worker["DB_CONN_MAX_AGE"]) > 0
    assert "DB_POOL_MAX_SIZE" not in worker  # prefork children must not inherit a pool


def test_it_migrates_in_a_one_shot_service(services):
    migrate = services["migrate"]
    assert _command(migrate)[-3:] == ["manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"


def test_it_runs_web_on_an_importable_asgi_application(services):
    args = _command(services["web"])
    assert args[0] == "uvicorn"
    target = next(arg for arg in args[1:] if not arg.startswith("-"))
    module_name, attribute = target.split(":")
    application = getattr(importlib.import_module(module_name), attribute)
    # ASGI 3: one coroutine callable taking (scope, receive, send).
    call = application if inspect.isfunction(application) else application.__call__
    assert inspect.iscoroutinefunction(call)
    assert len(inspect.signature(application).parameters) == 3


def test_it_publishes_web_to_the_proxy_on_loopback_only(services):
    (published,) = services["web"]["ports"]
    assert published == "${WEB_BIND_ADDRESS:-127.0.0.1}:8000:8000"
    # uvicorn takes the forwarded scheme and address only from the proxy's address.
    assert "--proxy-headers" in _command(services["web"])
    assert _environment(services["web"])["FORWARDED_ALLOW_IPS"] == (
        "${FORWARDED_ALLOW_IPS:-127.0.0.1}"
    )


def test_it_does_not_let_django_believe_anyones_forwarded_proto():
    request = RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https")

    assert not request.is_secure()


def test_it_checks_web_health_at_healthz(services):
    check = " ".join(services["web"]["healthcheck"]["test"])
    assert "127.0.0.1:8000/healthz" in check
    assert resolve("/healthz").url_name == "healthz"


@pytest.mark.parametrize("name", CELERY_SERVICES)
def test_it_points_celery_at_the_config_app(services, name):
    app_name, _ = _celery_app_and_subcommand(_command(services[name]))
    assert app_name == "config"
    config = importlib.import_module(app_name)
    assert isinstance(config.celery_app, Celery)
    # The same lookup `celery -A config` does.
    assert find_app(app_name) is config.celery_app


@pytest.mark.parametrize("name, subcommand", CELERY_SERVICES.items())
def test_it_runs_the_right_celery_subcommand(services, name, subcommand):
    assert _celery_app_and_subcommand(_command(services[name]))[1] == subcommand


def test_it_registers_every_scheduled_task():
    from config import celery_app

    celery_app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in celery_app.tasks


def test_it_builds_on_python_3_11_or_later():
    froms = re.findall(r"^FROM\s+(?:--\S+\s+)*(\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    # The last stage is the image that runs.
    match = re.fullmatch(r"python:(\d+)\.(\d+)\S*", froms[-1])
    assert match, froms[-1]
    assert (int(match[1]), int(match[2])) >= (3, 11)


def _dockerignored(path: str) -> bool:
    """Roughly Docker's rule: the last matching pattern wins, `!` re-includes, and a
    pattern matching a folder excludes everything in it."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        candidates = [pattern, pattern.removeprefix("**/")]
        if any(fnmatch.fnmatchcase(p, c) for p in prefixes for c in candidates):
            ignored = not negated
    return ignored


@pytest.mark.parametrize("path", [".venv", ".venv/bin/python", "db.sqlite3"])
def test_it_keeps_local_files_out_of_the_image(path):
    assert _dockerignored(path)


def test_it_still_sends_the_code_to_the_build():
    assert not _dockerignored("manage.py")
    assert not _dockerignored("config/settings.py")
    assert not _dockerignored("pyproject.toml")
