"""Reads about broadcasts and activities: who an audience reaches, a phone's unread
messages, the receipts' counts, and the safety talks of a period."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from geopy.distance import geodesic

from briefings.models import Activity, ActivityKind, Audience, Broadcast, BroadcastReceipt
from dispatch.availability import volunteer_position_of
from dispatch.labels import skill_name, township_name, user_name
from volunteers.models import Volunteer

# A phone is shown its unread messages of the last days, the newest few: a message is
# about the situation now, and a volunteer back after a week needs today's, not all.
UNREAD_DAYS = 3
UNREAD_MOST = 20
KM_PER_DEGREE = 111.32


# --- who a broadcast reaches ----------------------------------------------------------


def _within_area(volunteers: QuerySet[Volunteer], broadcast: Broadcast) -> list[int]:
    """The volunteers whose position (the last reported, else home: as the engine places
    them) lies within the broadcast's circle. A box around the circle narrows the rows
    read; geopy decides."""
    centre = (broadcast.latitude, broadcast.longitude)
    radius = broadcast.radius_km
    dlat = radius / KM_PER_DEGREE
    dlon = radius / (KM_PER_DEGREE * max(math.cos(math.radians(broadcast.latitude)), 0.01))
    box_last = Q(
        last_latitude__range=(centre[0] - dlat, centre[0] + dlat),
        last_longitude__range=(centre[1] - dlon, centre[1] + dlon),
    )
    box_home = Q(
        last_latitude__isnull=True,
        home_latitude__range=(centre[0] - dlat, centre[0] + dlat),
        home_longitude__range=(centre[1] - dlon, centre[1] + dlon),
    )
    rows = volunteers.filter(box_last | box_home).values_list(
        "pk", "last_latitude", "last_longitude", "home_latitude", "home_longitude"
    )
    inside = []
    for pk, *columns in rows:
        position = volunteer_position_of(*columns)
        if position is not None and geodesic(centre, position).km <= radius:
            inside.append(pk)
    return inside


def audience_volunteer_ids(broadcast: Broadcast) -> list[int]:
    """The volunteers on duty now whom the broadcast's audience names, by id."""
    on_duty = Volunteer.objects.filter(on_duty=True)
    if broadcast.audience == Audience.AREA:
        return sorted(_within_area(on_duty, broadcast))
    narrowed = {
        Audience.ALL_ON_DUTY: on_duty,
        Audience.TOWNSHIP: on_duty.filter(township_id=broadcast.township_id),
        Audience.TEAM: on_duty.filter(teams=broadcast.team_id),
        Audience.SKILL: on_duty.filter(skills=broadcast.skill_id),
    }[broadcast.audience]
    return sorted(set(narrowed.values_list("pk", flat=True)))


def audience_label(broadcast: Broadcast) -> str:
    """Who it went to, in words: "龙湖镇", "蓝天救援队", "5 km around 34.610, 113.680"."""
    if broadcast.audience == Audience.TOWNSHIP:
        return township_name(broadcast.township)
    if broadcast.audience == Audience.TEAM:
        return broadcast.team.name
    if broadcast.audience == Audience.SKILL:
        return skill_name(broadcast.skill)
    if broadcast.audience == Audience.AREA:
        return _("%(km)s km around %(latitude).3f, %(longitude).3f") % {
            "km": f"{broadcast.radius_km:g}",
            "latitude": broadcast.latitude,
            "longitude": broadcast.longitude,
        }
    return _("Everyone on duty")


# --- what a phone is shown ------------------------------------------------------------


def broadcast_frame(broadcast: Broadcast, receipt: BroadcastReceipt | None = None) -> dict:
    """One message as the phone gets it (docs/websockets.md, "broadcast")."""
    briefing = None
    if broadcast.is_briefing:
        briefing = {
            "place": broadcast.briefing_place,
            "latitude": broadcast.briefing_latitude,
            "longitude": broadcast.briefing_longitude,
            "starts_at": broadcast.briefing_starts_at.isoformat(),
        }
    return {
        "id": broadcast.pk,
        "text": broadcast.text,
        "author": user_name(broadcast.author),
        "sent_at": broadcast.created_at.isoformat(),
        "briefing": briefing,
        "delivered_at": _iso(receipt.delivered_at) if receipt else None,
        "read_at": _iso(receipt.read_at) if receipt else None,
        "confirmed_at": _iso(receipt.confirmed_at) if receipt else None,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def broadcasts_unread(volunteer_id: int) -> list[dict]:
    """A volunteer's unread messages, newest first, as frames: what their phone shows
    until each is read (on connecting, and in the phone page's state)."""
    since = timezone.now() - timedelta(days=UNREAD_DAYS)
    receipts = (
        BroadcastReceipt.objects.filter(
            volunteer_id=volunteer_id, read_at__isnull=True, broadcast__created_at__gte=since
        )
        .select_related("broadcast__author__volunteer")
        .order_by("-broadcast__created_at", "-broadcast_id")[:UNREAD_MOST]
    )
    return [broadcast_frame(receipt.broadcast, receipt) for receipt in receipts]


# --- what the coordinators see -------------------------------------------------------


def broadcasts_with_counts() -> QuerySet[Broadcast]:
    """Broadcasts, newest first, each with its receipts counted in the database:
    `delivered`, `read`, `confirmed`, `texted` and `total`."""
    return (
        Broadcast.objects.select_related("author__volunteer", "township", "team", "skill")
        .annotate(
            total=Count("receipts"),
            delivered=Count("receipts", filter=Q(receipts__delivered_at__isnull=False)),
            read=Count("receipts", filter=Q(receipts__read_at__isnull=False)),
            confirmed=Count("receipts", filter=Q(receipts__confirmed_at__isnull=False)),
            texted=Count("receipts", filter=Q(receipts__sms_sent_at__isnull=False)),
        )
        .order_by("-created_at", "-id")
    )


# --- activities -----------------------------------------------------------------------


@dataclass(frozen=True)
class TalkTotals:
    talks: int
    audience: int


def safety_talk_totals(
    *,
    after: datetime | None = None,
    before: datetime | None = None,
    township: int | None = None,
    team: int | None = None,
    volunteer: int | None = None,
) -> TalkTotals:
    """The flood-safety talks that began in [after, before) — in a township, given by a
    team's members or by a volunteer, when those are given — and the people they
    reached."""
    talks = Activity.objects.filter(kind=ActivityKind.SAFETY_TALK)
    if after:
        talks = talks.filter(starts_at__gte=after)
    if before:
        talks = talks.filter(starts_at__lt=before)
    if township:
        talks = talks.filter(township_id=township)
    if team:
        talks = talks.filter(pk__in=Activity.objects.filter(staff__teams=team).values("pk"))
    if volunteer:
        talks = talks.filter(pk__in=Activity.objects.filter(staff=volunteer).values("pk"))
    counts = talks.aggregate(talks=Count("pk"), audience=Sum("audience_size"))
    return TalkTotals(talks=counts["talks"], audience=counts["audience"] or 0)
