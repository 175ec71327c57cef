"""Assigning by hand on the dashboard, in headless Chromium against a real uvicorn and
Celery worker, in both languages: the dialog lists who cannot take a place and says
why, and a choice made on a stale list is refused with the API's words, changing
nothing."""

import pytest
from playwright.sync_api import expect

from dispatch import services
from dispatch.models import Assignment, AssignmentStatus
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open
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
from tests.dispatch.scenes import KM, SITE
from volunteers.models import Skill

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

# What the page says, by language: the reasons (dashboard strings), an accepted place
# (its offer state) and the API's refusal (dispatch's).
SAYS = {
    "zh": {
        "on_this_need": "已在此需求中（已接受）",
        "busy_on": "正在执行其他任务：",
        "off_duty": "未在岗",
        "refused": "操作失败：李秀英已在这项需求中占有一个名额。",
    },
    "en": {
        "on_this_need": "already on this need (Accepted)",
        "busy_on": "on another task: ",
        "off_duty": "off duty",
        "refused": "The request failed: 李秀英 already has a place on this need.",
    },
}


def by_hand(coordinator, need, volunteer) -> Assignment:
    return elsewhere(
        services.assignment_assign_manually,
        need_id=need.pk,
        target=services.ManualTarget(volunteer=volunteer),
        actor=coordinator,
        reason="电话确认",
    )


def rescue(coordinator, title: str, *, count: int, km_north: float = 0) -> Need:
    return elsewhere(
        incident_open,
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title=title,
        latitude=SITE[0] + km_north * KM,
        longitude=SITE[1],
        priority=Incident.Priority.HIGH,
        needs=[
            NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=count)
        ],
    ).needs.get()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_second_place_for_the_same_person_is_refused_and_said_why(
    browser, stack, coordinator, make_volunteer, language
):
    signs_in_on_the_server(coordinator)
    # Off duty, so the engine offers them nothing meanwhile: a coordinator calls them.
    holder, late, free, busy = (
        make_volunteer(
            f"1390000001{n}",
            name=name,
            home_latitude=SITE[0] + (n + 1) * KM,
            home_longitude=SITE[1],
        )
        for n, name in enumerate(["王建国", "李秀英", "张伟", "刘洋"])
    )
    need = rescue(coordinator, "龙湖镇 泰山村 群众被困", count=3)
    by_hand(coordinator, need, holder)
    other = rescue(coordinator, "郭店镇 老人被困", count=1, km_north=20)
    by_hand(coordinator, other, busy)

    context = desktop(browser, language)
    page = context.new_page()
    sign_in(page, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(page, "live")
    page.locator(f'#incident-list li.incident[data-incident="{need.incident_id}"]').click()
    expect(page.locator("#detail")).to_have_attribute("data-incident", str(need.incident_id))
    page.click(f'#detail button[data-assign="{need.pk}"]')

    # Whoever can take the place first, nearest first; then who cannot, and why.
    dialog = page.locator("#action-dialog")
    expect(dialog).to_be_visible()
    options = page.locator("#action-choice option")
    expect(options).to_have_count(4)
    says = SAYS[language]
    expect(options.nth(0)).to_contain_text("李秀英")
    expect(options.nth(0)).to_contain_text(says["off_duty"])
    expect(options.nth(1)).to_contain_text("张伟")
    expect(options.nth(2)).to_contain_text("刘洋 · 13900000013 · ")
    expect(options.nth(2)).to_contain_text(f"{says['busy_on']}郭店镇 老人被困")
    expect(options.nth(3)).to_contain_text("王建国 · 13900000010 · ")
    expect(options.nth(3)).to_contain_text(says["on_this_need"])
    for n, disabled in enumerate([False, False, True, True]):
        assert options.nth(n).is_disabled() is disabled
    assert page.locator("#action-choice").input_value() == f"volunteer:{late.pk}"
    # A closed drop-down does not show its options in a screenshot: opened as a list.
    page.evaluate("document.getElementById('action-choice').size = 4")
    screenshot(page, f"dashboard-assign-reasons-{language}")
    page.evaluate("document.getElementById('action-choice').removeAttribute('size')")

    # The coordinator picks 李秀英 while another coordinator assigns her meanwhile.
    page.select_option("#action-choice", f"volunteer:{late.pk}")
    page.fill("#action-reason", "电话确认")
    taken = by_hand(coordinator, need, late)
    page.click("#action-confirm")

    # Refused with the API's words; the list now says why, and nobody is chosen.
    expect(page.locator("#action-errors")).to_have_text(says["refused"])
    expect(dialog).to_be_visible()
    late_option = page.locator(f'#action-choice option[value="volunteer:{late.pk}"]')
    expect(late_option).to_contain_text(says["on_this_need"])
    expect(late_option).to_be_disabled()
    assert page.locator("#action-choice").input_value() == ""
    page.evaluate("document.getElementById('action-choice').size = 4")
    screenshot(page, f"dashboard-assign-refused-{language}")

    # Nothing changed: one place, hers, the one the other coordinator made.
    places = Assignment.objects.filter(need=need, volunteer=late)
    assert list(places.values_list("pk", "status")) == [(taken.pk, AssignmentStatus.ACCEPTED)]
    assert need.assignments.filter(status=AssignmentStatus.ACCEPTED).count() == 2
    assert not free.assignments.exists()
    closed_without_script_errors(context)
