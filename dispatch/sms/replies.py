"""Replies by SMS: reading one ("Y 4821", "N 4821", in any spelling) and acting on it.
A reply, matched on code *and* sender's phone, becomes
dispatch.services.assignment_accept / assignment_decline; free text is kept."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from dispatch import services
from dispatch.models import Assignment, OfferSmsCode, SmsDirection, SmsMessage, SmsOutcome
from dispatch.sms.gateways import sms_send_and_record
from dispatch.sms.offers import incident_sms_title, incident_sms_where, sms_codes_release
from volunteers.models import Volunteer

# Free text is answered once in this many minutes per phone: two auto-responders must
# not text each other forever.
KEPT_REPLY_QUIET_MINUTES = 10

KEPT_REPLY = (
    "已收到，调度员会看到。答复派单请回复 Y 或 N 加四位代码，如 Y 1234。"
    "Received; a coordinator will read it. To answer an offer, reply Y or N and its "
    "4-digit code, e.g. Y 1234."
)


# --- reading a reply ------------------------------------------------------------------


def phone_digits(value: str) -> str:
    """The form Volunteer.phone has: digits only, without +86 / 0086.
    '+86 138 0013 8000' → '13800138000'."""
    digits = re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", value))
    if digits.startswith("0086"):
        return digits[4:]
    if digits.startswith("86") and len(digits) == 13:
        return digits[2:]
    return digits


ACCEPT_WORDS = frozenset({"y", "yes", "是", "接受"})
DECLINE_WORDS = frozenset({"n", "no", "否", "拒绝"})
# Matched after NFKC (full-width letters, digits, spaces and punctuation become ASCII)
# and lower-casing: "Y 4821", "ｎ　４８２１", "是4821", "N: 4821.".
COMMAND = re.compile(r"(?P<word>[a-z]+|是|否|接受|拒绝)\s*[:,.]?\s*(?P<code>[0-9]{4})[\s.!?。]*")


@dataclass(frozen=True)
class SmsCommand:
    accept: bool
    code: str


def sms_command_parse(text: str) -> SmsCommand | None:
    """An answer to an offer, or None for anything else (which is kept as free text)."""
    match = COMMAND.fullmatch(unicodedata.normalize("NFKC", text).strip().lower())
    if match is None:
        return None
    if match["word"] in ACCEPT_WORDS:
        return SmsCommand(accept=True, code=match["code"])
    if match["word"] in DECLINE_WORDS:
        return SmsCommand(accept=False, code=match["code"])
    return None


# --- acting on it ---------------------------------------------------------------------


@dataclass(frozen=True)
class SmsAnswer:
    outcome: SmsOutcome
    reply: str
    assignment: Assignment | None = None


def _code_of(volunteer: Volunteer, code: str) -> OfferSmsCode | None:
    """The offer this volunteer was texted with this code: their own offer, or one to a
    vehicle they crew. An unreleased (open) one first, else the latest."""
    return (
        OfferSmsCode.objects.filter(code=code)
        .filter(Q(assignment__volunteer=volunteer) | Q(assignment__vehicle__crew=volunteer))
        .select_related("assignment__need__incident__township")
        .order_by(F("released_at").desc(nulls_first=True), "-created_at", "-pk")
        .first()
    )


def _answer(phone: str, text: str) -> SmsAnswer:
    command = sms_command_parse(text)
    if command is None:
        return SmsAnswer(SmsOutcome.KEPT, KEPT_REPLY)
    volunteer = Volunteer.objects.filter(phone=phone).first() if phone else None
    sms_code = _code_of(volunteer, command.code) if volunteer else None
    if sms_code is None:
        # The same answer for an unknown code and for someone else's: it tells a
        # stranger nothing.
        return SmsAnswer(
            SmsOutcome.REFUSED,
            f"没有发给本号码、代码为 {command.code} 的派单。"
            f"No offer with code {command.code} was sent to this number.",
        )
    assignment = sms_code.assignment
    incident = assignment.need.incident
    try:
        if command.accept:
            services.assignment_accept(assignment_id=assignment.pk, volunteer=volunteer)
        else:
            services.assignment_decline(
                assignment_id=assignment.pk, volunteer=volunteer, reason="SMS"
            )
    except services.DispatchError as refused:
        return SmsAnswer(
            SmsOutcome.REFUSED, f"{incident_sms_title(incident)}: {refused}", assignment
        )
    finally:
        sms_codes_release()
    if command.accept:
        return SmsAnswer(
            SmsOutcome.ACCEPTED,
            f"已接受，谢谢！Accepted, thank you. {incident_sms_title(incident)}. "
            f"地点 Where: {incident_sms_where(incident)}. "
            "出发、到场请在同心 App 中报告 Report en route and on scene in the Tongxin app.",
            assignment,
        )
    return SmsAnswer(
        SmsOutcome.DECLINED,
        f"已拒绝，谢谢告知。Declined, thank you for telling us. {incident_sms_title(incident)}.",
        assignment,
    )


def _replies_to(phone: str, *, within_minutes: int, text: str | None = None) -> bool:
    sent = SmsMessage.objects.filter(
        direction=SmsDirection.OUT,
        phone=phone,
        created_at__gte=timezone.now() - timedelta(minutes=within_minutes),
    )
    return (sent.filter(text=text) if text is not None else sent).exists()


def _replies_to_strangers_this_hour() -> int:
    volunteer_of_number = Volunteer.objects.filter(phone=OuterRef("phone"))
    return (
        SmsMessage.objects.filter(
            direction=SmsDirection.OUT,
            assignment__isnull=True,
            created_at__gte=timezone.now() - timedelta(hours=1),
        )
        .exclude(Exists(volunteer_of_number))
        .count()
    )


def _reply_withheld(phone: str, answer: SmsAnswer) -> bool:
    """Each reply costs an outbound SMS, so texts that a sender can repeat at will are
    not each answered: free text gets the "kept" reply once in a quiet window, and a
    number that is no volunteer's gets one reply in that window whatever it sends, and
    none once SMS_STRANGER_REPLIES_PER_HOUR such replies went out in the last hour."""
    quiet = KEPT_REPLY_QUIET_MINUTES
    if answer.outcome == SmsOutcome.KEPT and _replies_to(
        phone, within_minutes=quiet, text=KEPT_REPLY
    ):
        return True
    if Volunteer.objects.filter(phone=phone).exists():
        return False
    return (
        _replies_to(phone, within_minutes=quiet)
        or _replies_to_strangers_this_hour() >= settings.SMS_STRANGER_REPLIES_PER_HOUR
    )


def sms_inbound_handle(*, sender: str, text: str) -> SmsAnswer:
    """One SMS from a phone: an answer to an offer texted to it ("Y 4821", "N 4821"),
    or free text, kept for the coordinators. Records it, answers it by SMS, and returns
    the outcome. Never raises for what a person may type."""
    phone = phone_digits(sender)
    answer = _answer(phone, text)
    SmsMessage.objects.create(
        direction=SmsDirection.IN,
        phone=phone,
        text=text,
        assignment=answer.assignment,
        outcome=answer.outcome,
    )
    if not _reply_withheld(phone, answer):
        sms_send_and_record(phone=phone, text=answer.reply, assignment=answer.assignment)
    return answer
