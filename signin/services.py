"""Sign-in without passwords (issue 11): every write of the signin app.

- A code by SMS: `signin_code_request` texts a 6-digit code to a member's number (and
  to nobody else, with the same answer); `signin_code_verify` takes it once. Only a keyed
  hash of the code is stored. Wrong codes count as failed sign-ins for django-axes
  (signin.backends), which locks the number, and the client's address, as it locks a
  password sign-in.
- An invitation: `invitations_issue` makes one single-use link per member, printed as a
  QR code; `invitation_use` takes it once and records where it was used.
- Revoking: `sign_ins_revoke` deletes a member's API token and signs out their sessions;
  an open socket then closes at its next re-check (dispatch.consumers, WS_RECHECK_SECONDS).
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework.authtoken.models import Token

from dispatch.push import push_forget
from dispatch.sms.gateways import sms_send
from signin.models import Invitation, SignInCode
from volunteers.models import Volunteer
from volunteers.sheets import InvalidValue, phone_normalize

logger = logging.getLogger(__name__)
User = get_user_model()

CODE_DIGITS = 6
# pg_advisory_xact_lock's first key: the locks of this module, apart from others'.
ADVISORY_LOCK_NAMESPACE = 11_001


class SignInRateLimited(Exception):
    """Too many codes asked for this number or from this address; `retry_after` in
    seconds, `message` in the active language."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.message = message
        self.retry_after = max(1, int(retry_after))


class InvitationRefused(Exception):
    """The link cannot sign anyone in: `reason` is unknown, used, expired or withdrawn."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def phone_or_error(phone: str) -> str:
    """The number as the roster keeps it (digits only), or a ValidationError that says
    what a mobile number looks like."""
    try:
        return phone_normalize((phone or "").strip())
    except InvalidValue:
        raise ValidationError(
            {"phone": _("Enter an 11-digit mobile number, e.g. 138 0013 8000.")}
        ) from None


def _code_hash(phone: str, code: str) -> str:
    # Keyed (SECRET_KEY): a copy of the table does not give a million codes to try.
    return salted_hmac("signin.SignInCode", f"{phone}:{code}", algorithm="sha256").hexdigest()


def _wait_message(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return ngettext(
        "Too many codes asked for. Try again in %(minutes)d minute.",
        "Too many codes asked for. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def _lock_number(phone: str) -> None:
    """Two requests for one number at the same moment would both find no recent code and
    both send one: the first takes this lock until its transaction ends, the second waits
    and then sees the first's row. SQLite (embedded) already runs one writer at a time
    (transaction_mode IMMEDIATE). Two requests from one address for different numbers
    are not serialised: the per-address limit may be passed by one or two, no more."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [ADVISORY_LOCK_NAMESPACE, phone]
            )


def _check_rate_limits(*, phone: str, client_address: str | None, now) -> None:
    hour_ago = now - timedelta(hours=1)
    of_number = SignInCode.objects.filter(phone=phone, created_at__gt=hour_ago)
    latest = of_number.order_by("-created_at").values_list("created_at", flat=True).first()
    interval = timedelta(seconds=settings.SIGN_IN_CODE_INTERVAL_SECONDS)
    if latest is not None and latest > now - interval:
        wait = (latest + interval - now).total_seconds()
        raise SignInRateLimited(_wait_message(int(wait)), wait)
    if of_number.count() >= settings.SIGN_IN_CODES_PER_NUMBER_PER_HOUR:
        oldest = of_number.order_by("created_at").values_list("created_at", flat=True).first()
        wait = (oldest + timedelta(hours=1) - now).total_seconds()
        raise SignInRateLimited(_wait_message(int(wait)), wait)
    if client_address:
        of_address = SignInCode.objects.filter(
            client_address=client_address, created_at__gt=hour_ago
        )
        if of_address.count() >= settings.SIGN_IN_CODES_PER_ADDRESS_PER_HOUR:
            oldest = of_address.order_by("created_at").values_list("created_at", flat=True).first()
            wait = (oldest + timedelta(hours=1) - now).total_seconds()
            raise SignInRateLimited(_wait_message(int(wait)), wait)


def sign_in_code_text(code: str) -> str:
    minutes = settings.SIGN_IN_CODE_MINUTES
    with translation.override("zh-hans"):
        return _(
            "Tongxin sign-in code: %(code)s (valid %(minutes)d minutes). Do not tell anyone."
        ) % {"code": code, "minutes": minutes}


def signin_code_request(*, phone: str, client_address: str | None) -> None:
    """Text a sign-in code to `phone` if it is an active member's number. The caller
    answers the same whatever happened here, except for a malformed number
    (ValidationError) or a rate limit (SignInRateLimited), which are the same for
    members and strangers: every request is recorded, and the limits count them alike.
    A failed send is logged, not raised: raising it would tell members from strangers."""
    number = phone_or_error(phone)
    now = timezone.now()
    with transaction.atomic():
        _lock_number(number)
        _check_rate_limits(phone=number, client_address=client_address, now=now)
        volunteer = (
            Volunteer.objects.select_related("user")
            .filter(phone=number, user__is_active=True)
            .first()
        )
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}" if volunteer else None
        if volunteer:
            # Only the newest code works: asking again ends the earlier ones.
            SignInCode.objects.filter(
                phone=number, used_at__isnull=True, expires_at__gt=now
            ).update(expires_at=now)
        SignInCode.objects.create(
            phone=number,
            user=volunteer.user if volunteer else None,
            code_hash=_code_hash(number, code) if code else "",
            client_address=client_address,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.SIGN_IN_CODE_MINUTES),
        )
    if code is None:
        logger.info("sign-in code asked for %s, no member's number: nothing sent", number)
        return
    # After the commit: the gateway may take seconds, and the number's lock is released.
    # Not recorded as an SmsMessage: that would keep the code in clear.
    try:
        sms_send(to=number, text=sign_in_code_text(code))
    except Exception:
        logger.exception("the sign-in code for %s could not be sent", number)


def signin_code_verify(*, phone: str, code: str):
    """The member whose newest code for `phone` this is, or None. A code works once,
    within SIGN_IN_CODE_MINUTES, and not after SIGN_IN_CODE_ATTEMPTS wrong tries (the
    lockout of the number after SIGN_IN_FAILURE_LIMIT failures is django-axes', around
    this: signin.backends)."""
    try:
        number = phone_normalize((phone or "").strip())
    except InvalidValue:
        return None
    code = (code or "").strip()
    now = timezone.now()
    with transaction.atomic():
        # Locked: of two tries of one code at once, one marks it used, the other finds
        # it used (and of two wrong tries, both are counted).
        row = (
            SignInCode.objects.select_for_update()
            .filter(phone=number, user__isnull=False, used_at__isnull=True, expires_at__gt=now)
            .order_by("-created_at", "-id")
            .first()
        )
        if row is None:
            return None
        given = _code_hash(number, code) if code.isdigit() and len(code) == CODE_DIGITS else ""
        if not constant_time_compare(row.code_hash, given):
            row.wrong_attempts += 1
            if row.wrong_attempts >= settings.SIGN_IN_CODE_ATTEMPTS:
                row.expires_at = now
            row.save(update_fields=["wrong_attempts", "expires_at"])
            return None
        row.used_at = now
        row.save(update_fields=["used_at"])
        user = User.objects.filter(pk=row.user_id, is_active=True).first()
    return user


def signin_token_for(*, user) -> str:
    """The API token a phone or a script keeps (deleted after TOKEN_MAX_AGE_DAYS by the
    hourly sweep, or when revoked)."""
    token, _created = Token.objects.get_or_create(user=user)
    return token.key


def signin_codes_forget(*, created_before) -> int:
    """Delete code requests older than `created_before` (numbers of strangers among
    them): once past the hour the rate limits look at, they serve nobody."""
    deleted, _by_model = SignInCode.objects.filter(created_at__lt=created_before).delete()
    return deleted


# --- revoking -----------------------------------------------------------------------


def _session_keys_of(user_ids: set[int]) -> list[str]:
    """The unexpired sessions signed in as one of `user_ids`. Sessions are stored by key,
    not by user: this reads each unexpired one (one pass, for a whole admin action)."""
    if settings.SESSION_ENGINE not in (
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    ):
        logger.warning("cannot find sessions by user with %s", settings.SESSION_ENGINE)
        return []
    wanted = {str(pk) for pk in user_ids}
    keys = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get(SESSION_KEY) in wanted:
            keys.append(session.session_key)
    return keys


def sign_ins_revoke(*, users) -> dict:
    """Sign members out everywhere: their API tokens are deleted, their sessions ended
    and their phones' push subscriptions forgotten. Their open sockets close (4401) at
    the next re-check. Returns the counts of tokens and sessions."""
    user_ids = {user.pk for user in users}
    tokens, _by_model = Token.objects.filter(user_id__in=user_ids).delete()
    store = import_module(settings.SESSION_ENGINE).SessionStore
    sessions = _session_keys_of(user_ids)
    for key in sessions:
        store(session_key=key).delete()
    # Invitations not yet used would sign them in again.
    Invitation.objects.filter(
        user_id__in=user_ids, used_at__isnull=True, withdrawn_at__isnull=True
    ).update(withdrawn_at=timezone.now())
    # Nor may their phones, signed out, be shown their offers.
    pushes = push_forget(user_ids=user_ids)
    logger.info(
        "signed out users %s: %d token(s), %d session(s), %d push subscription(s)",
        sorted(user_ids),
        tokens,
        len(sessions),
        pushes,
    )
    return {"tokens": tokens, "sessions": len(sessions)}


# --- invitations --------------------------------------------------------------------


def _secret_hash(secret: str) -> str:
    # The secret is 256 random bits: a plain hash is enough, nothing to guess.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedInvitation:
    volunteer: Volunteer
    secret: str
    expires_at: object


@transaction.atomic
def invitations_issue(*, volunteers, issued_by) -> list[IssuedInvitation]:
    """One single-use sign-in link for each active member among `volunteers`, valid
    for INVITATION_HOURS. Their unused earlier invitations are withdrawn: only the
    sheet printed last works. The secrets are returned, never stored."""
    now = timezone.now()
    expires_at = now + timedelta(hours=settings.INVITATION_HOURS)
    members = [v for v in volunteers if v.user.is_active]
    Invitation.objects.filter(
        user__in=[v.user_id for v in members], used_at__isnull=True, withdrawn_at__isnull=True
    ).update(withdrawn_at=now)
    issued = []
    for volunteer in members:
        secret = secrets.token_urlsafe(32)
        Invitation.objects.create(
            user_id=volunteer.user_id,
            secret_hash=_secret_hash(secret),
            issued_by=issued_by,
            created_at=now,
            expires_at=expires_at,
        )
        issued.append(IssuedInvitation(volunteer, secret, expires_at))
    logger.info("%s issued %d sign-in invitation(s)", issued_by, len(issued))
    return issued


def invitation_find(*, secret: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("user__volunteer")
        .filter(secret_hash=_secret_hash(secret or ""))
        .first()
    )


def invitation_state(invitation: Invitation | None, now=None) -> str:
    """usable, or why not: used, withdrawn, expired, unknown (no such invitation, or
    its member deactivated)."""
    now = now or timezone.now()
    if invitation is None or not invitation.user.is_active:
        return "unknown"
    if invitation.used_at:
        return "used"
    if invitation.withdrawn_at:
        return "withdrawn"
    if invitation.expires_at <= now:
        return "expired"
    return "usable"


def invitation_use(*, secret: str, client_address: str | None, user_agent: str):
    """Take the invitation: its member, once. The claim is a conditional UPDATE (`…
    WHERE used_at IS NULL AND …`): of two phones opening one link at the same moment,
    the database lets one change the row and the other finds it used. A refusal raises
    InvitationRefused and is logged with the address."""
    now = timezone.now()
    digest = _secret_hash(secret or "")
    taken = Invitation.objects.filter(
        secret_hash=digest,
        used_at__isnull=True,
        withdrawn_at__isnull=True,
        expires_at__gt=now,
        user__is_active=True,
    ).update(used_at=now, used_from=client_address, used_user_agent=(user_agent or "")[:300])
    invitation = invitation_find(secret=secret)
    if not taken:
        state = invitation_state(invitation, now)
        # Taken by another request between the UPDATE and this read: used.
        reason = "used" if state == "usable" else state
        logger.warning(
            "sign-in invitation %s refused (%s) from %s",
            invitation.pk if invitation else "-",
            reason,
            client_address,
        )
        raise InvitationRefused(reason)
    logger.info(
        "sign-in invitation %s used by user %s from %s",
        invitation.pk,
        invitation.user_id,
        client_address,
    )
    return invitation.user
