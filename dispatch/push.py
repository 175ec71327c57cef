"""Web Push: an offer shown on a phone whose page is closed or asleep (issue 12).

Off unless WEB_PUSH_VAPID_PRIVATE_KEY is set. The phone page subscribes through its
browser's push service (the service worker's PushManager) and gives the subscription to
`POST /api/me/push-subscriptions/`; each new offer is then pushed, encrypted for that
browser alone (RFC 8291, by pywebpush), to every subscription of whoever may answer it.
The service worker shows it as a notification (phone/templates/phone/sw.js).

Best effort, as a ring is: a push that fails is logged and not retried. The offer
still reaches the page over its socket when the page is open, and by SMS when no phone
confirmed it within SMS_FALLBACK_SECONDS (dispatch.sms.offers), which is the sweep
behind this task.
"""

import base64
import binascii
import functools
import json
import logging
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from dispatch.models import Assignment, AssignmentStatus, PushSubscription
from dispatch.selectors import offer_recipients
from dispatch.sms.offers import incident_sms_where, need_sms_text
from volunteers.models import Volunteer

logger = logging.getLogger(__name__)

# A phone, a tablet, a second browser: more than this per volunteer means subscriptions
# left behind by reinstalls, and the oldest go.
SUBSCRIPTIONS_PER_VOLUNTEER = 5
# The push service says the subscription is gone for good: forget it.
GONE_STATUSES = {404, 410}


class PushRefused(ValueError):
    """A subscription the server will not push to; the message says why."""


def push_enabled() -> bool:
    return bool(settings.WEB_PUSH_VAPID_PRIVATE_KEY)


@functools.cache
def _vapid(private_key: str) -> Vapid:
    return Vapid.from_string(private_key=private_key)


def push_public_key() -> str:
    """The server's VAPID public key, as the browser's PushManager.subscribe() takes it
    (`applicationServerKey`): the uncompressed P-256 point, base64url. Empty when off."""
    if not push_enabled():
        return ""
    return _public_key_text(_vapid(settings.WEB_PUSH_VAPID_PRIVATE_KEY))


def vapid_keys_new() -> tuple[str, str]:
    """A new VAPID key pair: the private key as WEB_PUSH_VAPID_PRIVATE_KEY takes it (the
    raw 32-byte scalar, base64url), and its public key as push_public_key gives it."""
    vapid = Vapid()
    vapid.generate_keys()
    scalar = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return _b64url(scalar), _public_key_text(vapid)


def _public_key_text(vapid: Vapid) -> str:
    point = vapid.public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return _b64url(point)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return b""


# --- subscriptions ------------------------------------------------------------------------


def _service_allows(service: str, endpoint: str) -> bool:
    allowed, asked = urlsplit(service), urlsplit(endpoint)
    host, pattern = asked.hostname or "", allowed.hostname or ""
    # "*.notify.windows.com": any subdomain, not the bare domain.
    host_matches = host.endswith(pattern[1:]) if pattern.startswith("*.") else host == pattern
    try:
        same_port = asked.port == allowed.port
    except ValueError:  # a port that is not a number
        return False
    return asked.scheme == allowed.scheme and host_matches and same_port


def _validate(endpoint: str, p256dh: str, auth: str) -> None:
    if not any(_service_allows(service, endpoint) for service in settings.WEB_PUSH_SERVICES):
        raise PushRefused(_("This push service is not one this server sends to."))
    key = _b64url_decode(p256dh)
    if len(key) != 65 or key[0] != 4:
        raise PushRefused(_("p256dh must be an uncompressed P-256 public key, base64url."))
    if len(_b64url_decode(auth)) != 16:
        raise PushRefused(_("auth must be 16 bytes, base64url."))


@transaction.atomic
def push_subscribe(
    *, volunteer: Volunteer, endpoint: str, p256dh: str, auth: str
) -> tuple[PushSubscription, bool]:
    """Keep this browser's subscription for the volunteer (True when new). The same
    endpoint again replaces its keys and owner: a phone belongs to who signed in last."""
    if not push_enabled():
        raise PushRefused(_("Web Push is off on this server."))
    _validate(endpoint, p256dh, auth)
    subscription, created = PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"volunteer": volunteer, "p256dh": p256dh, "auth": auth}
    )
    stale = volunteer.push_subscriptions.order_by("-created_at", "-pk")[
        SUBSCRIPTIONS_PER_VOLUNTEER:
    ]
    PushSubscription.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
    return subscription, created


def push_unsubscribe(*, volunteer: Volunteer, endpoint: str) -> bool:
    """Forget the volunteer's subscription at this endpoint (signing out, alerts off)."""
    mine = PushSubscription.objects.filter(volunteer=volunteer, endpoint=endpoint)
    deleted, _by_model = mine.delete()
    return bool(deleted)


def push_forget(*, user_ids) -> int:
    """Forget every subscription of these members: signed out everywhere (a lost phone),
    or deactivated, their phones must not be shown offers any more."""
    deleted, _by_model = PushSubscription.objects.filter(volunteer__user_id__in=user_ids).delete()
    return deleted


# --- sending --------------------------------------------------------------------------------


def offer_push_message(assignment: Assignment) -> dict:
    """What the notification says, in both languages as an SMS does (the server cannot
    know which the phone's reader prefers), and which offer it is. No names or phone
    numbers: the push service stores the message (encrypted) until the phone wakes."""
    incident = assignment.need.incident
    lines = [need_sms_text(assignment.need), incident_sms_where(incident)]
    if assignment.vehicle_id:
        lines.insert(1, assignment.vehicle.call_sign)
    return {
        "type": "offer",
        "offer": assignment.pk,
        "title": f"新任务 New offer: {incident.title}",
        "body": "\n".join(lines),
        "expires_at": assignment.expires_at.isoformat() if assignment.expires_at else None,
    }


def _seconds_left(assignment: Assignment) -> int:
    if assignment.expires_at is None:
        return 0
    return max(0, int((assignment.expires_at - timezone.now()).total_seconds()))


def _push(subscription: PushSubscription, message: dict, ttl: int) -> bool:
    try:
        webpush(
            subscription_info={
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
            data=json.dumps(message, ensure_ascii=False),
            vapid_private_key=_vapid(settings.WEB_PUSH_VAPID_PRIVATE_KEY),
            vapid_claims={"sub": settings.WEB_PUSH_CONTACT},
            # The push service keeps it no longer than the offer is open, and wakes the
            # phone at once (RFC 8030 §5.3).
            ttl=ttl,
            headers={"Urgency": "high", "Topic": f"offer-{message['offer']}"},
            timeout=settings.WEB_PUSH_TIMEOUT_SECONDS,
        )
    except WebPushException as error:
        status = getattr(error.response, "status_code", None)
        if status in GONE_STATUSES:
            subscription.delete()
            logger.info("push subscription %s is gone (%s): forgotten", subscription.pk, status)
        else:
            logger.warning("push to subscription %s failed: %s", subscription.pk, error)
        return False
    except Exception:
        # A network error, a timeout: the socket and the SMS fallback still carry it.
        logger.warning("push to subscription %s failed", subscription.pk, exc_info=True)
        return False
    PushSubscription.objects.filter(pk=subscription.pk).update(last_sent_at=timezone.now())
    return True


def offers_push(assignment_ids: list[int]) -> int:
    """Push each of these offers that is still open to the phones of whoever may answer
    it (the volunteer, or the ready crew of the vehicle). Returns how many pushes the
    push services took."""
    if not push_enabled():
        return 0
    offers = Assignment.objects.select_related(
        "need__incident__township", "need__skill", "volunteer", "vehicle"
    ).filter(pk__in=assignment_ids, status=AssignmentStatus.OFFERED)
    sent = 0
    for assignment in offers:
        ttl = _seconds_left(assignment)
        if not ttl:
            continue
        recipients = [volunteer.pk for volunteer in offer_recipients(assignment)]
        message = offer_push_message(assignment)
        for subscription in PushSubscription.objects.filter(volunteer__in=recipients):
            sent += _push(subscription, message, ttl)
    return sent
