"""Browser tests: Debian's chromium, driven by Playwright, against a real uvicorn and
Celery worker on the test database (the pages need websockets, which the WSGI live
server of pytest-django does not speak)."""

import os
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection, connections
from playwright.sync_api import expect

from dispatch.availability import index_rebuild
from tests.backends import REQUIRE_SERVICES
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import KM, SITE
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
# The browser's language (its Accept-Language, as a phone or a desktop set to it sends
# it), by the suffix of the screenshots.
LOCALES = {"zh": "zh-CN", "en": "en-US"}
# Where a phone says it is: 2 km north of the dispatch tests' site.
WHERE_I_AM = {"latitude": SITE[0] + 2 * KM, "longitude": SITE[1]}
# How long a page may take to show what a socket brought.
LIVE_WAIT_MS = 20_000
# Markup typed where a name goes: it must show as this text and never run. It fits a
# call sign (30 characters).
HOSTILE = "<img src=x onerror=pwned=1>"


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
        try:
            yield chromium
        finally:
            chromium.close()
            # While Playwright's loop runs in this thread, Django keeps the thread's
            # database connections apart, as for async code (asgiref's Local): the
            # test's queries opened a connection of their own, which pytest-django
            # never closes. Left open, it keeps the test database from being dropped
            # at the end of the run.
            connections.close_all()


@pytest.fixture
def stack(transactional_db, live_index):
    """uvicorn + a Celery worker and beat on this test's database; yields the base URL."""
    env = environment(DATABASE_URL=database_url_of_this_run())
    # With beat, as in production: the relay publishes the events committed in the
    # test's own thread (whose publication after commit cannot run while Playwright's
    # loop runs there), and unanswered offers expire.
    with celery_worker(env, beat=True), asgi_server(env) as base:
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


def elsewhere(service, **arguments):
    """Call a service as another process would: in a thread of its own. Playwright's
    sync API runs an event loop in this one, where the publication after commit
    (async_to_sync) cannot run."""

    def call():
        try:
            return service(**arguments)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(call).result()


# --- people who can sign in on the server ---------------------------------------------


def signs_in_on_the_server(person):
    """Give a user (or a volunteer's user) a password the running server can check: the
    test settings' fast MD5 hasher (tests/conftest.py) is not among the server's
    hashers. PBKDF2 with few iterations is, and is quick. Returns what it was given."""
    user = getattr(person, "user", person)
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(DEMO_PASSWORD, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
    return person


@pytest.fixture
def on_duty_near(make_volunteer):
    """`on_duty_near(place, km=2, phone="13900000001", name=…)`: a volunteer on duty
    `km` north of `place`, in the location index, who can sign in on the server."""

    def put(place: tuple[float, float], *, km: float, phone: str, **fields):
        volunteer = make_volunteer(
            phone,
            on_duty=True,
            last_latitude=place[0] + km * KM,
            last_longitude=place[1],
            **fields,
        )
        signs_in_on_the_server(volunteer)
        index_rebuild()
        return volunteer

    return put


# --- browser contexts -----------------------------------------------------------------


def _recording_script_errors(context):
    # Every uncaught script error on its pages, and everything the Content-Security-Policy
    # refused (Chromium reports it on the console), for the test to assert there were none.
    context.script_errors = []
    context.csp_refusals = []
    context.on("weberror", lambda error: context.script_errors.append(error.error))
    context.on("console", lambda message: _record_csp_refusal(context, message))
    context.set_default_timeout(LIVE_WAIT_MS)
    return context


def _record_csp_refusal(context, message):
    if message.type == "error" and "Content Security Policy" in message.text:
        context.csp_refusals.append(message.text)


def desktop(browser, language: str, **options):
    """A coordinator's or a commander's screen, in `language` ("zh" or "en")."""
    return _recording_script_errors(
        browser.new_context(
            **DESKTOP, locale=LOCALES[language], timezone_id="Asia/Shanghai", **options
        )
    )


def phone(browser, language: str, **device):
    """A volunteer's phone, in `language`, that lets the page know where it is."""
    return _recording_script_errors(
        browser.new_context(
            **{**PHONE, **device},
            locale=LOCALES[language],
            geolocation=WHERE_I_AM,
            permissions=["geolocation"],
        )
    )


def closed_without_script_errors(context):
    errors, refusals = list(context.script_errors), list(context.csp_refusals)
    context.close()
    assert errors == []
    assert refusals == []


def connection_is(page, state: str):
    """The page's connection pill (dashboard and phone) shows `state`."""
    expect(page.locator("#connection")).to_have_class(re.compile(rf"\b{state}\b"))


# --- what the review pages show -------------------------------------------------------


def offer_cells(page, who: str) -> dict:
    """One offer's row in an incident's timeline, by the person offered."""
    row = page.locator("#offers tbody tr", has=page.locator("td.who", has_text=who)).first
    return {
        name: row.locator(f"td.{name}").inner_text().strip()
        for name in ("offered", "delivered", "seen", "answer", "en-route", "on-scene", "finished")
    }
