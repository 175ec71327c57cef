"""A boat's crew member on their phone (issue 11 item 3): "my vehicles" shows the boat
and its status; they put it out of service with a reason and back, a coordinator's
change shows up live, and a boat on a task offers neither."""

import re

import pytest
from playwright.sync_api import expect

from dispatch.availability import index_rebuild
from dispatch.models import DeploymentEvent, EventKind
from dispatch.vehicles import vehicle_set_in_service
from tests.browser.conftest import (
    closed_without_script_errors,
    connection_is,
    elsewhere,
    phone,
    screenshot,
    sign_in,
)
from tests.browser.test_phone import open_rescue, shows_the_state_after
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE, make_boat, open_boat_rescue
from tests.processes import wait_until
from volunteers.models import Township, Vehicle, VehicleStatus

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

WORDS = {
    "zh": {
        "available": "可调度",
        "out_of_service": "停用",
        "assigned": "执行任务",
        "take_out": "停用…",
        "back_in": "重新启用",
        "reason": "发动机故障",
        "heading": "我的车辆",
    },
    "en": {
        "available": "Available",
        "out_of_service": "Out of service",
        "assigned": "On a task",
        "take_out": "Out of service…",
        "back_in": "Back in service",
        "reason": "engine trouble",
        "heading": "My vehicles",
    },
}


def status_of(boat: Vehicle) -> str:
    return Vehicle.objects.values_list("status", flat=True).get(pk=boat.pk)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_crew_member_puts_their_boat_out_of_service_and_back(
    browser, stack, coordinator, on_duty_near, language
):
    words = WORDS[language]
    rescuer = on_duty_near(SITE, km=2, phone="13900000001", name="王建国")
    boat = make_boat(Township.objects.get(name="龙湖镇"), "龙湖-舟1", rescuer)
    index_rebuild()
    context = phone(browser, language)
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, "/phone/")
    connection_is(page, "live")

    card = page.locator("#vehicles")
    row = card.locator(".vehicle", has_text="龙湖-舟1")
    expect(card).to_be_visible()
    expect(card.locator("h2")).to_have_text(words["heading"])
    expect(row.locator(".vehicle-status")).to_have_text(words["available"])
    expect(row).to_contain_text("冲锋舟" if language == "zh" else "Assault boat")
    screenshot(page, f"phone-vehicle-{language}")

    # Out of service asks why first, in the card itself.
    row.locator("button.take-out").tap()
    reason = row.locator(".stop input[name=reason]")
    expect(reason).to_be_focused()
    reason.fill(words["reason"])
    screenshot(page, f"phone-vehicle-reason-{language}")
    reason.fill("  ")
    row.locator("button.stop-confirm").tap()  # no reason: nothing sent
    expect(row.locator(".stop")).to_be_visible()
    reason.fill(words["reason"])
    row.locator("button.stop-confirm").tap()

    wait_until(
        lambda: status_of(boat) == VehicleStatus.OUT_OF_SERVICE, timeout=20, what="out of service"
    )
    shows_the_state_after(
        page,
        EventKind.VEHICLE_STATUS,
        vehicle=boat,
        data__status="out_of_service",
        data__reason=words["reason"],
        actor=rescuer.user,
    )
    expect(row.locator(".vehicle-status")).to_have_text(words["out_of_service"])
    expect(row.locator(".stop")).to_have_count(0)
    expect(row.locator("button.back-in")).to_have_text(words["back_in"])
    expect(page.locator("#notice")).to_contain_text("龙湖-舟1")
    assert fits_the_screen(page)
    screenshot(page, f"phone-vehicle-out-{language}")

    row.locator("button.back-in").tap()

    wait_until(lambda: status_of(boat) == VehicleStatus.AVAILABLE, timeout=20, what="in service")
    shows_the_state_after(
        page, EventKind.VEHICLE_STATUS, vehicle=boat, data__status="available", actor=rescuer.user
    )
    expect(row.locator(".vehicle-status")).to_have_text(words["available"])
    expect(row.locator("button.take-out")).to_be_visible()

    # A coordinator's change reaches the card live (the boat's vehicle.status event).
    elsewhere(
        vehicle_set_in_service,
        vehicle_id=boat.pk,
        in_service=False,
        actor=coordinator,
        reason="调去检修",
    )
    shows_the_state_after(page, EventKind.VEHICLE_STATUS, vehicle=boat, actor=coordinator)
    expect(row.locator(".vehicle-status")).to_have_text(words["out_of_service"])
    elsewhere(
        vehicle_set_in_service,
        vehicle_id=boat.pk,
        in_service=True,
        actor=coordinator,
        reason="好了",
    )
    shows_the_state_after(page, EventKind.VEHICLE_STATUS, vehicle=boat, data__reason="好了")
    expect(row.locator(".vehicle-status")).to_have_text(words["available"])

    # On a task, the boat can be neither put out of service nor back: no button.
    open_boat_rescue(coordinator)
    offer = page.locator(".offer")
    shows_the_state_after(page, EventKind.OFFER_MADE, vehicle=boat)
    offer.locator("button.accept").tap()
    shows_the_state_after(page, EventKind.VEHICLE_STATUS, vehicle=boat, data__status="assigned")
    expect(row.locator(".vehicle-status")).to_have_text(words["assigned"])
    expect(row.locator("button")).to_have_count(0)
    assert status_of(boat) == VehicleStatus.ASSIGNED
    assert fits_the_screen(page)
    screenshot(page, f"phone-vehicle-on-a-task-{language}")

    assert list(
        DeploymentEvent.objects.filter(kind=EventKind.VEHICLE_STATUS, vehicle=boat)
        .order_by("seq")
        .values_list("data__status", "data__reason")
    ) == [
        ("out_of_service", words["reason"]),
        ("available", ""),
        ("out_of_service", "调去检修"),
        ("available", "好了"),
        ("assigned", ""),
    ]
    closed_without_script_errors(context)


def test_a_volunteer_who_crews_nothing_sees_no_vehicles(browser, stack, coordinator, on_duty_near):
    rescuer = on_duty_near(SITE, km=2, phone="13900000001")
    make_boat(Township.objects.get(name="龙湖镇"), "龙湖-舟9")  # nobody's
    context = phone(browser, "zh")
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, "/phone/")
    connection_is(page, "live")

    open_rescue(coordinator)  # a state refresh on the way: still no card
    shows_the_state_after(page, EventKind.OFFER_MADE, volunteer=rescuer)

    expect(page.locator("#vehicles")).to_be_hidden()
    expect(page.locator(".vehicle")).to_have_count(0)
    assert re.search(r"龙湖-舟9", page.content()) is None
    closed_without_script_errors(context)


def test_a_refusal_is_shown_in_the_servers_words(browser, stack, on_duty_near):
    rescuer = on_duty_near(SITE, km=2, phone="13900000001")
    boat = make_boat(Township.objects.get(name="龙湖镇"), "龙湖-舟1", rescuer)
    context = phone(browser, "en")
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, "/phone/")
    connection_is(page, "live")

    # The boat goes on a task while its crew member types why it is out of service (as
    # if a coordinator assigned it that moment): the server refuses, and says why.
    def on_a_task_meanwhile(route):
        Vehicle.objects.filter(pk=boat.pk).update(status=VehicleStatus.ASSIGNED)
        route.continue_()

    page.route(f"**/api/vehicles/{boat.pk}/service/", on_a_task_meanwhile)
    row = page.locator(".vehicle", has_text="龙湖-舟1")
    row.locator("button.take-out").tap()
    row.locator(".stop input[name=reason]").fill("engine trouble")
    row.locator("button.stop-confirm").tap()

    notice = page.locator("#notice.error")
    expect(notice).to_contain_text("龙湖-舟1 is on a task: take it off the task first.")
    expect(row.locator(".vehicle-status")).to_have_text("On a task")  # the state, refreshed
    expect(row.locator("button")).to_have_count(0)
    assert not DeploymentEvent.objects.filter(kind=EventKind.VEHICLE_STATUS).exists()
    closed_without_script_errors(context)
