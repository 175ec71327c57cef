"""Writes to incidents and their needs. Every change logs a DeploymentEvent in the
same transaction (DESIGN.md §4)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dispatch import queue
from dispatch.events import event_record
from dispatch.models import EventKind
from dispatch.services import incident_assignments_close
from incidents.models import Incident, LocationPrecision, Need
from volunteers.models import Skill, Township
from volunteers.selectors import township_nearest


@dataclass(frozen=True)
class NeedSpec:
    """One need as a coordinator states it (see incidents.models.Need for the shapes)."""

    kind: str
    count: int = 1
    skill: Skill | None = None
    vehicle_kind: str = ""
    people_to_move: int | None = None
    water_depth_m: Decimal | None = None
    shift_start: datetime | None = None
    shift_end: datetime | None = None
    note: str = ""


def _need_build(*, incident: Incident, spec: NeedSpec) -> Need:
    need = Need(
        incident=incident,
        kind=spec.kind,
        count=spec.count,
        skill=spec.skill,
        vehicle_kind=spec.vehicle_kind,
        people_to_move=spec.people_to_move,
        water_depth_m=spec.water_depth_m,
        shift_start=spec.shift_start,
        shift_end=spec.shift_end,
        note=spec.note,
    )
    need.full_clean(exclude=["incident"])
    return need


def _needs_build(*, incident: Incident, specs: list[NeedSpec]) -> list[Need]:
    built = []
    for number, spec in enumerate(specs, start=1):
        try:
            built.append(_need_build(incident=incident, spec=spec))
        except ValidationError as error:
            # Say which need is wrong: an incident often carries several.
            raise ValidationError(
                {
                    "needs": [
                        _("Need %(number)s: %(message)s") % {"number": number, "message": message}
                        for message in error.messages
                    ]
                }
            ) from None
    return built


@transaction.atomic
def incident_open(
    *,
    reporter,
    kind: str,
    title: str,
    latitude: float,
    longitude: float,
    needs: list[NeedSpec],
    address: str = "",
    description: str = "",
    priority: int = Incident.Priority.NORMAL,
    people_affected: int = 0,
    township: Township | None = None,
    location_precision: str = LocationPrecision.POINT,
) -> Incident:
    """Open an incident with its needs. Raises ValidationError and writes nothing when
    any part is invalid. `location_precision` says how precisely the coordinates stand
    for the place (incidents.models.LocationPrecision): callers that geocoded an address
    say so; "point" is coordinates as given."""
    if not needs:
        raise ValidationError({"needs": _("An incident needs at least one need.")})
    incident = Incident(
        kind=kind,
        title=title,
        description=description,
        latitude=latitude,
        longitude=longitude,
        address=address,
        location_precision=location_precision,
        priority=priority,
        people_affected=people_affected,
        reporter=reporter,
    )
    incident.full_clean(exclude=["township"])
    incident.township = township or township_nearest(latitude=latitude, longitude=longitude)
    incident.save()
    built = _needs_build(incident=incident, specs=needs)
    Need.objects.bulk_create(built)
    event_record(
        kind=EventKind.INCIDENT_OPENED,
        actor=reporter,
        incident=incident,
        data={
            "kind": incident.kind,
            "title": incident.title,
            "priority": incident.priority,
            "latitude": incident.latitude,
            "longitude": incident.longitude,
            "township": incident.township_id,
            "needs": [need.pk for need in built],
            "location_precision": incident.location_precision,
        },
    )
    queue.incident_dispatch_enqueue(incident_id=incident.pk)
    return incident


class IncidentClosed(Exception):
    """The incident was already resolved or cancelled (perhaps a moment ago, by
    another coordinator)."""


def _incident_close(*, incident: Incident, actor, status: str, note: str) -> Incident:
    now = timezone.now()
    # Conditional UPDATE: of two coordinators closing at once, exactly one changes the
    # row and logs the event; the other is told it was already closed.
    closed = Incident.objects.filter(pk=incident.pk, status=Incident.Status.OPEN).update(
        status=status, closed_at=now, close_note=note
    )
    if not closed:
        incident.refresh_from_db()
        message = (
            _("Incident #%(id)s is already cancelled.")
            if incident.status == Incident.Status.CANCELLED
            else _("Incident #%(id)s is already resolved.")
        )
        raise IncidentClosed(message % {"id": incident.pk})
    incident.status, incident.closed_at, incident.close_note = status, now, note
    incident_assignments_close(incident=incident, actor=actor, reason=f"incident {status}")
    event_record(
        kind=EventKind.INCIDENT_RESOLVED
        if status == Incident.Status.RESOLVED
        else EventKind.INCIDENT_CANCELLED,
        actor=actor,
        incident=incident,
        data={"note": note},
    )
    return incident


@transaction.atomic
def incident_resolve(*, incident: Incident, actor, note: str = "") -> Incident:
    return _incident_close(
        incident=incident, actor=actor, status=Incident.Status.RESOLVED, note=note
    )


@transaction.atomic
def incident_cancel(*, incident: Incident, actor, note: str = "") -> Incident:
    return _incident_close(
        incident=incident, actor=actor, status=Incident.Status.CANCELLED, note=note
    )
