"""Stand-downs that people notice (issue 13, item 3), in headless Chromium against a real
uvicorn and Celery worker: a volunteer on a task the coordinator cancels sees a card
saying so and why, instead of a task that vanishes; "OK" puts it away for good."""

import pytest
from playwright.sync_api import expect

from dispatch import services
from dispatch.models import Assignment, EventKind
from incidents.services import incident_cancel
from tests.browser.conftest import (
    closed_without_script_errors,
    connection_is,
    elsewhere,
    phone,
    screenshot,
    sign_in,
)
from tests.browser.test_phone import TITLE, open_rescue, shows_the_state_after
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE
from tests.processes import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

WORDS = {
    "zh": {
        "heading": "任务取消：无需前往",
        "why": "任务取消：该事件已取消，无需前往。",
        "ok": "知道了",
    },
    "en": {
        "heading": "Stood down: no need to go",
        "why": "Stood down: the incident was cancelled.",
        "ok": "OK",
    },
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_volunteer_stood_down_from_a_task_sees_why(
    browser, stack, coordinator, on_duty_near, language
):
    words = WORDS[language]
    rescuer = on_duty_near(SITE, km=2, phone="13900000041", name="张志强")
    context = phone(browser, language)
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(page, "live")
    incident = elsewhere(open_rescue, coordinator=coordinator)
    offer = page.locator(".offer")
    expect(offer).to_be_visible(timeout=20000)
    offer_id = int(offer.get_attribute("data-id"))
    offer.locator("button.accept").tap()
    shows_the_state_after(page, EventKind.OFFER_ACCEPTED, assignment_id=offer_id)
    expect(page.locator(".task")).to_be_visible()

    # The flood recedes; the coordinator cancels the incident while the rescuer is on it.
    elsewhere(incident_cancel, incident=incident, actor=coordinator, note="积水已退")

    told = page.locator(f'.stood-down[data-id="{offer_id}"]')
    expect(told).to_be_visible(timeout=20000)
    expect(page.locator(".task")).to_have_count(0)
    expect(told.locator("h2")).to_have_text(words["heading"])
    expect(told).to_contain_text(TITLE)
    expect(told.locator(".why")).to_have_text(words["why"])
    screenshot(page, f"phone-stood-down-{language}")

    expect(told.locator("button.ok")).to_have_text(words["ok"])
    told.locator("button.ok").tap()
    expect(told).to_have_count(0)
    page.reload()
    connection_is(page, "live")
    expect(page.locator(".stood-down")).to_have_count(0)  # put away for good
    closed_without_script_errors(context)


def test_a_volunteer_whose_offer_filled_elsewhere_is_thanked_not_left_guessing(
    browser, stack, coordinator, on_duty_near
):
    first = on_duty_near(SITE, km=1, phone="13900000042", name="刘海洋")
    second = on_duty_near(SITE, km=2, phone="13900000043", name="陈立新")
    context = phone(browser, "en")
    page = context.new_page()
    sign_in(page, stack, second.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(page, "live")
    elsewhere(open_rescue, coordinator=coordinator)
    offer = page.locator(".offer")
    expect(offer).to_be_visible(timeout=20000)
    offer_id = int(offer.get_attribute("data-id"))
    theirs = wait_until(
        lambda: Assignment.objects.filter(volunteer=first).first(),
        timeout=20,
        what="the first rescuer's offer",
    )

    elsewhere(services.assignment_accept, assignment_id=theirs.pk, volunteer=first)

    told = page.locator(f'.stood-down[data-id="{offer_id}"]')
    expect(told).to_be_visible(timeout=20000)
    expect(told.locator("h2")).to_have_text("Offer withdrawn")
    expect(told.locator(".why")).to_have_text(
        "Already filled: this task no longer needs you. Thank you."
    )
    closed_without_script_errors(context)
