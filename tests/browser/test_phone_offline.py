"""Answers and reports tapped without a connection (issue 12 item 2): they wait, in
sight, under "waiting to send" (kept across a reload), can be cancelled, and are sent
once each when the connection is back: the assignment changes once, one log event."""

import time

import pytest
from playwright.sync_api import expect

from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from tests.browser.conftest import (
    closed_without_script_errors,
    connection_is,
    phone,
    screenshot,
    sign_in,
)
from tests.browser.test_phone import shows_the_state_after
from tests.browser.test_phone_alerts import TITLE, open_flood
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE
from tests.processes import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

WORDS = {
    "zh": {"heading": "等待发送", "accept": "等待发送：接受 · ", "en_route": "等待发送：出发 · "},
    "en": {
        "heading": "Waiting to send",
        "accept": "Waiting to send: Accept · ",
        "en_route": "Waiting to send: En route · ",
    },
}


def status_of(assignment_id: int) -> str:
    return Assignment.objects.values_list("status", flat=True).get(pk=assignment_id)


def events(kind: EventKind, assignment_id: int) -> int:
    return DeploymentEvent.objects.filter(kind=kind, assignment_id=assignment_id).count()


def signed_in_with_a_kept_page(browser, stack, rescuer, language):
    """Signed in on a phone whose service worker keeps the page (it opens offline)."""
    context = phone(browser, language)
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    page.evaluate("navigator.serviceWorker.ready")
    page.reload()  # now through the worker, which keeps a copy
    connection_is(page, "live")
    return context, page


@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_accept_tapped_offline_waits_and_is_sent_once_when_back(
    browser, stack, coordinator, on_duty_near, language
):
    words = WORDS[language]
    rescuer = on_duty_near(SITE, km=2, phone="13900000031", name="李娜")
    context, page = signed_in_with_a_kept_page(browser, stack, rescuer, language)
    open_flood(coordinator)
    offer = page.locator(".offer")
    shows_the_state_after(page, EventKind.OFFER_MADE, volunteer=rescuer)
    offer_id = int(offer.get_attribute("data-id"))

    context.set_offline(True)
    connection_is(page, "offline")
    offer.locator("button.accept").tap()

    # Waiting, in sight: the queue says what and for which incident; the card says so.
    outbox = page.locator("#outbox")
    expect(outbox).to_be_visible()
    expect(outbox).to_contain_text(words["heading"])
    expect(outbox.locator(".waiting-item")).to_have_text(
        f"{words['accept']}{TITLE}" + ("取消" if language == "zh" else "Cancel")
    )
    expect(offer.locator(".waiting-note")).to_be_visible()
    expect(offer.locator("button.accept")).to_be_disabled()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, f"phone-waiting-to-send-{language}")
    assert status_of(offer_id) == AssignmentStatus.OFFERED

    # A reload, still offline (the worker's copy): it is still waiting.
    page.reload()
    # (The worker's copy of the page is from before the offer came: the queue is kept
    # in the browser's storage, not in the page.)
    expect(page.locator("#outbox .waiting-item")).to_have_count(1)

    context.set_offline(False)

    # Sent by itself, once: one accept, one event, and the queue empty.
    wait_until(
        lambda: status_of(offer_id) == AssignmentStatus.ACCEPTED, timeout=20, what="accepted"
    )
    expect(page.locator("#outbox")).to_be_hidden()
    expect(page.locator(f".task[data-id='{offer_id}']")).to_be_visible()
    connection_is(page, "live")
    time.sleep(2)  # any second try would have landed by now
    assert events(EventKind.OFFER_ACCEPTED, offer_id) == 1
    assert page.evaluate(
        "localStorage.length === 0 || !Object.keys(localStorage)"
        ".some((k) => k.startsWith('tongxin.phone.outbox.'))"
    )
    closed_without_script_errors(context)


def test_steps_tapped_offline_go_in_order_and_a_cancelled_one_never_goes(
    browser, stack, coordinator, on_duty_near
):
    words = WORDS["en"]
    rescuer = on_duty_near(SITE, km=2, phone="13900000032")
    context, page = signed_in_with_a_kept_page(browser, stack, rescuer, "en")
    open_flood(coordinator)
    offer = page.locator(".offer")
    shows_the_state_after(page, EventKind.OFFER_MADE, volunteer=rescuer)
    offer_id = int(offer.get_attribute("data-id"))
    offer.locator("button.accept").tap()
    shows_the_state_after(page, EventKind.OFFER_ACCEPTED, assignment_id=offer_id)
    task = page.locator(".task")

    context.set_offline(True)
    connection_is(page, "offline")
    task.locator("[data-step=en_route]").tap()
    task.locator("[data-step=on_scene]").tap()  # the next step, queued behind it
    waiting = page.locator("#outbox .waiting-item")
    expect(waiting).to_have_count(2)
    expect(waiting.first).to_contain_text(f"{words['en_route']}{TITLE}")
    expect(task.locator("[data-step=en_route]")).to_contain_text("waiting to send")
    # On second thoughts, not on scene yet: cancelled, it never goes.
    waiting.nth(1).locator("button.cancel").tap()
    expect(waiting).to_have_count(1)

    context.set_offline(False)

    wait_until(
        lambda: status_of(offer_id) == AssignmentStatus.EN_ROUTE, timeout=20, what="en route"
    )
    expect(page.locator("#outbox")).to_be_hidden()
    time.sleep(2)
    assert status_of(offer_id) == AssignmentStatus.EN_ROUTE
    assert events(EventKind.ASSIGNMENT_EN_ROUTE, offer_id) == 1
    assert events(EventKind.ASSIGNMENT_ON_SCENE, offer_id) == 0
    closed_without_script_errors(context)


def test_an_accept_refused_meanwhile_is_shown_and_dropped(
    browser, stack, coordinator, on_duty_near
):
    rescuer = on_duty_near(SITE, km=2, phone="13900000033")
    context, page = signed_in_with_a_kept_page(browser, stack, rescuer, "en")
    open_flood(coordinator)
    offer = page.locator(".offer")
    shows_the_state_after(page, EventKind.OFFER_MADE, volunteer=rescuer)
    offer_id = int(offer.get_attribute("data-id"))

    context.set_offline(True)
    connection_is(page, "offline")
    offer.locator("button.accept").tap()
    expect(page.locator("#outbox .waiting-item")).to_have_count(1)
    # While the phone is away, the offer runs out.
    Assignment.objects.filter(pk=offer_id).update(status=AssignmentStatus.EXPIRED)

    context.set_offline(False)

    notice = page.locator("#notice")
    expect(notice).to_contain_text(f"Not sent: Accept · {TITLE}")
    expect(notice).to_contain_text("expired")
    expect(page.locator("#outbox")).to_be_hidden()
    screenshot(page, "phone-waiting-refused-en")
    assert status_of(offer_id) == AssignmentStatus.EXPIRED
    assert events(EventKind.OFFER_ACCEPTED, offer_id) == 0
    closed_without_script_errors(context)
