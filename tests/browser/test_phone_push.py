"""Web Push on the phone (issue 12 item 2): with the server's key set, "turn on alerts"
subscribes the phone; an offer made while the page is closed is pushed, encrypted, to
the phone's push service, and the service worker shows it; signing out forgets it.

What headless Chromium cannot reach here is the browser's own push service (FCM): the
page's PushManager is given a subscription whose endpoint is a push service of the
test's own (tests/push_service.py), with keys the test holds, and the message that
service receives is handed to the service worker through the DevTools protocol, as
Chrome does with what FCM delivers.
"""

import json

import pytest
from playwright.sync_api import expect

from dispatch.models import Assignment, PushSubscription
from dispatch.push import vapid_keys_new
from tests.browser.conftest import (
    closed_without_script_errors,
    elsewhere,
    phone,
    screenshot,
    sign_in,
)
from tests.browser.test_phone_alerts import NOTIFICATIONS, open_flood
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE
from tests.processes import (
    asgi_server,
    celery_worker,
    database_url_of_this_run,
    environment,
    wait_until,
)
from tests.push_service import PushService, Subscriber, b64url

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

ALERTS_ON = {"zh": "提醒已开启，页面关闭时也会收到", "en": "Alerts on, also with this page closed"}

# The browser's push service, as far as the page can tell: subscribe() gives the test's
# subscription and remembers the key it was asked with.
FAKE_PUSH_MANAGER = """
(() => {
  const given = %s;
  let current = null;
  PushManager.prototype.getSubscription = async () => current;
  PushManager.prototype.subscribe = async (options) => {
    window.__applicationServerKey = Array.from(new Uint8Array(options.applicationServerKey));
    current = {
      endpoint: given.endpoint,
      options: { applicationServerKey: options.applicationServerKey },
      toJSON: () => given,
      unsubscribe: async () => { current = null; return true; },
    };
    return current;
  };
})();
"""


@pytest.fixture
def push_stack(transactional_db, live_index):
    """The stack of tests/browser/conftest.py, with Web Push on and the test's own push
    service as the one allowed: (base URL, the push service, the server's VAPID key)."""
    private_key, public_key = vapid_keys_new()
    service = PushService()
    env = environment(
        DATABASE_URL=database_url_of_this_run(),
        WEB_PUSH_VAPID_PRIVATE_KEY=private_key,
        WEB_PUSH_SERVICES=service.origin,
    )
    try:
        with celery_worker(env, beat=True), asgi_server(env) as base:
            yield base, service, public_key
    finally:
        service.close()


def _registration_id(cdp, page) -> str:
    """The phone page's service worker registration, as DevTools names it."""
    registrations = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    for _ in range(100):  # the event comes through Playwright's loop: let it run
        if registrations:
            break
        page.wait_for_timeout(100)
    return next(r["registrationId"] for r in registrations if r["scopeURL"].endswith("/phone/"))


@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_offer_made_with_the_page_closed_is_pushed_and_shown(
    browser, push_stack, coordinator, on_duty_near, language
):
    base, service, public_key = push_stack
    rescuer = on_duty_near(SITE, km=2, phone="13900000031", name="李卫东")
    subscriber = Subscriber(f"{service.origin}/send/{language}-phone")
    context = phone(browser, language)
    context.grant_permissions(["geolocation", "notifications"])
    context.add_init_script(FAKE_PUSH_MANAGER % json.dumps(subscriber.subscription()))
    page = context.new_page()
    sign_in(page, base, rescuer.phone, DEMO_PASSWORD, next_path="/phone/")
    page.evaluate("navigator.serviceWorker.ready")

    page.locator("#alerts-enable").tap()

    expect(page.locator("body")).to_have_attribute("data-push", "subscribed")
    expect(page.locator("#alerts-status")).to_have_text(ALERTS_ON[language])
    screenshot(page, f"phone-push-on-{language}")
    # Subscribed with the server's own key, and the server has the subscription.
    assert b64url(bytes(page.evaluate("window.__applicationServerKey"))) == public_key
    assert list(PushSubscription.objects.values_list("volunteer", "endpoint")) == [
        (rescuer.pk, subscriber.endpoint)
    ]

    # The page closed (the phone in a pocket), an offer is made.
    record = context.new_page()
    record.goto(f"{base}/phone/record/")
    page.close()
    elsewhere(open_flood, coordinator=coordinator)
    wait_until(lambda: service.received, timeout=60, what="the offer's push")
    offer = Assignment.objects.get(volunteer=rescuer)
    [(_, _, body)] = service.received
    message = subscriber.read(body)
    assert message["offer"] == offer.pk

    # What the push service received reaches the service worker, which shows it.
    cdp = context.new_cdp_session(record)
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": base,
            "registrationId": _registration_id(cdp, record),
            "data": json.dumps(message),
        },
    )
    shown = wait_until(
        lambda: [n for n in record.evaluate(NOTIFICATIONS) if n["tag"] == str(offer.pk)],
        timeout=30,
        what="the pushed offer's notification",
    )
    assert shown[0]["title"].endswith("龙湖镇 泰山村 群众被困")
    assert shown[0]["offer"] == offer.pk and shown[0]["requireInteraction"]

    # Signing out forgets the subscription: the next member on this phone gets none.
    page = context.new_page()
    page.goto(f"{base}/phone/")
    expect(page.locator("body")).to_have_attribute("data-push", "subscribed")
    page.locator("form.signout button").click()
    page.wait_for_url(f"{base}/phone/login/*")
    assert not PushSubscription.objects.exists()
    closed_without_script_errors(context)
