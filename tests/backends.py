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
"""

import os
import socket
from urllib.parse import urlsplit

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
