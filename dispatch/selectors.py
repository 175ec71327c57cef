"""Reads that span models: the deployment log, and the plain data matching works on."""

import math
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from dispatch import matching
from dispatch.availability import volunteer_position
from dispatch.location_index import location_index, nearest, vehicle_key, volunteer_key
from dispatch.models import ACTIVE_STATUSES, Assignment, AssignmentStatus, DeploymentEvent
from incidents.models import Need
from volunteers.models import Vehicle, VehicleKind, Volunteer

# An assignment in one of these counts towards filling its need.
FILLED_STATUSES = (*ACTIVE_STATUSES, AssignmentStatus.COMPLETED)
# Whoever was already asked for a need (and said no, or let it expire) is not asked again.
ASKED_STATUSES = (
    AssignmentStatus.OFFERED,
    *FILLED_STATUSES,
    AssignmentStatus.DECLINED,
    AssignmentStatus.EXPIRED,
)
# Staffing hours in this past window make a volunteer less likely to get the next shift.
FAIRNESS_WINDOW = timedelta(days=7)


def log_events(
    *,
    since: int | None = None,
    incident: int | None = None,
    kind: str | None = None,
    volunteer: int | None = None,
    vehicle: int | None = None,
    after=None,
    before=None,
) -> QuerySet[DeploymentEvent]:
    """Log events in sequence order; `since` is exclusive, as a client that has seen
    seq N asks for what came after it."""
    events = DeploymentEvent.objects.select_related("actor").order_by("seq")
    filters = {
        "seq__gt": since,
        "incident_id": incident,
        "volunteer_id": volunteer,
        "vehicle_id": vehicle,
        "occurred_at__gte": after,
        "occurred_at__lt": before,
    }
    events = events.filter(**{name: value for name, value in filters.items() if value is not None})
    if kind:
        # "offer" matches every offer.* kind; "offer.accepted" only that one.
        events = (
            events.filter(kind=kind) if "." in kind else events.filter(kind__startswith=f"{kind}.")
        )
    return events


# --- needs ----------------------------------------------------------------------------


def need_open_places(need: Need, filled: list[Assignment]) -> int:
    """How much of the need is still open: people or vehicles for a count, people to
    move for a capability (each filled vehicle takes its capacity off)."""
    if need.kind == Need.Kind.CAPABILITY:
        moved = sum(assignment.vehicle.capacity for assignment in filled if assignment.vehicle)
        return max(need.people_to_move - moved, 0)
    return max(need.count - len(filled), 0)


def offers_wanted(*, need: Need, urgent: bool, open_places: int, outstanding: int) -> int:
    """New offers to send now. Urgent needs ask a few more people than they need; a
    capability need asks vehicles one round at a time (matching sizes the round)."""
    if open_places <= 0:
        return 0
    if need.kind == Need.Kind.CAPABILITY:
        return 0 if outstanding else 1
    target = open_places
    if urgent:
        target += math.ceil(open_places * settings.URGENT_EXTRA_OFFERS_PERCENT / 100)
    return max(target - outstanding, 0)


def need_demand(need: Need, assignments: list[Assignment]) -> matching.NeedDemand | None:
    """The need as matching sees it, or None when it wants no new offers now."""
    incident = need.incident
    filled = [a for a in assignments if a.status in FILLED_STATUSES]
    outstanding = sum(1 for a in assignments if a.status == AssignmentStatus.OFFERED)
    open_places = need_open_places(need, filled)
    wanted = offers_wanted(
        need=need, urgent=incident.is_urgent, open_places=open_places, outstanding=outstanding
    )
    if wanted <= 0:
        return None
    return matching.NeedDemand(
        id=need.pk,
        latitude=incident.latitude,
        longitude=incident.longitude,
        priority=incident.priority,
        urgent=incident.is_urgent,
        offers=wanted,
        skill=need.skill.code if need.skill_id else None,
        vehicle_kind=need.vehicle_kind or None,
        people_to_move=open_places if need.kind == Need.Kind.CAPABILITY else None,
        water_depth_m=float(need.water_depth_m) if need.water_depth_m is not None else None,
        shift_start=need.shift_start,
        shift_end=need.shift_end,
    )


# --- candidates -----------------------------------------------------------------------


def _index_keys(demand: matching.NeedDemand) -> list[str]:
    if demand.skill:
        return [volunteer_key(demand.skill)]
    if demand.vehicle_kind:
        return [vehicle_key(demand.vehicle_kind)]
    return [vehicle_key(kind) for kind in VehicleKind.values]  # capability: any kind


def candidate_ids(demand: matching.NeedDemand) -> list[int]:
    """Nearest available resources for the need, from the location index."""
    want = max(demand.offers, 1) * settings.CANDIDATES_PER_OFFER
    hits = []
    for key in _index_keys(demand):
        hits += nearest(
            location_index(), key, latitude=demand.latitude, longitude=demand.longitude, want=want
        )
    hits.sort(key=lambda hit: hit.distance_km)
    return list(dict.fromkeys(hit.member for hit in hits))[:want]


def volunteer_resources(ids: list[int]) -> dict[int, matching.Resource]:
    """Plain matching data for these volunteers, in a few queries."""
    volunteers = {
        v.pk: v
        for v in Volunteer.objects.filter(pk__in=ids, on_duty=True).only(
            "id",
            "travel_mode",
            "travel_range_km",
            "home_latitude",
            "home_longitude",
            "last_latitude",
            "last_longitude",
        )
    }
    skills = defaultdict(set)
    for volunteer_id, code in Volunteer.skills.through.objects.filter(
        volunteer_id__in=volunteers
    ).values_list("volunteer_id", "skill__code"):
        skills[volunteer_id].add(code)
    shifts, recent_hours = _volunteer_shifts(list(volunteers))
    resources = {}
    for pk, volunteer in volunteers.items():
        position = volunteer_position(volunteer)
        if position is None:
            continue
        resources[pk] = matching.Resource(
            id=pk,
            is_vehicle=False,
            latitude=position[0],
            longitude=position[1],
            travel_mode=matching.TravelMode(volunteer.travel_mode),
            travel_range_km=volunteer.travel_range_km,
            skills=frozenset(skills[pk]),
            shifts=tuple(shifts[pk]),
            shift_hours_recent=recent_hours[pk],
        )
    return resources


def _volunteer_shifts(volunteer_ids: list[int]):
    """Each volunteer's shifts (booked or worked) and their staffing hours lately."""
    since = timezone.now() - FAIRNESS_WINDOW
    shifts, recent_hours = defaultdict(list), defaultdict(float)
    rows = Assignment.objects.filter(
        volunteer_id__in=volunteer_ids,
        status__in=FILLED_STATUSES,
        need__shift_start__isnull=False,
        need__shift_end__gte=since,
    ).values_list("volunteer_id", "need__shift_start", "need__shift_end")
    for volunteer_id, start, end in rows:
        shifts[volunteer_id].append((start, end))
        recent_hours[volunteer_id] += (end - start).total_seconds() / 3600
    return shifts, recent_hours


def vehicle_resources(ids: list[int]) -> dict[int, matching.Resource]:
    rows = Vehicle.objects.filter(
        pk__in=ids, status=Vehicle.Status.AVAILABLE, latitude__isnull=False
    ).values_list("id", "kind", "latitude", "longitude", "capacity", "max_water_depth_m")
    return {
        pk: matching.Resource(
            id=pk,
            is_vehicle=True,
            latitude=latitude,
            longitude=longitude,
            travel_mode=matching.TravelMode.BOAT
            if kind == VehicleKind.BOAT
            else matching.TravelMode.CAR,
            vehicle_kind=kind,
            capacity=capacity,
            max_water_depth_m=float(depth),
        )
        for pk, kind, latitude, longitude, capacity, depth in rows
    }


def candidates_for(demand: matching.NeedDemand, *, exclude: set[int]) -> list[matching.Resource]:
    """The shortlist for one need: nearest available resources not asked before."""
    ids = [pk for pk in candidate_ids(demand) if pk not in exclude]
    is_vehicle_need = demand.skill is None
    loaded = vehicle_resources(ids) if is_vehicle_need else volunteer_resources(ids)
    return [loaded[pk] for pk in ids if pk in loaded]
