"""A phone that rings and shows enough to decide (issue 12 item 2): after one tap on
"turn on alerts", a new offer rings (a WebAudio tone) and shows a system notification
until it is answered; its card shows the situation (what happened, how many people,
how deep the water, who else is going) and where it lies from the volunteer before
they accept."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from dispatch.models import Assignment, AssignmentStatus, EventKind
from incidents.models import Incident, LocationPrecision, Need
from incidents.services import NeedSpec, incident_open
from tests.browser.conftest import (
    closed_without_script_errors,
    connection_is,
    phone,
    screenshot,
    sign_in,
)
from tests.browser.test_phone import shows_the_state_after
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE
from tests.processes import wait_until
from volunteers.models import Skill

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

TITLE = "龙湖镇 泰山村 群众被困"
DESCRIPTION = "村口积水齐腰，12人被困在二楼，有老人和小孩。"
WORDS = {
    "zh": {
        "enable": "开启提醒",
        "on": "提醒已开启",
        "people": "受困/受灾人数",
        "depth": "水深",
        "depth_value": "1.4米",
        "direction": "在你正南方向 2公里",
        "heading": "新任务",
        "approximate": "大概位置：乡镇中心。请向调度员问清确切地点。",
    },
    "en": {
        "enable": "Turn on alerts",
        "on": "Alerts on",
        "people": "People affected",
        "depth": "Water depth",
        "depth_value": "1.4 m",
        "direction": "2 km south of you",
        "heading": "New task offer",
        "approximate": (
            "Approximate: the township's centre. Ask the coordinator for the exact place."
        ),
    },
}
NOTIFICATIONS = """
navigator.serviceWorker.ready
  .then((registration) => registration.getNotifications())
  .then((shown) => shown.map((n) => ({
    tag: n.tag, title: n.title, body: n.body, requireInteraction: n.requireInteraction,
    renotify: n.renotify, offer: n.data && n.data.offer,
  })))
"""


def open_flood(coordinator, **place) -> Incident:
    """Twelve trapped, the water 1.4 m deep, rescuers asked for (the worker offers)."""
    return incident_open(
        **place,
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title=TITLE,
        description=DESCRIPTION,
        people_affected=12,
        address="泰山村三组",
        latitude=SITE[0],
        longitude=SITE[1],
        priority=Incident.Priority.CRITICAL,
        needs=[
            NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=2),
            NeedSpec(kind=Need.Kind.CAPABILITY, people_to_move=12, water_depth_m=Decimal("1.40")),
        ],
    )


def body(page, name: str):
    return page.locator("body").get_attribute(f"data-{name}")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_new_offer_rings_and_notifies_until_it_is_accepted(
    browser, stack, coordinator, on_duty_near, language
):
    words = WORDS[language]
    rescuer = on_duty_near(SITE, km=2, phone="13900000021", name="王建国")
    context = phone(browser, language)
    context.grant_permissions(["geolocation", "notifications"])
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(page, "live")
    page.evaluate("navigator.serviceWorker.ready")

    # Until tapped, alerts are off and the page says how to turn them on.
    enable = page.locator("#alerts-enable")
    expect(enable).to_be_visible()
    expect(enable).to_contain_text(words["enable"])
    expect(page.locator("body")).to_have_attribute("data-alert", "off")
    enable.tap()
    expect(page.locator("body")).to_have_attribute("data-alert", "on")
    expect(enable).to_be_hidden()
    expect(page.locator("#alerts-status")).to_have_text(words["on"])
    assert page.evaluate("Notification.permission") == "granted"

    open_flood(coordinator)

    offer = page.locator(".offer")
    shows_the_state_after(page, EventKind.OFFER_MADE, volunteer=rescuer)
    expect(offer).to_be_visible()
    offer_id = int(offer.get_attribute("data-id"))
    # It rings: the tone plays, for this offer.
    expect(page.locator("body")).to_have_attribute("data-alert", "ringing")
    expect(page.locator("body")).to_have_attribute("data-tone", "on")
    expect(page.locator("body")).to_have_attribute("data-ringing", str(offer_id))
    # And a notification, one per offer (its tag), that stays until answered.
    shown = wait_until(
        lambda: page.evaluate(NOTIFICATIONS), timeout=10, what="the offer's notification"
    )
    assert [(n["tag"], n["offer"]) for n in shown] == [(str(offer_id), offer_id)]
    assert shown[0]["requireInteraction"] and shown[0]["renotify"]
    assert shown[0]["title"] == f"{words['heading']}: {TITLE}"

    # Enough to decide, before accepting: what happened, how many, how deep, from where.
    expect(offer).to_contain_text(DESCRIPTION)
    expect(offer.locator(".situation")).to_contain_text(words["people"])
    expect(offer.locator(".situation")).to_contain_text("12")
    expect(offer.locator(".situation")).to_contain_text(words["depth"])
    expect(offer.locator(".situation")).to_contain_text(words["depth_value"])
    expect(offer.locator(".bearing")).to_have_text(words["direction"])
    expect(offer.locator("svg.sketch .pin")).to_have_count(1)
    expect(offer.locator("svg.sketch .you")).to_have_count(1)
    expect(offer.locator(".arrived")).to_have_text(re.compile(r"\d\d:\d\d"))
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, f"phone-offer-situation-{language}")

    offer.locator("button.accept").tap()

    shows_the_state_after(page, EventKind.OFFER_ACCEPTED, assignment_id=offer_id)
    expect(page.locator("body")).to_have_attribute("data-alert", "on")
    expect(page.locator("body")).to_have_attribute("data-tone", "off")
    wait_until(lambda: page.evaluate(NOTIFICATIONS) == [], timeout=10, what="no notification")
    assert Assignment.objects.get(pk=offer_id).status == AssignmentStatus.ACCEPTED
    closed_without_script_errors(context)


def test_a_tap_on_the_offer_stops_its_ringing(browser, stack, coordinator, on_duty_near):
    rescuer = on_duty_near(SITE, km=2, phone="13900000022")
    context = phone(browser, "en")
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(page, "live")
    page.locator("#alerts-enable").tap()
    expect(page.locator("body")).to_have_attribute("data-alert", "on")

    open_flood(coordinator)

    offer = page.locator(".offer")
    expect(offer).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-tone", "on")
    offer.locator(".title").tap()

    expect(page.locator("body")).to_have_attribute("data-tone", "off")
    expect(page.locator("body")).to_have_attribute("data-alert", "on")
    expect(offer.locator("button.accept")).to_be_enabled()  # still there to answer
    closed_without_script_errors(context)


def test_alerts_stay_off_until_tapped(browser, stack, coordinator, on_duty_near):
    rescuer = on_duty_near(SITE, km=2, phone="13900000023")
    context = phone(browser, "zh")
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(page, "live")

    open_flood(coordinator)

    expect(page.locator(".offer")).to_be_visible()
    # Rings for the page (the offer is in data-ringing) but no tone: no tap unlocked it.
    expect(page.locator("body")).not_to_have_attribute("data-ringing", "")
    expect(page.locator("body")).to_have_attribute("data-alert", "off")
    expect(page.locator("body")).to_have_attribute("data-tone", "off")
    expect(page.locator("#alerts-enable")).to_be_visible()
    closed_without_script_errors(context)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_offer_found_only_as_a_township_centre_says_it_is_approximate(
    browser, stack, coordinator, on_duty_near, language
):
    rescuer = on_duty_near(SITE, km=2, phone="13900000024")
    context = phone(browser, language)
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(page, "live")

    open_flood(coordinator, location_precision=LocationPrecision.TOWNSHIP)

    offer = page.locator(".offer")
    expect(offer).to_be_visible()
    expect(offer.locator(".approximate")).to_have_text(WORDS[language]["approximate"])
    closed_without_script_errors(context)


def test_an_offer_at_an_exact_place_does_not_say_approximate(
    browser, stack, coordinator, on_duty_near
):
    rescuer = on_duty_near(SITE, km=2, phone="13900000025")
    context = phone(browser, "en")
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(page, "live")

    open_flood(coordinator)

    expect(page.locator(".offer")).to_be_visible()
    expect(page.locator(".offer .approximate")).to_have_count(0)
    closed_without_script_errors(context)


WAKE = {
    "zh": {"on": "屏幕保持常亮", "off": "屏幕可能休眠"},
    "en": {"on": "Screen stays on", "off": "Screen may sleep"},
}


# Every wake lock the page takes, to count those it has not released.
COUNT_WAKE_LOCKS = """
(() => {
  const taken = (window.__wakeLocks = []);
  if (!("WakeLock" in window)) return; // a page the browser does not deem secure
  const request = WakeLock.prototype.request;
  WakeLock.prototype.request = async function (...args) {
    const lock = await request.apply(this, args);
    taken.push(lock);
    return lock;
  };
})();
"""
LOCKS_HELD = "window.__wakeLocks.filter((lock) => !lock.released).length"


def _allow_wake_lock(context, page, base: str) -> None:
    """The permission a phone's browser gives a visible page. Playwright's contexts deny
    what they were not granted, and it has no name for this one: DevTools has."""
    cdp = context.new_cdp_session(page)
    context_id = cdp.send("Target.getTargetInfo")["targetInfo"]["browserContextId"]
    cdp.send(
        "Browser.setPermission",
        {
            "permission": {"name": "screen-wake-lock"},
            "setting": "granted",
            "origin": base,
            "browserContextId": context_id,
        },
    )


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_screen_is_kept_on_while_on_duty_and_let_sleep_off_duty(
    browser, stack, on_duty_near, language
):
    words = WAKE[language]
    rescuer = on_duty_near(SITE, km=2, phone="13900000022", name="赵红梅")
    context = phone(browser, language)
    context.add_init_script(COUNT_WAKE_LOCKS)
    page = context.new_page()
    _allow_wake_lock(context, page, stack)
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")

    # On duty: the page holds a screen wake lock, and says so.
    expect(page.locator("body")).to_have_attribute("data-wake", "on")
    expect(page.locator("#wake")).to_have_text(words["on"])
    screenshot(page, f"phone-wake-on-{language}")

    assert page.evaluate(LOCKS_HELD) == 1

    page.locator("#duty").tap()
    expect(page.locator("#duty")).to_have_attribute("aria-checked", "false")
    # Off duty, nothing to be woken for: the lock is let go and the chip goes.
    expect(page.locator("body")).to_have_attribute("data-wake", "")
    expect(page.locator("#wake")).to_be_hidden()
    assert page.evaluate(LOCKS_HELD) == 0

    page.locator("#duty").tap()
    expect(page.locator("body")).to_have_attribute("data-wake", "on")
    closed_without_script_errors(context)


def test_the_chip_says_the_screen_may_sleep_when_the_browser_refuses_the_lock(
    browser, stack, on_duty_near
):
    rescuer = on_duty_near(SITE, km=2, phone="13900000023", name="赵红梅")
    context = phone(browser, "zh")  # no wake lock permission: refused, as battery saver does
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")

    expect(page.locator("body")).to_have_attribute("data-wake", "off")
    expect(page.locator("#wake")).to_have_text(WAKE["zh"]["off"])
    closed_without_script_errors(context)
