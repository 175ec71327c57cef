"""Nobody left to ask (issue 13), in headless Chromium against a real uvicorn and Celery
worker: the engine widens the search by itself, finds nobody and raises the need; the
dashboard shows the alarm without a reload, the coordinator widens the search further
there, and the phone of a volunteer far away gets the offer."""

import pytest
from playwright.sync_api import expect

from dispatch.models import Assignment, AssignmentStatus
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open
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
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import KM, SITE
from volunteers.models import Skill

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

# Further than the engine widens by itself (ESCALATION_MAX_KM, 50 km by default).
FAR_KM = 70
FAR_AWAY = {"latitude": SITE[0] + FAR_KM * KM, "longitude": SITE[1]}


def test_the_alarm_shows_live_and_widening_reaches_a_phone_far_away(
    browser, stack, coordinator, on_duty_near
):
    signs_in_on_the_server(coordinator)
    far = on_duty_near(SITE, km=FAR_KM, phone="13900000070", name="赵强")

    desk = desktop(browser, "zh")
    dashboard = desk.new_page()
    sign_in(dashboard, stack, coordinator.username, DEMO_PASSWORD, "/dashboard/")
    connection_is(dashboard, "live")

    # The volunteer's phone, where they are: far from the flood.
    pocket = phone(browser, "zh")
    pocket.set_geolocation(FAR_AWAY)
    mobile = pocket.new_page()
    sign_in(mobile, stack, far.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(mobile, "live")
    expect(mobile.locator(".offer")).to_have_count(0)

    # A rescue opens; the worker finds nobody within 50 km and raises it.
    incident = elsewhere(
        incident_open,
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title="龙湖镇 泰山村 群众被困",
        latitude=SITE[0],
        longitude=SITE[1],
        priority=Incident.Priority.CRITICAL,
        needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"))],
    )
    need = incident.needs.get()
    card = dashboard.locator(f'#incident-list li.incident[data-incident="{incident.pk}"]')
    alarm = card.locator(".unmet-alarm")
    expect(alarm).to_be_visible()
    expect(alarm).to_contain_text("无人可派")
    expect(alarm).to_contain_text("空闲的人都在搜索范围之外")
    screenshot(dashboard, "dashboard-unmet-alarm-zh")

    # In the detail: why, and the way out. Widened to 100 km there.
    card.click()
    panel = dashboard.locator(f'#detail-needs li[data-need="{need.pk}"] .unmet-panel')
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("已搜索至 50 公里")
    expect(panel.locator("input[name=reach_km]")).to_have_value("100")
    expect(panel.locator("select[name=extra_skill]")).to_be_visible()
    screenshot(dashboard, "dashboard-unmet-panel-zh")
    panel.locator(f'button[data-widen="{need.pk}"]').click()

    # The phone far away gets the offer, and the alarm goes.
    expect(mobile.locator(".offer")).to_be_visible()
    expect(alarm).to_have_count(0)
    expect(panel).to_have_count(0)
    screenshot(dashboard, "dashboard-unmet-widened-zh")
    need.refresh_from_db()
    assert (need.reach_km, need.unmet_at) == (100, None)
    offer = Assignment.objects.get(need=need)
    assert (offer.volunteer_id, offer.status) == (far.pk, AssignmentStatus.OFFERED)
    closed_without_script_errors(desk)
    closed_without_script_errors(pocket)
