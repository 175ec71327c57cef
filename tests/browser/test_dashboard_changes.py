"""Changing a live incident on the dashboard (issue 13), in headless Chromium against a
real uvicorn and Celery worker: a coordinator enlarges a need and the new offer reaches
a volunteer's phone; reducing it warns who will be stood down, and they are told why."""

import pytest
from playwright.sync_api import expect

from dispatch import services
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from incidents.services import incident_change
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
from tests.browser.test_phone import open_rescue
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE
from tests.processes import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


def offer_to(volunteer) -> Assignment | None:
    return (
        Assignment.objects.filter(volunteer=volunteer, status=AssignmentStatus.OFFERED)
        .order_by("-pk")
        .first()
    )


def open_detail(page, incident):
    page.locator(f'#incident-list li.incident[data-incident="{incident.pk}"]').click()
    expect(page.locator("#detail")).to_have_attribute("data-incident", str(incident.pk))


def test_a_need_enlarged_on_the_dashboard_reaches_a_phone_and_a_reduction_says_why(
    browser, stack, coordinator, on_duty_near
):
    signs_in_on_the_server(coordinator)
    first = on_duty_near(SITE, km=1, phone="13900000051", name="王建国")
    second = on_duty_near(SITE, km=3, phone="13900000052", name="李秀英")
    phone_context = phone(browser, "zh")
    handset = phone_context.new_page()
    sign_in(handset, stack, second.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(handset, "live")

    # One place; both are asked (an urgent need asks a few more), the nearer takes it and
    # the other's offer goes: her phone has nothing to answer.
    incident = elsewhere(open_rescue, coordinator=coordinator, count=1)
    taken = wait_until(lambda: offer_to(first), timeout=20, what="an offer to the nearer")
    elsewhere(services.assignment_accept, assignment_id=taken.pk, volunteer=first)
    expect(handset.locator(".offer")).to_have_count(0, timeout=20000)

    dashboard_context = desktop(browser, "zh")
    board = dashboard_context.new_page()
    sign_in(board, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(board, "live")
    open_detail(board, incident)
    need = incident.needs.get()

    # The water rises: the coordinator asks for two.
    board.click(f'#detail button[data-change-need="{need.pk}"]')
    expect(board.locator("#action-dialog")).to_be_visible()
    expect(board.locator("#action-amount")).to_have_value("1")
    board.fill("#action-amount", "2")
    expect(board.locator("#action-warning")).to_be_hidden()
    screenshot(board, "dashboard-need-enlarge-zh")
    board.click("#action-confirm")
    expect(board.locator("#action-dialog")).to_be_hidden()

    offer = handset.locator(".offer")
    expect(offer).to_be_visible(timeout=20000)
    expect(offer).to_contain_text("龙湖镇 泰山村 群众被困")
    expect(board.locator(f'#detail li[data-need="{need.pk}"] .filled-count')).to_contain_text(
        "1/2", timeout=20000
    )
    screenshot(handset, "phone-offer-after-enlarge-zh")
    offer.locator("button.accept").tap()
    accepted = wait_until(
        lambda: Assignment.objects.filter(
            volunteer=second, status=AssignmentStatus.ACCEPTED
        ).first(),
        timeout=20,
        what="her accept",
    )

    # Found: one is enough again. The dialog warns that one will be stood down; the
    # latest to accept (her) is, and her phone says why.
    expect(board.locator(f'#detail li[data-need="{need.pk}"] .filled-count')).to_contain_text(
        "2/2", timeout=20000
    )
    board.click(f'#detail button[data-change-need="{need.pk}"]')
    board.fill("#action-amount", "1")
    expect(board.locator("#action-warning")).to_contain_text("1")
    screenshot(board, "dashboard-need-reduce-zh")
    board.click("#action-confirm")

    told = handset.locator(f'.stood-down[data-id="{accepted.pk}"]')
    expect(told).to_be_visible(timeout=20000)
    expect(told.locator(".why")).to_have_text("任务取消：现在需要的人更少了，谢谢你。")
    screenshot(handset, "phone-stood-down-need-reduced-zh")
    kinds = list(
        DeploymentEvent.objects.filter(need=need, kind=EventKind.NEED_CHANGED).values_list(
            "data", flat=True
        )
    )
    assert kinds == [{"count": [1, 2], "stood_down": 0}, {"count": [2, 1], "stood_down": 1}]
    assert Assignment.objects.get(pk=taken.pk).status == AssignmentStatus.ACCEPTED
    closed_without_script_errors(phone_context)
    closed_without_script_errors(dashboard_context)


def test_a_volunteer_on_the_task_is_told_the_incidents_new_place(
    browser, stack, coordinator, on_duty_near
):
    rescuer = on_duty_near(SITE, km=2, phone="13900000053", name="张伟")
    context = phone(browser, "en")
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(page, "live")
    incident = elsewhere(open_rescue, coordinator=coordinator)
    offer = page.locator(".offer")
    expect(offer).to_be_visible(timeout=20000)
    offer.locator("button.accept").tap()
    expect(page.locator(".task")).to_be_visible(timeout=20000)

    elsewhere(
        incident_change,
        incident=incident,
        actor=coordinator,
        latitude=SITE[0] + 0.01,
        longitude=SITE[1],
        address="107国道 K12 桥下",
    )

    told = page.locator("#notice")
    expect(told).to_be_visible(timeout=20000)
    expect(told).to_contain_text("The place changed: 107国道 K12 桥下. Go there instead.")
    expect(page.locator(".task")).to_contain_text("107国道 K12 桥下", timeout=20000)
    screenshot(page, "phone-place-changed-en")
    closed_without_script_errors(context)
