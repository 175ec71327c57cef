"""The SMS fallback (issue 4, item 3): an offer no phone confirmed goes out by SMS, and
the volunteer answers it by SMS ("Y 4821" / "N 4821").

- `sms_send`: the pluggable gateway, chosen by SMS_BACKEND (console/file by default,
  an HTTP gateway in production).
- `offers_sms_fallback`: the sweep beat runs every SMS_SWEEP_SECONDS. Every offer still
  offered, not delivered and older than SMS_FALLBACK_SECONDS is texted once, with a
  reply code unique among open offers (dispatch.models.OfferSmsCode).
- `sms_inbound_handle`: a reply, matched on code *and* sender's phone, becomes
  dispatch.services.assignment_accept / assignment_decline; free text is kept.
- `SmsInbound`: the gateway's webhook, POST /api/sms/inbound/, authenticated by a
  shared secret header.

Every SMS in and out is a dispatch.models.SmsMessage row.
"""

import hmac
import json
import logging
import math
import re
import secrets
import threading
import unicodedata
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from dispatch import services
from dispatch.models import (
    Assignment,
    AssignmentStatus,
    OfferSmsCode,
    SmsDirection,
    SmsMessage,
    SmsOutcome,
)
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
# Free text is answered once in this many minutes per phone: two auto-responders must
# not text each other forever.
KEPT_REPLY_QUIET_MINUTES = 10
TEXT_MAX_CHARS = 1600


# --- the gateway ----------------------------------------------------------------------


class SmsSendError(Exception):
    """The gateway did not take the message."""


class ConsoleSmsBackend:
    """The embedded default and the tests': logs each message and, with SMS_OUTBOX_FILE
    set, appends it to that file as one JSON line {"at", "to", "text"}."""

    _lock = threading.Lock()

    def send(self, *, to: str, text: str) -> None:
        logger.info("SMS to %s: %s", to, text)
        path = settings.SMS_OUTBOX_FILE
        if not path:
            return
        line = json.dumps(
            {"at": timezone.now().isoformat(), "to": to, "text": text}, ensure_ascii=False
        )
        try:
            with self._lock, open(path, "a", encoding="utf-8") as outbox:
                outbox.write(line + "\n")
        except OSError as error:
            raise SmsSendError(f"cannot write the outbox {path}: {error}") from error


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        # urllib would follow a 302 with a GET, without the body: a 3xx is a failure.
        return None


class HttpSmsBackend:
    """POSTs {"to": phone, "text": text} as JSON to SMS_HTTP_URL, with
    `Authorization: Bearer SMS_HTTP_TOKEN` when a token is set. Anything but a 2xx
    answer within SMS_HTTP_TIMEOUT_SECONDS is a failure."""

    def send(self, *, to: str, text: str) -> None:
        url = settings.SMS_HTTP_URL
        if not url.startswith(("http://", "https://")):
            raise SmsSendError(f"SMS_HTTP_URL={url!r}: expected an http:// or https:// URL")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if settings.SMS_HTTP_TOKEN:
            headers["Authorization"] = f"Bearer {settings.SMS_HTTP_TOKEN}"
        body = json.dumps({"to": to, "text": text}, ensure_ascii=False).encode()
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        opener = urllib.request.build_opener(_NoRedirects)
        try:
            with opener.open(request, timeout=settings.SMS_HTTP_TIMEOUT_SECONDS) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            error.close()
            raise SmsSendError(f"the gateway answered {error.code}") from None
        except OSError as error:  # URLError, refused, timed out
            raise SmsSendError(f"the gateway did not answer: {error}") from None
        if not 200 <= status < 300:
            raise SmsSendError(f"the gateway answered {status}")


def sms_send(*, to: str, text: str) -> None:
    """Send one SMS through the configured gateway (SMS_BACKEND). Raises SmsSendError
    (or whatever a custom backend raises) when it is not taken."""
    import_string(settings.SMS_BACKEND)().send(to=to, text=text)


def _send_and_record(*, phone: str, text: str, assignment: Assignment | None) -> bool:
    """Send, and record the message with the gateway's refusal if any. Never raises:
    the callers decide what a failure means (the sweep retries)."""
    error = ""
    try:
        sms_send(to=phone, text=text)
    except SmsSendError as refused:
        error = str(refused)
        logger.warning("SMS to %s (offer %s) failed: %s", phone, _pk(assignment), error)
    except Exception as crashed:  # a custom backend's bug must not stop the sweep
        error = f"{type(crashed).__name__}: {crashed}"
        logger.exception("SMS to %s (offer %s) failed", phone, _pk(assignment))
    SmsMessage.objects.create(
        direction=SmsDirection.OUT,
        phone=phone,
        text=text,
        assignment=assignment,
        error=error[:300],
    )
    return not error


def _pk(assignment: Assignment | None):
    return assignment.pk if assignment else None


# --- phones and replies ---------------------------------------------------------------


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


def _recipients(assignment: Assignment) -> list[Volunteer]:
    """The volunteer offered, or every crew member of the vehicle offered."""
    if assignment.volunteer_id:
        return [assignment.volunteer]
    return list(assignment.vehicle.crew.order_by("pk"))


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


def _where(incident) -> str:
    place = incident.address or (incident.township.name if incident.township else "")
    coordinates = f"{incident.latitude:.5f},{incident.longitude:.5f}"
    return f"{place} ({coordinates})" if place else coordinates


def _title(incident) -> str:
    return f"#{incident.pk} {incident.title}"


def offer_sms_text(assignment: Assignment, code: str) -> str:
    """What, where, how far, until when, and how to answer."""
    need = assignment.need
    incident = need.incident
    lines = [f"【同心 Tongxin】{_title(incident)}", f"需要 Need: {need}"]
    if need.note:
        lines.append(need.note)
    if assignment.vehicle_id:
        lines.append(f"车辆 Vehicle: {assignment.vehicle.call_sign}")
    lines.append(f"地点 Where: {_where(incident)}")
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
    recipients = _recipients(assignment)
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
    # Every crew member is texted, even after one failure. If any got it, the offer
    # counts as texted: the others are not texted again.
    sent = [
        _send_and_record(phone=volunteer.phone, text=text, assignment=assignment)
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


# --- replies --------------------------------------------------------------------------

KEPT_REPLY = (
    "已收到，调度员会看到。答复派单请回复 Y 或 N 加四位代码，如 Y 1234。"
    "Received; a coordinator will read it. To answer an offer, reply Y or N and its "
    "4-digit code, e.g. Y 1234."
)


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
        return SmsAnswer(SmsOutcome.REFUSED, f"{_title(incident)}: {refused}", assignment)
    finally:
        sms_codes_release()
    if command.accept:
        return SmsAnswer(
            SmsOutcome.ACCEPTED,
            f"已接受，谢谢！Accepted, thank you. {_title(incident)}. "
            f"地点 Where: {_where(incident)}. "
            "出发、到场请在同心 App 中报告 Report en route and on scene in the Tongxin app.",
            assignment,
        )
    return SmsAnswer(
        SmsOutcome.DECLINED,
        f"已拒绝，谢谢告知。Declined, thank you for telling us. {_title(incident)}.",
        assignment,
    )


def _kept_reply_sent_lately(phone: str) -> bool:
    return SmsMessage.objects.filter(
        direction=SmsDirection.OUT,
        phone=phone,
        text=KEPT_REPLY,
        created_at__gte=timezone.now() - timedelta(minutes=KEPT_REPLY_QUIET_MINUTES),
    ).exists()


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
    quiet = answer.outcome == SmsOutcome.KEPT and _kept_reply_sent_lately(phone)
    if not quiet:
        _send_and_record(phone=phone, text=answer.reply, assignment=answer.assignment)
    return answer


# --- the gateway's webhook: POST /api/sms/inbound/ ------------------------------------

SECRET_HEADER = "X-Tongxin-Sms-Secret"


class SmsGatewaySecret(permissions.BasePermission):
    """The gateway, not a user: it proves itself with the shared secret. With no
    secret configured the webhook does not exist (404)."""

    message = f"Wrong or missing {SECRET_HEADER} header."

    def has_permission(self, request, view):
        secret = settings.SMS_INBOUND_SECRET
        if not secret:
            raise NotFound(f"No API endpoint at {request.path}.")
        given = request.headers.get(SECRET_HEADER, "")
        return hmac.compare_digest(given.encode(), secret.encode())


class SmsInboundSerializer(serializers.Serializer):
    # `from` is a Python keyword, so the fields are declared here rather than as
    # class attributes.
    def get_fields(self):
        return {
            "from": serializers.CharField(
                max_length=40, help_text="The sender's number, e.g. `+86 138 0013 8000`."
            ),
            "text": serializers.CharField(
                allow_blank=True,
                trim_whitespace=False,
                help_text="The message, e.g. `Y 4821`. Longer than "
                f"{TEXT_MAX_CHARS} characters: the rest is dropped.",
            ),
        }

    def validate_from(self, value):
        if not 5 <= len(phone_digits(value)) <= 20:
            raise serializers.ValidationError("Not a phone number.")
        return value

    def validate_text(self, value):
        return value[:TEXT_MAX_CHARS]


class SmsAnswerSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=SmsOutcome.choices)
    reply = serializers.CharField(help_text="The text sent back to the sender by SMS.")


class SmsInbound(APIView):
    """A message from a phone, as the SMS gateway received it: an answer to an offer
    sent by SMS ("Y 4821" accepts, "N 4821" declines; also 是/否, any case, full-width)
    or free text, which is kept. Always 200 for what a person may type; the outcome
    says what happened and `reply` is what was texted back."""

    authentication_classes = []
    permission_classes = [SmsGatewaySecret]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    throttle_classes = []

    @extend_schema(
        operation_id="sms_inbound",
        request=SmsInboundSerializer,
        responses={
            200: SmsAnswerSerializer,
            400: OpenApiResponse(description="Malformed JSON or a missing field"),
            403: OpenApiResponse(description=f"Wrong or missing {SECRET_HEADER}"),
            404: OpenApiResponse(description="The webhook is off (SMS_INBOUND_SECRET unset)"),
        },
        parameters=[
            OpenApiParameter(
                SECRET_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="The shared secret, SMS_INBOUND_SECRET.",
            )
        ],
        auth=[],
    )
    def post(self, request):
        form = SmsInboundSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        answer = sms_inbound_handle(
            sender=form.validated_data["from"], text=form.validated_data["text"]
        )
        return Response({"outcome": answer.outcome.value, "reply": answer.reply})
