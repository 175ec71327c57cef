"""Shifts hold a place, not the person (issue 13; docs/decisions.md, "Reserved shifts").

A volunteer who accepts a shift that starts more than SHIFT_RESERVE_LEAD_MINUTES from
now *reserves* it (AssignmentStatus.RESERVED): the reservation takes a place of its
need, but engages nobody, so the volunteer stays free for urgent work and for other
shifts. They may hold several, as long as no two overlap and each leaves the rest
between shifts (dispatch.matching.REST_HOURS, as the planner reads it). The rules are
here; dispatch.services applies them under the need's lock and then the volunteer's
(shift_volunteer_lock), the order every writer of a reservation follows, so two
accepts of overlapping shifts racing on different needs cannot both reserve.

This module reads and locks; it writes nothing.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from dispatch import matching
from dispatch.models import FILLED_STATUSES, Assignment, AssignmentStatus
from incidents.models import Need
from volunteers.models import Volunteer


def reserve_lead() -> timedelta:
    return timedelta(minutes=settings.SHIFT_RESERVE_LEAD_MINUTES)


def shift_reservable(need: Need, *, volunteer_id: int | None, now: datetime) -> bool:
    """Does taking this need reserve it rather than make it active work now? Shifts of
    one volunteer that start beyond the lead time; vehicle work never (a vehicle's
    place and its crew's are one)."""
    return (
        volunteer_id is not None
        and need.shift_start is not None
        and need.shift_end is not None
        and need.shift_start - now > reserve_lead()
    )


def shift_volunteer_lock(volunteer_id: int) -> None:
    """Lock the volunteer's row (after the need's), so their shifts are checked and
    reserved one at a time. FOR NO KEY UPDATE: it serialises the reservations, yet does
    not block the foreign-key checks of offers and events naming the volunteer."""
    Volunteer.objects.select_for_update(no_key=True).filter(pk=volunteer_id).exists()


def window_text(start: datetime, end: datetime) -> str:
    """A shift window with its day, as the city's clock reads it: "12-08 08:00–12:00"."""
    start, end = timezone.localtime(start), timezone.localtime(end)
    return f"{start:%m-%d %H:%M}–{end:%H:%M}"


def rest_hours() -> float:
    return matching.REST_HOURS


def shifts_held(volunteer_id: int, *, excluding_need: int | None = None):
    """The shift windows the volunteer holds or worked lately (reserved, active or
    done), as (start, end) pairs: what a new shift must not overlap nor crowd."""
    since = timezone.now() - timedelta(hours=rest_hours())
    held = Assignment.objects.filter(
        volunteer_id=volunteer_id,
        status__in=FILLED_STATUSES,
        need__shift_start__isnull=False,
        need__shift_end__gte=since,
    )
    if excluding_need is not None:
        held = held.exclude(need_id=excluding_need)
    return list(
        held.values_list("need__shift_start", "need__shift_end").order_by("need__shift_start")
    )


def shift_clash(need: Need, *, volunteer_id: int) -> str | None:
    """Why this volunteer cannot take this shift beside the shifts they hold (it
    overlaps one, or leaves less than the rest between them), in their words; None
    when it fits. The caller holds the volunteer's lock."""
    rest = timedelta(hours=rest_hours())
    for start, end in shifts_held(volunteer_id, excluding_need=need.pk):
        if start < need.shift_end and need.shift_start < end:
            return _("This shift overlaps your shift %(window)s.") % {
                "window": window_text(start, end)
            }
        if not (end + rest <= need.shift_start or need.shift_end + rest <= start):
            return _(
                "This shift leaves less than %(hours)s hours of rest beside your shift %(window)s."
            ) % {"hours": f"{rest_hours():g}", "window": window_text(start, end)}
    return None


def reservations_due(now: datetime):
    """The ids of reservations whose shift starts within the lead time (or began):
    the take-up sweep's work, oldest shift first."""
    return list(
        Assignment.objects.filter(
            status=AssignmentStatus.RESERVED, need__shift_start__lte=now + reserve_lead()
        )
        .order_by("need__shift_start", "pk")
        .values_list("pk", flat=True)
    )
