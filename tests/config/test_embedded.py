"""The embedded default: one process on SQLite, with Celery in threads of the server."""

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from celery import Celery

from config.celery import app as tongxin_app
from config.embedded import embedded_celery_start
from tests.processes import PROJECT, asgi_server, environment, wait_until

EMBEDDED = {
    "DATABASE_URL": None,
    "REDIS_URL": None,
    "SECRET_KEY": None,
    "DEBUG": None,
    "HTTPS": None,
    "ALLOWED_HOSTS": None,
}


@pytest.fixture
def memory_app():
    """A Celery app configured exactly as Tongxin's, on the in-memory transport."""
    app = Celery("embedded-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = "memory://localhost/"
    app.conf.broker_transport_options = {"polling_interval": 0.01}
    app.conf.beat_schedule = {}
    yield app
    # embedded_celery_start makes its app the current one; give Tongxin's back.
    tongxin_app.set_current()
    tongxin_app.set_default()


def test_it_runs_countdowns_and_periodic_tasks_in_threads(memory_app):
    delayed_ran = threading.Event()
    ran_at = []
    ticks = []

    @memory_app.task(name="test.delayed")
    def delayed():
        ran_at.append(time.time())
        delayed_ran.set()

    @memory_app.task(name="test.tick")
    def tick():
        ticks.append(1)

    memory_app.conf.beat_schedule = {"tick": {"task": "test.tick", "schedule": 0.2}}
    runner = embedded_celery_start(memory_app)
    try:
        sent_at = time.time()
        delayed.apply_async(countdown=1.5)
        ran_in_time = delayed_ran.wait(timeout=30)
        wait_until(lambda: len(ticks) >= 2, timeout=30, what="two periodic ticks")
    finally:
        runner.stop()

    assert ran_in_time
    # The countdown was honoured, unlike task_always_eager: measured, not sampled at
    # one moment (the millisecond is the ETA's rounding).
    assert ran_at[0] - sent_at >= 1.5 - 0.001
    assert not runner.worker_thread.is_alive()


def _manage(*args: str, env: dict) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _shell(code: str, *, env: dict):
    """Runs `code` in `manage.py shell` (E is DeploymentEvent) and returns what it
    printed last, read as JSON."""
    imports = (
        "import json; from datetime import timedelta; from django.utils import timezone; "
        "from dispatch.models import DeploymentEvent as E; "
    )
    return json.loads(_manage("shell", "-c", imports + code, env=env).splitlines()[-1])


def _request(url: str, *, data: dict | None = None, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return {"status": response.status, "body": response.read().decode()}


def _missing(url: str) -> dict:
    try:
        urllib.request.urlopen(url, timeout=10)
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": error.read().decode()}
    raise AssertionError(f"{url} was found")


def test_it_runs_the_whole_system_on_sqlite_with_no_servers(tmp_path):
    env = environment(
        **EMBEDDED, SQLITE_PATH=str(tmp_path / "tongxin.sqlite3"), EVENT_RELAY_SECONDS="1"
    )
    _manage("migrate", "-v0", env=env)
    # As `make run` does: the embedded default runs with DEBUG off, like production.
    _manage("seed_demo", "--allow-demo-logins", env=env)

    with asgi_server(env) as base:
        pages = {
            path: _request(base + path)["status"]
            for path in ("/", "/api/schema/", "/api/docs/", "/admin/login/")
        }
        missing = _missing(f"{base}/no-such-page/")
        login = {"username": "coordinator", "password": "tongxin-demo"}
        token = json.loads(_request(f"{base}/api/auth/token/", data=login)["body"])["token"]
        evacuation = {
            "kind": "evacuation",
            "title": "郭店镇 转移",
            "latitude": 34.566,
            "longitude": 113.721,
            "priority": 4,
            "needs": [{"kind": "people", "skill": "first_aid", "count": 2}],
        }
        created = _request(f"{base}/api/incidents/", token=token, data=evacuation)
        incident = json.loads(created["body"])["id"]

        def offers():
            url = f"{base}/api/incidents/{incident}/assignments/"
            return json.loads(_request(url, token=token)["body"])["results"]

        # Nobody calls the dispatch: the embedded worker runs it after the commit.
        wait_until(offers, timeout=60, what="the embedded worker to offer the incident")
        offered = offers()
        log = json.loads(_request(f"{base}/api/log/?incident={incident}", token=token)["body"])
        # A process that died between commit and publish: the server's embedded beat
        # and worker must find those very events and publish them again. (Waiting for
        # any published event would not do: new ones are published as they commit.)
        last_lost = _shell(
            "last = E.objects.order_by('seq').last().seq; "
            "E.objects.filter(seq__lte=last).update(published_at=None, "
            "occurred_at=timezone.now() - timedelta(minutes=1)); "
            "print(last)",
            env=env,
        )
        unpublished = f"E.objects.filter(seq__lte={last_lost}, published_at__isnull=True)"
        wait_until(
            lambda: _shell(f"print({unpublished}.count())", env=env) == 0,
            timeout=60,
            interval=1,
            what="the embedded relay to publish those events again",
        )

    assert pages == {"/": 200, "/api/schema/": 200, "/api/docs/": 200, "/admin/login/": 200}
    # With nothing configured, DEBUG is off: the site's own 404 page, not Django's list
    # of every URL.
    assert missing["status"] == 404
    assert "此地址没有页面" in missing["body"]
    assert "URLconf" not in missing["body"]
    assert created["status"] == 201
    assert {offer["status"] for offer in offered} == {"offered"}
    assert len(offered) == 3  # two places, urgent: 50 % more offers
    assert [event["kind"] for event in log["results"]][:2] == ["incident.opened", "offer.made"]
    assert max(event["seq"] for event in log["results"]) <= last_lost
