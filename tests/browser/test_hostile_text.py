"""Text people type (names, titles, addresses, notes) shows on the phone and in the
review as that text: markup in it never runs (the dashboard's map: test_dashboard.py).
And the second wall: where markup did get into a page, the Content-Security-Policy
(config/csp.py) refuses to run it."""

import pytest
from playwright.sync_api import expect

from dispatch import services
from dispatch.models import Assignment, AssignmentStatus
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open
from tests.browser.conftest import (
    HOSTILE,
    closed_without_script_errors,
    connection_is,
    desktop,
    elsewhere,
    phone,
    sign_in,
    signs_in_on_the_server,
)
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE
from volunteers.models import Skill
from volunteers.roles import Role

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


def shows_no_markup(page, where: str):
    """`where` holds no element the hostile text would have made, and nothing ran."""
    assert page.locator(f"{where} img").count() == 0
    assert page.evaluate("window.pwned") is None


def test_hostile_text_shows_as_text_on_the_phone_and_in_the_review(
    browser, stack, coordinator, commander, on_duty_near
):
    rescuer = on_duty_near(SITE, km=2, phone="13900000001", name=f"王{HOSTILE}")
    signs_in_on_the_server(commander)
    context = phone(browser, "zh")
    page = context.new_page()
    sign_in(page, stack, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(page, "live")

    incident = elsewhere(
        incident_open,
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title=f"被困{HOSTILE}",
        address=f"三组{HOSTILE}",
        description=f"屋顶{HOSTILE}",
        latitude=SITE[0],
        longitude=SITE[1],
        priority=Incident.Priority.CRITICAL,
        needs=[
            NeedSpec(
                kind=Need.Kind.PEOPLE,
                skill=Skill.objects.get(code="rescue"),
                note=f"带绳{HOSTILE}",
            )
        ],
    )
    offer = page.locator(".offer")
    expect(offer).to_contain_text(f"被困{HOSTILE}")
    expect(offer).to_contain_text(f"三组{HOSTILE}")
    shows_no_markup(page, "#phone")

    offer.locator("button.accept").tap()
    task = page.locator(".task")
    expect(task).to_contain_text(f"屋顶{HOSTILE}")
    shows_no_markup(page, "#phone")
    closed_without_script_errors(context)

    # Seen through, so that the review has the whole story to tell.
    assignment = Assignment.objects.get(volunteer=rescuer, need__incident=incident)
    for status in (AssignmentStatus.EN_ROUTE, AssignmentStatus.ON_SCENE):
        elsewhere(
            services.assignment_progress,
            assignment_id=assignment.pk,
            volunteer=rescuer,
            status=status,
        )

    context = desktop(browser, "zh")
    page = context.new_page()
    sign_in(page, stack, commander.username, DEMO_PASSWORD, next_path="/review/")
    log = page.locator("table.log-table")
    expect(log).to_contain_text(f"被困{HOSTILE}")
    expect(log).to_contain_text(f"王{HOSTILE}")
    shows_no_markup(page, "main")
    for path in (f"/review/incidents/{incident.pk}/", f"/review/incidents/{incident.pk}/ics214/"):
        page.goto(f"{stack}{path}")
        expect(page.locator("main")).to_contain_text(f"被困{HOSTILE}")
        expect(page.locator("main")).to_contain_text(f"王{HOSTILE}")
        shows_no_markup(page, "main")
    closed_without_script_errors(context)


# Each face as the person it is for: (path, role or "volunteer", what shows it is drawn).
FACES = [
    ("/", Role.COORDINATOR, "#open-incidents"),
    ("/dashboard/", Role.COORDINATOR, "#connection.live"),
    ("/review/", Role.COMMANDER, "#filters"),
    ("/phone/", "volunteer", "#connection.live"),
    ("/api/docs/", Role.COORDINATOR, ".swagger-ui .opblock"),
]

# Markup that runs wherever a page would let it: an inline event handler. The promise
# gives the directive that refused it, or "ran" once the handler did (it runs before the
# error listener added here, when it is let run at all).
PLANT_MARKUP = """() => new Promise((outcome) => {
    document.addEventListener(
        "securitypolicyviolation", (event) => outcome(event.effectiveDirective), { once: true });
    document.body.insertAdjacentHTML(
        "beforeend", '<img id="planted" src="x" onerror="window.pwned = 1">');
    document.getElementById("planted").addEventListener(
        "error", () => window.pwned && outcome("ran"));
})"""


@pytest.mark.parametrize(("path", "role", "drawn"), FACES, ids=[face[0] for face in FACES])
def test_markup_that_got_into_a_page_is_refused_to_run(
    browser, stack, make_user, on_duty_near, path, role, drawn
):
    """As if an escaping mistake let a name's markup into the page: the browser refuses
    its script, and nothing ran."""
    if role == "volunteer":
        username = on_duty_near(SITE, km=2, phone="13900000001").phone
    else:
        username = signs_in_on_the_server(make_user("someone", role)).username
    context = desktop(browser, "en")
    page = context.new_page()
    sign_in(page, stack, username, DEMO_PASSWORD, next_path=path)
    # The face drew itself with its own scripts, under the same policy.
    expect(page.locator(drawn).first).to_be_visible()
    assert context.csp_refusals == []

    assert page.evaluate(PLANT_MARKUP) == "script-src-attr"
    assert page.evaluate("window.pwned") is None
    context.csp_refusals.clear()  # the one refusal this test caused on purpose
    closed_without_script_errors(context)
