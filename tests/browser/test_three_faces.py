"""The three faces together, in three browsers against the real uvicorn, Celery worker and
beat: a coordinator opens an incident on the dashboard, a volunteer's phone gets the
offer live and takes it, the dashboard fills without a reload, the volunteer sees the
task through, and a commander reviews it and exports its log. Then: a volunteer who
opens the dashboard is told, in their language, that it is not theirs."""

import csv
import re

import pytest
from django.utils import translation
from playwright.sync_api import expect

from dispatch.labels import EVENT_LABELS
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from incidents.models import Incident
from tests.browser.conftest import (
    closed_without_script_errors,
    connection_is,
    desktop,
    offer_cells,
    phone,
    screenshot,
    sign_in,
    signs_in_on_the_server,
)
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE
from volunteers.models import Township

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

# What the coordinator types, in their language: the place (the gazetteer knows the
# township by either name; its seat is SITE) and the title.
TYPED = {
    "zh": {
        "address": "龙湖镇",
        "located": "已在地图上确认：龙湖镇",
        "title": "龙湖镇 泰山村 群众被困",
    },
    "en": {
        "address": "Longhu Town",
        "located": "Confirmed on the map: Longhu Town",
        "title": "Longhu: people trapped in Taishan village",
    },
}
# What the pages say, in each language.
SAYS = {
    "zh": {"live": "实时", "where": "地点", "accepted": "接受", "people_moved": "3"},
    "en": {"live": "Live", "where": "Where", "accepted": "Accepted", "people_moved": "3"},
}
DJANGO_LANGUAGE = {"zh": "zh-hans", "en": "en"}
# The log of one person taking one offer and seeing it through.
THE_FLOW = [
    EventKind.INCIDENT_OPENED,
    EventKind.OFFER_MADE,
    EventKind.OFFER_DELIVERED,
    EventKind.OFFER_SEEN,
    EventKind.OFFER_ACCEPTED,
    EventKind.ASSIGNMENT_EN_ROUTE,
    EventKind.ASSIGNMENT_ON_SCENE,
    EventKind.ASSIGNMENT_COMPLETED,
]


def the_log_of(incident: Incident) -> list[DeploymentEvent]:
    """The incident's deployment log as the database has it: the truth."""
    return list(
        DeploymentEvent.objects.filter(incident=incident)
        .select_related("volunteer")
        .order_by("seq")
    )


def stored(assignment_id: int) -> Assignment:
    return Assignment.objects.get(pk=assignment_id)


def not_reloaded(page):
    """Mark the page: a reload would lose the mark (see still_the_same_page)."""
    page.evaluate("window.notReloaded = true")


def still_the_same_page(page) -> bool:
    return page.evaluate("window.notReloaded === true")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_coordinator_opens_an_incident_a_volunteer_takes_it_and_the_commander_reviews_it(
    browser, stack, coordinator, commander, on_duty_near, tmp_path, language
):
    typed, says = TYPED[language], SAYS[language]
    signs_in_on_the_server(coordinator)
    signs_in_on_the_server(commander)
    rescuer = on_duty_near(
        SITE, km=2, phone="13900000001", name="王建国", township=Township.objects.get(name="龙湖镇")
    )

    # The coordinator's dashboard, live.
    desk = desktop(browser, language)
    dashboard = desk.new_page()
    sign_in(dashboard, stack, coordinator.username, DEMO_PASSWORD, "/dashboard/")
    connection_is(dashboard, "live")
    expect(dashboard.locator("#connection")).to_have_text(says["live"])
    not_reloaded(dashboard)

    # The volunteer's phone, signed in, on duty, waiting.
    pocket = phone(browser, language)
    mobile = pocket.new_page()
    sign_in(mobile, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(mobile, "live")
    expect(mobile.locator("#duty")).to_have_attribute("aria-checked", "true")
    expect(mobile.locator("#idle")).to_be_visible()
    expect(mobile.locator(".offer")).to_have_count(0)
    not_reloaded(mobile)
    screenshot(mobile, f"faces-phone-idle-{language}")

    # The coordinator opens the incident through the dashboard's form: where (typed and
    # found by the gazetteer), what, and one rescuer.
    dashboard.click("#new-incident")
    dashboard.fill("#address", typed["address"])
    dashboard.click("#locate")
    # A township's seat: the coordinator confirms it on the map (issue 12).
    dashboard.check("#confirm-place")
    expect(dashboard.locator("#location-status")).to_contain_text(typed["located"])
    dashboard.select_option("select[name=kind]", "flood_rescue")
    dashboard.fill("input[name=title]", typed["title"])
    dashboard.fill("input[name=people_affected]", "5")
    dashboard.click("[data-add-need=people]")
    need_row = dashboard.locator("#needs li.need-row")
    expect(need_row).to_have_count(1)
    need_row.locator("input[name=count]").fill("1")
    need_row.locator("select[name=skill]").select_option("rescue")
    screenshot(dashboard, f"faces-dashboard-new-incident-{language}")
    dashboard.click("#incident-form button[type=submit]")

    card = dashboard.locator("#incident-list li.incident", has_text=typed["title"])
    expect(card).to_be_visible()
    incident = Incident.objects.get(title=typed["title"])
    assert [(n.kind, n.skill.code, n.count) for n in incident.needs.all()] == [
        ("people", "rescue", 1)
    ]
    expect(card.locator("li.need .filled-count")).to_have_text("0/1")

    # The offer reaches the phone without a reload: what, where, and the time left.
    offer = mobile.locator(".offer")
    expect(offer).to_be_visible()
    expect(offer).to_contain_text(typed["title"])
    # The address typed names the township: said once.
    where = offer.locator(".fact", has=mobile.locator("dt", has_text=says["where"]))
    expect(where.locator("dd")).to_have_text(typed["address"])
    expect(offer.locator(".countdown b")).to_have_text(re.compile(r"^\d+:\d\d$"))
    offer_id = int(offer.get_attribute("data-id"))
    assert stored(offer_id).need.incident_id == incident.pk
    assert stored(offer_id).volunteer_id == rescuer.pk
    # The coordinator sees it was offered, reached the phone and was looked at.
    offer_row = dashboard.locator(f'#offers tr[data-assignment="{offer_id}"]')
    expect(offer_row).to_have_attribute("data-state", "seen")
    expect(offer_row).to_contain_text(rescuer.name)
    expect(card.locator("li.need .waiting")).to_have_text("+1")
    screenshot(mobile, f"faces-phone-offer-{language}")
    screenshot(dashboard, f"faces-dashboard-offer-seen-{language}")

    # One tap.
    offer.locator("button.accept").tap()

    task = mobile.locator(".task")
    expect(task).to_be_visible()
    expect(offer).to_have_count(0)
    expect(task).to_contain_text(typed["title"])
    # The dashboard shows the need filled, without a reload.
    expect(card.locator("li.need.full .filled-count")).to_have_text("1/1")
    expect(card.locator("li.need .waiting")).to_have_count(0)
    expect(offer_row).to_have_attribute("data-state", "accepted")
    assert still_the_same_page(dashboard)
    assert stored(offer_id).status == AssignmentStatus.ACCEPTED
    screenshot(mobile, f"faces-phone-task-{language}")
    screenshot(dashboard, f"faces-dashboard-filled-{language}")

    # On the way, there, done: each step on the phone, followed on the dashboard.
    task.locator("[data-step=en_route]").tap()
    expect(task.locator("[data-step=en_route]")).to_be_disabled()
    expect(offer_row).to_have_attribute("data-state", "en_route")
    task.locator("[data-step=on_scene]").tap()
    expect(task.locator("[data-step=on_scene]")).to_be_disabled()
    expect(offer_row).to_have_attribute("data-state", "on_scene")
    screenshot(mobile, f"faces-phone-on-scene-{language}")
    task.locator("[data-step=completed]").tap()
    mobile.fill(".finish input[name=people_moved]", says["people_moved"])
    screenshot(mobile, f"faces-phone-done-{language}")
    mobile.locator(".finish button.confirm").tap()

    expect(task).to_have_count(0)
    expect(mobile.locator("#idle")).to_be_visible()
    expect(offer_row).to_have_attribute("data-state", "completed")
    expect(card.locator("li.need.full .filled-count")).to_have_text("1/1")
    assert still_the_same_page(dashboard) and still_the_same_page(mobile)
    done = stored(offer_id)
    assert (done.status, done.people_moved) == (AssignmentStatus.COMPLETED, 3)
    screenshot(mobile, f"faces-phone-finished-{language}")
    screenshot(dashboard, f"faces-dashboard-completed-{language}")
    closed_without_script_errors(pocket)
    closed_without_script_errors(desk)

    log = the_log_of(incident)
    assert sorted(event.kind for event in log) == sorted(THE_FLOW)

    # The commander: the review, the incident's timeline, its log exported.
    office = desktop(browser, language, accept_downloads=True)
    review = office.new_page()
    sign_in(review, stack, commander.username, DEMO_PASSWORD, "/review/")
    incident_link = review.locator("table.log-table td.incident a", has_text=f"#{incident.pk} ")
    expect(incident_link.first).to_be_visible()
    screenshot(review, f"faces-review-{language}")
    incident_link.first.click()
    review.wait_for_url(f"**/review/incidents/{incident.pk}/")

    cells = offer_cells(review, rescuer.name)
    assert cells["offered"]
    for step in ("delivered", "seen", "en-route", "on-scene", "finished"):
        assert cells[step] not in ("", "—"), (step, cells)
    assert cells["answer"].startswith(says["accepted"])
    expect(review.locator("#offers tbody tr td.people")).to_have_text(says["people_moved"])
    # Its log, entry for entry, as the database has it, in the page's language.
    with translation.override(DJANGO_LANGUAGE[language]):
        labels = [str(EVENT_LABELS[event.kind]) for event in log]
    entries = review.locator("ol.entries li")
    expect(entries).to_have_count(len(log))
    assert [int(seq) for seq in entries.evaluate_all("els => els.map(e => e.dataset.seq)")] == [
        event.seq for event in log
    ]
    expect(entries.locator(".pill")).to_have_text(labels)
    screenshot(review, f"faces-timeline-{language}")

    with review.expect_download() as download_info:
        review.click(f'a[href="/review/log.csv?incident={incident.pk}"]')
    download = download_info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    with open(path, encoding="utf-8-sig", newline="") as exported:
        _header, *records = list(csv.reader(exported))
    # Seq, event code, volunteer no. and volunteer: columns 1, 3, 10 and 11.
    assert [(int(r[0]), r[2], int(r[9]) if r[9] else None, r[10]) for r in records] == [
        (e.seq, e.kind, e.volunteer_id, e.volunteer.name if e.volunteer else "") for e in log
    ]
    closed_without_script_errors(office)


FORBIDDEN = {
    "zh": {"title": "您无权打开此页面", "way": "打开志愿者页面", "lang": "zh-hans"},
    "en": {"title": "You may not open this page", "way": "Open the volunteer page", "lang": "en"},
}


def test_a_volunteer_who_opens_the_dashboard_is_refused_in_their_language(
    browser, stack, make_volunteer
):
    volunteer = signs_in_on_the_server(make_volunteer("13900000002", name="李秀英"))
    for language, says in FORBIDDEN.items():
        context = phone(browser, language)
        page = context.new_page()
        sign_in(page, stack, volunteer.phone, DEMO_PASSWORD, next_path="/phone/")

        for path in ("/dashboard/", "/review/"):
            response = page.goto(f"{stack}{path}")
            assert response.status == 403
            expect(page.locator("html")).to_have_attribute("lang", says["lang"])
            expect(page.locator("h1")).to_have_text(says["title"])
            expect(page.locator("main")).to_contain_text(volunteer.name)
        screenshot(page, f"faces-forbidden-{language}")

        page.get_by_role("link", name=says["way"]).click()
        page.wait_for_url(f"{stack}/phone/")
        connection_is(page, "live")
        closed_without_script_errors(context)
