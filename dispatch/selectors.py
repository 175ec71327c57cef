"""Reads that span models: the deployment log, the plain data matching works on, and the
coordinators' board (counts, the map, candidates for a manual assignment)."""

import math
from collections import Counter, defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from geopy.distance import geodesic

from dispatch import matching
from dispatch.availability import (
    index_ensure_built,
    index_repair_if_empty,
    ready_crew,
    vehicle_busy_ids,
    vehicle_position,
    vehicles_manned,
    volunteer_busy_ids,
    volunteer_position_of,
)
from dispatch.labels import township_name
from dispatch.location_index import (
    DEFAULT_RINGS_KM,
    location_index,
    nearest,
    vehicle_key,
    volunteer_key,
)
from dispatch.models import (
    ACTIVE_STATUSES,
    FILLED_STATUSES,
    Assignment,
    AssignmentStatus,
    DeploymentEvent,
    Engagement,
)
from dispatch.reasons import STAND_DOWN_UNSAID
from incidents.models import Incident, Need
from volunteers.models import Team, Township, Vehicle, VehicleKind, VehicleStatus, Volunteer

# An assignment in one of these counts towards filling its need.
# Whoever was already asked for a need (and said no, or let it expire, or was taken
# off it by a coordinator) is not asked again.
ASKED_STATUSES = (
    AssignmentStatus.OFFERED,
    *FILLED_STATUSES,
    AssignmentStatus.DECLINED,
    AssignmentStatus.EXPIRED,
    AssignmentStatus.CANCELLED,
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
    capacity = sum(assignment.vehicle.capacity for assignment in filled if assignment.vehicle)
    return open_places(need, filled=len(filled), capacity_filled=capacity)


def open_places(need: Need, *, filled: int, capacity_filled: int) -> int:
    if need.kind == Need.Kind.CAPABILITY:
        return max(need.people_to_move - capacity_filled, 0)
    return max(need.count - filled, 0)


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


def needs_with_fill() -> QuerySet[Need]:
    """Needs, each with `filled` (assignments accepted, under way or done: the places
    taken) and `offered` (offers waiting for an answer), counted by the database."""
    return Need.objects.select_related("skill").annotate(
        filled=Count("assignments", filter=Q(assignments__status__in=FILLED_STATUSES)),
        offered=Count("assignments", filter=Q(assignments__status=AssignmentStatus.OFFERED)),
    )


def need_ids_wanting_offers() -> list[int]:
    """Needs of open incidents that want new offers now: the re-dispatch sweep's work.
    Read without locks, so a need may have filled a moment ago; needs_dispatch checks
    again under the need's lock. Filled needs, needs whose outstanding offers cover
    them and shifts that have ended are left out, so the sweep locks only what it may
    offer (it used to lock every open need, about 0.5 s every 30 s in a surge)."""
    filled = Q(assignments__status__in=FILLED_STATUSES)
    needs = (
        needs_with_fill()
        .filter(incident__status=Incident.Status.OPEN, cancelled_at__isnull=True)
        .exclude(shift_end__lte=timezone.now())
        .select_related("incident")
        .annotate(capacity_filled=Coalesce(Sum("assignments__vehicle__capacity", filter=filled), 0))
        .order_by("pk")
    )
    return [
        need.pk
        for need in needs
        if offers_wanted(
            need=need,
            urgent=need.incident.is_urgent,
            open_places=open_places(need, filled=need.filled, capacity_filled=need.capacity_filled),
            outstanding=need.offered,
        )
    ]


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
        reach_km=need.reach_km,
        extra_skills=need_extra_skill_codes(need),
        busy_until=urgent_busy_until() if incident.is_urgent else None,
    )


def urgent_busy_until():
    """When urgent work offered now is expected to be over (incidents carry no expected
    duration: URGENT_TASK_HOURS from now)."""
    return timezone.now() + timedelta(hours=settings.URGENT_TASK_HOURS)


def need_extra_skill_codes(need: Need) -> tuple[str, ...]:
    """The other skills a coordinator accepts for a people need, by code (from the
    prefetch when the caller made one: needs_dispatch does, for every need at once)."""
    if need.kind != Need.Kind.PEOPLE:
        return ()
    return tuple(sorted(skill.code for skill in need.extra_skills.all()))


# --- a volunteer's own assignments -------------------------------------------------------


def volunteers_own(volunteer: Volunteer) -> Q:
    """The assignments a volunteer sees and answers: their own, and those of the vehicles
    they crew. A filter; a listing adds .distinct(), as one vehicle has several crew."""
    return Q(volunteer=volunteer) | Q(vehicle__crew=volunteer)


# A stand-down is told on the phone for this long after it: a page opened later, or one
# that missed the event, still says why the card went.
STAND_DOWN_NOTICE_MINUTES = 30


def stand_downs_of(volunteer: Volunteer, *, most: int) -> QuerySet[Assignment]:
    """Their offers withdrawn and tasks cancelled in the last STAND_DOWN_NOTICE_MINUTES,
    newest first: offers only once the phone had them (one withdrawn before it arrived
    was never seen), not those they withdrew themselves by accepting another."""
    since = timezone.now() - timedelta(minutes=STAND_DOWN_NOTICE_MINUTES)
    return (
        Assignment.objects.filter(volunteers_own(volunteer))
        .filter(
            Q(
                status=AssignmentStatus.WITHDRAWN,
                answered_at__gte=since,
                delivered_at__isnull=False,
            )
            | Q(status=AssignmentStatus.CANCELLED, finished_at__gte=since)
        )
        .exclude(reason__in=STAND_DOWN_UNSAID)
        .select_related("need__incident", "need__skill", "vehicle")
        .distinct()
        .order_by("-id")[:most]
    )


# --- who answers an offer ----------------------------------------------------------------


def offer_recipients(assignment: Assignment) -> list[Volunteer]:
    """Whom an offer is sent to outside the page (SMS, Web Push): the volunteer offered,
    or the crew members of the vehicle offered who are on duty and free (a message to
    one who cannot go costs a text, a wake-up and a phone call back)."""
    if assignment.volunteer_id:
        return [assignment.volunteer]
    ready = ready_crew([assignment.vehicle_id]).get(assignment.vehicle_id, set())
    return list(assignment.vehicle.crew.filter(pk__in=ready).order_by("pk"))


# --- candidates -----------------------------------------------------------------------


def _index_keys(demand: matching.NeedDemand) -> list[str]:
    if demand.skill:
        return [volunteer_key(skill) for skill in (demand.skill, *demand.extra_skills)]
    if demand.vehicle_kind:
        return [vehicle_key(demand.vehicle_kind)]
    return [vehicle_key(kind) for kind in VehicleKind.values]  # capability: any kind


def _shortlist_sizes(demands: list[matching.NeedDemand]) -> dict[int, int]:
    """How many nearest resources to fetch for each need.

    At least CANDIDATES_PER_OFFER per offer; and at least as many as all the needs
    planned together ask of the same index key. Without the second rule, 60 truck
    needs around a few flood spots all see the same 10 nearest trucks, and the trucks
    further out stay idle while places go unfilled (bench/matching.py found this).
    """
    places_by_key = Counter()
    for demand in demands:
        for key in _index_keys(demand):
            places_by_key[key] += demand.offers
    return {
        demand.id: max(
            demand.offers * settings.CANDIDATES_PER_OFFER,
            max(places_by_key[key] for key in _index_keys(demand)),
        )
        for demand in demands
    }


def candidate_ids(demand: matching.NeedDemand, *, want: int) -> list[int]:
    """The `want` nearest available resources for the need, from the location index.
    Nobody found where the database says someone is available means the index lost
    them (dispatch.availability.index_repair_if_empty): it is rebuilt and searched
    again, rather than the need offered further out or to no one."""
    keys = _index_keys(demand)
    hits = _nearest_in(keys, demand, want=want)
    if not hits and index_repair_if_empty(keys):
        hits = _nearest_in(keys, demand, want=want)
    hits.sort(key=lambda hit: hit.distance_km)
    return list(dict.fromkeys(hit.member for hit in hits))[:want]


def _nearest_in(keys: list[str], demand: matching.NeedDemand, *, want: int) -> list:
    hits = []
    for key in keys:
        hits += nearest(
            location_index(),
            key,
            latitude=demand.latitude,
            longitude=demand.longitude,
            want=want,
            rings_km=_rings_km(demand),
        )
    return hits


def _rings_km(demand: matching.NeedDemand) -> tuple[float, ...]:
    """The index's search rings, and one more when a coordinator widened the need
    beyond the last of them."""
    if demand.reach_km is None or demand.reach_km <= DEFAULT_RINGS_KM[-1]:
        return DEFAULT_RINGS_KM
    return (*DEFAULT_RINGS_KM, demand.reach_km)


VOLUNTEER_COLUMNS = (
    "id",
    "travel_mode",
    "travel_range_km",
    "last_latitude",
    "last_longitude",
    "home_latitude",
    "home_longitude",
    "skills__code",
)
VOLUNTEER_ROWS_SQL = """
    SELECT v.id, v.travel_mode, v.travel_range_km, v.last_latitude, v.last_longitude,
           v.home_latitude, v.home_longitude, s.code
    FROM volunteers_volunteer v
    LEFT JOIN volunteers_volunteer_skills vs ON vs.volunteer_id = v.id
    LEFT JOIN volunteers_skill s ON s.id = vs.skill_id
    WHERE v.id = ANY(%s) AND v.on_duty
      AND NOT EXISTS (SELECT 1 FROM dispatch_engagement e WHERE e.volunteer_id = v.id)
      AND NOT EXISTS (
          SELECT 1 FROM dispatch_assignment a WHERE a.volunteer_id = v.id AND a.status = ANY(%s)
      )
"""


def _volunteer_rows(ids: list[int]) -> list[tuple]:
    """On-duty volunteers among `ids` who are not busy, one row per skill, columns
    VOLUNTEER_COLUMNS. The location index should hold no busy volunteer, but it follows
    the database after commit and may lag: an offer to someone busy would hold a place
    that they cannot take until it expires."""
    if connection.vendor == "postgresql":
        # The hot path of every dispatch. One array parameter (= ANY) instead of the
        # ORM's one parameter per id, and no query building: 3.0 -> 1.4 ms for 60
        # volunteers (bench/matching.py). The ORM query below answers the same.
        with connection.cursor() as cursor:
            cursor.execute(VOLUNTEER_ROWS_SQL, [list(ids), list(ACTIVE_STATUSES)])
            return cursor.fetchall()
    free = Volunteer.objects.filter(pk__in=ids, on_duty=True).exclude(
        pk__in=list(volunteer_busy_ids())
    )
    return list(free.values_list(*VOLUNTEER_COLUMNS))


def volunteer_resources(ids: list[int], *, with_shifts: bool) -> dict[int, matching.Resource]:
    """Plain matching data for these volunteers: one query (two with their shifts,
    which only staffing needs look at)."""
    volunteers, skills = {}, defaultdict(set)
    for pk, mode, travel_range, *position, skill in _volunteer_rows(ids):
        volunteers[pk] = (mode, travel_range, volunteer_position_of(*position))
        if skill:
            skills[pk].add(skill)
    shifts, recent_hours, reserved = (
        _volunteer_shifts(list(volunteers)) if with_shifts else ({}, {}, {})
    )
    return {
        pk: matching.Resource(
            id=pk,
            is_vehicle=False,
            latitude=position[0],
            longitude=position[1],
            travel_mode=matching.TravelMode(mode),
            travel_range_km=travel_range,
            skills=frozenset(skills[pk]),
            shifts=tuple(shifts.get(pk, ())),
            shift_hours_recent=recent_hours.get(pk, 0.0),
            reserved_starts=tuple(reserved.get(pk, ())),
        )
        for pk, (mode, travel_range, position) in volunteers.items()
        if position is not None
    }


def _volunteer_shifts(volunteer_ids: list[int]):
    """Each volunteer's shifts (booked or worked), their staffing hours lately, and the
    starts of the shifts they reserved ahead (which urgent work must not run into)."""
    since = timezone.now() - FAIRNESS_WINDOW
    shifts, recent_hours, reserved = defaultdict(list), defaultdict(float), defaultdict(list)
    rows = Assignment.objects.filter(
        volunteer_id__in=volunteer_ids,
        status__in=FILLED_STATUSES,
        need__shift_start__isnull=False,
        need__shift_end__gte=since,
    ).values_list("volunteer_id", "status", "need__shift_start", "need__shift_end")
    for volunteer_id, status, start, end in rows:
        shifts[volunteer_id].append((start, end))
        recent_hours[volunteer_id] += (end - start).total_seconds() / 3600
        if status == AssignmentStatus.RESERVED:
            reserved[volunteer_id].append(start)
    return shifts, recent_hours, reserved


def vehicle_resources(ids: list[int]) -> dict[int, matching.Resource]:
    """The shortlisted vehicles that can go now (the index may lag a moment behind a
    status change or a crew member going off duty)."""
    rows = Vehicle.objects.filter(
        pk__in=vehicles_manned(ids), status=Vehicle.Status.AVAILABLE, latitude__isnull=False
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


def _search_place(demand: matching.NeedDemand) -> tuple:
    return (tuple(_index_keys(demand)), demand.latitude, demand.longitude, _rings_km(demand))


def candidates_for_many(
    demands: list[matching.NeedDemand], *, exclude: dict[int, set[int]]
) -> dict[int, list[matching.Resource]]:
    """Each need's shortlist: the nearest available resources not asked before, from
    the location index, loaded from the database in one go for all the needs."""
    # Never search an index Redis lost on a restart: rebuild it first (one GET when
    # it is whole).
    index_ensure_built()
    shortlist_sizes = _shortlist_sizes(demands)
    sizes = {d.id: shortlist_sizes[d.id] + len(exclude.get(d.id, ())) for d in demands}
    # Needs at one place asking one index key (a testing site's shifts, the trucks for
    # one flood spot) share one search, as long as the longest of them wants.
    wants, searched_for = {}, {}
    for demand in demands:
        place = _search_place(demand)
        wants[place] = max(wants.get(place, 0), sizes[demand.id])
        searched_for[place] = demand
    found = {place: candidate_ids(searched_for[place], want=want) for place, want in wants.items()}
    ids_by_need = {}
    for demand in demands:
        asked = exclude.get(demand.id, set())
        nearest_ids = found[_search_place(demand)][: sizes[demand.id]]
        ids_by_need[demand.id] = [pk for pk in nearest_ids if pk not in asked]
    people = [d for d in demands if d.skill]
    volunteers = volunteer_resources(
        sorted({pk for d in people for pk in ids_by_need[d.id]}),
        # Staffing needs weigh their shifts; urgent ones avoid their reserved shifts.
        with_shifts=any(d.shift_start or d.busy_until for d in people),
    )
    vehicles = vehicle_resources(
        sorted({pk for d in demands if not d.skill for pk in ids_by_need[d.id]})
    )
    shortlists = {}
    for demand in demands:
        loaded = volunteers if demand.skill else vehicles
        shortlists[demand.id] = [loaded[pk] for pk in ids_by_need[demand.id] if pk in loaded]
    return shortlists


def need_pool(need: Need) -> tuple[set[int], set[int]]:
    """Who could ever take this need, wherever they are: (ready, busy). For a people
    need, the volunteers on duty with its skill or one of the other skills accepted;
    for a vehicle need, the vehicles of its kind (any that carry people through its
    water, for a capability need) in service with someone of their crew on duty. Busy:
    those of them on active work. Read only when a need is raised as unmet, to say why
    (dispatch.escalation)."""
    if need.kind == Need.Kind.PEOPLE:
        codes = [need.skill.code, *need_extra_skill_codes(need)]
        ready = set(
            Volunteer.objects.filter(on_duty=True, skills__code__in=codes).values_list(
                "id", flat=True
            )
        )
        return ready, volunteer_busy_ids(among=ready)
    vehicles = Vehicle.objects.exclude(status=VehicleStatus.OUT_OF_SERVICE)
    if need.kind == Need.Kind.VEHICLE:
        vehicles = vehicles.filter(kind=need.vehicle_kind)
    else:
        vehicles = vehicles.filter(capacity__gt=0)
    if need.water_depth_m is not None:
        vehicles = vehicles.filter(max_water_depth_m__gte=need.water_depth_m)
    statuses = dict(vehicles.values_list("id", "status"))
    # A vehicle on a task has its crew busy with it: count it as busy, not as unmanned.
    busy = {pk for pk, status in statuses.items() if status == VehicleStatus.ASSIGNED}
    busy |= vehicle_busy_ids() & set(statuses)
    ready = (vehicles_manned(statuses) | busy) & set(statuses)
    return ready, busy


# --- the coordinators' board: counts, the map, and whom to assign by hand ---------------
# Busy, available and where someone is are the engine's rules (dispatch.availability),
# so the board never shows as free someone the engine would not offer, or the reverse.


def resources_board() -> dict:
    """Volunteers on duty (and busy) in all, per township and per team; vehicles by
    status and kind. Townships are named in the active language."""
    busy = Q(id__in=list(volunteer_busy_ids()))
    counts = {
        "total": Count("id"),
        "on_duty": Count("id", filter=Q(on_duty=True)),
        "busy": Count("id", filter=busy),
    }
    totals = Volunteer.objects.aggregate(**counts)
    per_township = {
        row["township"]: row for row in Volunteer.objects.values("township").annotate(**counts)
    }
    townships = []
    for township in Township.objects.all():
        row = per_township.get(township.pk, {})
        townships.append(
            {
                "id": township.pk,
                "name": township_name(township),
                **{name: row.get(name, 0) for name in counts},
            }
        )
    # Where the people are first; the quiet townships after, by name.
    townships.sort(key=lambda row: (-row["on_duty"], -row["total"], row["name"]))
    teams = [
        {
            "id": team.pk,
            "name": team.name,
            "kind": team.kind,
            "total": team.total,
            "on_duty": team.n,
        }
        for team in Team.objects.annotate(
            total=Count("members", distinct=True),
            n=Count("members", filter=Q(members__on_duty=True), distinct=True),
        ).order_by("-n", "name")
    ]
    return {"volunteers": totals, "townships": townships, "teams": teams, **_vehicle_counts()}


def _vehicle_counts() -> dict:
    statuses = [str(status) for status in VehicleStatus]
    by_kind = {str(kind): dict.fromkeys(statuses, 0) for kind in VehicleKind}
    for row in Vehicle.objects.values("kind", "status").annotate(n=Count("id")):
        by_kind.setdefault(row["kind"], dict.fromkeys(statuses, 0))[row["status"]] = row["n"]
    by_status = {status: sum(kinds[status] for kinds in by_kind.values()) for status in statuses}
    return {
        "vehicles": {
            "total": sum(by_status.values()),
            "by_status": by_status,
            "by_kind": [
                {"kind": kind, **counts, "total": sum(counts.values())}
                for kind, counts in by_kind.items()
                if sum(counts.values())
            ],
        }
    }


POSITION_COLUMNS = ("last_latitude", "last_longitude", "home_latitude", "home_longitude")


def map_markers(*, most_volunteers: int) -> dict:
    """The on-duty volunteers as [id, latitude, longitude, busy] rows (at most
    `most_volunteers` of them, all counted) and the vehicles with a known position."""
    busy = volunteer_busy_ids()
    rows = Volunteer.objects.filter(on_duty=True).values_list("id", *POSITION_COLUMNS)
    volunteers, on_duty = [], 0
    for volunteer_id, *columns in rows.iterator(chunk_size=2000):
        on_duty += 1
        position = volunteer_position_of(*columns)
        if position is None or len(volunteers) >= most_volunteers:
            continue
        volunteers.append([volunteer_id, *position, 1 if volunteer_id in busy else 0])
    vehicles = [
        {
            "id": vehicle.pk,
            "call_sign": vehicle.call_sign,
            "kind": vehicle.kind,
            "status": vehicle.status,
            "latitude": vehicle.latitude,
            "longitude": vehicle.longitude,
            "located_at": vehicle.located_at.isoformat() if vehicle.located_at else None,
        }
        for vehicle in Vehicle.objects.all()
        if vehicle_position(vehicle) is not None
    ]
    return {"volunteers": volunteers, "on_duty": on_duty, "vehicles": vehicles}


def _km_from(here: tuple[float, float], position: tuple[float, float] | None) -> float | None:
    return None if position is None else round(geodesic(here, position).km, 1)


# Why a coordinator cannot choose a candidate by hand (need_manual_candidates'
# "unavailable"; None when they can), in the order they are listed after the choosable.
UNAVAILABLE_BUSY = "busy"  # on active work of another need
UNAVAILABLE_NO_CREW = "no_crew"  # a vehicle none of whose crew is on duty and free
UNAVAILABLE_OUT_OF_SERVICE = "out_of_service"
UNAVAILABLE_ON_THIS_NEED = "on_this_need"  # holds (or held) a place of this very need
UNAVAILABLE_ORDER = (
    None,
    UNAVAILABLE_BUSY,
    UNAVAILABLE_NO_CREW,
    UNAVAILABLE_OUT_OF_SERVICE,
    UNAVAILABLE_ON_THIS_NEED,
)


def need_manual_candidates(*, need: Need, most: int) -> list[dict]:
    """Whom a coordinator may assign to a need by hand: volunteers with the skill for a
    people need, vehicles of the kind (or deep enough, for a capability need) otherwise.

    Each says in `unavailable` why it cannot be chosen (UNAVAILABLE_ORDER), or None:
    the choosable come first, on duty before off duty, nearest first; then the others,
    by reason. `busy` (on active work, anywhere) is kept for older pages; `busy_on`
    names the incident of the other work, `place_status` the state of the place held
    on this need. At most `most` candidates, and those on this need besides (a few:
    at most the need's places), so the coordinator sees why they are not offered."""
    here = (need.incident.latitude, need.incident.longitude)
    if need.kind == Need.Kind.PEOPLE:
        found = _volunteer_candidates(need, here)
    else:
        found = _vehicle_candidates(need, here)

    def order(candidate):
        distance = candidate["distance_km"]
        return (
            UNAVAILABLE_ORDER.index(candidate["unavailable"]),
            not candidate["on_duty"],
            distance is None,
            distance or 0,
        )

    found.sort(key=order)
    on_this_need = [c for c in found if c["unavailable"] == UNAVAILABLE_ON_THIS_NEED]
    others = [c for c in found if c["unavailable"] != UNAVAILABLE_ON_THIS_NEED]
    listed = others[:most] + on_this_need
    _say_where_busy(listed, by="volunteer" if need.kind == Need.Kind.PEOPLE else "vehicle")
    return listed


def _say_where_busy(candidates: list[dict], *, by: str) -> None:
    """Fill in `busy_on` of the busy ones: the incident of their active work,
    {"incident": id, "title": title}. A volunteer's own assignment, or the vehicle's
    they went with (dispatch.models.Engagement); a vehicle's assignment."""
    ids = [c[by] for c in candidates if c["unavailable"] == UNAVAILABLE_BUSY]
    if not ids:
        return
    incident = ("need__incident_id", "need__incident__title")
    active = Assignment.objects.filter(status__in=ACTIVE_STATUSES, **{f"{by}_id__in": ids})
    rows = list(active.values_list(f"{by}_id", *incident))
    if by == "volunteer":
        rows += Engagement.objects.filter(volunteer_id__in=ids).values_list(
            "volunteer_id", *(f"assignment__{name}" for name in incident)
        )
    where = {pk: {"incident": incident_id, "title": title} for pk, incident_id, title in rows}
    for candidate in candidates:
        if candidate["unavailable"] == UNAVAILABLE_BUSY:
            candidate["busy_on"] = where.get(candidate[by])


def _volunteer_candidates(need: Need, here) -> list[dict]:
    # One person fills one place of a need, even after finishing it.
    placed = dict(
        Assignment.objects.filter(
            need=need, status__in=FILLED_STATUSES, volunteer__isnull=False
        ).values_list("volunteer_id", "status")
    )
    rows = list(
        Volunteer.objects.filter(skills=need.skill).values_list(
            "id", "name", "phone", "on_duty", *POSITION_COLUMNS
        )
    )
    busy = volunteer_busy_ids()

    def unavailable(volunteer_id):
        if volunteer_id in placed:
            return UNAVAILABLE_ON_THIS_NEED
        return UNAVAILABLE_BUSY if volunteer_id in busy else None

    return [
        {
            "volunteer": volunteer_id,
            "name": name,
            "phone": phone,
            "on_duty": on_duty,
            "busy": volunteer_id in busy,
            "unavailable": unavailable(volunteer_id),
            "busy_on": None,  # filled in for those listed (_say_where_busy)
            "place_status": placed.get(volunteer_id),
            "distance_km": _km_from(here, volunteer_position_of(*columns)),
        }
        for volunteer_id, name, phone, on_duty, *columns in rows
    ]


def _vehicle_candidates(need: Need, here) -> list[dict]:
    holding = dict(
        Assignment.objects.filter(
            need=need, status__in=ACTIVE_STATUSES, vehicle__isnull=False
        ).values_list("vehicle_id", "status")
    )
    vehicles = Vehicle.objects.all()
    if need.kind == Need.Kind.VEHICLE:
        vehicles = vehicles.filter(kind=need.vehicle_kind)
    else:
        vehicles = vehicles.filter(max_water_depth_m__gte=need.water_depth_m)
    vehicles = list(vehicles)
    busy = vehicle_busy_ids()
    manned = vehicles_manned([vehicle.pk for vehicle in vehicles])

    def unavailable(vehicle):
        if vehicle.pk in holding:
            return UNAVAILABLE_ON_THIS_NEED
        # On a task by its assignments (the engine's rule) or by its status column
        # (which the accept's conditional UPDATE reads): either way it cannot go.
        if vehicle.pk in busy or vehicle.status == VehicleStatus.ASSIGNED:
            return UNAVAILABLE_BUSY
        if vehicle.status == VehicleStatus.OUT_OF_SERVICE:
            return UNAVAILABLE_OUT_OF_SERVICE
        return None if vehicle.pk in manned else UNAVAILABLE_NO_CREW

    return [
        {
            "vehicle": vehicle.pk,
            "name": vehicle.call_sign,
            "kind": vehicle.kind,
            "capacity": vehicle.capacity,
            # Ready to go: in service, and someone of its crew on duty and free.
            "on_duty": vehicle.status == VehicleStatus.AVAILABLE and vehicle.pk in manned,
            "busy": vehicle.pk in busy,
            "unavailable": unavailable(vehicle),
            "busy_on": None,  # filled in for those listed (_say_where_busy)
            "place_status": holding.get(vehicle.pk),
            "distance_km": _km_from(here, vehicle_position(vehicle)),
        }
        for vehicle in vehicles
    ]


def vehicles_crewed_by(*, volunteer_id: int) -> QuerySet[Vehicle]:
    """The vehicles this volunteer is crew of, by call sign (the phone's "my vehicles")."""
    return Vehicle.objects.filter(crew=volunteer_id).order_by("call_sign")
