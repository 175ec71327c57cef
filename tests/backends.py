"""Chooses the backends the test suite runs on, before Django reads its settings.

pytest loads this module as a plugin (`-p tests.backends` in pyproject.toml), which
happens before pytest-django imports config.settings, so the environment set here is
what the settings see.

- DATABASE_URL / REDIS_URL already set: used as they are.
- Otherwise PostgreSQL at TEST_DATABASE_URL and Redis at TEST_REDIS_URL are used when
  they answer; when they don't, the suite runs on the embedded backends (SQLite,
  in-memory layer) and the tests marked `postgres` / `redis` are skipped with the
  reason printed.
- TONGXIN_REQUIRE_SERVICES=1 (CI sets it): an unreachable service is an error, not a
  skip, so CI can never pass by skipping the tests on real parts.

It also prints the run's last line, "tongxin: N tests passed against PostgreSQL, M
against Redis" (see _Reached for what counts).
"""

import os
import socket
import threading
from urllib.parse import urlsplit

import pytest

DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tongxin"
# Database 10 onwards: tests flush their Redis databases, which must not be a dev's 0-2.
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/10"

REQUIRE_SERVICES = os.environ.get("TONGXIN_REQUIRE_SERVICES", "") == "1"
BACKEND_NOTES: list[str] = []


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False


def _choose(variable: str, test_variable: str, default: str, service: str) -> None:
    if os.environ.get(variable):
        BACKEND_NOTES.append(f"{service}: {variable} as given")
        return
    url = os.environ.get(test_variable, default)
    if _answers(url):
        os.environ[variable] = url
        BACKEND_NOTES.append(f"{service}: {url}")
        return
    reason = f"{service} does not answer at {url}"
    if REQUIRE_SERVICES:
        raise SystemExit(f"TONGXIN_REQUIRE_SERVICES=1 but {reason}")
    BACKEND_NOTES.append(f"{service}: NOT AVAILABLE ({reason}); its tests will be skipped")


_choose("DATABASE_URL", "TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL, "PostgreSQL")
_choose("REDIS_URL", "TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL, "Redis")
os.environ.setdefault("SECRET_KEY", "tongxin-test-only")
# This run's Redis keys (location index, channel layer, task queue), apart from a
# server's and from other runs' sharing the databases; the workers and servers a test
# starts inherit them.
os.environ.setdefault("LOCATION_INDEX_PREFIX", f"tongxin-test-{os.getpid()}:geo:")
os.environ.setdefault("CHANNEL_PREFIX", f"tongxin-test-{os.getpid()}")
os.environ.setdefault("CELERY_QUEUE", f"tongxin-test-{os.getpid()}")
# The test client speaks plain HTTP: no redirect to https, no secure-only cookies.
os.environ.setdefault("HTTPS", "0")
# config.asgi's origin check reads ALLOWED_HOSTS when imported, before pytest-django
# would add "testserver" to it.
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")


def pytest_report_header(config):
    return ["tongxin backends: " + "; ".join(BACKEND_NOTES)]


# --- the summary line -------------------------------------------------------------------


class _Reached:
    """Which real servers the running test's own code reached.

    A test counts "against PostgreSQL" or "against Redis" when it passed and, during its
    call (the test function: not its fixtures' setup or teardown), something in this
    process sent a statement to PostgreSQL, through a Django cursor on a postgresql
    connection, or a command to a Redis server, through redis-py, sync or asyncio: the
    channel layer (channels-redis), the Celery broker (kombu) and the location index
    all go that way. Any thread counts (a consumer's database thread, a service called
    from a thread). So a test that merely asked for the `live_index` or
    `channel_layer` fixture, which empty Redis before and after it, or whose scene was
    set up on PostgreSQL by fixtures while the test itself only computed, is not
    counted; with the embedded backends (SQLite, in-memory layer, memory broker) the
    counts are 0, except for a test that starts a Redis server of its own. What the
    worker and server processes a test starts do is not seen here: every such test
    also reaches the servers itself (it empties its queue, listens on the layer,
    reads the database)."""

    def __init__(self):
        self.recording = False
        self.servers: set[str] = set()
        self.lock = threading.Lock()

    def note(self, server: str) -> None:
        if self.recording and server not in self.servers:
            with self.lock:
                self.servers.add(server)

    def start(self) -> None:
        with self.lock:
            self.servers = set()
            self.recording = True

    def stop(self) -> set[str]:
        with self.lock:
            self.recording = False
            return set(self.servers)


_REACHED = _Reached()
_REACHED_BY: dict[str, set[str]] = {}
_PASSED_ON = {"postgresql": 0, "redis": 0}


def _watch_redis() -> None:
    import redis.asyncio.connection
    import redis.connection

    sync_class = redis.connection.AbstractConnection
    sync_send = sync_class.send_packed_command

    def send_packed_command(self, *args, **kwargs):
        _REACHED.note("redis")
        return sync_send(self, *args, **kwargs)

    sync_class.send_packed_command = send_packed_command

    async_class = redis.asyncio.connection.AbstractConnection
    async_send = async_class.send_packed_command

    async def send_packed_command_async(self, *args, **kwargs):
        _REACHED.note("redis")
        return await async_send(self, *args, **kwargs)

    async_class.send_packed_command = send_packed_command_async


def _watch_database() -> None:
    from django.db.backends.utils import CursorWrapper

    # execute() and executemany() of every Django cursor, debug ones included.
    execute = CursorWrapper._execute_with_wrappers

    def _execute_with_wrappers(self, *args, **kwargs):
        if self.db.vendor == "postgresql":
            _REACHED.note("postgresql")
        return execute(self, *args, **kwargs)

    CursorWrapper._execute_with_wrappers = _execute_with_wrappers


def pytest_configure(config):
    _watch_redis()
    _watch_database()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    _REACHED.start()
    try:
        return (yield)
    finally:
        _REACHED_BY[item.nodeid] = _REACHED.stop()


def pytest_runtest_logreport(report):
    if report.when != "call" or report.outcome != "passed":
        return
    for server in _REACHED_BY.get(report.nodeid, ()):
        _PASSED_ON[server] += 1


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(
        f"tongxin: {_PASSED_ON['postgresql']} tests passed against PostgreSQL, "
        f"{_PASSED_ON['redis']} against Redis"
    )
