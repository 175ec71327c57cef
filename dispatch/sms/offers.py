"""Texting offers: the fallback sweep beat runs every SMS_SWEEP_SECONDS, the offers'
reply codes, and the offer's text.

Every offer still offered, not delivered and older than SMS_FALLBACK_SECONDS is texted
once, with a reply code unique among open offers (dispatch.models.OfferSmsCode).
"""

import logging
import math
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone, translation

from dispatch.labels import need_label
from dispatch.models import Assignment, AssignmentStatus, OfferSmsCode, SmsDirection
from dispatch.reasons import STAND_DOWN_UNSAID, stand_down_reason
from dispatch.selectors import offer_recipients
from dispatch.sms.gateways import sms_send_and_record
from volunteers.models import Vehicle, Volunteer

logger = logging.getLogger(__name__)

# Reply codes are four digits without a leading zero (people drop it).
CODES = range(1000, 10000)
# A phone is not given a code it had for another offer within this many days, so an
# old SMS answered late can only reach its own offer (see OfferSmsCode).
CODE_REUSE_DAYS = 30
CODE_ATTEMPTS = 5
# A sweep's claim on one offer's SMS lasts this long; a sweep that died mid-send is
# taken over after it. Well above one offer's sends (a few recipients, each at most
# SMS_HTTP_TIMEOUT_SECONDS).
CLAIM_SECONDS = 120
SWEEP_BATCH = 200


# --- reply codes ----------------------------------------------------------------------


def sms_codes_release() -> int:
    """Release the codes of offers that are no longer open, for later offers. Runs at
    each sweep and after each reply; until then a closed offer's code is merely not
    reusable yet."""
    return (
        OfferSmsCode.objects.filter(released_at__isnull=True)
        .exclude(assignment__status=AssignmentStatus.OFFERED)
        .update(released_at=timezone.now())
    )


def _code_pick(volunteer_ids: list[int], now) -> str | None:
    in_use = set(
        OfferSmsCode.objects.filter(released_at__isnull=True).values_list("code", flat=True)
    )
    recently_theirs = set(
        OfferSmsCode.objects.filter(
            Q(assignment__volunteer__in=volunteer_ids)
            | Q(assignment__vehicle__crew__in=volunteer_ids),
            created_at__gte=now - timedelta(days=CODE_REUSE_DAYS),
        ).values_list("code", flat=True)
    )
    free = [str(n) for n in CODES if str(n) not in in_use and str(n) not in recently_theirs]
    if not free:
        # Thousands of offers to one phone within the reuse window: uniqueness among
        # open offers is what must hold.
        free = [str(n) for n in CODES if str(n) not in in_use]
    return secrets.choice(free) if free else None


def _code_create(assignment: Assignment, volunteer_ids: list[int], now) -> OfferSmsCode | None:
    """The offer's code row, created already claimed; None if another sweep created it."""
    for _ in range(CODE_ATTEMPTS):
        code = _code_pick(volunteer_ids, now)
        if code is None:
            logger.error("no free SMS reply code for offer %s: all are in use", assignment.pk)
            return None
        try:
            with transaction.atomic():
                return OfferSmsCode.objects.create(assignment=assignment, code=code, claimed_at=now)
        except IntegrityError:
            # Either another sweep claimed this offer first (one row per offer), or
            # another offer took this code a moment ago (one open offer per code).
            if OfferSmsCode.objects.filter(assignment=assignment).exists():
                return None
    logger.warning("no SMS reply code for offer %s after %d tries", assignment.pk, CODE_ATTEMPTS)
    return None


# --- the fallback sweep ---------------------------------------------------------------


def _claim_stale_before(now):
    return now - timedelta(seconds=CLAIM_SECONDS)


def _offers_due(now):
    """Offers still offered, never confirmed by a phone, older than the fallback delay,
    not yet expired, and not texted (nor being texted) yet: the sweep's work."""
    unclaimed = Q(sms_code__claimed_at__isnull=True) | Q(
        sms_code__claimed_at__lt=_claim_stale_before(now)
    )
    not_texted = Q(sms_code__isnull=True) | (
        Q(sms_code__sent_at__isnull=True, sms_code__released_at__isnull=True) & unclaimed
    )
    has_crew = Exists(Vehicle.crew.through.objects.filter(vehicle_id=OuterRef("vehicle_id")))
    return (
        Assignment.objects.filter(
            status=AssignmentStatus.OFFERED,
            delivered_at__isnull=True,
            offered_at__lte=now - timedelta(seconds=settings.SMS_FALLBACK_SECONDS),
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .filter(not_texted)
        .filter(Q(volunteer__isnull=False) | has_crew)
        .order_by("offered_at", "pk")
    )


def _claim(assignment: Assignment, recipients: list[Volunteer], now) -> OfferSmsCode | None:
    """Claim the right to text this offer, with a conditional write, so that two sweeps
    (overlapping beat ticks, two workers, a task redelivered after a worker died) never
    text it twice. The first time, the claim is the INSERT of the offer's code row: the
    row is one per offer (a OneToOne), so of two sweeps racing only one INSERT
    succeeds. After a failed send the row stays, unsent and unclaimed, and the claim
    is `UPDATE … SET claimed_at = now WHERE sent_at IS NULL AND (claimed_at IS NULL OR
    claimed_at < now - CLAIM_SECONDS)`: the database runs such UPDATEs on one row one
    after the other, and the second finds the condition false and changes nothing.
    Whoever's write changed the row sends; everybody else skips the offer."""
    existing = OfferSmsCode.objects.filter(assignment=assignment).first()
    if existing is None:
        return _code_create(assignment, [r.pk for r in recipients], now)
    taken = (
        OfferSmsCode.objects.filter(pk=existing.pk, sent_at__isnull=True, released_at__isnull=True)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=_claim_stale_before(now)))
        .update(claimed_at=now)
    )
    return existing if taken else None


# --- the offer's text -----------------------------------------------------------------


def incident_sms_where(incident) -> str:
    """The incident's place in an SMS: its address (or township) and coordinates."""
    place = incident.address or (incident.township.name if incident.township else "")
    coordinates = f"{incident.latitude:.5f},{incident.longitude:.5f}"
    return f"{place} ({coordinates})" if place else coordinates


def incident_sms_title(incident) -> str:
    """The incident in an SMS: `#id title`."""
    return f"#{incident.pk} {incident.title}"


def need_sms_text(need) -> str:
    """What a need asks for, as every page says it (dispatch.labels), in both of the
    SMS's languages: a text cannot know which one its reader prefers."""
    with translation.override("zh-hans"):
        chinese = need_label(need)
    with translation.override("en"):
        english = need_label(need)
    return chinese if chinese == english else f"{chinese} / {english}"


def offer_sms_text(assignment: Assignment, code: str) -> str:
    """What, where, how far, until when, and how to answer."""
    need = assignment.need
    incident = need.incident
    lines = [
        f"【同心 Tongxin】{incident_sms_title(incident)}",
        f"需要 Need: {need_sms_text(need)}",
    ]
    if need.note:
        lines.append(need.note)
    if assignment.vehicle_id:
        lines.append(f"车辆 Vehicle: {assignment.vehicle.call_sign}")
    lines.append(f"地点 Where: {incident_sms_where(incident)}")
    if assignment.eta_seconds is not None:
        minutes = max(1, math.ceil(assignment.eta_seconds / 60))
        lines.append(f"预计 ETA: {minutes} 分钟 min")
    if assignment.expires_at:
        by = timezone.localtime(assignment.expires_at).strftime("%H:%M")
        lines.append(f"请在 {by} 前答复 Reply by {by}")
    lines.append(f"回复 Y {code} 接受 to accept, N {code} 拒绝 to decline")
    return "\n".join(lines)


def _offer_text_send(assignment_id: int, now) -> bool:
    assignment = Assignment.objects.select_related(
        "need__incident__township", "need__skill", "volunteer", "vehicle"
    ).get(pk=assignment_id)
    recipients = offer_recipients(assignment)
    if not recipients:
        return False
    sms_code = _claim(assignment, recipients, now)
    if sms_code is None:
        return False  # another sweep has it
    still_due = Assignment.objects.filter(
        pk=assignment_id, status=AssignmentStatus.OFFERED, delivered_at__isnull=True
    ).exists()
    if not still_due:
        # Answered or delivered since it was selected: no SMS. (An answered offer's
        # code is released by the next sweep.)
        OfferSmsCode.objects.filter(pk=sms_code.pk).update(claimed_at=None)
        return False
    text = offer_sms_text(assignment, sms_code.code)
    # Every recipient is texted, even after one failure. If any got it, the offer
    # counts as texted: the others are not texted again.
    sent = [
        sms_send_and_record(phone=volunteer.phone, text=text, assignment=assignment)
        for volunteer in recipients
    ]
    if any(sent):
        OfferSmsCode.objects.filter(pk=sms_code.pk).update(sent_at=timezone.now())
        return True
    # Nothing went out: give the claim back so that the next sweep tries again.
    OfferSmsCode.objects.filter(pk=sms_code.pk).update(claimed_at=None)
    return False


def offers_sms_fallback() -> int:
    """Text every offer that no phone confirmed within SMS_FALLBACK_SECONDS, once each.
    Returns how many offers were texted. Safe to run twice or at the same time as
    itself (see _claim); a gateway failure is logged and retried by the next sweep."""
    sms_codes_release()
    now = timezone.now()
    due = list(_offers_due(now).values_list("pk", flat=True)[:SWEEP_BATCH])
    return sum(_offer_text_send(assignment_id, now) for assignment_id in due)


# --- stand-downs ----------------------------------------------------------------------------


def stand_down_sms_text(assignment: Assignment) -> str:
    """The offer's incident, why it no longer needs them (both languages), and that
    nothing is expected of them: no reply, no trip."""
    with translation.override("zh-hans"):
        chinese = stand_down_reason(assignment)
    with translation.override("en"):
        english = stand_down_reason(assignment)
    return "\n".join(
        [
            f"【同心 Tongxin】{incident_sms_title(assignment.need.incident)}",
            f"{chinese} / {english}",
            "无需前往，无需回复。No need to go or reply.",
        ]
    )


def _stand_down_send(sms_code_id: int, now) -> bool:
    # The claim: of two sweeps, the one whose UPDATE changed the row texts.
    if not OfferSmsCode.objects.filter(pk=sms_code_id, stood_down_at__isnull=True).update(
        stood_down_at=now
    ):
        return False
    sms_code = OfferSmsCode.objects.select_related("assignment__need__incident").get(pk=sms_code_id)
    assignment = sms_code.assignment
    # Whoever the offer was texted to (for a vehicle, its crew then): not the crew now.
    phones = sorted(
        set(
            assignment.sms_messages.filter(
                direction=SmsDirection.OUT, error="", created_at__lte=sms_code.sent_at
            ).values_list("phone", flat=True)
        )
    )
    text = stand_down_sms_text(assignment)
    sent = [sms_send_and_record(phone=phone, text=text, assignment=assignment) for phone in phones]
    if phones and not any(sent):
        # Nothing went out: the next sweep tries again.
        OfferSmsCode.objects.filter(pk=sms_code_id).update(stood_down_at=None)
        return False
    return bool(phones)


def stand_downs_sms() -> int:
    """Text the stand-down of every offer that was texted and then withdrawn (or whose
    task was cancelled), once: someone reached by SMS sees no card vanish, and would
    otherwise set off, or answer, for work that is gone. Runs with the offers' sweep;
    safe twice or at once (_stand_down_send's claim). Returns how many were texted."""
    now = timezone.now()
    due = (
        OfferSmsCode.objects.filter(
            sent_at__isnull=False,
            stood_down_at__isnull=True,
            assignment__status__in=(AssignmentStatus.WITHDRAWN, AssignmentStatus.CANCELLED),
        )
        .exclude(assignment__reason__in=STAND_DOWN_UNSAID)
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    return sum(_stand_down_send(sms_code_id, now) for sms_code_id in list(due))
