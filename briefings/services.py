"""Writes: sending a broadcast to those on duty, the phones' receipts, and recording an
activity. A broadcast and an activity each log one event in their transaction
(DESIGN.md §4); receipts are not logged (one per person and step would bury the log,
as positions would), they are timestamps on the receipt."""

import logging
from datetime import datetime
from functools import partial

from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from briefings.models import Activity, ActivityKind, Audience, Broadcast, BroadcastReceipt
from briefings.selectors import audience_volunteer_ids, broadcast_frame
from dispatch.events import event_record, group_send_all, volunteer_group
from dispatch.models import EventKind
from volunteers.models import Skill, Team, Township, Volunteer

logger = logging.getLogger(__name__)

# The channel layer's message type for a broadcast to one phone: the volunteer's
# consumer forwards it as a "broadcast" frame (dispatch.consumers).
BROADCAST_MESSAGE = "broadcast.message"


class BriefingRefused(Exception):
    """A receipt that cannot be taken: not the volunteer's message, or not a briefing."""


class NotYourMessage(BriefingRefused):
    """No such message, or not sent to this volunteer (the same answer for both)."""


class NotABriefing(BriefingRefused):
    """Only a briefing is confirmed."""


# --- sending --------------------------------------------------------------------------


def _event_data(broadcast: Broadcast) -> dict:
    data = {
        "broadcast": broadcast.pk,
        "audience": broadcast.audience,
        "text": broadcast.text,
        "recipients": broadcast.recipient_count,
        "briefing": broadcast.is_briefing,
    }
    if broadcast.audience in (Audience.TOWNSHIP, Audience.TEAM, Audience.SKILL):
        data[broadcast.audience] = getattr(broadcast, f"{broadcast.audience}_id")
    if broadcast.audience == Audience.AREA:
        data.update(
            latitude=broadcast.latitude,
            longitude=broadcast.longitude,
            radius_km=broadcast.radius_km,
        )
    if broadcast.is_briefing:
        data["briefing_place"] = broadcast.briefing_place
        data["briefing_starts_at"] = broadcast.briefing_starts_at.isoformat()
    return data


@transaction.atomic
def broadcast_send(
    *,
    author,
    text: str,
    audience: str,
    township: Township | None = None,
    team: Team | None = None,
    skill: Skill | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    radius_km: float | None = None,
    briefing_place: str = "",
    briefing_latitude: float | None = None,
    briefing_longitude: float | None = None,
    briefing_starts_at: datetime | None = None,
) -> Broadcast:
    """Send `text` to every volunteer on duty in the audience now, each by their phone
    (after commit) and, when no phone confirms it within SMS_FALLBACK_SECONDS, by SMS
    (briefings.sms). With a place and a time it is a briefing, which they confirm.
    Who receives it is decided now, once: someone who comes on duty later is not sent
    it. Refused (ValidationError) when nobody on duty is in the audience."""
    broadcast = Broadcast(
        author=author,
        text=text.strip(),
        audience=audience,
        township=township,
        team=team,
        skill=skill,
        latitude=latitude,
        longitude=longitude,
        radius_km=radius_km,
        briefing_place=briefing_place.strip(),
        briefing_latitude=briefing_latitude,
        briefing_longitude=briefing_longitude,
        briefing_starts_at=briefing_starts_at,
    )
    broadcast.full_clean()
    recipients = audience_volunteer_ids(broadcast)
    if not recipients:
        raise ValidationError({"audience": _("Nobody on duty is in this audience.")})
    broadcast.recipient_count = len(recipients)
    broadcast.save()
    BroadcastReceipt.objects.bulk_create(
        BroadcastReceipt(broadcast=broadcast, volunteer_id=volunteer_id)
        for volunteer_id in recipients
    )
    event_record(kind=EventKind.BROADCAST_SENT, actor=author, data=_event_data(broadcast))
    transaction.on_commit(partial(broadcast_publish, broadcast_id=broadcast.pk), robust=True)
    return broadcast


def broadcast_publish(*, broadcast_id: int) -> int:
    """Send the broadcast to each recipient's phone over the channel layer, in one
    connection. A notification only (DESIGN.md §4 rule 1): a phone that was not
    listening gets it in its unread messages when it connects, and by SMS after the
    fallback delay. Never raises (it runs after commit): a failure is logged. Returns
    how many phones' groups were sent to."""
    broadcast = Broadcast.objects.select_related("author__volunteer").get(pk=broadcast_id)
    frame = broadcast_frame(broadcast)
    volunteer_ids = list(broadcast.receipts.values_list("volunteer_id", flat=True))
    try:
        async_to_sync(group_send_all)(
            [
                (volunteer_group(volunteer_id), {"type": BROADCAST_MESSAGE, "broadcast": frame})
                for volunteer_id in volunteer_ids
            ]
        )
    except Exception:
        logger.exception(
            "publishing broadcast %s failed; phones get it on connect or by SMS", broadcast_id
        )
        return 0
    return len(volunteer_ids)


# --- receipts -------------------------------------------------------------------------


def _receipt_of(broadcast_id: int, volunteer: Volunteer) -> BroadcastReceipt:
    receipt = (
        BroadcastReceipt.objects.filter(broadcast_id=broadcast_id, volunteer=volunteer)
        .select_related("broadcast")
        .first()
    )
    if receipt is None:
        # Someone else's message and no message at all get the same answer.
        raise NotYourMessage(_("No such message for you."))
    return receipt


def _stamp(receipt: BroadcastReceipt, *fields: str) -> bool:
    """Set each of `fields` that is still empty to now, each with a conditional UPDATE:
    the first report wins, a repeat (a phone reconnecting, a retried request) changes
    nothing. True when the last field was set by this call."""
    now = timezone.now()
    first = False
    for field in fields:
        first = bool(
            BroadcastReceipt.objects.filter(pk=receipt.pk, **{f"{field}__isnull": True}).update(
                **{field: now}
            )
        )
    return first


@transaction.atomic
def broadcast_mark_delivered(*, broadcast_id: int, volunteer: Volunteer) -> bool:
    """The phone received the message. True the first time."""
    return _stamp(_receipt_of(broadcast_id, volunteer), "delivered_at")


@transaction.atomic
def broadcast_mark_read(*, broadcast_id: int, volunteer: Volunteer) -> bool:
    """The volunteer read the message (so it was delivered). True the first time."""
    return _stamp(_receipt_of(broadcast_id, volunteer), "delivered_at", "read_at")


@transaction.atomic
def broadcast_confirm(*, broadcast_id: int, volunteer: Volunteer) -> bool:
    """The volunteer confirmed they will be at the briefing (so they read it). True the
    first time; refused for a message that is no briefing."""
    receipt = _receipt_of(broadcast_id, volunteer)
    if not receipt.broadcast.is_briefing:
        raise NotABriefing(_("This message is not a briefing: there is nothing to confirm."))
    return _stamp(receipt, "delivered_at", "read_at", "confirmed_at")


# --- activities -----------------------------------------------------------------------


@transaction.atomic
def activity_record(
    *,
    recorded_by,
    kind: str = ActivityKind.SAFETY_TALK,
    title: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    address: str = "",
    township: Township | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    staff: list[Volunteer] = (),
    audience_size: int = 0,
    note: str = "",
) -> Activity:
    """Record an activity given (or planned), with its staff; logs activity.recorded."""
    activity = Activity(
        kind=kind,
        title=title.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        address=address.strip(),
        township=township,
        latitude=latitude,
        longitude=longitude,
        audience_size=audience_size,
        note=note,
        recorded_by=recorded_by,
    )
    activity.full_clean()
    activity.save()
    staff_ids = sorted({volunteer.pk for volunteer in staff})
    activity.staff.set(staff_ids)
    event_record(
        kind=EventKind.ACTIVITY_RECORDED,
        actor=recorded_by,
        data={
            "activity": activity.pk,
            "kind": activity.kind,
            "title": activity.title,
            "starts_at": activity.starts_at.isoformat(),
            "audience_size": activity.audience_size,
            "township": activity.township_id,
            "staff": staff_ids,
        },
    )
    return activity
