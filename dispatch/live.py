"""What live clients are sent: snapshots and replays (docs/websockets.md). Plain
synchronous functions; the consumers call them through database_sync_to_async."""

from collections import Counter

from django.conf import settings
from django.db.models import Q

from dispatch.api import AssignmentSerializer
from dispatch.events import event_frame
from dispatch.models import (
    OPEN_STATUSES,
    Assignment,
    AssignmentStatus,
    DeploymentEvent,
    EventSequence,
)
from dispatch.selectors import FILLED_STATUSES
from incidents.api import IncidentSerializer
from incidents.models import Incident
from volunteers.api import VolunteerSerializer
from volunteers.models import Volunteer


def last_seq() -> int:
    return EventSequence.objects.values_list("last_seq", flat=True).get(pk=1)


def _volunteer_events(volunteer_id: int):
    """The log events a volunteer's phone may see: their own, and their vehicle's."""
    return Q(volunteer_id=volunteer_id) | Q(vehicle__crew__id=volunteer_id)


def replay(*, since: int, volunteer_id: int | None = None) -> list[dict] | None:
    """Every event after `since` this client may see, as frames, oldest first; None
    when `since` is too far behind (or ahead of the log) to replay: take a snapshot."""
    newest = last_seq()
    if since > newest or newest - since > settings.WS_REPLAY_LIMIT:
        return None
    events = DeploymentEvent.objects.filter(seq__gt=since).order_by("seq")
    if volunteer_id is not None:
        events = events.filter(_volunteer_events(volunteer_id)).distinct()
    return [event_frame(event) for event in events]


def volunteer_snapshot(volunteer_id: int) -> dict:
    volunteer = Volunteer.objects.prefetch_related("skills").get(pk=volunteer_id)
    assignments = (
        Assignment.objects.filter(status__in=OPEN_STATUSES)
        .filter(Q(volunteer_id=volunteer_id) | Q(vehicle__crew__id=volunteer_id))
        .select_related("need__incident", "need__skill")
        .distinct()
        .order_by("-offered_at")
    )
    return {
        "type": "snapshot",
        "volunteer": VolunteerSerializer(volunteer).data,
        "assignments": AssignmentSerializer(assignments, many=True).data,
    }


def dashboard_snapshot() -> dict:
    """The open incidents, with how far each need has filled."""
    incidents = list(
        Incident.objects.filter(status=Incident.Status.OPEN)
        .select_related("reporter")
        .prefetch_related("needs__skill")
    )
    filled = Counter(
        Assignment.objects.filter(
            need__incident__in=incidents, status__in=FILLED_STATUSES
        ).values_list("need_id", flat=True)
    )
    offered = Counter(
        Assignment.objects.filter(
            need__incident__in=incidents, status=AssignmentStatus.OFFERED
        ).values_list("need_id", flat=True)
    )
    rows = IncidentSerializer(incidents, many=True).data
    for row in rows:
        for need in row["needs"]:
            need["filled"] = filled[need["id"]]
            need["offered"] = offered[need["id"]]
    return {"type": "snapshot", "incidents": rows}
