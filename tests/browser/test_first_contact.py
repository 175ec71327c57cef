"""First contact, in Chromium: the front door a visitor finds, the site's own 404 page,
the icon, and the faces running from hashed static files as `make run` and the Docker
image serve them (STATIC_HASHED, config/storage.py)."""

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    closed_without_script_errors,
    connection_is,
    desktop,
    phone,
    screenshot,
    sign_in,
    signs_in_on_the_server,
)
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE
from tests.processes import (
    PROJECT,
    asgi_server,
    celery_worker,
    database_url_of_this_run,
    environment,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

HASH = re.compile(r"\.[0-9a-f]{12}(?=\.[a-z]+$)")


def test_a_visitor_learns_what_tongxin_is_and_finds_the_way_in(browser, stack):
    context = desktop(browser, "zh")
    page = context.new_page()
    page.goto(f"{stack}/")

    expect(page.locator("h1")).to_have_text("应急志愿者调度")
    expect(page.locator("main")).not_to_contain_text("进行中事件")
    expect(page.locator("#open-incidents")).to_have_count(0)
    icon = page.locator("link[rel=icon]").first.get_attribute("href")
    assert page.request.get(f"{stack}{icon}").ok
    assert page.request.get(f"{stack}/favicon.ico").headers["content-type"] == "image/x-icon"
    screenshot(page, "home-zh")

    page.select_option("form.language select", "en")
    expect(page.locator("h1")).to_have_text("Emergency volunteer dispatch")
    screenshot(page, "home-en")
    page.get_by_role("link", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    closed_without_script_errors(context)


def test_a_coordinator_finds_the_figures_and_their_pages_first(browser, stack, coordinator):
    signs_in_on_the_server(coordinator)
    context = phone(browser, "zh")
    page = context.new_page()

    sign_in(page, stack, coordinator.username, DEMO_PASSWORD, next_path="/")

    expect(page.locator("#open-incidents")).to_have_text("0")
    expect(page.locator(".front .ways a.primary")).to_have_attribute("href", "/dashboard/")
    screenshot(page, "home-coordinator-phone-zh")
    closed_without_script_errors(context)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_missing_page_says_so_and_leads_home(browser, stack, language):
    context = desktop(browser, language)
    page = context.new_page()

    response = page.goto(f"{stack}/incidents/42/")

    assert response.status == 404
    heading = {"zh": "此地址没有页面", "en": "There is no page at this address"}[language]
    expect(page.locator("h1")).to_have_text(heading)
    screenshot(page, f"not-found-{language}")
    page.locator(".error-page a.primary").click()
    expect(page).to_have_url(f"{stack}/")
    closed_without_script_errors(context)


# --- the faces on hashed static files -------------------------------------------------


@pytest.fixture
def hashed_stack(transactional_db, live_index, tmp_path):
    """The stack serving static files as `make run` does: collected with hashed names."""
    env = environment(
        DATABASE_URL=database_url_of_this_run(),
        STATIC_HASHED="1",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=PROJECT,
        env=env,
        check=True,
        timeout=300,
    )
    with celery_worker(env, beat=True), asgi_server(env) as base:
        yield base


def _static_loads(page) -> list:
    loads = []
    page.on("response", lambda r: "/static/" in r.url and loads.append(r))
    return loads


def _each_once_and_hashed(loads):
    urls = [response.url for response in loads]
    assert urls and [url for url in urls if not HASH.search(url)] == []
    by_name = {}
    for url in urls:
        by_name.setdefault(HASH.sub("", url), set()).add(url)
    assert {name: found for name, found in by_name.items() if len(found) > 1} == {}
    api = next(r for r in loads if "/static/tongxin/api." in r.url)
    assert api.status == 200
    assert "immutable" in api.headers["cache-control"]
    assert api.headers.get("content-encoding") == "gzip"


def test_the_dashboard_runs_from_hashed_files(browser, hashed_stack, coordinator):
    signs_in_on_the_server(coordinator)
    context = desktop(browser, "en")
    page = context.new_page()
    loads = _static_loads(page)

    sign_in(page, hashed_stack, coordinator.username, DEMO_PASSWORD, next_path="/dashboard/")

    connection_is(page, "live")
    _each_once_and_hashed(loads)
    closed_without_script_errors(context)


def test_the_phone_runs_and_keeps_its_shell_from_hashed_files(browser, hashed_stack, on_duty_near):
    rescuer = on_duty_near(SITE, km=2, phone="13900000001")
    context = phone(browser, "zh")
    page = context.new_page()
    loads = _static_loads(page)

    sign_in(page, hashed_stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")

    connection_is(page, "live")
    # The service worker (at its own URL, /phone/sw.js) installed: it fetched every
    # hashed file of the shell.
    state = page.evaluate(
        """() => Promise.race([
            navigator.serviceWorker.ready.then((r) => r.active.state),
            new Promise((resolve) => setTimeout(() => resolve("not ready"), 15000)),
        ])"""
    )
    assert state in ("activating", "activated")
    _each_once_and_hashed([r for r in loads if r.frame == page.main_frame])
    closed_without_script_errors(context)
