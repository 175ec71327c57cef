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
from dispatch.models import AssignmentStatus, EventKind
from dispatch.reasons import NEED_REDUCED, need_cancelled_reason
from dispatch.services import (
    incident_assignments_close,
    incident_moved,
    need_assignments_close,
    need_locked,
    need_surplus_release,
)
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


def _closed(incident: Incident) -> IncidentClosed:
    message = (
        _("Incident #%(id)s is already cancelled.")
        if incident.status == Incident.Status.CANCELLED
        else _("Incident #%(id)s is already resolved.")
    )
    return IncidentClosed(message % {"id": incident.pk})


def _incident_close(*, incident: Incident, actor, status: str, note: str) -> Incident:
    now = timezone.now()
    # Conditional UPDATE: of two coordinators closing at once, exactly one changes the
    # row and logs the event; the other is told it was already closed.
    closed = Incident.objects.filter(pk=incident.pk, status=Incident.Status.OPEN).update(
        status=status, closed_at=now, close_note=note
    )
    if not closed:
        incident.refresh_from_db()
        raise _closed(incident)
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


# --- changing a live incident (issue 13) ------------------------------------------------
#
# Locks, in the order every writer takes them: the incident's row (FOR NO KEY UPDATE, so
# that closing it, an UPDATE, waits for the change and then sees it), then its needs' rows
# (dispatch.services.need_locked), and the deployment log's sequence last.


class NeedCancelled(Exception):
    """The need was already cancelled (perhaps a moment ago, by another coordinator)."""


# What a coordinator may change on a live incident. Its kind is what it is; a wrong kind
# is a new incident. The place is the coordinates with their address and precision.
CHANGEABLE_FIELDS = (
    "title",
    "description",
    "priority",
    "people_affected",
    "latitude",
    "longitude",
    "address",
    "location_precision",
)


def _incident_locked_open(incident_id: int) -> Incident:
    incident = Incident.objects.select_for_update(no_key=True).get(pk=incident_id)
    if not incident.is_open:
        raise _closed(incident)
    return incident


@transaction.atomic
def incident_change(*, incident: Incident, actor, **changes) -> Incident:
    """Change a live incident's priority, words or place; one log event says what
    changed (each field as [before, after]); nothing changed logs nothing. A new place
    withdraws the offers made for the old one and plans them again, and tells whoever is
    on the task where to go now. Raises ValidationError (nothing written) for a bad
    value, IncidentClosed when it is no longer open."""
    unknown = set(changes) - set(CHANGEABLE_FIELDS)
    if unknown:
        raise TypeError(f"not changeable: {', '.join(sorted(unknown))}")
    locked = _incident_locked_open(incident.pk)
    before = {name: getattr(locked, name) for name in changes}
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean(exclude=["township", "reporter"])
    changed = {
        name: [before[name], getattr(locked, name)]
        for name in changes
        if before[name] != getattr(locked, name)
    }
    if not changed:
        return locked
    moved = "latitude" in changed or "longitude" in changed
    if moved:
        locked.township = township_nearest(latitude=locked.latitude, longitude=locked.longitude)
    locked.save(update_fields=[*changed, *(["township"] if moved else [])])
    # Every need's lock before the log's (dispatch.events._next_seqs): the cause is
    # logged before the withdrawals it brings.
    needs = list(
        Need.objects.select_for_update(no_key=True)
        .filter(incident=locked, cancelled_at__isnull=True)
        .order_by("pk")
        if moved
        else []
    )
    event_record(kind=EventKind.INCIDENT_CHANGED, actor=actor, incident=locked, data=changed)
    if moved:
        replan = incident_moved(incident=locked, needs=needs, actor=actor)
        if replan:
            queue.needs_dispatch_batched_enqueue(need_ids=replan)
    return locked


def _need_data(need: Need) -> dict:
    return {
        "kind": need.kind,
        "count": need.count,
        "skill": need.skill.code if need.skill_id else None,
        "vehicle_kind": need.vehicle_kind,
        "people_to_move": need.people_to_move,
    }


@transaction.atomic
def need_add(*, incident: Incident, actor, spec: NeedSpec) -> Need:
    """Add a need to a live incident and offer it at once."""
    locked = _incident_locked_open(incident.pk)
    need = _need_build(incident=locked, spec=spec)
    need.save()
    event_record(
        kind=EventKind.NEED_ADDED, actor=actor, incident=locked, need=need, data=_need_data(need)
    )
    queue.needs_dispatch_batched_enqueue(need_ids=[need.pk])
    return need


def _need_locked_live(need_id: int) -> Need:
    """The need and its incident, locked in that order; refused unless both are live."""
    incident_id = Need.objects.values_list("incident_id", flat=True).get(pk=need_id)
    incident = _incident_locked_open(incident_id)
    need = need_locked(need_id)
    need.incident = incident
    if need.is_cancelled:
        raise NeedCancelled(_("This need is already cancelled."))
    return need


def _done_places(need: Need) -> int:
    return need.assignments.filter(status=AssignmentStatus.COMPLETED).count()


@transaction.atomic
def need_change(
    *,
    need_id: int,
    actor,
    count: int | None = None,
    people_to_move: int | None = None,
    note: str | None = None,
) -> Need:
    """Enlarge or reduce a need, or change its note. Enlarged, it is offered at once;
    reduced, the work and offers it no longer wants are stood down (the latest to accept
    first, dispatch.services.need_surplus_release). A people or vehicle need is sized by
    `count`, a capability need by `people_to_move`; it cannot go below the places
    already completed."""
    need = _need_locked_live(need_id)
    sized_by = "people_to_move" if need.kind == Need.Kind.CAPABILITY else "count"
    sizes = {"count": count, "people_to_move": people_to_move}
    wrong = next(
        (name for name, value in sizes.items() if name != sized_by and value is not None), None
    )
    if wrong:
        raise ValidationError({wrong: _("This need is sized by %(field)s.") % {"field": sized_by}})
    changes = {sized_by: sizes[sized_by]} if sizes[sized_by] is not None else {}
    if note is not None:
        changes["note"] = note
    before = {name: getattr(need, name) for name in changes}
    for name, value in changes.items():
        setattr(need, name, value)
    need.full_clean(exclude=["incident", "extra_skills"])
    changed = {
        name: [before[name], value] for name, value in changes.items() if before[name] != value
    }
    if not changed:
        return need
    if sized_by == "count" and need.count < (done := _done_places(need)):
        raise ValidationError(
            {
                "count": _("%(done)s already did their part: the need cannot be smaller.")
                % {"done": done}
            }
        )
    need.save(update_fields=list(changed))
    size = changed.get(sized_by)
    released = (
        need_surplus_release(need, actor=actor, reason=NEED_REDUCED)
        if size and size[1] < size[0]
        else []
    )
    event_record(
        kind=EventKind.NEED_CHANGED,
        actor=actor,
        incident=need.incident,
        need=need,
        data={**changed, "stood_down": len(released)},
    )
    if size and size[1] > size[0]:
        queue.needs_dispatch_batched_enqueue(need_ids=[need.pk])
    return need


@transaction.atomic
def need_cancel(*, need_id: int, actor, reason: str) -> Need:
    """Cancel one need of a live incident, with the coordinator's reason: its offers are
    withdrawn and everyone on it stood down, told why. Its incident's last live need is
    not cancelled this way: the incident is (incident_cancel)."""
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the need is cancelled.")})
    need = _need_locked_live(need_id)
    others = Need.objects.filter(incident_id=need.incident_id, cancelled_at__isnull=True)
    if not others.exclude(pk=need.pk).exists():
        raise ValidationError(
            {"need": _("This is the incident's last need: cancel the incident instead.")}
        )
    need.cancelled_at = timezone.now()
    need.save(update_fields=["cancelled_at"])
    need_assignments_close(need, actor=actor, reason=need_cancelled_reason(reason.strip()))
    event_record(
        kind=EventKind.NEED_CANCELLED,
        actor=actor,
        incident=need.incident,
        need=need,
        data={"reason": reason.strip()[:300]},
    )
    return need
