"""The SMS tests' scenes: offers no phone confirmed, and replies through the webhook."""

import json
from datetime import timedelta

from django.utils import timezone

from dispatch import services
from dispatch.models import Assignment, OfferSmsCode
from tests.dispatch.test_services import open_rescue

SECRET = "gateway-shared-secret"


def age(offers, seconds=60):
    Assignment.objects.filter(pk__in=[o.pk for o in offers]).update(
        offered_at=timezone.now() - timedelta(seconds=seconds)
    )


def old_offers(coordinator, *, count=1, **fields) -> list[Assignment]:
    """A rescue's offers (one place: two offers), made a minute ago and never
    confirmed by a phone."""
    incident = open_rescue(coordinator, count=count, **fields)
    offers = services.incident_dispatch(incident_id=incident.pk)
    age(offers)
    return offers


def code_of(offer) -> str:
    return OfferSmsCode.objects.get(assignment=offer).code


def inbound(client, sender, text, *, secret=SECRET):
    return client.post(
        "/api/sms/inbound/",
        data=json.dumps({"from": sender, "text": text}),
        content_type="application/json",
        headers={"X-Tongxin-Sms-Secret": secret},
    )


def status_of(offer) -> str:
    offer.refresh_from_db()
    return offer.status
