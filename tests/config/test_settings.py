"""The production settings: what `check --deploy` says, Celery set for no loss, and beat's
schedule doing its work."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dispatch import events, services
from dispatch.availability import index_rebuild
from dispatch.events import DASHBOARD_GROUP, event_record
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from tests.dispatch.scenes import KM, SITE, open_rescue
from tests.dispatch.test_events import listen, receive
from tests.dispatch.test_tasks import empty_this_runs_queue
from tests.processes import celery_worker, database_url_of_this_run, environment, wait_until

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


def _local_demo_settings(**environment: str) -> dict:
    """The settings `make run` gets with nothing configured (no DATABASE_URL, REDIS_URL,
    SECRET_KEY, DEBUG, HTTPS or ALLOWED_HOSTS), as JSON."""
    script = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'https': s.SECURE_SSL_REDIRECT, "
        "'secure_cookies': s.SESSION_COOKIE_SECURE, 'key': s.SECRET_KEY, "
        "'static': s.STORAGES['staticfiles']['BACKEND']}))"
    )
    clean = {k: v for k, v in os.environ.items() if k != "ALLOWED_HOSTS"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=PROJECT,
        env={**clean, "DATABASE_URL": "", "REDIS_URL": "", "SECRET_KEY": "", **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_it_runs_the_local_demo_with_debug_off_and_nothing_configured():
    first = _local_demo_settings()
    again = _local_demo_settings()

    assert first["debug"] is False
    assert first["hosts"] == ["localhost", "127.0.0.1", "[::1]"]
    assert first["https"] is False and first["secure_cookies"] is False
    # Its own key, made once and kept (var/secret_key), not one published in the code.
    assert len(first["key"]) >= 50
    assert again["key"] == first["key"]
    assert first["key"] == (PROJECT / "var" / "secret_key").read_text().strip()
    assert first["static"] == "whitenoise.storage.CompressedStaticFilesStorage"


def test_it_shows_the_debug_pages_only_when_asked():
    assert _local_demo_settings(DEBUG="1")["debug"] is True
    assert _local_demo_settings(STATIC_HASHED="1")["static"] == (
        "config.storage.HashedStaticFilesStorage"
    )


def test_it_makes_the_local_demos_secret_key_once_and_keeps_it_private(tmp_path):
    from config.settings import _local_secret_key

    path = tmp_path / "var" / "secret_key"
    made = _local_secret_key(path)

    assert _local_secret_key(path) == made
    assert path.stat().st_mode & 0o077 == 0
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]
    assert made != _local_secret_key(tmp_path / "elsewhere" / "secret_key")


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


# --- beat's schedule, run by a real worker with beat (-B) on short intervals -----------


def worker_with_beat(**intervals: str):
    """A `celery worker --beat` on this test's database, with these schedule intervals."""
    return celery_worker(
        environment(DATABASE_URL=database_url_of_this_run(), **intervals), beat=True
    )


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_expires_an_overdue_offer_with_no_explicit_call(live_index, coordinator, make_volunteer):
    rescuers = [
        make_volunteer(
            f"1390000000{n}", on_duty=True, last_latitude=SITE[0] + n * KM, last_longitude=SITE[1]
        )
        for n in range(1, 5)
    ]
    index_rebuild()
    incident = open_rescue(coordinator, count=1)
    first = services.incident_dispatch(incident_id=incident.pk)
    Assignment.objects.filter(pk__in=[offer.pk for offer in first]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    empty_this_runs_queue()

    def expired_and_offered_again():
        statuses = dict(
            Assignment.objects.filter(need__incident=incident).values_list("pk", "status")
        )
        expired = all(statuses[offer.pk] == AssignmentStatus.EXPIRED for offer in first)
        return expired and sorted(pk for pk, s in statuses.items() if s == "offered")

    with worker_with_beat(OFFER_SWEEP_SECONDS="1"):
        offered_again = wait_until(
            expired_and_offered_again, timeout=60, what="beat's sweep to expire the offers"
        )

    # Escalated to the next nearest, who were not asked before.
    assert {o.volunteer_id for o in Assignment.objects.filter(pk__in=offered_again)} == {
        rescuers[2].pk,
        rescuers[3].pk,
    }
    expired = DeploymentEvent.objects.filter(kind="offer.expired")
    assert sorted(expired.values_list("assignment_id", flat=True)) == [o.pk for o in first]


def lost_events(volunteer, monkeypatch, *, count: int) -> list[int]:
    """Events committed by a process that died before publishing them: not sent, not
    marked published, older than the relay's grace."""
    seqs = []
    with monkeypatch.context() as dying:
        dying.setattr(events, "events_send", lambda batch: 0)
        for _ in range(count):
            with transaction.atomic():
                seqs.append(event_record(kind=EventKind.VOLUNTEER_ON_DUTY, volunteer=volunteer).seq)
    DeploymentEvent.objects.filter(seq__in=seqs).update(
        occurred_at=timezone.now() - timedelta(minutes=5)
    )
    return seqs


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_republishes_the_events_whose_publication_was_lost(
    volunteer, channel_layer, monkeypatch
):
    dashboard = listen(DASHBOARD_GROUP)
    already_lost = lost_events(volunteer, monkeypatch, count=1)
    empty_this_runs_queue()

    def published(seqs):
        return not DeploymentEvent.objects.filter(seq__in=seqs, published_at=None).exists()

    with worker_with_beat(EVENT_RELAY_SECONDS="1"):
        # A worker that starts runs the relay once (dispatch.tasks.CatchUpConsumer): only
        # events lost after that run show that beat relays on its schedule.
        wait_until(lambda: published(already_lost), timeout=60, what="the first relay")
        lost = lost_events(volunteer, monkeypatch, count=3)
        wait_until(lambda: published(lost), timeout=60, what="beat's relay to publish them")

    # Those very events went out, oldest first, each once, and nothing else.
    frames = [receive(dashboard)["event"]["seq"] for _ in range(1 + len(lost))]
    assert frames == already_lost + lost
