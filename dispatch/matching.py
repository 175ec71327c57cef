"""Matching: which volunteers and vehicles go to which needs (DESIGN.md §5).

Pure functions over plain data (DESIGN.md §4 rule 5): no ORM, no I/O, no settings, so
this module imports without Django and every decision here is a unit test away. The
dispatch services turn needs and the location index's candidates into the dataclasses
below, call one of the planners and write the offers.

- `rank` is the single-need path: every eligible candidate, cheapest first.
- `plan_greedy` is the baseline: needs in priority order, each takes its cheapest free
  candidates. Fast, but the first need can take the only person a later need could use.
- `plan_optimal` plans a surge as one minimum-cost assignment over the sparse graph of
  need slots × candidates, so nobody is "stolen" and total weighted travel is minimal.
- `plan_cost` is the objective both are measured by: the picks' costs plus a large
  penalty for every place left unfilled.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
from geopy.distance import geodesic
from scipy.sparse import csr_array
from scipy.sparse.csgraph import min_weight_full_bipartite_matching


class TravelMode(StrEnum):
    # Same values as volunteers.models.TravelMode; plain strings work as well.
    FOOT = "foot"
    CAR = "car"
    BOAT = "boat"


# Speeds over the straight-line (geodesic) distance, so they already allow for detours.
# A car in a flooded or congested city averages about 30 km/h; an assault boat among
# streets and debris about 12 km/h; a person on foot about 4.5 km/h.
SPEED_M_PER_S = {
    TravelMode.FOOT: 4.5 / 3.6,
    TravelMode.CAR: 30 / 3.6,
    TravelMode.BOAT: 12 / 3.6,
}
# Time to get going before the first metre: out of the door; to the car and started;
# a boat launched. It keeps a resource standing next to a need from looking free.
STARTUP_SECONDS = {
    TravelMode.FOOT: 60,
    TravelMode.CAR: 120,
    TravelMode.BOAT: 300,
}

# Travel for a more urgent need counts more: a contested person goes to the critical
# need unless that costs the other need many times more travel. Doubling per level
# (1 low, 2 normal, 4 high, 8 critical) makes a critical need's minute worth eight of a
# low one's.
PRIORITY_WEIGHT = {1: 1.0, 2: 2.0, 3: 4.0, 4: 8.0}

# Shift staffing only: each hour a volunteer worked shifts recently counts as this many
# seconds of extra travel. After an 8-hour shift, a rested volunteer up to 8 minutes
# further away (≈ 600 m on foot, 4 km by car) goes first, so hours spread across people;
# one across the city still does not, so sites are not staffed from far away.
FAIRNESS_SECONDS_PER_HOUR = 60.0

# Default rest between two shifts of one volunteer.
REST_HOURS = 8.0

# The cost of leaving one place unfilled, in weighted seconds of travel (then times the
# priority weight). More than any trip an eligible candidate makes (500 km on foot is
# ≈ 400,000 s), so the planners fill every place they can before they save travel, and
# an unfilled critical place costs eight times an unfilled low one.
UNFILLED_SECONDS = 1_000_000.0


@dataclass(frozen=True, slots=True)
class NeedDemand:
    """One need, as much of it as is still open."""

    id: int
    latitude: float
    longitude: float
    priority: int  # 1 low .. 4 critical
    urgent: bool  # urgent response (rescue, evacuation, medical, search) vs shift staffing
    offers: int  # how many resources to pick now (people and vehicle needs)
    skill: str | None = None  # people need: a skill code
    vehicle_kind: str | None = None  # vehicle need: a kind ("boat", "truck", ...)
    people_to_move: int | None = None  # capability need: people still to move ...
    water_depth_m: float | None = None  # ... through this much water (vehicles only)
    shift_start: datetime | None = None  # staffing: the shift window (aware datetimes)
    shift_end: datetime | None = None
    # Widened (issue 13): volunteers this far away are within reach whatever their own
    # travel range (a longer range of their own still counts); None: their own range.
    reach_km: float | None = None
    extra_skills: tuple[str, ...] = ()  # people need: other skills also accepted
    # Urgent work: when it is expected to be over. A volunteer with a shift reserved
    # before then is not asked (issue 13: the shift holds that window).
    busy_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Resource:
    """A candidate volunteer or vehicle."""

    id: int
    is_vehicle: bool
    latitude: float
    longitude: float
    travel_mode: TravelMode  # vehicles: CAR, boats: BOAT
    travel_range_km: float | None = None  # volunteers' own limit; None = no limit
    skills: frozenset[str] = frozenset()
    vehicle_kind: str | None = None
    capacity: int = 0  # people a vehicle carries
    max_water_depth_m: float = 0.0
    shifts: tuple[tuple[datetime, datetime], ...] = ()  # shifts the volunteer already has
    shift_hours_recent: float = 0.0  # staffing hours in the recent past (fairness)
    reserved_starts: tuple[datetime, ...] = ()  # starts of the shifts they reserved ahead


@dataclass(frozen=True, slots=True)
class Pick:
    need_id: int
    resource_id: int
    is_vehicle: bool
    distance_m: int
    eta_seconds: int
    cost: float


# --- distance and time -----------------------------------------------------------------


def distance_m(need: NeedDemand, resource: Resource) -> float:
    """Geodesic distance on the WGS-84 ellipsoid (geopy), in metres."""
    return geodesic((need.latitude, need.longitude), (resource.latitude, resource.longitude)).m


def distances_m(need: NeedDemand, resources: Sequence[Resource]) -> np.ndarray:
    """`distance_m` from one need to many resources at once."""
    lat2 = np.fromiter((r.latitude for r in resources), float, len(resources))
    lon2 = np.fromiter((r.longitude for r in resources), float, len(resources))
    return _geodesic_many(np.float64(need.latitude), np.float64(need.longitude), lat2, lon2)


def _travel_seconds(distance: float, mode: TravelMode) -> float:
    return STARTUP_SECONDS[mode] + distance / SPEED_M_PER_S[mode]


def eta_seconds(distance_m: float, mode: TravelMode) -> int:
    """Seconds from the offer to arriving, for this straight-line distance and mode."""
    return round(_travel_seconds(distance_m, mode))


# --- eligibility ------------------------------------------------------------------------


def is_capability(need: NeedDemand) -> bool:
    return need.people_to_move is not None


def is_eligible(
    need: NeedDemand,
    resource: Resource,
    *,
    distance_m: float | None = None,
    rest_hours: float = REST_HOURS,
) -> bool:
    """Can this resource serve this need at all? (Available and on duty is the location
    index's job: it only holds those.)"""
    if not (_qualifies(need, resource) and _shift_fits(need, resource, rest_hours)):
        return False
    if not _ends_before_reserved(need, resource):
        return False
    if resource.travel_range_km is None:
        return True
    if distance_m is None:
        distance_m = _geodesic(need, resource)
    return distance_m <= reach_m(need, resource)


def reach_m(need: NeedDemand, resource: Resource) -> float:
    """How far this volunteer may be sent for this need: their own travel range, or the
    need's widened reach when that is further."""
    if need.reach_km is None or need.reach_km <= resource.travel_range_km:
        return resource.travel_range_km * 1000
    return need.reach_km * 1000


def _qualifies(need: NeedDemand, resource: Resource) -> bool:
    if is_capability(need):
        # Any vehicle that carries people and works in that depth, whatever its kind.
        return resource.is_vehicle and resource.capacity > 0 and _wades(need, resource)
    if need.vehicle_kind:
        return (
            resource.is_vehicle
            and resource.vehicle_kind == need.vehicle_kind
            and _wades(need, resource)
        )
    # A people need: volunteers only (a vehicle comes with its own crew, booked with it).
    if resource.is_vehicle:
        return False
    if not need.skill or need.skill in resource.skills:
        return True
    return bool(need.extra_skills) and not resource.skills.isdisjoint(need.extra_skills)


def _wades(need: NeedDemand, resource: Resource) -> bool:
    return need.water_depth_m is None or resource.max_water_depth_m >= need.water_depth_m


def _shift_fits(need: NeedDemand, resource: Resource, rest_hours: float) -> bool:
    """No overlap with the volunteer's other shifts, and rest between them."""
    if need.shift_start is None or need.shift_end is None:
        return True
    rest = timedelta(hours=rest_hours)
    return all(
        end + rest <= need.shift_start or need.shift_end + rest <= start
        for start, end in resource.shifts
    )


def _ends_before_reserved(need: NeedDemand, resource: Resource) -> bool:
    """Urgent work is over before any shift the volunteer reserved begins."""
    if need.busy_until is None:
        return True
    return all(need.busy_until <= start for start in resource.reserved_starts)


# --- cost -------------------------------------------------------------------------------


def priority_weight(priority: int) -> float:
    return PRIORITY_WEIGHT[min(max(priority, 1), 4)]


def cost(need: NeedDemand, resource: Resource, *, distance_m: float) -> float:
    """Weighted seconds: the travel time, plus the fairness term for shift staffing,
    times the need's priority weight. Lower is better."""
    return _cost(need, resource, _travel_seconds(distance_m, resource.travel_mode))


def _cost(need: NeedDemand, resource: Resource, travel_seconds: float) -> float:
    if not need.urgent:
        travel_seconds += FAIRNESS_SECONDS_PER_HOUR * resource.shift_hours_recent
    return priority_weight(need.priority) * travel_seconds


def unfilled_cost(need: NeedDemand) -> float:
    """What one place of this need left without anyone costs (see UNFILLED_SECONDS)."""
    return priority_weight(need.priority) * UNFILLED_SECONDS


# --- one need ---------------------------------------------------------------------------


def rank(
    need: NeedDemand, resources: Iterable[Resource], *, rest_hours: float = REST_HOURS
) -> list[Pick]:
    """Every eligible resource as a pick for this need, cheapest first."""
    unique = _unique(resources)
    return _rank(need, unique, distances_m(need, unique).tolist(), rest_hours)


def capability_offers(
    need: NeedDemand, ranked_vehicle_picks: Iterable[Pick], resources_by_id: Mapping[int, Resource]
) -> list[Pick]:
    """The first vehicles of the ranking (nearest first) until their capacity covers the
    people to move; at least one. `resources_by_id` maps vehicle ids to vehicles."""
    want = need.people_to_move or 0
    chosen: list[Pick] = []
    carried = 0
    for pick in ranked_vehicle_picks:
        if chosen and carried >= want:
            break
        if pick.is_vehicle:
            chosen.append(pick)
            carried += resources_by_id[pick.resource_id].capacity
    return chosen


def _rank(
    need: NeedDemand, resources: Sequence[Resource], distances: Sequence[float], rest_hours: float
) -> list[Pick]:
    picks = [
        _pick(need, resource, distance)
        for resource, distance in zip(resources, distances, strict=True)
        if is_eligible(need, resource, distance_m=distance, rest_hours=rest_hours)
    ]
    # Ties broken by distance, then identity, so the order never depends on the input's.
    picks.sort(key=lambda p: (p.cost, p.distance_m, p.is_vehicle, p.resource_id))
    return picks


def _pick(need: NeedDemand, resource: Resource, distance: float) -> Pick:
    travel = _travel_seconds(distance, resource.travel_mode)  # eta_seconds, unrounded
    return Pick(
        need_id=need.id,
        resource_id=resource.id,
        is_vehicle=resource.is_vehicle,
        distance_m=round(distance),
        eta_seconds=round(travel),
        cost=_cost(need, resource, travel),
    )


# --- surges -----------------------------------------------------------------------------


def plan_greedy(
    needs: Iterable[NeedDemand],
    candidates: Mapping[int, Sequence[Resource]],
    *,
    rest_hours: float = REST_HOURS,
) -> list[Pick]:
    """The baseline: needs in priority order, each takes its cheapest (for one travel
    mode: nearest) free candidates, `offers` of them; capability needs vehicles until
    the people are covered."""
    order = _in_priority_order(needs)
    ranked = _rank_all(order, candidates, rest_hours)
    vehicles = _vehicles_by_id(candidates)
    taken: set[tuple[bool, int]] = set()
    plan: list[Pick] = []
    for need in order:
        free = [p for p in ranked[need.id] if _key(p) not in taken]
        if is_capability(need):
            chosen = capability_offers(need, free, vehicles)
        else:
            chosen = free[: max(need.offers, 0)]
        taken.update(_key(p) for p in chosen)
        plan.extend(chosen)
    return plan


def plan_optimal(
    needs: Iterable[NeedDemand],
    candidates: Mapping[int, Sequence[Resource]],
    *,
    rest_hours: float = REST_HOURS,
) -> list[Pick]:
    """Plans a surge: the minimum `plan_cost` assignment of resources to need places,
    each resource used at most once, each need given at most `offers` picks
    (capability needs: vehicles until the people are covered).

    Each place is a row; each distinct candidate a column, with an edge only where the
    candidate is eligible for that need (its shortlist, ~50-100 of thousands), so the
    graph is sparse and scipy's LAPJVsp solver (min_weight_full_bipartite_matching)
    solves it in milliseconds where a dense matrix over every resource would not. A
    full matching must exist, so each row also gets its own dummy column costing
    `unfilled_cost`: a place that nobody can take is matched to its dummy (left
    unfilled) and the solver still minimises the rest.

    Capability needs are not a pure assignment (vehicles differ in capacity): they get as
    many places as their nearest eligible vehicles would need to cover the people; if the
    vehicles assigned fall short they are topped up from the free ones, cheapest first,
    and any vehicle not needed for the cover is dropped."""
    order = _in_priority_order(needs)
    ranked = _rank_all(order, candidates, rest_hours)
    vehicles = _vehicles_by_id(candidates)
    rows = [need for need in order for _ in range(_places(need, ranked[need.id], vehicles))]
    if not rows:
        return []
    columns = sorted({_key(p) for need in order for p in ranked[need.id]})
    column_of = {key: i for i, key in enumerate(columns)}
    matrix = _slot_graph(rows, ranked, column_of)
    row_index, column_index = min_weight_full_bipartite_matching(matrix)

    pick_of = {(need.id, _key(p)): p for need in order for p in ranked[need.id]}
    chosen: dict[int, list[Pick]] = {need.id: [] for need in order}
    for row, column in zip(row_index.tolist(), column_index.tolist(), strict=True):
        if column < len(columns):  # not the row's dummy
            need = rows[row]
            chosen[need.id].append(pick_of[need.id, columns[column]])

    taken = {_key(p) for picks in chosen.values() for p in picks}
    for need in order:
        if is_capability(need):
            chosen[need.id] = _cover(need, chosen[need.id], ranked[need.id], vehicles, taken)
    return [p for need in order for p in sorted(chosen[need.id], key=lambda p: p.cost)]


def plan_cost(
    needs: Iterable[NeedDemand],
    candidates: Mapping[int, Sequence[Resource]],
    picks: Iterable[Pick],
) -> float:
    """The planners' objective: the picks' costs plus `unfilled_cost` for every place left
    unfilled. People and vehicle needs: `offers` minus their picks. A capability need
    whose vehicles do not carry all its people: one place."""
    vehicles = _vehicles_by_id(candidates)
    by_need: dict[int, list[Pick]] = {}
    for pick in picks:
        by_need.setdefault(pick.need_id, []).append(pick)
    total = sum(p.cost for group in by_need.values() for p in group)
    for need in needs:
        got = by_need.get(need.id, [])
        if is_capability(need):
            carried = sum(vehicles[p.resource_id].capacity for p in got)
            missing = 0 if got and carried >= (need.people_to_move or 0) else 1
        else:
            missing = max(need.offers - len(got), 0)
        total += missing * unfilled_cost(need)
    return total


def total_km(picks: Iterable[Pick]) -> float:
    return sum(p.distance_m for p in picks) / 1000


# --- the planners' parts ----------------------------------------------------------------


def _key(pick: Pick) -> tuple[bool, int]:
    # Volunteers and vehicles are numbered apart: the same id can be one of each.
    return (pick.is_vehicle, pick.resource_id)


def _resource_key(resource: Resource) -> tuple[bool, int]:
    return (resource.is_vehicle, resource.id)


def _unique(resources: Iterable[Resource]) -> list[Resource]:
    first: dict[tuple[bool, int], Resource] = {}
    for resource in resources:
        first.setdefault(_resource_key(resource), resource)
    return list(first.values())


def _in_priority_order(needs: Iterable[NeedDemand]) -> list[NeedDemand]:
    # Highest priority first; urgent response before staffing; then by id, so the plan
    # never depends on the order the caller listed the needs in.
    return sorted(needs, key=lambda n: (-n.priority, not n.urgent, n.id))


def _vehicles_by_id(candidates: Mapping[int, Sequence[Resource]]) -> dict[int, Resource]:
    return {r.id: r for shortlist in candidates.values() for r in shortlist if r.is_vehicle}


def _rank_all(
    needs: Sequence[NeedDemand], candidates: Mapping[int, Sequence[Resource]], rest_hours: float
) -> dict[int, list[Pick]]:
    """`rank` for every need, with every distance computed in one vectorised call: geopy
    takes ~190 µs a pair here, which over a surge's ~25,000 need-candidate pairs alone
    would be ~5 s."""
    shortlists = [_unique(candidates.get(need.id, ())) for need in needs]
    sizes = [len(s) for s in shortlists]
    flat = [r for shortlist in shortlists for r in shortlist]
    lat1 = np.repeat([n.latitude for n in needs], sizes)
    lon1 = np.repeat([n.longitude for n in needs], sizes)
    lat2 = np.fromiter((r.latitude for r in flat), float, len(flat))
    lon2 = np.fromiter((r.longitude for r in flat), float, len(flat))
    distances = _geodesic_many(lat1, lon1, lat2, lon2).tolist()
    ranked: dict[int, list[Pick]] = {}
    start = 0
    for need, shortlist in zip(needs, shortlists, strict=True):
        end = start + len(shortlist)
        ranked[need.id] = _rank(need, shortlist, distances[start:end], rest_hours)
        start = end
    return ranked


def _places(need: NeedDemand, ranked: Sequence[Pick], vehicles: Mapping[int, Resource]) -> int:
    """Rows of the assignment for this need. Places beyond its eligible candidates could
    never be filled, so they are left out (the objective changes by a constant)."""
    if is_capability(need):
        return len(capability_offers(need, ranked, vehicles))
    return min(max(need.offers, 0), len(ranked))


def _slot_graph(
    rows: Sequence[NeedDemand],
    ranked: Mapping[int, Sequence[Pick]],
    column_of: Mapping[tuple[bool, int], int],
) -> csr_array:
    """Rows: places. Columns: the candidates, then one dummy per row. Weights: costs
    (all > 0: LAPJVsp would read an explicit zero as no edge; every trip has a start-up
    time, so no cost is zero)."""
    edges: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for need in rows:
        if need.id not in edges:
            picks = ranked[need.id]
            columns = np.fromiter((column_of[_key(p)] for p in picks), np.int64, len(picks))
            costs = np.fromiter((p.cost for p in picks), float, len(picks))
            edges[need.id] = (columns, costs)
    dummy = len(column_of)
    indices = np.concatenate(
        [np.append(edges[need.id][0], dummy + row) for row, need in enumerate(rows)]
    )
    data = np.concatenate([np.append(edges[need.id][1], unfilled_cost(need)) for need in rows])
    indptr = np.concatenate([[0], np.cumsum([len(edges[need.id][0]) + 1 for need in rows])])
    return csr_array((data, indices, indptr), shape=(len(rows), dummy + len(rows)))


def _cover(
    need: NeedDemand,
    got: list[Pick],
    ranked: Sequence[Pick],
    vehicles: Mapping[int, Resource],
    taken: set[tuple[bool, int]],
) -> list[Pick]:
    """Tops a capability need's vehicles up until they cover its people (cheapest free
    ones first), then drops the dearest ones the cover does not need."""
    want = need.people_to_move or 0
    got = list(got)
    carried = sum(vehicles[p.resource_id].capacity for p in got)
    for pick in ranked:
        if got and carried >= want:
            break
        if _key(pick) not in taken:
            got.append(pick)
            taken.add(_key(pick))
            carried += vehicles[pick.resource_id].capacity
    for pick in sorted(got, key=lambda p: -p.cost):
        capacity = vehicles[pick.resource_id].capacity
        if len(got) > 1 and carried - capacity >= want:
            got.remove(pick)
            taken.discard(_key(pick))
            carried -= capacity
    return got


# --- geodesic distance, vectorised ------------------------------------------------------

_WGS84_A = 6378137.0
_WGS84_F = 1 / 298.257223563
_WGS84_B = _WGS84_A * (1 - _WGS84_F)


def _geodesic(need: NeedDemand, resource: Resource) -> float:
    # `distance_m` under another name, for is_eligible, whose argument of that name
    # hides it.
    return distance_m(need, resource)


def _geodesic_many(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Geodesic distances on WGS-84 by Vincenty's inverse formula, vectorised with numpy.

    It agrees with geopy's geodesic (Karney's algorithm) to well under a millimetre
    (tested), at a few microseconds a pair instead of ~190. Vincenty can fail to converge
    for nearly antipodal points, which no dispatch produces; those few fall back to geopy.
    """
    f = _WGS84_F
    lon_diff = np.radians(lon2 - lon1)
    lon_diff = (lon_diff + math.pi) % (2 * math.pi) - math.pi
    u1 = np.arctan((1 - f) * np.tan(np.radians(lat1)))
    u2 = np.arctan((1 - f) * np.tan(np.radians(lat2)))
    sin_u1, cos_u1, sin_u2, cos_u2 = np.sin(u1), np.cos(u1), np.sin(u2), np.cos(u2)

    lam = lon_diff
    converged = np.zeros(lam.shape, bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(100):
            sin_lam, cos_lam = np.sin(lam), np.cos(lam)
            sin_sigma = np.hypot(cos_u2 * sin_lam, cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam)
            cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lam
            sigma = np.arctan2(sin_sigma, cos_sigma)
            sin_alpha = np.where(sin_sigma == 0, 0.0, cos_u1 * cos_u2 * sin_lam / sin_sigma)
            cos2_alpha = 1 - sin_alpha**2
            # On the equator cos²α is 0 and the term below is taken as 0.
            cos_2sm = np.where(cos2_alpha == 0, 0.0, cos_sigma - 2 * sin_u1 * sin_u2 / cos2_alpha)
            c = f / 16 * cos2_alpha * (4 + f * (4 - 3 * cos2_alpha))
            previous = lam
            lam = lon_diff + (1 - c) * f * sin_alpha * (
                sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1 + 2 * cos_2sm**2))
            )
            converged = np.abs(lam - previous) < 1e-12
            if converged.all():
                break

        u_sq = cos2_alpha * (_WGS84_A**2 - _WGS84_B**2) / _WGS84_B**2
        a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
        b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
        cos_2sm_sq = cos_2sm**2
        last = b / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm_sq)
        inner = cos_sigma * (-1 + 2 * cos_2sm_sq) - last
        delta_sigma = b * sin_sigma * (cos_2sm + b / 4 * inner)
        meters = np.where(sin_sigma == 0, 0.0, _WGS84_B * a * (sigma - delta_sigma))

    for i in np.flatnonzero(~converged | ~np.isfinite(meters)).tolist():
        points = [np.broadcast_to(x, meters.shape)[i] for x in (lat1, lon1, lat2, lon2)]
        meters[i] = geodesic(points[:2], points[2:]).m
    return meters
