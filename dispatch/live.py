"""What live clients are sent: snapshots and replays (docs/websockets.md). Plain
synchronous functions; the consumers call them through database_sync_to_async."""

from django.conf import settings
from django.db.models import Q

from dispatch.api import AssignmentSerializer, assignments_for_display
from dispatch.events import event_frame
from dispatch.models import OPEN_STATUSES, DeploymentEvent, EventSequence
from incidents.api import IncidentSerializer
from incidents.models import Incident
from incidents.selectors import incidents_with_needs
from volunteers.api import VolunteerSerializer
from volunteers.models import Vehicle, Volunteer


def last_seq() -> int:
    return EventSequence.objects.values_list("last_seq", flat=True).get(pk=1)


def _volunteer_events(volunteer_id: int) -> Q:
    """The log events a volunteer's phone may see: their own, and their vehicle's.
    The vehicles are read first, so the events are found by the (volunteer, seq) and
    (vehicle, seq) indexes, not by scanning the log's seq range (a join did that)."""
    vehicle_ids = list(
        Vehicle.crew.through.objects.filter(volunteer_id=volunteer_id).values_list(
            "vehicle_id", flat=True
        )
    )
    own = Q(volunteer_id=volunteer_id)
    return own | Q(vehicle_id__in=vehicle_ids) if vehicle_ids else own


def replay(*, since: int, volunteer_id: int | None = None) -> tuple[list[dict], int] | None:
    """Every event after `since` this client may see, as frames, oldest first, and the
    log position the client then stands at; None when `since` is too far behind (or
    ahead of the log) to replay: take a snapshot."""
    newest = last_seq()
    if since > newest or newest - since > settings.WS_REPLAY_LIMIT:
        return None
    frames = frames_between(after=since, volunteer_id=volunteer_id)
    # Events commit in seq order, so the frames are the log up to at least `newest`
    # (more, if some committed while they were read).
    return frames, max([newest, *(frame["seq"] for frame in frames)])


def frames_between(
    *, after: int, before: int | None = None, volunteer_id: int | None = None
) -> list[dict]:
    """The frames of the events after `after` (and before `before`) this client may
    see, oldest first."""
    events = DeploymentEvent.objects.filter(seq__gt=after).order_by("seq")
    if before is not None:
        events = events.filter(seq__lt=before)
    if volunteer_id is not None:
        events = events.filter(_volunteer_events(volunteer_id))
    return [event_frame(event) for event in events]


def volunteer_snapshot(volunteer_id: int) -> dict:
    """The volunteer and their open offers and assignments (their vehicle's too),
    newest first, as GET /api/me/volunteer/ and /api/me/assignments/ give them."""
    volunteer = Volunteer.objects.prefetch_related("skills").get(pk=volunteer_id)
    assignments = (
        assignments_for_display()
        .filter(status__in=OPEN_STATUSES)
        .filter(Q(volunteer_id=volunteer_id) | Q(vehicle__crew__id=volunteer_id))
        .distinct()
        .order_by("-offered_at")
    )
    return {
        "type": "snapshot",
        "volunteer": VolunteerSerializer(volunteer).data,
        "assignments": AssignmentSerializer(assignments, many=True).data,
    }


def dashboard_snapshot() -> dict:
    """The open incidents, with how far each need has filled, as GET /api/incidents/
    gives them."""
    incidents = incidents_with_needs().filter(status=Incident.Status.OPEN)
    return {"type": "snapshot", "incidents": IncidentSerializer(incidents, many=True).data}
