"""Messages to those on duty (issue 13, item 6), in headless Chromium against a real
uvicorn, Celery worker and beat: a coordinator sends a briefing to a township from the
dashboard, the phone of a volunteer on duty there shows it until they confirm, and the
dashboard's counts show it delivered, read and confirmed."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from briefings.models import BroadcastReceipt
from tests.browser.conftest import (
    closed_without_script_errors,
    connection_is,
    desktop,
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

TEXT = "107国道水位上涨，所有冲锋舟到龙湖镇政府集合"
WORDS = {
    "zh": {"heading": "集合通知：请确认", "confirm": "我会到场", "sent": "已发给 1 名在岗人员。"},
    "en": {
        "heading": "Briefing: please confirm",
        "confirm": "I'll be there",
        "sent": "Sent to 1 on duty.",
    },
}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_briefing_sent_on_the_dashboard_is_confirmed_on_the_phone(
    browser, stack, coordinator, on_duty_near, language
):
    words = WORDS[language]
    longhu = Township.objects.get(name="龙湖镇")
    boatman = on_duty_near(SITE, km=2, phone="13900000051", name="李振华", township=longhu)
    # On duty elsewhere: not sent it.
    on_duty_near(SITE, km=-30, phone="13900000052", township=Township.objects.get(name="新村镇"))
    signs_in_on_the_server(coordinator)

    volunteer_screen = phone(browser, language)
    on_phone = volunteer_screen.new_page()
    sign_in(on_phone, stack, boatman.phone, DEMO_PASSWORD, next_path="/phone/")
    connection_is(on_phone, "live")

    coordinator_screen = desktop(browser, language)
    dashboard = coordinator_screen.new_page()
    sign_in(dashboard, stack, "coordinator", DEMO_PASSWORD, "/dashboard/")
    connection_is(dashboard, "live")
    dashboard.locator("#broadcast-compose summary").click()
    form = dashboard.locator("#broadcast-form")
    form.locator("select[name=audience]").select_option("township")
    form.locator("select[name=township]").select_option(str(longhu.pk))
    form.locator("textarea[name=text]").fill(TEXT)
    form.locator("input[name=briefing]").check()
    form.locator("input[name=briefing_place]").fill("龙湖镇政府门前")
    at = timezone.localtime(timezone.now() + timedelta(hours=1))
    form.locator("input[name=briefing_starts_at]").fill(at.strftime("%Y-%m-%dT%H:%M"))
    form.locator("button[type=submit]").click()
    expect(dashboard.locator("#broadcast-status")).to_have_text(words["sent"])
    sent = dashboard.locator("#broadcast-list li").first
    expect(sent).to_contain_text(TEXT)
    expect(sent).to_have_attribute("data-total", "1")

    # The phone shows it as a briefing, says it has it (no SMS follows)…
    card = on_phone.locator(".message.briefing")
    expect(card).to_be_visible()
    expect(card.locator("h2")).to_have_text(words["heading"])
    expect(card.locator(".text")).to_have_text(TEXT)
    expect(card).to_contain_text("龙湖镇政府门前")
    expect(sent).to_have_attribute("data-delivered", "1", timeout=20000)
    screenshot(on_phone, f"phone-briefing-{language}")

    # …and until the volunteer confirms: then it is put away, for good.
    card.locator("button.confirm").tap()
    expect(on_phone.locator(".message")).to_have_count(0)
    expect(sent).to_have_attribute("data-confirmed", "1", timeout=20000)
    expect(sent).to_have_attribute("data-read", "1")
    screenshot(dashboard, f"dashboard-briefing-{language}")
    on_phone.reload()
    connection_is(on_phone, "live")
    expect(on_phone.locator(".message")).to_have_count(0)
    receipt = BroadcastReceipt.objects.get(volunteer=boatman)
    assert receipt.confirmed_at is not None and receipt.sms_sent_at is None

    closed_without_script_errors(volunteer_screen)
    closed_without_script_errors(coordinator_screen)
