"""The SMS fallback of broadcasts: a message no phone confirmed within
SMS_FALLBACK_SECONDS is texted to that volunteer, once, through the offers' gateway
(dispatch.sms.gateways), and recorded as every SMS is (dispatch.models.SmsMessage).
Beat runs the sweep (briefings.tasks.broadcasts_sms_fallback) every SMS_SWEEP_SECONDS."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from briefings.models import Broadcast, BroadcastReceipt
from dispatch.labels import user_name
from dispatch.sms.gateways import sms_send_and_record

logger = logging.getLogger(__name__)

# A sweep's claim on one receipt lasts this long; one that died mid-send is taken over
# after it (one SMS takes at most SMS_HTTP_TIMEOUT_SECONDS).
CLAIM_SECONDS = 120
SWEEP_BATCH = 500
# Older messages are not texted any more: news of the water a day ago misleads.
TEXT_WITHIN_HOURS = 12


def _unclaimed(now) -> Q:
    return Q(sms_claimed_at__isnull=True) | Q(
        sms_claimed_at__lt=now - timedelta(seconds=CLAIM_SECONDS)
    )


def _receipts_due(now):
    """Receipts no phone confirmed, of messages older than the fallback delay (and
    younger than TEXT_WITHIN_HOURS), not texted nor being texted; a briefing that has
    begun is not texted any more."""
    return (
        BroadcastReceipt.objects.filter(
            delivered_at__isnull=True,
            sms_sent_at__isnull=True,
            broadcast__created_at__lte=now - timedelta(seconds=settings.SMS_FALLBACK_SECONDS),
            broadcast__created_at__gte=now - timedelta(hours=TEXT_WITHIN_HOURS),
        )
        .filter(_unclaimed(now))
        .exclude(broadcast__briefing_starts_at__lte=now)
        .order_by("broadcast_id", "pk")
    )


def _claim(receipt_id: int, now) -> bool:
    """Take the right to text this receipt with a conditional UPDATE: the database runs
    two sweeps' UPDATEs of one row one after the other, and the second finds the
    condition false (claimed, sent or delivered meanwhile) and changes nothing. Only
    the sweep whose UPDATE changed the row texts."""
    return bool(
        BroadcastReceipt.objects.filter(
            pk=receipt_id, delivered_at__isnull=True, sms_sent_at__isnull=True
        )
        .filter(_unclaimed(now))
        .update(sms_claimed_at=now)
    )


def broadcast_sms_text(broadcast: Broadcast) -> str:
    """The message, who sent it and, for a briefing, where and when, and that the phone
    page confirms it (an SMS reply does not)."""
    lines = [f"【同心 Tongxin】{user_name(broadcast.author)}: {broadcast.text}"]
    if broadcast.is_briefing:
        when = timezone.localtime(broadcast.briefing_starts_at).strftime("%m-%d %H:%M")
        lines.append(f"集合 Briefing: {broadcast.briefing_place}, {when}")
        lines.append("请在手机页面确认 Confirm on the phone page")
    return "\n".join(lines)


def _receipt_text_send(receipt_id: int, now) -> bool:
    if not _claim(receipt_id, now):
        return False
    receipt = BroadcastReceipt.objects.select_related(
        "volunteer", "broadcast__author__volunteer"
    ).get(pk=receipt_id)
    sent = sms_send_and_record(
        phone=receipt.volunteer.phone, text=broadcast_sms_text(receipt.broadcast), assignment=None
    )
    # Sent: never again. Not sent: the claim is given back for the next sweep.
    BroadcastReceipt.objects.filter(pk=receipt_id).update(
        **({"sms_sent_at": timezone.now()} if sent else {"sms_claimed_at": None})
    )
    return sent


def broadcasts_sms_fallback() -> int:
    """Text every receipt no phone confirmed within SMS_FALLBACK_SECONDS, once each.
    Returns how many were texted. Safe to run twice or at the same time as itself
    (_claim); a gateway failure is logged, recorded and retried by the next sweep."""
    now = timezone.now()
    due = list(_receipts_due(now).values_list("pk", flat=True)[:SWEEP_BATCH])
    return sum(_receipt_text_send(receipt_id, now) for receipt_id in due)
