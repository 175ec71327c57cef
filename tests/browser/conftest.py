"""Browser tests: Debian's chromium, driven by Playwright, against a real uvicorn and
Celery worker on the test database (the pages need websockets, which the WSGI live
server of pytest-django does not speak)."""

import os
import shutil
from pathlib import Path

import pytest

from tests.backends import REQUIRE_SERVICES
from tests.processes import asgi_server, celery_worker, database_url_of_this_run, environment

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
# Flags this machine needs: root, no GPU, and no calls home (the network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1440, "height": 900}}


@pytest.fixture
def browser(monkeypatch):
    """A headless chromium for one test. Per test, not per session: Playwright's sync
    API keeps an event loop running in this thread while it is open, and tests after
    it that call async_to_sync would fail."""
    if not os.path.exists(CHROMIUM):
        reason = "no chromium: .ci/run installs Debian's package"
        if REQUIRE_SERVICES:
            pytest.fail(f"TONGXIN_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's loop runs in this thread; the test's own database calls are
    # synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def stack(transactional_db, live_index):
    """uvicorn + a Celery worker on this test's database; yields the base URL."""
    env = environment(DATABASE_URL=database_url_of_this_run())
    with celery_worker(env), asgi_server(env) as base:
        yield base


def screenshot(page, name: str) -> Path:
    """Save a screenshot under screenshots/ (look at them: README, browser tests)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, base: str, username: str, password: str, next_path: str = "/"):
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_path}*")
