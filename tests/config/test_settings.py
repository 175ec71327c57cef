"""The production settings: what `check --deploy` says, and Celery set for no loss."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

PROJECT = Path(__file__).resolve().parents[2]

PRODUCTION_ENVIRONMENT = {
    "DATABASE_URL": "postgres://tongxin@db.internal:5432/tongxin",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "SECRET_KEY": "x7#production-like-secret-key-with-enough-length-and-variety-42!",
    "ALLOWED_HOSTS": "tongxin.example.cn",
    "CSRF_TRUSTED_ORIGINS": "https://tongxin.example.cn",
}


def _manage(*args: str, environment: dict) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "HTTPS", "DEBUG")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_the_deployment_checklist_with_production_settings():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", environment=PRODUCTION_ENVIRONMENT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_to_start_in_production_without_a_secret_key():
    environment = {k: v for k, v in PRODUCTION_ENVIRONMENT.items() if k != "SECRET_KEY"}
    result = _manage("check", environment=environment)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_it_never_lets_the_broker_redeliver_a_task_before_its_countdown():
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert visibility > settings.CELERY_MAX_COUNTDOWN_SECONDS


def test_it_configures_celery_to_lose_no_task():
    from config.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_always_eager is False


def test_it_pools_the_database_connections_when_asked():
    environment = {**PRODUCTION_ENVIRONMENT, "DB_POOL_MAX_SIZE": "20"}
    script = "from django.conf import settings; print(settings.DATABASES['default'])"
    result = _manage("shell", "-c", script, environment=environment)
    assert result.returncode == 0, result.stderr
    assert "'pool': {'min_size': 4, 'max_size': 20" in result.stdout


def test_it_refuses_a_pool_with_persistent_connections():
    environment = {**PRODUCTION_ENVIRONMENT, "DB_POOL_MAX_SIZE": "20", "DB_CONN_MAX_AGE": "60"}
    result = _manage("check", environment=environment)
    assert result.returncode != 0
    assert "DB_POOL_MAX_SIZE and DB_CONN_MAX_AGE exclude each other" in result.stderr
