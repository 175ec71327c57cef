"""Web Push (dispatch.push): a phone's subscription, and each new offer pushed to it,
encrypted for that browser alone, through a push service.

The push service here is a local HTTP server standing where FCM or Mozilla's would be
(tests/push_service.py): what it receives is decrypted with the subscriber's private
key, as the browser does.
"""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from py_vapid import Vapid02

from dispatch import push, services
from dispatch.models import Assignment, AssignmentStatus, PushSubscription
from dispatch.sms.offers import need_sms_text
from tests.dispatch.scenes import RESCUE_TITLE, open_rescue
from tests.dispatch.test_tasks import empty_this_runs_queue
from tests.processes import celery_worker, database_url_of_this_run, environment, wait_until
from tests.push_service import PushService, Subscriber, b64url

ENDPOINTS = "/api/me/push-subscriptions/"


@pytest.fixture
def vapid_key():
    private, _public = push.vapid_keys_new()
    return private


@pytest.fixture
def push_service(settings, vapid_key):
    """Web Push on, with the local push service as the one allowed."""
    service = PushService()
    settings.WEB_PUSH_VAPID_PRIVATE_KEY = vapid_key
    settings.WEB_PUSH_SERVICES = [service.origin]
    yield service
    service.close()


@pytest.fixture
def api_en(api):
    """The API client, asked in English (the server's default language is Chinese)."""

    def client_for(user):
        client = api(user)
        client.credentials(HTTP_ACCEPT_LANGUAGE="en")
        return client

    return client_for


def subscribe(volunteer, subscriber) -> PushSubscription:
    keys = subscriber.subscription()["keys"]
    subscription, _ = push.push_subscribe(
        volunteer=volunteer, endpoint=subscriber.endpoint, p256dh=keys["p256dh"], auth=keys["auth"]
    )
    return subscription


# --- subscribing ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_volunteer_subscribes_this_phone_once(api, rescuers, push_service):
    subscriber = Subscriber(f"{push_service.origin}/send/abc")
    client = api(rescuers[0].user)

    first = client.post(ENDPOINTS, subscriber.subscription(), format="json")
    again = client.post(ENDPOINTS, subscriber.subscription(), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert list(PushSubscription.objects.values_list("volunteer", "endpoint")) == [
        (rescuers[0].pk, subscriber.endpoint)
    ]


@pytest.mark.django_db
def test_a_phone_handed_on_pushes_to_whoever_subscribed_on_it_last(api, rescuers, push_service):
    subscriber = Subscriber(f"{push_service.origin}/send/shared-phone")
    api(rescuers[0].user).post(ENDPOINTS, subscriber.subscription(), format="json")

    api(rescuers[1].user).post(ENDPOINTS, subscriber.subscription(), format="json")

    assert list(PushSubscription.objects.values_list("volunteer", flat=True)) == [rescuers[1].pk]


@pytest.mark.django_db
def test_it_keeps_a_volunteers_newest_subscriptions_only(rescuers, push_service):
    subscribers = [Subscriber(f"{push_service.origin}/send/{n}") for n in range(7)]
    for subscriber in subscribers:
        subscribe(rescuers[0], subscriber)

    kept = set(PushSubscription.objects.values_list("endpoint", flat=True))
    assert kept == {
        subscriber.endpoint for subscriber in subscribers[-push.SUBSCRIPTIONS_PER_VOLUNTEER :]
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "endpoint",
    [
        "https://attacker.example/collect",  # not a push service
        "http://fcm.googleapis.com/fcm/send/x",  # the right host over plain http
        "https://fcm.googleapis.com.attacker.example/x",
        "https://fcm.googleapis.com:8443/fcm/send/x",
        "https://notify.windows.com/w/x",  # "*." means a subdomain
    ],
)
def test_it_refuses_an_endpoint_that_is_no_known_push_service(api_en, rescuers, settings, endpoint):
    settings.WEB_PUSH_VAPID_PRIVATE_KEY = push.vapid_keys_new()[0]
    subscription = Subscriber(endpoint).subscription()

    response = api_en(rescuers[0].user).post(ENDPOINTS, subscription, format="json")

    assert response.status_code == 400
    assert "push service" in response.json()["endpoint"][0]
    assert not PushSubscription.objects.exists()


@pytest.mark.django_db
def test_it_takes_the_default_push_services_of_the_main_browsers(api, rescuers, settings):
    settings.WEB_PUSH_VAPID_PRIVATE_KEY = push.vapid_keys_new()[0]
    client = api(rescuers[0].user)
    endpoints = [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://web.push.apple.com/QGx",
        "https://wns2-by3p.notify.windows.com/w/?token=abc",
    ]

    answers = [
        client.post(ENDPOINTS, Subscriber(endpoint).subscription(), format="json").status_code
        for endpoint in endpoints
    ]

    assert answers == [201, 201, 201, 201]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "keys, field",
    [
        ({"p256dh": b64url(b"\x04" + b"1" * 63), "auth": b64url(b"a" * 16)}, "p256dh"),
        ({"p256dh": b64url(b"\x02" + b"1" * 64), "auth": b64url(b"a" * 16)}, "p256dh"),
        ({"p256dh": b64url(b"\x04" + b"1" * 64), "auth": b64url(b"a" * 15)}, "auth"),
        ({"p256dh": "not base64!", "auth": b64url(b"a" * 16)}, "p256dh"),
    ],
)
def test_it_refuses_keys_no_browser_would_give(api_en, rescuers, push_service, keys, field):
    body = {"endpoint": f"{push_service.origin}/send/x", "keys": keys}

    response = api_en(rescuers[0].user).post(ENDPOINTS, body, format="json")

    assert response.status_code == 400
    assert response.json()["endpoint"][0].startswith(field)
    assert not PushSubscription.objects.exists()


@pytest.mark.django_db
def test_it_says_web_push_is_off_when_the_server_has_no_key(api_en, rescuers, settings):
    settings.WEB_PUSH_VAPID_PRIVATE_KEY = ""
    subscription = Subscriber("https://fcm.googleapis.com/fcm/send/abc").subscription()

    response = api_en(rescuers[0].user).post(ENDPOINTS, subscription, format="json")

    assert response.status_code == 409
    assert response.json() == {"detail": "Web Push is off on this server."}
    assert push.push_public_key() == ""


@pytest.mark.django_db
def test_signing_out_forgets_only_that_volunteers_subscription(api, rescuers, push_service):
    mine, theirs = (Subscriber(f"{push_service.origin}/send/{n}") for n in ("mine", "theirs"))
    subscribe(rescuers[0], mine)
    subscribe(rescuers[1], theirs)

    client = api(rescuers[0].user)
    gone = client.delete(f"{ENDPOINTS}?{urlencode({'endpoint': mine.endpoint})}")
    kept = client.delete(f"{ENDPOINTS}?{urlencode({'endpoint': theirs.endpoint})}")

    assert (gone.status_code, kept.status_code) == (204, 204)
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [theirs.endpoint]


# --- pushing offers ---------------------------------------------------------------------------


def offers_to(coordinator, volunteer_id: int) -> list[Assignment]:
    """A critical rescue's offers, made by the dispatch; those to `volunteer_id`."""
    incident = open_rescue(coordinator)
    offers = services.incident_dispatch(incident_id=incident.pk)
    return [offer for offer in offers if offer.volunteer_id == volunteer_id]


@pytest.mark.django_db
def test_it_pushes_a_new_offer_that_only_the_subscribed_browser_can_read(
    coordinator, rescuers, push_service
):
    subscriber = Subscriber(f"{push_service.origin}/send/phone-1")
    subscribe(rescuers[0], subscriber)
    [offer] = offers_to(coordinator, rescuers[0].pk)

    assert push.offers_push([offer.pk]) == 1

    [(path, headers, body)] = push_service.received
    message = subscriber.read(body)
    assert path == "/send/phone-1"
    assert message["type"] == "offer" and message["offer"] == offer.pk
    assert RESCUE_TITLE in message["title"]
    assert message["body"].startswith(need_sms_text(offer.need))
    assert message["expires_at"] == offer.expires_at.isoformat()
    # Kept by the push service no longer than the offer is open, and delivered at once.
    assert 0 < int(headers["ttl"]) <= (offer.expires_at - offer.offered_at).total_seconds()
    assert headers["urgency"] == "high"
    # Signed with the server's VAPID key, whose public half the phones subscribed with.
    assert Vapid02.verify(headers["authorization"])
    assert headers["authorization"].endswith(f"k={push.push_public_key()}")
    assert PushSubscription.objects.get().last_sent_at is not None


@pytest.mark.django_db
def test_it_pushes_nothing_for_an_offer_already_closed_or_expired(
    coordinator, rescuers, push_service
):
    subscribe(rescuers[0], Subscriber(f"{push_service.origin}/send/phone-1"))
    [declined] = offers_to(coordinator, rescuers[0].pk)
    services.assignment_decline(assignment_id=declined.pk, volunteer=rescuers[0])
    [overdue] = offers_to(coordinator, rescuers[0].pk)
    Assignment.objects.filter(pk=overdue.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert push.offers_push([declined.pk, overdue.pk]) == 0
    assert push_service.received == []


@pytest.mark.django_db
def test_it_forgets_a_subscription_the_push_service_says_is_gone(
    coordinator, rescuers, push_service
):
    subscribe(rescuers[0], Subscriber(f"{push_service.origin}/send/uninstalled"))
    [offer] = offers_to(coordinator, rescuers[0].pk)
    push_service.status = 410

    assert push.offers_push([offer.pk]) == 0
    assert not PushSubscription.objects.exists()


@pytest.mark.django_db
def test_it_keeps_a_subscription_through_a_push_services_own_failure(
    coordinator, rescuers, push_service
):
    subscribe(rescuers[0], Subscriber(f"{push_service.origin}/send/phone-1"))
    [offer] = offers_to(coordinator, rescuers[0].pk)
    push_service.status = 503

    assert push.offers_push([offer.pk]) == 0
    assert PushSubscription.objects.get().last_sent_at is None
    # The offer itself is untouched: it still waits for an answer (and for the SMS).
    assert Assignment.objects.get(pk=offer.pk).status == AssignmentStatus.OFFERED


@pytest.mark.django_db
def test_it_pushes_nothing_while_web_push_is_off(coordinator, rescuers, push_service, settings):
    subscribe(rescuers[0], Subscriber(f"{push_service.origin}/send/phone-1"))
    [offer] = offers_to(coordinator, rescuers[0].pk)
    settings.WEB_PUSH_VAPID_PRIVATE_KEY = ""

    assert push.offers_push([offer.pk]) == 0
    assert push_service.received == []


# --- through the queue ------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_offer_made_by_a_real_worker_reaches_the_subscribed_phone(
    live_index, coordinator, rescuers, push_service, vapid_key
):
    """Nobody calls the push: opening the incident queues the dispatch, whose offers
    queue their push after the commit."""
    subscriber = Subscriber(f"{push_service.origin}/send/phone-1")
    subscribe(rescuers[0], subscriber)
    empty_this_runs_queue()
    env = environment(
        DATABASE_URL=database_url_of_this_run(),
        WEB_PUSH_VAPID_PRIVATE_KEY=vapid_key,
        WEB_PUSH_SERVICES=push_service.origin,
    )

    with celery_worker(env):
        open_rescue(coordinator)
        wait_until(lambda: push_service.received, timeout=60, what="the offer's push")

    offer = Assignment.objects.get(volunteer=rescuers[0])
    assert [subscriber.read(body)["offer"] for _, _, body in push_service.received] == [offer.pk]
