"""Shifts hold a place, not the person (issue 13, item 5), in headless Chromium against a
real uvicorn and Celery worker: a sampler books next week's shift on the phone, is still
offered a rescue today and takes it, then gives the shift up; a coordinator reads the
site's rota."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dispatch.models import Assignment, AssignmentStatus, EventKind
from tests.browser.conftest import (
    closed_without_script_errors,
    connection_is,
    desktop,
    elsewhere,
    phone,
    screenshot,
    sign_in,
    signs_in_on_the_server,
)
from tests.browser.test_phone import open_rescue, shows_the_state_after
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE, open_testing_site

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

CITY = ZoneInfo("Asia/Shanghai")


def test_a_booked_shift_leaves_the_volunteer_free_for_a_rescue_and_can_be_given_up(
    browser, stack, coordinator, on_duty_near
):
    sampler = on_duty_near(
        SITE, km=2, phone="13900000051", name="吴芳", skills=("sampling", "rescue")
    )
    context = phone(browser, "en")
    page = context.new_page()
    sign_in(page, stack, sampler.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(page, "live")

    # Next week's shift, offered by the engine and accepted: booked, not a task.
    start = timezone.now() + timedelta(days=7)
    (shift,) = elsewhere(open_testing_site, reporter=coordinator, starts=[start])
    offer = page.locator(".offer")
    expect(offer).to_be_visible()
    shift_offer = int(offer.get_attribute("data-id"))
    offer.locator("button.accept").tap()
    shows_the_state_after(page, EventKind.OFFER_ACCEPTED, assignment_id=shift_offer)
    booked = page.locator(f'.shift[data-id="{shift_offer}"]')
    expect(booked).to_have_class("card shift booked")
    expect(booked.locator(".when")).to_contain_text("Booked: ")
    expect(page.locator(".task")).to_have_count(0)
    expect(page.locator("#idle")).to_be_visible()  # standing by for other work

    # A rescue today reaches them, and they take it; the shift stays booked.
    elsewhere(open_rescue, coordinator=coordinator)
    rescue = page.locator(".offer")
    expect(rescue).to_be_visible()
    rescue_id = int(rescue.get_attribute("data-id"))
    rescue.locator("button.accept").tap()
    shows_the_state_after(page, EventKind.OFFER_ACCEPTED, assignment_id=rescue_id)
    expect(page.locator(".task")).to_be_visible()
    expect(booked).to_be_visible()
    screenshot(page, "phone-booked-shift-and-rescue-en")

    # They give the shift up (asked once more): it goes, and its place is offered again.
    booked.locator("button.give-up").tap()
    expect(booked.locator(".give-up-question")).to_contain_text("Give up this shift?")
    screenshot(page, "phone-give-up-shift-en")
    booked.locator(".give-up-question button.confirm").tap()
    expect(booked).to_have_count(0)
    expect(page.locator("#notice")).to_contain_text("Shift given up")
    given_up = Assignment.objects.get(pk=shift_offer)
    assert given_up.status == AssignmentStatus.CANCELLED
    assert given_up.need_id == shift.pk
    closed_without_script_errors(context)


def test_a_coordinator_reads_the_rota_of_a_site(browser, stack, coordinator, make_volunteer):
    day = (timezone.localtime() + timedelta(days=7)).date()

    def at(hour):
        return datetime(day.year, day.month, day.day, hour, tzinfo=CITY)

    needs = elsewhere(
        open_testing_site, reporter=coordinator, starts=[at(8), at(13), at(18)], count=2
    )
    # 吴芳 holds all three windows, 徐静 the first, 孙丽 the second: 18:00 has a gap.
    holds = {"吴芳": needs, "徐静": needs[:1], "孙丽": needs[1:2]}
    for n, (name, held) in enumerate(holds.items(), start=1):
        sampler = make_volunteer(f"1390000006{n}", name=name, skills=("sampling",))
        for need in held:
            Assignment.objects.create(
                need=need, volunteer=sampler, status=AssignmentStatus.RESERVED
            )
    signs_in_on_the_server(coordinator)
    context = desktop(browser, "zh")
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, next_path="/dashboard/")

    page.goto(f"{stack}/dashboard/incidents/{needs[0].incident_id}/rota/?day={day}")

    rows = page.locator("tr.window")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator(".holder")).to_have_count(2)
    expect(rows.nth(1).locator(".holder")).to_have_count(2)
    expect(rows.nth(2).locator(".holder")).to_have_count(1)
    expect(page.locator("tr.window.gap")).to_have_count(1)
    expect(page.locator("#open-places")).to_contain_text("1")
    expect(page.locator("#hours-max")).to_have_text("12.0")
    expect(page.locator("#hours-min")).to_have_text("4.0")
    screenshot(page, "dashboard-rota-zh")
    closed_without_script_errors(context)
