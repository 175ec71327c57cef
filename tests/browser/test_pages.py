"""The pieces every page shares (pages/templates/base.html), in Chromium: they run from
their script file, not from inline handlers the Content-Security-Policy refuses."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    closed_without_script_errors,
    desktop,
    sign_in,
    signs_in_on_the_server,
)
from tests.conftest import DEMO_PASSWORD

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


def test_choosing_a_language_switches_the_page_at_once(browser, stack, commander):
    signs_in_on_the_server(commander)
    context = desktop(browser, "zh")
    page = context.new_page()
    sign_in(page, stack, commander.username, DEMO_PASSWORD, next_path="/review/")
    expect(page.locator("h1")).to_have_text("部署日志回顾")

    page.select_option("form.language select", "en")

    expect(page.locator("h1")).to_have_text("Deployment review")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    closed_without_script_errors(context)
