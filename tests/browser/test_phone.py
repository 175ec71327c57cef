"""The volunteer's phone page in headless Chromium, phone-sized, against a real uvicorn
and Celery worker: an offer arrives live, is accepted in one tap and seen through; a
dropped connection shows and the page catches up when it comes back."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dispatch import services
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open
from tests.browser.conftest import (
    WHERE_I_AM,
    closed_without_script_errors,
    connection_is,
    phone,
    screenshot,
    sign_in,
    signs_in_on_the_server,
)
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE
from tests.processes import wait_until
from volunteers.models import Skill, Volunteer

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

TITLE = "龙湖镇 泰山村 群众被困"
# An older, smaller phone, for one of the tests: nothing may overflow on it either.
SMALL_PHONE = {"width": 360, "height": 640}


def open_rescue(coordinator, *, count=1) -> Incident:
    """Opened as a coordinator would; the worker dispatches it after commit."""
    return incident_open(
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title=TITLE,
        address="泰山村三组",
        latitude=SITE[0],
        longitude=SITE[1],
        priority=Incident.Priority.CRITICAL,
        needs=[
            NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=count)
        ],
    )


def stored(assignment_id: int) -> Assignment:
    return Assignment.objects.get(pk=assignment_id)


def shows_the_state_after(page, kind: EventKind, **event):
    """Wait until the event (`kind` and the fields given) is logged and the page shows a
    state at or after its seq (#phone's data-seq: the log position of what it shows).
    From then on no state reply still on its way can draw an older state over it: the
    page drops those (state.js, isNewer). So what the test looks at next, or taps, is
    that state, not whichever reply happened to land last."""
    seq = wait_until(
        lambda: (
            DeploymentEvent.objects.filter(kind=kind, **event).values_list("seq", flat=True).first()
        ),
        timeout=20,
        what=f"{kind} to be logged",
    )
    page.wait_for_function(
        "seq => Number(document.getElementById('phone').dataset.seq) >= seq", arg=seq
    )


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_volunteer_takes_an_offer_live_and_sees_the_task_through(
    browser, stack, coordinator, make_volunteer, language
):
    rescuer = signs_in_on_the_server(make_volunteer("13900000001", name="王建国"))
    context = phone(browser, language)
    page = context.new_page()

    page.goto(f"{stack}/phone/")
    expect(page).to_have_url(re.compile(r"/phone/login/\?next=/phone/"))
    # A demo account has a password: folded away under the code by SMS (issue 11).
    screenshot(page, f"phone-sign-in-{language}")
    page.locator(".password-sign-in summary").tap()
    page.fill("input[name=username]", rescuer.phone)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator(".password-sign-in button[type=submit]").tap()
    expect(page).to_have_url(f"{stack}/phone/")
    connection_is(page, "live")

    page.click("#duty")
    expect(page.locator("#duty")).to_have_attribute("aria-checked", "true")
    # On duty, the phone shares where it is: that is where the engine looks for people.
    wait_until(
        lambda: Volunteer.objects.filter(
            pk=rescuer.pk, on_duty=True, last_latitude=WHERE_I_AM["latitude"]
        ).exists(),
        timeout=20,
        what="the volunteer on duty with a position",
    )
    expect(page.locator("#idle")).to_be_visible()
    expect(page.locator("#location-status")).not_to_be_empty()
    screenshot(page, f"phone-idle-{language}")

    incident = open_rescue(coordinator)

    # It arrives without a reload: what, where, how far, and the time left to answer.
    offer = page.locator(".offer")
    shows_the_state_after(page, EventKind.OFFER_MADE, volunteer=rescuer)
    expect(offer).to_be_visible()
    expect(offer).to_contain_text(TITLE)
    expect(offer).to_contain_text("泰山村三组")
    countdown = offer.locator(".countdown b")
    expect(countdown).to_have_text(re.compile(r"^\d+:\d\d$"))
    expect(countdown).not_to_have_text(countdown.inner_text(), timeout=5000)  # it ticks
    offer_id = int(offer.get_attribute("data-id"))
    assert stored(offer_id).need.incident_id == incident.pk
    wait_until(
        lambda: stored(offer_id).seen_at and stored(offer_id).delivered_at,
        timeout=20,
        what="the phone to report the offer delivered and seen",
    )
    screenshot(page, f"phone-offer-{language}")

    offer.locator("button.accept").tap()

    task = page.locator(".task")
    shows_the_state_after(page, EventKind.OFFER_ACCEPTED, assignment_id=offer_id)
    expect(task).to_be_visible()
    expect(offer).to_have_count(0)
    expect(task).to_contain_text(TITLE)
    expect(task.locator("a[href^='geo:']")).to_have_attribute(
        "href", re.compile(rf"^geo:{SITE[0]},{SITE[1]}")
    )
    assert stored(offer_id).status == AssignmentStatus.ACCEPTED
    screenshot(page, f"phone-task-{language}")

    task.locator("[data-step=en_route]").tap()
    expect(task.locator("[data-step=en_route]")).to_be_disabled()
    wait_until(
        lambda: stored(offer_id).status == AssignmentStatus.EN_ROUTE, timeout=20, what="en route"
    )
    shows_the_state_after(page, EventKind.ASSIGNMENT_EN_ROUTE, assignment_id=offer_id)
    task.locator("[data-step=on_scene]").tap()
    expect(task.locator("[data-step=on_scene]")).to_be_disabled()
    wait_until(
        lambda: stored(offer_id).status == AssignmentStatus.ON_SCENE, timeout=20, what="on scene"
    )
    shows_the_state_after(page, EventKind.ASSIGNMENT_ON_SCENE, assignment_id=offer_id)
    screenshot(page, f"phone-on-scene-{language}")

    # Done asks a rescuer how many people they moved.
    task.locator("[data-step=completed]").tap()
    page.fill(".finish input[name=people_moved]", "12")
    screenshot(page, f"phone-done-{language}")
    page.locator(".finish button.confirm").tap()

    shows_the_state_after(page, EventKind.ASSIGNMENT_COMPLETED, assignment_id=offer_id)
    expect(task).to_have_count(0)
    expect(page.locator("#idle")).to_be_visible()
    expect(page.locator("#notice")).to_be_visible()
    done = stored(offer_id)
    assert (done.status, done.people_moved) == (AssignmentStatus.COMPLETED, 12)
    closed_without_script_errors(context)


def test_the_phone_shows_a_dropped_connection_and_catches_up(
    browser, stack, coordinator, on_duty_near
):
    rescuer, other = (
        on_duty_near(SITE, km=distance, phone=number)
        for number, distance in (("13900000001", 2), ("13900000002", 3))
    )
    context = phone(browser, "en", viewport=SMALL_PHONE)
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(page, "live")
    expect(page.locator("#banner")).to_be_hidden()

    context.set_offline(True)

    connection_is(page, "offline")
    expect(page.locator("#banner")).to_be_visible()
    screenshot(page, "phone-offline-en")

    # While the phone is away, a rescue is offered to it (and to one more, as urgent
    # needs are over-offered).
    open_rescue(coordinator, count=1)
    offer_id = wait_until(
        lambda: Assignment.objects.filter(volunteer=rescuer).values_list("pk", flat=True).first(),
        timeout=20,
        what="the offer to be made",
    )
    expect(page.locator(".offer")).to_have_count(0)

    context.set_offline(False)

    # Back: live again, and the offer it missed is on screen, caught up by the replay.
    connection_is(page, "live")
    expect(page.locator("#banner")).to_be_hidden()
    offer = page.locator(f".offer[data-id='{offer_id}']")
    expect(offer).to_be_visible()
    wait_until(lambda: stored(offer_id).delivered_at, timeout=20, what="delivered")

    # The other rescuer takes the place a moment before this one answers (the news of it
    # not yet on this phone): the refusal says why.
    Assignment.objects.filter(volunteer=other).update(status=AssignmentStatus.ACCEPTED)
    offer.locator("button.accept").tap()

    expect(page.locator("#notice")).to_contain_text("Already filled")
    screenshot(page, "phone-refused-en")
    assert stored(offer_id).status == AssignmentStatus.OFFERED
    closed_without_script_errors(context)


def test_a_volunteer_sees_their_upcoming_shift(browser, stack, coordinator, make_volunteer):
    sampler = signs_in_on_the_server(make_volunteer("13900000003", skills=("sampling",)))
    start = timezone.localtime().replace(hour=8, minute=0, second=0, microsecond=0)
    start += timedelta(days=1)
    site = incident_open(
        reporter=coordinator,
        kind=Incident.Kind.TESTING_SITE,
        title="新建路街道 核酸采样点 3号",
        address="人民路与中华路交叉口",
        latitude=34.397,
        longitude=113.739,
        needs=[
            NeedSpec(
                kind=Need.Kind.PEOPLE,
                skill=Skill.objects.get(code="sampling"),
                count=4,
                shift_start=start,
                shift_end=start + timedelta(hours=4),
            )
        ],
    )
    shift = Assignment.objects.create(need=site.needs.get(), volunteer=sampler)
    services.assignment_accept(assignment_id=shift.pk, volunteer=sampler)
    context = phone(browser, "zh")
    page = context.new_page()

    sign_in(page, stack, sampler.phone, DEMO_PASSWORD, next_path="/phone/")

    shifts = page.locator("#shifts")
    expect(shifts).to_be_visible()
    expect(shifts).to_contain_text("新建路街道 核酸采样点 3号")
    expect(shifts.locator(".when")).to_contain_text("08:00–12:00")
    expect(page.locator(".task")).to_have_count(0)  # tomorrow's, not the current task
    connection_is(page, "live")
    screenshot(page, "phone-shifts-zh")
    closed_without_script_errors(context)


def test_the_page_works_over_http_when_websockets_are_blocked(
    browser, stack, coordinator, make_volunteer
):
    rescuer = signs_in_on_the_server(make_volunteer("13900000004"))
    context = phone(browser, "en")
    page = context.new_page()
    # A proxy that lets HTTP through but refuses websockets.
    page.route_web_socket(re.compile(r"/ws/volunteer/"), lambda ws: ws.close(code=4403))

    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")

    connection_is(page, "offline")
    expect(page.locator("#banner")).to_contain_text("every 30 seconds")
    page.locator("#duty").tap()  # PATCH /api/me/volunteer/, and the position with it
    expect(page.locator("#duty")).to_have_attribute("aria-checked", "true")
    wait_until(
        lambda: (
            Volunteer.objects.filter(pk=rescuer.pk, on_duty=True)
            .exclude(last_located_at=None)
            .exists()
        ),
        timeout=20,
        what="on duty with a position, over HTTP",
    )

    open_rescue(coordinator)

    # No socket to say so: the half-minute check finds the offer.
    offer = page.locator(".offer")
    expect(offer).to_be_visible(timeout=45_000)
    offer_id = int(offer.get_attribute("data-id"))
    # Delivered and seen have no REST endpoint: they wait for the socket (the SMS
    # fallback may text this offer meanwhile).
    assert stored(offer_id).delivered_at is None
    screenshot(page, "phone-polling-en")
    offer.locator("button.accept").tap()  # POST /api/assignments/<id>/accept/

    expect(page.locator(".task")).to_be_visible()
    assert stored(offer_id).status == AssignmentStatus.ACCEPTED
    closed_without_script_errors(context)


def test_someone_who_is_not_a_volunteer_is_told_so(browser, stack, coordinator):
    signs_in_on_the_server(coordinator)
    context = phone(browser, "zh")
    page = context.new_page()

    sign_in(page, stack, coordinator.username, DEMO_PASSWORD, next_path="/phone/")

    expect(page.locator(".not-volunteer")).to_contain_text("此页面供志愿者使用")
    expect(page.locator("#duty")).to_have_count(0)
    screenshot(page, "phone-not-volunteer-zh")
    closed_without_script_errors(context)


def test_the_page_opens_without_a_network_from_the_service_workers_copy(
    browser, stack, make_volunteer
):
    rescuer = signs_in_on_the_server(make_volunteer("13900000005", name="李娜"))
    context = phone(browser, "zh")
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    worker = page.evaluate("navigator.serviceWorker.ready.then((r) => r.active.scriptURL)")
    assert worker == f"{stack}/phone/sw.js"
    page.reload()  # now through the worker, which keeps a copy
    connection_is(page, "live")

    context.set_offline(True)
    page.reload()

    expect(page.locator("#me-name")).to_contain_text("李娜")
    connection_is(page, "offline")
    expect(page.locator("#banner")).to_be_visible()
    screenshot(page, "phone-offline-start-zh")

    context.set_offline(False)

    connection_is(page, "live")
    expect(page.locator("#banner")).to_be_hidden()
    closed_without_script_errors(context)
