"""The coordinators' dashboard in headless Chromium, desktop-sized, against a real
uvicorn and Celery worker: an incident opened by typing an address fills live when a
volunteer accepts; a dropped connection shows, and the page catches up when it is back."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from dispatch import services
from dispatch.availability import index_rebuild
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open
from tests.browser.conftest import (
    HOSTILE,
    closed_without_script_errors,
    connection_is,
    desktop,
    elsewhere,
    screenshot,
    sign_in,
    signs_in_on_the_server,
)
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE, make_boat, open_boat_rescue
from tests.processes import wait_until
from volunteers.models import Skill, Team, Township, Vehicle, VehicleKind

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

LONGHU = (34.610, 113.680)  # 龙湖镇's seat, where the gazetteer puts "龙湖镇"
TITLE = "龙湖镇 泰山村 群众被困"


@pytest.fixture
def rescuers(on_duty_near):
    """Two rescuers on duty north of 龙湖镇 (1 and 2 km), in the location index."""
    team = Team.objects.create(name="蓝天救援队", kind=Team.Kind.RESCUE)
    longhu = Township.objects.get(name="龙湖镇")
    found = [
        on_duty_near(LONGHU, km=n, phone=f"1390000000{n}", name=name, township=longhu)
        for n, name in [(1, "王建国"), (2, "李秀英")]
    ]
    team.members.add(*found)
    return found


@pytest.fixture
def city(coordinator, make_volunteer):
    """What else is going on: a testing site short of staff, an evacuation through deep
    water, some volunteers on duty elsewhere and vehicles."""
    xinjian = Township.objects.get(name="新建路街道")
    for n in range(6):
        make_volunteer(
            f"1370000000{n}",
            skills=("sampling",),
            on_duty=n % 3 != 0,
            home_latitude=34.39 + n * 0.006,
            home_longitude=113.73 + n * 0.004,
        )
    for call_sign, kind, status, at in [
        ("蓝天-舟1", VehicleKind.BOAT, Vehicle.Status.AVAILABLE, (34.58, 113.70)),
        ("蓝天-舟2", VehicleKind.BOAT, Vehicle.Status.OUT_OF_SERVICE, (34.57, 113.69)),
        ("新联-卡1", VehicleKind.TRUCK, Vehicle.Status.AVAILABLE, (34.41, 113.75)),
    ]:
        Vehicle.objects.create(
            call_sign=call_sign,
            kind=kind,
            status=status,
            township=xinjian,
            capacity=8,
            max_water_depth_m=Decimal("1.5") if kind == VehicleKind.BOAT else Decimal("0.4"),
            latitude=at[0],
            longitude=at[1],
        )
    sampling = Skill.objects.get(code="sampling")
    elsewhere(
        incident_open,
        reporter=coordinator,
        kind=Incident.Kind.TESTING_SITE,
        title="新建路街道社区服务中心核酸采样点",
        address="河南省新郑市新建路街道社区服务中心",
        latitude=34.398,
        longitude=113.741,
        people_affected=4500,
        needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=sampling, count=3)],
    )
    elsewhere(
        incident_open,
        reporter=coordinator,
        kind=Incident.Kind.EVACUATION,
        title="郭店镇 低洼小区 群众转移",
        latitude=34.566,
        longitude=113.721,
        priority=Incident.Priority.HIGH,
        people_affected=40,
        needs=[
            NeedSpec(kind=Need.Kind.CAPABILITY, people_to_move=40, water_depth_m=Decimal("1.2"))
        ],
    )


def offers_of(incident_id: int) -> dict[int, Assignment]:
    return {
        a.volunteer_id: a
        for a in Assignment.objects.filter(need__incident_id=incident_id, volunteer__isnull=False)
    }


def test_a_coordinator_opens_an_incident_by_address_and_watches_it_fill_live(
    browser, stack, coordinator, rescuers, city
):
    signs_in_on_the_server(coordinator)
    first, second = rescuers
    context = desktop(browser, "zh")
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")
    expect(page.locator("#connection")).to_have_text("实时")
    expect(page.locator("#incident-list li.incident")).to_have_count(2)
    expect(page.locator("#by-township tbody tr")).to_have_count(15)
    page.evaluate("window.notReloaded = true")

    # Where: typed, and found by the gazetteer.
    page.click("#new-incident")
    page.fill("#address", "龙湖镇")
    page.click("#locate")
    # A township's seat stands for the whole township: confirmed on the map (issue 12).
    expect(page.locator("#location-status")).to_contain_text("只找到乡镇中心：龙湖镇")
    page.check("#confirm-place")
    expect(page.locator("#location-status")).to_contain_text("已在地图上确认：龙湖镇")
    # What and what it needs: one rescuer.
    page.select_option("select[name=kind]", "flood_rescue")
    page.fill("input[name=title]", TITLE)
    page.check("input[name=priority][value='4']")
    page.fill("input[name=people_affected]", "12")
    page.click("[data-add-need=people]")
    need = page.locator("#needs li.need-row").first
    need.locator("input[name=count]").fill("1")
    need.locator("select[name=skill]").select_option("rescue")
    page.click("[data-add-need=capability]")  # and a boat for the people stuck
    screenshot(page, "dashboard-new-incident-zh")
    page.locator("#needs li.need-row").nth(1).locator("[data-remove-need]").click()
    page.click("#incident-form button[type=submit]")

    # It is in the list (and open in the detail) at once.
    incident = wait_until(
        lambda: Incident.objects.filter(title=TITLE).first(), timeout=10, what="the incident"
    )
    assert (incident.latitude, incident.longitude) == LONGHU
    assert incident.township.name == "龙湖镇"
    assert incident.priority == 4 and incident.people_affected == 12
    assert [(n.kind, n.skill.code, n.count) for n in incident.needs.all()] == [
        ("people", "rescue", 1)
    ]
    card = page.locator(f'#incident-list li.incident[data-incident="{incident.pk}"]')
    expect(card).to_contain_text(TITLE)
    expect(page.locator("#detail")).to_have_attribute("data-incident", str(incident.pk))

    # The worker offers it to both (an urgent need gets more offers than places)...
    offers = wait_until(lambda: len(offers_of(incident.pk)) == 2 and offers_of(incident.pk),
                        timeout=20, what="the offers")  # fmt: skip
    expect(card.locator("li.need .waiting")).to_have_text("+2")
    expect(page.locator("#offers tr[data-state=sent]")).to_have_count(2)
    # ... the first one's phone gets it, they look, and accept.
    elsewhere(services.offer_mark_delivered, assignment_id=offers[first.pk].pk, volunteer=first)
    expect(page.locator(f'#offers tr[data-assignment="{offers[first.pk].pk}"]')).to_have_attribute(
        "data-state", "delivered"
    )
    elsewhere(services.offer_mark_seen, assignment_id=offers[first.pk].pk, volunteer=first)
    elsewhere(services.assignment_accept, assignment_id=offers[first.pk].pk, volunteer=first)

    # Filled, without a reload.
    expect(card.locator("li.need.full .filled-count")).to_have_text("1/1")
    accepted = page.locator(f'#offers tr[data-assignment="{offers[first.pk].pk}"]')
    expect(accepted).to_have_attribute("data-state", "accepted")
    expect(accepted).to_contain_text("王建国")
    expect(page.locator(f'#offers tr[data-assignment="{offers[second.pk].pk}"]')).to_have_attribute(
        "data-state", "withdrawn"
    )
    expect(page.locator("#activity")).to_contain_text("接受派单")
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "dashboard-incident-detail-zh")
    page.click("#detail [data-close]")
    expect(page.locator("#drawer")).to_be_hidden()
    page.reload()  # the whole city again
    connection_is(page, "live")
    expect(card.locator("li.need.full .filled-count")).to_have_text("1/1")
    page.mouse.move(700, 450)
    page.wait_for_timeout(500)  # the markers and the board load
    screenshot(page, "dashboard-zh")

    # The same page in English, by the language switch.
    page.select_option("select[name=language]", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    connection_is(page, "live")
    expect(page.locator("#connection")).to_have_text("Live")
    expect(card).to_contain_text("Critical")
    expect(card.locator("li.need.full .filled-count")).to_have_text("1/1")
    expect(page.locator("#by-township")).to_contain_text("Longhu Town")
    page.mouse.move(700, 450)
    page.wait_for_timeout(500)
    screenshot(page, "dashboard-en")
    card.click()
    expect(page.locator(f'#offers tr[data-assignment="{offers[first.pk].pk}"]')).to_contain_text(
        "Accepted"
    )
    screenshot(page, "dashboard-incident-detail-en")
    page.click("#detail [data-close]")
    page.click("#new-incident")
    page.fill("#address", "Longhu Town")
    page.press("#address", "Enter")
    expect(page.locator("#location-status")).to_contain_text("Township centre only: Longhu Town")
    page.select_option("select[name=kind]", "evacuation")
    for kind in ("people", "vehicle", "capability"):
        page.click(f"[data-add-need={kind}]")
    screenshot(page, "dashboard-new-incident-en")
    closed_without_script_errors(context)


def test_the_dashboard_catches_up_after_its_connection_drops(browser, stack, coordinator, rescuers):
    signs_in_on_the_server(coordinator)
    first, _ = rescuers
    incident = elsewhere(
        incident_open,
        reporter=coordinator,
        kind=Incident.Kind.MEDICAL,
        title="龙湖镇 老人摔伤",
        latitude=LONGHU[0],
        longitude=LONGHU[1],
        priority=Incident.Priority.CRITICAL,
        needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=1)],
    )
    offers = wait_until(lambda: len(offers_of(incident.pk)) == 2 and offers_of(incident.pk),
                        timeout=20, what="the offers")  # fmt: skip
    context = desktop(browser, "en")
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")
    card = page.locator(f'#incident-list li.incident[data-incident="{incident.pk}"]')
    expect(card.locator("li.need .filled-count")).to_have_text("0/1")

    # The network goes: sockets cannot open until it is back. The page counts the
    # sockets it tries meanwhile, those that open, and the frames it is handed.
    page.evaluate("""() => {
        const Real = window.WebSocket;
        window.networkDown = true;
        window.whileDown = {tried: 0, opened: 0, frames: 0};
        window.WebSocket = class extends Real {
            constructor(url, protocols) {
                const down = window.networkDown;
                super(down ? "ws://127.0.0.1:9/" : url, protocols);
                if (down) {
                    window.whileDown.tried += 1;
                    this.addEventListener("open", () => { window.whileDown.opened += 1; });
                }
            }
        };
        const live = window.dashboard.live;
        const receive = live.receive.bind(live);
        live.receive = (frame) => {
            if (window.networkDown) window.whileDown.frames += 1;
            receive(frame);
        };
        live.ws.close();
    }""")
    connection_is(page, "offline")
    expect(page.locator("#connection")).to_have_text("Offline — reconnecting")
    accepted = offers[first.pk].pk
    elsewhere(services.assignment_accept, assignment_id=accepted, volunteer=first)
    assert Assignment.objects.get(pk=accepted).status == AssignmentStatus.ACCEPTED
    # Its frame went out to the channel layer while the page had no socket: whatever
    # could have reached the page has been sent. Nothing came through: no socket the
    # page tried opened, no frame reached it (counted, not waited for).
    wait_until(
        lambda: DeploymentEvent.objects.filter(
            assignment_id=accepted, kind="offer.accepted", published_at__isnull=False
        ).exists(),
        timeout=20,
        what="the accept's event to be published",
    )
    while_down = page.evaluate("window.whileDown")
    assert (while_down["opened"], while_down["frames"]) == (0, 0), while_down
    expect(card.locator("li.need .filled-count")).to_have_text("0/1")

    page.evaluate("window.networkDown = false")
    connection_is(page, "live")
    expect(card.locator("li.need.full .filled-count")).to_have_text("1/1")
    assert "since=" in page.evaluate("window.dashboard.live.ws.url")
    context.close()


def test_a_commander_follows_the_dashboard_read_only(
    browser, stack, coordinator, commander, rescuers
):
    signs_in_on_the_server(commander)
    first, _ = rescuers
    incident = elsewhere(
        incident_open,
        reporter=coordinator,
        kind=Incident.Kind.SEARCH,
        title="龙湖镇 走失老人搜寻",
        latitude=LONGHU[0],
        longitude=LONGHU[1],
        needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=1)],
    )
    offers = wait_until(lambda: len(offers_of(incident.pk)) == 2 and offers_of(incident.pk),
                        timeout=20, what="the offers")  # fmt: skip
    context = desktop(browser, "zh")
    page = context.new_page()
    sign_in(page, stack, "commander", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")

    expect(page.locator("#new-incident")).to_have_count(0)
    page.locator(f'#incident-list li.incident[data-incident="{incident.pk}"]').click()
    expect(page.locator("#offers tr[data-state=sent]")).to_have_count(2)
    expect(
        page.locator("#detail button[data-unassign], #detail button[data-assign]")
    ).to_have_count(0)
    expect(page.locator("#detail-actions")).to_have_count(0)
    elsewhere(services.assignment_accept, assignment_id=offers[first.pk].pk, volunteer=first)
    expect(page.locator(f'#offers tr[data-assignment="{offers[first.pk].pk}"]')).to_have_attribute(
        "data-state", "accepted"
    )
    closed_without_script_errors(context)


def test_hostile_names_render_as_text_on_the_map(browser, stack, coordinator):
    """A call sign, an incident title and a township name typed with markup show as
    that text in the map's labels and tooltips; the markup never runs."""
    signs_in_on_the_server(coordinator)
    xinjian = Township.objects.get(name="新建路街道")
    Township.objects.filter(pk=xinjian.pk).update(name=HOSTILE)
    Vehicle.objects.create(
        call_sign=f"舟{HOSTILE}",
        kind=VehicleKind.BOAT,
        township=xinjian,
        capacity=6,
        max_water_depth_m=Decimal("1.5"),
        latitude=34.41,
        longitude=113.75,
    )
    elsewhere(
        incident_open,
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title=f"被困{HOSTILE}",
        latitude=34.42,
        longitude=113.76,
        needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=1)],
    )
    context = desktop(browser, "zh")
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    expect(page.locator(".vehicle-marker")).to_have_count(1)

    page.locator(".vehicle-marker").hover()
    tooltip = page.locator(".leaflet-tooltip", has_text="舟<img")
    expect(tooltip).to_contain_text(f"舟{HOSTILE}")
    page.locator("#incident-list li.incident").first.click()
    # (While the map flies to it, Leaflet may briefly show the old label beside the new.)
    expect(page.locator(".leaflet-tooltip.incident-tip.selected").first).to_contain_text(HOSTILE)

    assert page.locator(".leaflet-tooltip img").count() == 0
    assert page.locator(".seat-label", has_text=HOSTILE).count() == 1
    assert page.evaluate("window.pwned") is None
    closed_without_script_errors(context)


def test_the_board_shows_a_boat_on_a_task_live_and_available_again(
    browser, stack, coordinator, make_volunteer
):
    signs_in_on_the_server(coordinator)
    boatman = make_volunteer(
        "13900000009", on_duty=True, last_latitude=SITE[0], last_longitude=SITE[1]
    )
    boat = make_boat(Township.objects.get(name="龙湖镇"), "舟-1", boatman)
    index_rebuild()
    context = desktop(browser, "en")
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")

    def vehicles(status: str):
        return page.locator(f'#vehicle-status [data-status="{status}"] b')

    expect(vehicles("available")).to_have_text("1")
    page.evaluate("window.notReloaded = true")

    elsewhere(open_boat_rescue, coordinator=coordinator)
    offer = wait_until(
        lambda: Assignment.objects.filter(vehicle=boat).first(), timeout=20, what="the offer"
    )
    elsewhere(services.assignment_accept, assignment_id=offer.pk, volunteer=boatman)
    expect(vehicles("assigned")).to_have_text("1")
    expect(vehicles("available")).to_have_text("0")

    elsewhere(
        services.assignment_progress,
        assignment_id=offer.pk,
        volunteer=boatman,
        status=AssignmentStatus.COMPLETED,
    )
    expect(vehicles("available")).to_have_text("1")
    expect(vehicles("assigned")).to_have_text("0")
    assert page.evaluate("window.notReloaded") is True
    closed_without_script_errors(context)
