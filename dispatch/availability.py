"""Who is available, computed from the database, and the location index kept in step.

The database is the truth (DESIGN.md §4); the location index is derived from it:

- a volunteer is available when on duty, with a known position (last reported, else
  home) and not busy (not engaged on active work: dispatch.models.Engagement). An
  available volunteer is in volunteer_key(skill) for each of their skills;
- a vehicle is available when its status is AVAILABLE, it has a position, no active
  assignment, and is manned: at least one of its crew is on duty and not busy (an offer
  to a boat nobody can take waits out its whole time-out). It is then in
  vehicle_key(kind). A volunteer's duty and work change whether the vehicles they crew
  are manned, so syncing a volunteer syncs those vehicles too.

The services that change duty, positions or assignments call availability_sync_on_commit
in their transaction; the index follows once the change has committed, so a rolled-back
change never reaches it. index_rebuild recomputes the whole index: on start (Redis keeps
nothing on disk here) and periodically, to repair whatever a lost hook missed. And the
candidate search never reads an index Redis lost (dispatch.selectors): index_ensure_built
rebuilds it first when the mark of its last build is gone (Redis restarted or flushed),
and index_repair_if_empty when a search found a key empty that the database says holds
someone. Rebuilds take the index's rebuild lock, so workers wait for one another's
rebuild instead of each doing their own.

This module reads the database and writes only the index.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from dispatch.location_index import location_index, vehicle_key, volunteer_key
from dispatch.models import ACTIVE_STATUSES, Assignment, Engagement
from volunteers.models import Skill, Vehicle, VehicleKind, VehicleStatus, Volunteer

logger = logging.getLogger(__name__)

Contents = dict[str, dict[int, tuple[float, float]]]


def _position(latitude, longitude) -> tuple[float, float] | None:
    if latitude is None or longitude is None:
        return None
    return latitude, longitude


def volunteer_position_of(
    last_latitude, last_longitude, home_latitude, home_longitude
) -> tuple[float, float] | None:
    """Where to look for a volunteer: the last reported position, else home, else
    nowhere (such a volunteer is never offered work). From columns, for bulk reads."""
    return _position(last_latitude, last_longitude) or _position(home_latitude, home_longitude)


def volunteer_position(volunteer) -> tuple[float, float] | None:
    return volunteer_position_of(
        volunteer.last_latitude,
        volunteer.last_longitude,
        volunteer.home_latitude,
        volunteer.home_longitude,
    )


def vehicle_position(vehicle) -> tuple[float, float] | None:
    """Where a vehicle was last reported; nowhere before any report (a vehicle is not
    placed at its township's seat: a boat sent from a guessed place arrives late)."""
    return _position(vehicle.latitude, vehicle.longitude)


def volunteer_is_available(volunteer, *, busy: bool) -> bool:
    return bool(volunteer.on_duty) and not busy and volunteer_position(volunteer) is not None


def _personal_work():
    return Assignment.objects.filter(status__in=ACTIVE_STATUSES, volunteer__isnull=False)


def volunteer_busy_ids(among: Iterable[int] | None = None) -> set[int]:
    """Volunteers on active work (of `among`, or of everyone): their own assignment, or
    a vehicle's they answered for and so went with (dispatch.models.Engagement)."""
    personal = _personal_work()
    aboard = Engagement.objects.all()
    if among is not None:
        among = list(among)
        personal = personal.filter(volunteer_id__in=among)
        aboard = aboard.filter(volunteer_id__in=among)
    return set(personal.values_list("volunteer_id", flat=True)) | set(
        aboard.values_list("volunteer_id", flat=True)
    )


def volunteer_is_busy(volunteer_id: int) -> bool:
    return (
        _personal_work().filter(volunteer_id=volunteer_id).exists()
        or Engagement.objects.filter(volunteer_id=volunteer_id).exists()
    )


def vehicle_busy_ids() -> set[int]:
    """Vehicles busy now: each holds an assignment in ACTIVE_STATUSES."""
    return set(
        Assignment.objects.filter(status__in=ACTIVE_STATUSES, vehicle__isnull=False)
        .values_list("vehicle_id", flat=True)
        .distinct()
    )


def ready_crew(vehicle_ids: Iterable[int] | None = None) -> dict[int, set[int]]:
    """Of these vehicles (or of all), the crew members on duty and not busy, by vehicle:
    those who can take its offer and drive it. A vehicle with none is left out."""
    crew = Vehicle.crew.through.objects.filter(volunteer__on_duty=True)
    if vehicle_ids is not None:
        crew = crew.filter(vehicle_id__in=list(vehicle_ids))
    pairs = list(crew.values_list("vehicle_id", "volunteer_id"))
    busy = volunteer_busy_ids(among={volunteer_id for _, volunteer_id in pairs})
    ready: dict[int, set[int]] = defaultdict(set)
    for vehicle_id, volunteer_id in pairs:
        if volunteer_id not in busy:
            ready[vehicle_id].add(volunteer_id)
    return dict(ready)


def vehicles_manned(vehicle_ids: Iterable[int] | None = None) -> set[int]:
    """Of these vehicles (or of all), those someone of the crew can take now."""
    return set(ready_crew(vehicle_ids))


def vehicle_is_available(vehicle, *, busy: bool, manned: bool) -> bool:
    return (
        vehicle.status == VehicleStatus.AVAILABLE
        and not busy
        and manned
        and vehicle_position(vehicle) is not None
    )


def availability_sync_volunteer(*, volunteer_id: int) -> None:
    """Put the volunteer, as the database has them now, in the key of each of their
    skills, or drop them from every volunteer key. Safe to repeat."""
    index = location_index()
    volunteer = Volunteer.objects.filter(pk=volunteer_id).only(
        "on_duty", "last_latitude", "last_longitude", "home_latitude", "home_longitude"
    )
    volunteer = volunteer.first()
    skills: set[str] = set()
    position = None
    if volunteer is not None:
        busy = volunteer_is_busy(volunteer_id)
        if volunteer_is_available(volunteer, busy=busy):
            position = volunteer_position(volunteer)
            skills = set(volunteer.skills.values_list("code", flat=True))
    # Dropped from every skill's key, not only their current skills': a skill taken
    # away since the last sync must not leave them behind.
    every_skill = set(Skill.objects.values_list("code", flat=True))
    for code in sorted(every_skill - skills):
        index.drop(volunteer_key(code), volunteer_id)
    if position is not None:
        latitude, longitude = position
        for code in sorted(skills):
            index.put(volunteer_key(code), volunteer_id, latitude=latitude, longitude=longitude)


def availability_sync_vehicle(*, vehicle_id: int) -> None:
    """Put the vehicle in its kind's key when it is available, else drop it; it is
    dropped from every other kind's key in any case (its kind may have changed)."""
    index = location_index()
    vehicle = (
        Vehicle.objects.filter(pk=vehicle_id)
        .only("kind", "status", "latitude", "longitude")
        .first()
    )
    kind = position = None
    if vehicle is not None:
        kind = vehicle.kind
        busy = Assignment.objects.filter(vehicle_id=vehicle_id, status__in=ACTIVE_STATUSES).exists()
        manned = vehicle_id in vehicles_manned([vehicle_id])
        if vehicle_is_available(vehicle, busy=busy, manned=manned):
            position = vehicle_position(vehicle)
    for other in VehicleKind.values:
        if other != kind or position is None:
            index.drop(vehicle_key(other), vehicle_id)
    if position is not None:
        index.put(vehicle_key(kind), vehicle_id, latitude=position[0], longitude=position[1])


def availability_sync_on_commit(
    *, volunteer_ids: Iterable[int] = (), vehicle_ids: Iterable[int] = ()
) -> None:
    """Bring these resources' index entries up to date once the current transaction
    commits (at once outside a transaction). Nothing happens on rollback.

    A failed sync (Redis unreachable, say) is logged and does not disturb the caller,
    whose change has already committed; the periodic rebuild repairs the index."""
    volunteer_ids = sorted(set(volunteer_ids))
    vehicle_ids = sorted(set(vehicle_ids))
    if not volunteer_ids and not vehicle_ids:
        return

    def sync():
        # Read after the commit: whom they crew, as it is now.
        crewed = set(
            Vehicle.crew.through.objects.filter(volunteer_id__in=volunteer_ids).values_list(
                "vehicle_id", flat=True
            )
        )
        for volunteer_id in volunteer_ids:
            try:
                availability_sync_volunteer(volunteer_id=volunteer_id)
            except Exception:
                logger.exception(
                    "index sync of volunteer %s failed; the next rebuild repairs it", volunteer_id
                )
        for vehicle_id in sorted(crewed.union(vehicle_ids)):
            try:
                availability_sync_vehicle(vehicle_id=vehicle_id)
            except Exception:
                logger.exception(
                    "index sync of vehicle %s failed; the next rebuild repairs it", vehicle_id
                )

    transaction.on_commit(sync)


def index_contents() -> Contents:
    """The whole index as the database says it should be, in five queries and no
    model instances (33k volunteers take a few hundred milliseconds)."""
    contents: Contents = defaultdict(dict)

    busy = volunteer_busy_ids()
    positions: dict[int, tuple[float, float]] = {}
    rows = Volunteer.objects.filter(on_duty=True).values_list(
        "id", "last_latitude", "last_longitude", "home_latitude", "home_longitude"
    )
    for volunteer_id, last_lat, last_lng, home_lat, home_lng in rows:
        if volunteer_id in busy:
            continue
        position = volunteer_position_of(last_lat, last_lng, home_lat, home_lng)
        if position is not None:
            positions[volunteer_id] = position
    skills = Volunteer.skills.through.objects.filter(volunteer__on_duty=True).values_list(
        "volunteer_id", "skill__code"
    )
    for volunteer_id, code in skills:
        position = positions.get(volunteer_id)
        if position is not None:
            contents[volunteer_key(code)][volunteer_id] = position

    busy = vehicle_busy_ids()
    manned = vehicles_manned()
    vehicles = Vehicle.objects.filter(
        status=VehicleStatus.AVAILABLE, latitude__isnull=False, longitude__isnull=False
    ).values_list("id", "kind", "latitude", "longitude")
    for vehicle_id, kind, latitude, longitude in vehicles:
        if vehicle_id not in busy and vehicle_id in manned:
            contents[vehicle_key(kind)][vehicle_id] = (latitude, longitude)
    return dict(contents)


# How long a rebuild waits for another process's to finish before doing its own (a
# rebuild is idempotent: two at once cost time, never correctness).
REBUILD_WAIT_SECONDS = 30
# A key found empty is not rebuilt for again within this many seconds of the last build:
# should the database and the index disagree on who is available, searches must not
# turn into one rebuild each.
EMPTY_KEY_REBUILD_AFTER_SECONDS = 10


def index_rebuild() -> dict[str, int]:
    """Make the index what the database says, and return the size of each key.

    A change that commits while the database is being read can have its own sync
    overwritten by the swap. So the database is read a second time after the swap and
    whatever differs from the first reading is applied member by member: a change that
    committed before the second reading is in the index when this returns."""
    index = location_index()
    with index.rebuild_lock(wait_seconds=REBUILD_WAIT_SECONDS):
        return _rebuild(index)


def index_ensure_built() -> bool:
    """Rebuild the index now if it was never built since its store started: Redis
    restarted empty (it keeps nothing on disk here) or was flushed, and the syncs since
    put back only whom they touched. One GET when all is well; True when it rebuilt.

    Of several workers finding it missing at once, one rebuilds; the others wait for
    the lock, then find the mark back and search."""
    index = location_index()
    if index.built_at() is not None:
        return False
    with index.rebuild_lock(wait_seconds=REBUILD_WAIT_SECONDS):
        if index.built_at() is not None:
            return False  # rebuilt by another while we waited
        logger.warning("the location index was lost (Redis restarted or flushed): rebuilding")
        _rebuild(index)
        return True


def index_repair_if_empty(keys: list[str]) -> bool:
    """A search of these index keys found no one. When they are all empty while the
    database holds someone available for one of them, the index lost them: rebuild it,
    unless it was built moments ago (EMPTY_KEY_REBUILD_AFTER_SECONDS). True when it
    rebuilt (or another did meanwhile): search again."""
    index = location_index()
    if any(index.size(key) for key in keys) or not _database_has_available(keys):
        return False
    built_at = index.built_at()
    if built_at is not None and time.time() - built_at < EMPTY_KEY_REBUILD_AFTER_SECONDS:
        return False
    with index.rebuild_lock(wait_seconds=REBUILD_WAIT_SECONDS):
        if index.built_at() != built_at:
            return True  # rebuilt by another while we waited
        logger.warning("location index keys %s found empty: rebuilding", keys)
        _rebuild(index)
        return True


def _database_has_available(keys: list[str]) -> bool:
    """Whether the database says someone available belongs in one of these keys: the
    rules of index_contents, for a few keys."""
    skills = [key.split(":", 1)[1] for key in keys if key.startswith(volunteer_key(""))]
    kinds = [key.split(":", 1)[1] for key in keys if key.startswith(vehicle_key(""))]
    if skills:
        volunteers = Volunteer.objects.filter(on_duty=True, skills__code__in=skills).exclude(
            pk__in=list(volunteer_busy_ids())
        )
        with_position = volunteers.filter(
            Q(last_latitude__isnull=False, last_longitude__isnull=False)
            | Q(home_latitude__isnull=False, home_longitude__isnull=False)
        )
        if with_position.exists():
            return True
    if kinds:
        vehicles = Vehicle.objects.filter(
            kind__in=kinds,
            status=VehicleStatus.AVAILABLE,
            latitude__isnull=False,
            longitude__isnull=False,
        ).exclude(pk__in=list(vehicle_busy_ids()))
        if vehicles_manned(vehicles.values_list("pk", flat=True)):
            return True
    return False


def _rebuild(index) -> dict[str, int]:
    first = index_contents()
    index.replace_all(first)
    second = index_contents()
    _apply_difference(index, before=first, after=second)
    return {key: len(members) for key, members in sorted(second.items())}


def _apply_difference(index, *, before: Contents, after: Contents) -> None:
    for key in before.keys() | after.keys():
        old, new = before.get(key, {}), after.get(key, {})
        for member in old.keys() - new.keys():
            index.drop(key, member)
        for member, position in new.items():
            if old.get(member) != position:
                index.put(key, member, latitude=position[0], longitude=position[1])
