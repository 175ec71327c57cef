"""Honest places (issue 12) in headless Chromium: an address found only as its township
is said to be the township's centre, in words and in red, and the incident cannot be
opened there until the coordinator drops a pin where help is needed; it then opens at
the pin."""

import re

import pytest
from playwright.sync_api import expect

from incidents.models import Incident, LocationPrecision, Need
from incidents.services import NeedSpec, incident_open
from tests.browser.conftest import (
    closed_without_script_errors,
    connection_is,
    desktop,
    screenshot,
    sign_in,
    signs_in_on_the_server,
)
from tests.conftest import DEMO_PASSWORD
from tests.processes import wait_until
from volunteers.models import Skill, Township

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

# Typed in full; the gazetteer knows only the township in it.
TYPED = "新郑市新建路街道中华北路88号"
WORDS = {
    "zh": {
        "township": "只找到乡镇中心：新建路街道",
        "confirm": "我已在地图上核对",
        "pinned": "地图选点",
        "pin_label": "地图上标定",
        "approximate": "乡镇中心：大概位置",
    },
    "en": {
        "township": "Township centre only: Xinjianlu Subdistrict",
        "confirm": "I checked the pin on the map",
        "pinned": "Point picked on the map",
        "pin_label": "placed on the map",
        "approximate": "township centre: approximate place",
    },
}
COORDINATES = re.compile(r"\((\d+\.\d+), (\d+\.\d+)\)")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_township_centre_must_be_pinned_before_the_incident_opens(
    browser, stack, coordinator, language
):
    words = WORDS[language]
    seat = Township.objects.get(name="新建路街道")
    signs_in_on_the_server(coordinator)
    context = desktop(browser, language)
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")

    page.click("#new-incident")
    page.fill("#address", TYPED)
    page.click("#locate")

    status = page.locator("#location-status")
    expect(status).to_contain_text(words["township"])
    expect(status).to_have_attribute("data-precision", "township")
    expect(status).to_have_class(re.compile(r"\bcoarse\b"))
    expect(status).not_to_have_class(re.compile(r"\blocated\b"))  # not the exact green
    expect(page.locator("#confirm-place-row")).to_be_visible()
    expect(page.locator("#confirm-place-row")).to_contain_text(words["confirm"])
    page.fill("input[name=title]", f"{TYPED} 积水")
    page.click("[data-add-need=people]")
    submit = page.locator("#incident-form button[type=submit]")
    # Refused: nothing can be opened at the township's centre unconfirmed.
    expect(submit).to_be_disabled()
    page.wait_for_timeout(800)  # the map flies to the township
    screenshot(page, f"incident-place-township-{language}")
    assert not Incident.objects.exists()

    # The coordinator drops the pin where help is needed: a little north-east of the
    # township's centre, on the map (no tiles: the township seats are the landmarks).
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 - 60)

    expect(status).to_contain_text(words["pinned"])
    expect(status).to_have_attribute("data-precision", "pin")
    expect(status).to_have_class(re.compile(r"\blocated\b"))
    expect(page.locator("#confirm-place-row")).to_be_hidden()
    expect(page.locator(".leaflet-tooltip.draft-tip")).to_have_count(1)
    expect(page.locator(".leaflet-tooltip.draft-tip")).to_contain_text(words["pin_label"])
    expect(submit).to_be_enabled()
    latitude, longitude = map(float, COORDINATES.search(status.inner_text()).groups())
    assert (latitude, longitude) != (round(seat.latitude, 5), round(seat.longitude, 5))
    screenshot(page, f"incident-place-pinned-{language}")

    submit.click()

    incident = wait_until(Incident.objects.first, timeout=10, what="the incident")
    assert incident.location_precision == "pin"
    assert incident.latitude == pytest.approx(latitude, abs=1e-5)
    assert incident.longitude == pytest.approx(longitude, abs=1e-5)
    assert incident.address == TYPED
    expect(page.locator("#detail")).to_have_attribute("data-incident", str(incident.pk))
    closed_without_script_errors(context)


def test_a_confirmed_township_centre_opens_there_as_a_pin(browser, stack, coordinator):
    signs_in_on_the_server(coordinator)
    context = desktop(browser, "en")
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")

    page.click("#new-incident")
    page.fill("#address", TYPED)
    page.press("#address", "Enter")
    page.click("[data-add-need=people]")
    submit = page.locator("#incident-form button[type=submit]")
    expect(submit).to_be_disabled()
    page.check("#confirm-place")

    expect(page.locator("#location-status")).to_contain_text(
        "Confirmed on the map: Xinjianlu Subdistrict"
    )
    expect(submit).to_be_enabled()
    submit.click()

    incident = wait_until(Incident.objects.first, timeout=10, what="the incident")
    seat = Township.objects.get(name="新建路街道")
    assert incident.location_precision == "pin"
    assert (incident.latitude, incident.longitude) == (seat.latitude, seat.longitude)
    closed_without_script_errors(context)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_detail_says_when_an_incident_stands_at_a_township_centre(
    browser, stack, coordinator, language
):
    """Opened through the API with the township's centre acknowledged: whoever opens
    it on the board sees that the place is approximate."""
    seat = Township.objects.get(name="新建路街道")
    incident = incident_open(
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title=f"{TYPED} 积水",
        address=TYPED,
        latitude=seat.latitude,
        longitude=seat.longitude,
        location_precision=LocationPrecision.TOWNSHIP,
        needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"))],
    )
    signs_in_on_the_server(coordinator)
    context = desktop(browser, language)
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")

    page.click(f'#incident-list li.incident[data-incident="{incident.pk}"]')

    expect(page.locator("#detail")).to_have_attribute("data-incident", str(incident.pk))
    expect(page.locator("#detail-facts .precision-coarse")).to_contain_text(
        WORDS[language]["approximate"]
    )
    closed_without_script_errors(context)
