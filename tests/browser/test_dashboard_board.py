"""A board for hundreds of incidents (issue 12), in headless Chromium against a real
uvicorn and Celery worker, in both languages: the list's filters narrow it and hold
while incidents arrive live; the status board follows a volunteer from free to en route
and a map dot names them; closing an incident with places unfilled names those places,
with no drop-down to choose anyone; the activity feed names incidents by title and
opens up to more lines."""

import re

import pytest
from playwright.sync_api import expect

from dispatch import services
from dispatch.models import Assignment, AssignmentStatus
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_cancel, incident_open
from tests.browser.conftest import (
    closed_without_script_errors,
    connection_is,
    desktop,
    elsewhere,
    screenshot,
    sign_in,
    signs_in_on_the_server,
)
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import KM
from tests.processes import wait_until
from volunteers.models import Skill, Team, Township, VehicleKind

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

LONGHU = (34.610, 113.680)
GUODIAN = (34.566, 113.721)
XINJIAN = (34.398, 113.741)
LANGUAGES = ["zh", "en"]

WORDS = {
    "zh": {
        "shown": "显示 {shown} / 共 {total}",
        "free": "在岗空闲",
        "offered": "已派单待答复",
        "en_route": "在途",
        "nobody": "没有符合条件的人员或车辆。",
        "unfilled": "仍有空缺",
        "boat_line": "冲锋舟 × 1：已到位 0 / 1",
        "resolved": "事件完成",
        "cancelled": "事件取消",
        "less": "收起",
    },
    "en": {
        "shown": "{shown} of {total} shown",
        "free": "Free, on duty",
        "offered": "Offered",
        "en_route": "En route",
        "nobody": "Nobody matches.",
        "unfilled": "Places still unfilled",
        "boat_line": "1 × Assault boat: 0 of 1 filled",
        "resolved": "Incident resolved",
        "cancelled": "Incident cancelled",
        "less": "Show less",
    },
}


def open_incident(
    coordinator, title, at, *, kind=Incident.Kind.FLOOD_RESCUE, priority=3, needs=None
):
    return elsewhere(
        incident_open,
        reporter=coordinator,
        kind=kind,
        title=title,
        latitude=at[0],
        longitude=at[1],
        priority=priority,
        needs=needs
        or [NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="sampling"), count=2)],
    )


def cards(page, group="urgent-list"):
    return page.locator(f"#{group} li.incident")


def ids_in(page, group="urgent-list") -> list[int]:
    return [
        int(i) for i in cards(page, group).evaluate_all("(l) => l.map((e) => e.dataset.incident)")
    ]


@pytest.fixture
def rescuers(on_duty_near):
    """Two rescuers on duty north of 龙湖镇 (1 and 2 km), of 蓝天救援队."""
    team = Team.objects.create(name="蓝天救援队", kind=Team.Kind.RESCUE)
    longhu = Township.objects.get(name="龙湖镇")
    found = [
        on_duty_near(LONGHU, km=n, phone=f"1390000000{n}", name=name, township=longhu)
        for n, name in [(1, "王建国"), (2, "李秀英")]
    ]
    team.members.add(*found)
    return found


def offers_of(incident_id: int) -> dict[int, Assignment]:
    return {
        a.volunteer_id: a
        for a in Assignment.objects.filter(need__incident_id=incident_id, volunteer__isnull=False)
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_filters_narrow_the_list_and_hold_through_live_updates(
    browser, stack, coordinator, language
):
    signs_in_on_the_server(coordinator)
    words = WORDS[language]
    trapped = open_incident(coordinator, "龙湖镇 泰山村 群众被困", LONGHU, priority=4)
    moved = open_incident(coordinator, "郭店镇 低洼小区 群众转移", GUODIAN, kind="evacuation")
    fall = open_incident(coordinator, "新建路 老人摔伤", XINJIAN, kind="medical", priority=2)
    sites = [
        open_incident(
            coordinator, f"新建路街道 核酸采样点 {n}", XINJIAN, kind="testing_site", priority=2
        )
        for n in (1, 2)
    ]
    context = desktop(browser, language)
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")

    # The urgent work first, most urgent first; the testing sites in a group of their own.
    expect(cards(page)).to_have_count(3)
    assert ids_in(page) == [trapped.pk, moved.pk, fall.pk]
    expect(cards(page, "sites-list")).to_have_count(2)
    expect(page.locator("#sites-count")).to_have_text("2")
    assert ids_in(page, "sites-list") == [s.pk for s in sites]
    expect(page.locator("#incident-shown")).to_have_text("")

    # A search, then a township: the list narrows and says how much it shows.
    page.fill("#incident-search", "群众")
    expect(cards(page)).to_have_count(2)
    expect(page.locator("#sites-group")).to_be_hidden()
    expect(page.locator("#incident-shown")).to_have_text(words["shown"].format(shown=2, total=5))
    longhu = Township.objects.get(name="龙湖镇").pk
    page.select_option("#incident-filters select[name=township]", str(longhu))
    expect(cards(page)).to_have_count(1)
    expect(page.locator("#incident-shown")).to_have_text(words["shown"].format(shown=1, total=5))

    # Incidents arriving live: the one that matches shows, the other stays hidden.
    page.evaluate("window.notReloaded = true")
    matching = open_incident(coordinator, "龙湖镇 群众转移 二组", LONGHU, kind="evacuation")
    hidden = open_incident(coordinator, "郭店镇 群众被困", GUODIAN, priority=4)
    expect(page.locator("#incident-shown")).to_have_text(words["shown"].format(shown=2, total=7))
    assert sorted(ids_in(page)) == sorted([trapped.pk, matching.pk])
    expect(page.locator(f'li.incident[data-incident="{hidden.pk}"]')).to_have_count(0)
    # And the map shows what the list shows.
    assert page.evaluate("window.dashboard.map.incidentMarkers.size") == 2
    screenshot(page, f"dashboard-board-filters-{language}")
    assert page.evaluate("window.notReloaded") is True

    # Show all again; the newest first; the sites folded away.
    page.click("#filters-reset")
    expect(cards(page)).to_have_count(5)
    expect(page.locator("#incident-shown")).to_have_text("")
    assert ids_in(page)[:2] == [trapped.pk, hidden.pk]  # critical, then the longest waiting
    page.select_option("#incident-filters select[name=sort]", "newest")
    expect(cards(page).first).to_have_attribute("data-incident", str(hidden.pk))
    page.select_option("#incident-filters select[name=kind]", "testing_site")
    expect(cards(page)).to_have_count(0)
    expect(cards(page, "sites-list")).to_have_count(2)
    page.click("#sites-group > summary")
    expect(page.locator("#sites-list")).to_be_hidden()
    closed_without_script_errors(context)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_status_board_follows_a_volunteer_live(browser, stack, coordinator, rescuers, language):
    signs_in_on_the_server(coordinator)
    words = WORDS[language]
    first, second = rescuers
    team = Team.objects.get(name="蓝天救援队")
    context = desktop(browser, language)
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")
    page.click("#tab-units")
    expect(page.locator("#status-board")).to_be_visible()
    row = page.locator(f'#units tr[data-unit="volunteer:{first.pk}"]')
    expect(row).to_have_attribute("data-state", "free")
    expect(row).to_contain_text("王建国")
    expect(row).to_contain_text("蓝天救援队")
    expect(row).to_contain_text(words["free"])
    expect(row.locator('a.tel[href="tel:13900000001"]')).to_have_text("13900000001")
    expect(page.locator("#units-count")).to_have_text("2")

    # Filtered by team and by township.
    page.select_option("#unit-team", str(team.pk))
    expect(page.locator("#units tbody tr[data-unit]")).to_have_count(2)
    xinjian = Township.objects.get(name="新建路街道").pk
    page.select_option("#unit-filters select[name=township]", str(xinjian))
    expect(page.locator("#units tbody")).to_contain_text(words["nobody"])
    page.select_option("#unit-filters select[name=township]", "")

    # Offered, accepted, en route: live, without a reload.
    page.evaluate("window.notReloaded = true")
    incident = elsewhere(
        incident_open,
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title="龙湖镇 泰山村 群众被困",
        latitude=LONGHU[0],
        longitude=LONGHU[1],
        priority=Incident.Priority.CRITICAL,
        needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=1)],
    )
    offers = wait_until(lambda: len(offers_of(incident.pk)) == 2 and offers_of(incident.pk),
                        timeout=20, what="the offers")  # fmt: skip
    expect(row).to_have_attribute("data-state", "offered")
    expect(row).to_contain_text(words["offered"])
    expect(row).to_contain_text("龙湖镇 泰山村 群众被困")
    elsewhere(services.assignment_accept, assignment_id=offers[first.pk].pk, volunteer=first)
    elsewhere(
        services.assignment_progress,
        assignment_id=offers[first.pk].pk,
        volunteer=first,
        status=AssignmentStatus.EN_ROUTE,
    )
    expect(row).to_have_attribute("data-state", "en_route")
    expect(row).to_contain_text(words["en_route"])
    other = page.locator(f'#units tr[data-unit="volunteer:{second.pk}"]')
    expect(other).to_have_attribute("data-state", "free")  # their offer was withdrawn
    # Working first.
    expect(page.locator("#units tbody tr").first).to_have_attribute(
        "data-unit", f"volunteer:{first.pk}"
    )
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, f"dashboard-status-board-{language}")

    # A volunteer's dot on the map: clicked, it names them, with a phone to tap.
    where = (LONGHU[0] + 2 * KM, LONGHU[1])
    page.evaluate("(at) => window.dashboard.map.map.setView(at, 15, {animate: false})", where)
    page.wait_for_timeout(300)
    point = page.evaluate(
        "(at) => { const p = window.dashboard.map.map.latLngToContainerPoint(at);"
        " return {x: p.x, y: p.y}; }",
        where,
    )
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    popup = page.locator(".person-popup")
    expect(popup).to_contain_text("李秀英")
    expect(popup).to_contain_text("蓝天救援队")
    expect(popup).to_contain_text(words["free"])
    expect(popup.locator('a.tel[href="tel:13900000002"]')).to_be_visible()
    screenshot(page, f"dashboard-volunteer-popup-{language}")
    closed_without_script_errors(context)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_commander_reads_who_is_where_without_phone_numbers(
    browser, stack, commander, coordinator, rescuers, language
):
    signs_in_on_the_server(commander)
    first, _second = rescuers
    context = desktop(browser, language)
    page = context.new_page()
    sign_in(page, stack, "commander", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")

    page.click("#tab-units")

    row = page.locator(f'#units tr[data-unit="volunteer:{first.pk}"]')
    expect(row).to_contain_text("王建国")
    expect(row).to_contain_text(WORDS[language]["free"])
    expect(page.locator("#units thead th")).to_have_count(6)  # no "Phone" column
    expect(page.locator("#status-board")).not_to_contain_text("13900000001")
    expect(page.locator("#status-board a.tel")).to_have_count(0)
    screenshot(page, f"dashboard-status-board-commander-{language}")
    closed_without_script_errors(context)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_map_without_tiles_outlines_each_townships_area(browser, stack, coordinator, language):
    signs_in_on_the_server(coordinator)
    context = desktop(browser, language)
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")

    drawn = page.evaluate("window.dashboard.map.areaLayer.getLayers().length")

    assert drawn == Township.objects.count()
    page.locator(".leaflet-control-layers").hover()
    expect(page.locator(".leaflet-control-layers-overlays")).to_contain_text(
        {"zh": "乡镇范围（按最近驻地划分）", "en": "Township areas (by nearest seat)"}[language]
    )
    screenshot(page, f"dashboard-township-areas-{language}")
    closed_without_script_errors(context)


@pytest.mark.parametrize("language", LANGUAGES)
def test_closing_with_places_unfilled_names_them_and_the_feed_names_incidents(
    browser, stack, coordinator, rescuers, language
):
    signs_in_on_the_server(coordinator)
    words = WORDS[language]
    first, _ = rescuers
    # Closed before the page opens: the feed still names it by its title.
    earlier = open_incident(coordinator, "郭店镇 早先的事件", GUODIAN)
    elsewhere(incident_cancel, incident=earlier, actor=coordinator, note="重复")
    incident = elsewhere(
        incident_open,
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title="龙湖镇 泰山村 群众被困",
        latitude=LONGHU[0],
        longitude=LONGHU[1],
        priority=Incident.Priority.CRITICAL,
        needs=[
            NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=1),
            NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=1),
        ],
    )
    offers = wait_until(lambda: len(offers_of(incident.pk)) == 2 and offers_of(incident.pk),
                        timeout=20, what="the offers")  # fmt: skip
    elsewhere(services.assignment_accept, assignment_id=offers[first.pk].pk, volunteer=first)
    context = desktop(browser, language)
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")
    feed = page.locator("#activity")
    expect(feed.locator(f'li[data-about="{earlier.pk}"]').first).to_contain_text(
        "郭店镇 早先的事件"
    )
    expect(feed.locator("li.incident-cancelled")).to_contain_text(words["cancelled"])

    page.locator(f'#incident-list li.incident[data-incident="{incident.pk}"]').click()
    # Cancel: no drop-down, and the warning names the boat nobody has brought.
    page.click("[data-close-incident=cancel]")
    expect(page.locator("#action-dialog")).to_be_visible()
    expect(page.locator("#action-choice-label")).to_be_hidden()
    expect(page.locator("#action-warning")).to_contain_text(words["unfilled"])
    page.click("#action-dismiss")
    # Resolve: the same, and only the unfilled need is named.
    page.click("[data-close-incident=resolve]")
    expect(page.locator("#action-choice-label")).to_be_hidden()
    warning = page.locator("#action-warning li")
    expect(warning).to_have_count(1)
    expect(warning).to_have_text(words["boat_line"])
    screenshot(page, f"dashboard-resolve-unfilled-{language}")
    page.click("#action-confirm")
    expect(page.locator("#action-dialog")).to_be_hidden()
    wait_until(
        lambda: Incident.objects.get(pk=incident.pk).status == Incident.Status.RESOLVED,
        timeout=10,
        what="the incident resolved",
    )
    expect(
        page.locator(f'#incident-list li.incident[data-incident="{incident.pk}"]')
    ).to_have_count(0)

    # The feed names it by title after it left the board, and never as "#<id>".
    resolved = feed.locator("li.incident-resolved")
    expect(resolved).to_contain_text(words["resolved"])
    expect(resolved).to_contain_text("龙湖镇 泰山村 群众被困")
    assert not re.search(r"#\d", feed.inner_text())
    # Six lines until asked for more.
    lines = feed.locator("li").count()
    assert lines > 6, lines
    small = page.locator("#activity").bounding_box()["height"]
    page.click("#activity-more")
    expect(page.locator("#activity-more")).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#activity-more")).to_have_text(words["less"])
    page.wait_for_timeout(100)
    assert page.locator("#activity").bounding_box()["height"] > small
    screenshot(page, f"dashboard-activity-expanded-{language}")
    closed_without_script_errors(context)
