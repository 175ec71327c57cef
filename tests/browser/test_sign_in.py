"""Sign-in without a password, in headless Chromium on a phone-sized screen, against a
real uvicorn and Celery worker (issue 11): an imported member, who has no usable
password, signs in with the code texted to them (read from the SMS gateway's file
backend, as the gateway would deliver it) and accepts an offer."""

import json
import re

import pytest
from playwright.sync_api import expect

from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open
from tests.browser.conftest import (
    WHERE_I_AM,
    closed_without_script_errors,
    connection_is,
    phone,
    screenshot,
)
from tests.dispatch.scenes import SITE
from tests.processes import wait_until
from volunteers.models import Skill, Volunteer

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

TITLE = "龙湖镇 泰山村 群众被困"


@pytest.fixture
def sms_outbox(monkeypatch, tmp_path):
    """The server's SMS gateway: the console backend appending to a file. Requested
    before `stack`, so the server starts with it in its environment."""
    path = tmp_path / "outbox.jsonl"
    monkeypatch.setenv("SMS_BACKEND", "dispatch.sms.gateways.ConsoleSmsBackend")
    monkeypatch.setenv("SMS_OUTBOX_FILE", str(path))

    def sent(to: str) -> list[str]:
        if not path.exists():
            return []
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return [line["text"] for line in lines if line["to"] == to]

    return sent


@pytest.mark.parametrize("language", ["zh"])
def test_an_imported_member_signs_in_by_sms_code_and_accepts_an_offer(
    browser, sms_outbox, stack, coordinator, make_volunteer, language
):
    member = make_volunteer("13900000001", name="李秀英")
    member.user.set_unusable_password()  # as import_roster makes them
    member.user.save(update_fields=["password"])
    context = phone(browser, language)
    page = context.new_page()

    page.goto(f"{stack}/phone/")
    expect(page).to_have_url(re.compile(r"/phone/login/\?next=/phone/"))
    page.fill("input[name=phone]", "139 0000 0001")
    page.locator(".sms-sign-in button[type=submit]").tap()
    expect(page).to_have_url(re.compile(r"/phone/login/code/"))
    texts = wait_until(lambda: sms_outbox("13900000001"), timeout=10, what="the code's SMS")
    code = re.search(r"\b(\d{6})\b", texts[0]).group(1)
    page.fill("input[name=code]", code)
    screenshot(page, f"phone-sign-in-code-{language}")
    page.locator(".code-sign-in button[type=submit]").tap()

    expect(page).to_have_url(f"{stack}/phone/")
    connection_is(page, "live")
    page.click("#duty")
    expect(page.locator("#duty")).to_have_attribute("aria-checked", "true")
    wait_until(
        lambda: Volunteer.objects.filter(
            pk=member.pk, on_duty=True, last_latitude=WHERE_I_AM["latitude"]
        ).exists(),
        timeout=20,
        what="the member on duty with a position",
    )

    incident_open(
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title=TITLE,
        address="泰山村三组",
        latitude=SITE[0],
        longitude=SITE[1],
        priority=Incident.Priority.CRITICAL,
        needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=1)],
    )
    offer = page.locator(".offer")
    expect(offer).to_be_visible()
    expect(offer).to_contain_text(TITLE)
    offer_id = int(offer.get_attribute("data-id"))
    offer.locator("button.accept").tap()

    wait_until(
        lambda: DeploymentEvent.objects.filter(
            kind=EventKind.OFFER_ACCEPTED, assignment_id=offer_id
        ).exists(),
        timeout=20,
        what="the offer accepted",
    )
    expect(page.locator(".task")).to_be_visible()
    expect(page.locator(".task")).to_contain_text(TITLE)
    assert Assignment.objects.get(pk=offer_id).status == AssignmentStatus.ACCEPTED
    assert Assignment.objects.get(pk=offer_id).volunteer_id == member.pk
    closed_without_script_errors(context)
