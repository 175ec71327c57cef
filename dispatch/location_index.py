"""The live location index: where the *available* volunteers and vehicles are.

One geo set per kind of resource (DESIGN.md §5): `volunteer:<skill code>` holds the
available volunteers with that skill, `vehicle:<kind>` the available vehicles of that
kind. A member is a Volunteer or Vehicle primary key.

The index is derived data, never the truth (DESIGN.md §4): dispatch.availability puts
and drops members after each commit that changes duty, position or assignments, and
rebuilds the whole index from the database on start and periodically. Whatever a
search returns is a shortlist that the caller re-checks against the database.

Two backends give the same answers:

- RedisLocationIndex: Redis GEO sets (production; shared by every process).
- MemoryLocationIndex: dicts in this process (the embedded default). It stores each
  position quantised to the same 52-bit geohash cell centre Redis stores, and measures
  with Redis's own haversine formula and Earth radius, so that for the same data both
  return the same members, in the same order, at the same distances.

Distances are the backends' spherical estimate (within about 0.3 % of the WGS-84
geodesic at these latitudes); final distances are computed with geopy elsewhere.

Each backend also says when it was last built whole (built_at: the time of the last
replace_all, kept beside the keys) and offers a rebuild lock. Redis keeps nothing on
disk here, so after a restart (or a flush) the mark is gone with the keys: whoever
searches finds it missing and rebuilds first, under the lock, so that an empty index is
never searched and two workers do not rebuild at once (dispatch.availability).
"""

from __future__ import annotations

import contextlib
import heapq
import json
import math
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import redis
from django.conf import settings

DEFAULT_PREFIX = "tongxin:geo:"
# Growing search rings for nearest(), in km: the first ones are cheap in a dense city,
# the last one bounds how far anyone is sent.
DEFAULT_RINGS_KM: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100)

# What Redis GEO accepts (EPSG:3857 limits) and measures with (src/geohash*.[ch]).
LATITUDE_LIMIT = 85.05112878
LONGITUDE_LIMIT = 180.0
EARTH_RADIUS_M = 6372797.560856
_GEOHASH_STEP = 26
_D_R = math.pi / 180.0


@dataclass(frozen=True)
class Hit:
    member: int  # a Volunteer or Vehicle primary key
    distance_km: float  # from the search point, by the backend's own estimate


class LocationIndex(Protocol):
    def put(self, key: str, member: int, *, latitude: float, longitude: float) -> None:
        """Add the member at this position, or move it there."""

    def drop(self, key: str, member: int) -> None:
        """Remove the member from this key; nothing happens if it is not there."""

    def search(
        self, key: str, *, latitude: float, longitude: float, radius_km: float, count: int
    ) -> list[Hit]:
        """At most `count` members within `radius_km`, nearest first."""

    def search_rings(
        self, key: str, *, latitude: float, longitude: float, want: int, rings_km: Sequence[float]
    ) -> list[Hit]:
        """search() in each ring in turn, until one holds `want` members or all of the
        key's members: the ring search of nearest()."""

    def replace_all(self, contents: dict[str, dict[int, tuple[float, float]]]) -> None:
        """Make the whole index `contents` (key -> member -> (latitude, longitude)) in
        one step readers cannot observe halfway; keys not in `contents` are emptied."""

    def size(self, key: str) -> int: ...

    def keys(self) -> set[str]:
        """The keys holding at least one member."""

    def built_at(self) -> float | None:
        """When replace_all last made the whole index (a Unix time), or None when it
        never did since the backend's store started empty: the index is then missing
        whoever no sync has put back, and must be rebuilt before it is searched."""

    def rebuild_lock(self, *, wait_seconds: float) -> contextlib.AbstractContextManager[bool]:
        """Held while rebuilding, by one process (or thread) at a time: a context
        manager giving True once held, False when `wait_seconds` passed first."""


# Longer than any rebuild (33k volunteers: about a second); a holder that dies frees the
# lock after this.
REBUILD_LOCK_SECONDS = 120


def volunteer_key(skill_code: str) -> str:
    return f"volunteer:{skill_code}"


def vehicle_key(vehicle_kind: str) -> str:
    return f"vehicle:{vehicle_kind}"


def validate_position(latitude: float, longitude: float) -> None:
    # Written so that NaN, which compares false with everything, is refused too.
    if not (-LATITUDE_LIMIT <= latitude <= LATITUDE_LIMIT) or not (
        -LONGITUDE_LIMIT <= longitude <= LONGITUDE_LIMIT
    ):
        raise ValueError(
            f"({latitude}, {longitude}) is outside what the index holds: latitude within "
            f"±{LATITUDE_LIMIT}, longitude within ±{LONGITUDE_LIMIT}"
        )


def _validate_search(latitude: float, longitude: float, radius_km: float) -> None:
    validate_position(latitude, longitude)
    if not radius_km >= 0:
        raise ValueError(f"radius_km must not be negative, got {radius_km}")


# --- Redis ----------------------------------------------------------------------------


class RedisLocationIndex:
    """Redis GEO sets under `prefix` (one Redis database is given to the index).

    A search is GEOSEARCH ... BYRADIUS ... ASC COUNT n WITHDIST. Redis still examines
    every member within the radius before it keeps the nearest n, so a wide radius over
    a dense set is slow: callers search in growing rings (nearest()).
    """

    BUILD_CHUNK = 5000
    # A replace_all that dies halfway leaves its half-built keys to expire.
    BUILD_TTL_SECONDS = 3600

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX):
        if not prefix.endswith(":"):
            raise ValueError("the key prefix must end with ':'")
        self.prefix = prefix
        self.redis = redis.Redis.from_url(
            url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
        )
        self._rings = self.redis.register_script(self.RINGS_SCRIPT)

    def _key(self, key: str) -> str:
        return self.prefix + key

    # Beside the keys, named after `prefix` but outside it (keys() never lists them,
    # replace_all never deletes them as stale): the mark of the last whole build and
    # the rebuild lock.
    @property
    def _built_key(self) -> str:
        return f"built:{self.prefix}"

    @property
    def _lock_key(self) -> str:
        return f"rebuild-lock:{self.prefix}"

    def put(self, key: str, member: int, *, latitude: float, longitude: float) -> None:
        validate_position(latitude, longitude)
        self.redis.geoadd(self._key(key), (longitude, latitude, int(member)))

    def drop(self, key: str, member: int) -> None:
        self.redis.zrem(self._key(key), int(member))

    def search(
        self, key: str, *, latitude: float, longitude: float, radius_km: float, count: int
    ) -> list[Hit]:
        _validate_search(latitude, longitude, radius_km)
        if count < 1:
            return []
        rows = self.redis.geosearch(
            self._key(key),
            longitude=longitude,
            latitude=latitude,
            radius=radius_km,
            unit="km",
            sort="ASC",
            count=count,
            withdist=True,
        )
        return [Hit(member=int(member), distance_km=float(distance)) for member, distance in rows]

    # The ring search of nearest() in one round trip: a search for one need is a few
    # GEOSEARCHes, and their round trips were half its time (bench/matching.py).
    RINGS_SCRIPT = """
    local total = redis.call('ZCARD', KEYS[1])
    if total == 0 then return {} end
    local want = tonumber(ARGV[3])
    local enough = math.min(want, total)
    local hits = {}
    for i = 4, #ARGV do
        hits = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2],
                          'BYRADIUS', ARGV[i], 'km', 'ASC', 'COUNT', want, 'WITHDIST')
        if #hits >= enough then break end
    end
    return hits
    """

    def search_rings(
        self, key: str, *, latitude: float, longitude: float, want: int, rings_km: Sequence[float]
    ) -> list[Hit]:
        for radius_km in rings_km:
            _validate_search(latitude, longitude, radius_km)
        rows = self._rings(keys=[self._key(key)], args=[longitude, latitude, want, *rings_km])
        return [Hit(member=int(member), distance_km=float(distance)) for member, distance in rows]

    def replace_all(self, contents: dict[str, dict[int, tuple[float, float]]]) -> None:
        # Build every new set under a temporary name, then swap them all in with RENAME
        # inside one MULTI/EXEC: a reader sees either the old index or the new one. The
        # temporary names lie outside `prefix`, so keys() never lists them.
        for members in contents.values():
            for latitude, longitude in members.values():
                validate_position(latitude, longitude)
        staging = f"{self.prefix[:-1]}-build:{uuid.uuid4().hex}:"
        built: list[str] = []
        with self.redis.pipeline(transaction=False) as pipe:
            for key, members in contents.items():
                if not members:
                    continue
                temporary = staging + key
                built.append(key)
                items = list(members.items())
                for start in range(0, len(items), self.BUILD_CHUNK):
                    values: list = []
                    for member, (latitude, longitude) in items[start : start + self.BUILD_CHUNK]:
                        values += (longitude, latitude, int(member))
                    pipe.geoadd(temporary, values)
                pipe.expire(temporary, self.BUILD_TTL_SECONDS)
            pipe.execute()
        stale = self.keys() - set(built)
        mark = json.dumps({"at": time.time(), "build": staging})
        with self.redis.pipeline(transaction=True) as pipe:
            for key in built:
                pipe.rename(staging + key, self._key(key))
                pipe.persist(self._key(key))  # RENAME carries the build TTL along
            if stale:
                pipe.delete(*[self._key(key) for key in stale])
            # In the same MULTI/EXEC as the swap: the mark exists only beside a whole
            # index, and goes when Redis restarts empty or the database is flushed.
            pipe.set(self._built_key, mark)
            pipe.execute()

    def built_at(self) -> float | None:
        mark = self.redis.get(self._built_key)
        return None if mark is None else float(json.loads(mark)["at"])

    @contextlib.contextmanager
    def rebuild_lock(self, *, wait_seconds: float) -> Iterator[bool]:
        # redis-py's lock: SET NX PX with a random token, released only by its holder.
        lock = self.redis.lock(
            self._lock_key, timeout=REBUILD_LOCK_SECONDS, blocking_timeout=wait_seconds
        )
        held = lock.acquire()
        try:
            yield held
        finally:
            if held:
                with contextlib.suppress(redis.exceptions.LockError):
                    lock.release()  # expired meanwhile: someone else's now

    def size(self, key: str) -> int:
        return self.redis.zcard(self._key(key))

    def keys(self) -> set[str]:
        # SCAN, not KEYS: the index has one database to itself and a few dozen keys,
        # but SCAN never blocks the server whatever it holds.
        pattern = _glob_escape(self.prefix) + "*"
        start = len(self.prefix)
        return {name.decode()[start:] for name in self.redis.scan_iter(match=pattern, count=1000)}

    def clear(self) -> None:
        """Remove every key under this index's prefix, and the mark of its last build,
        as a Redis restart does (tests, benchmarks)."""
        names = [self._key(key) for key in self.keys()]
        self.redis.delete(*names, self._built_key)


def _glob_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


# --- in process -----------------------------------------------------------------------


def geohash_cell_centre(latitude: float, longitude: float) -> tuple[float, float]:
    """The position Redis stores for (latitude, longitude): the centre of its 52-bit
    geohash cell (geohashEncode + geohashDecodeToLongLatWGS84 in Redis's geohash.c)."""
    cells = float(1 << _GEOHASH_STEP)
    lat_min, lat_max = -LATITUDE_LIMIT, LATITUDE_LIMIT
    lng_min, lng_max = -LONGITUDE_LIMIT, LONGITUDE_LIMIT
    lat_cell = min(int((latitude - lat_min) / (lat_max - lat_min) * cells), (1 << 26) - 1)
    lng_cell = min(int((longitude - lng_min) / (lng_max - lng_min) * cells), (1 << 26) - 1)
    lat_low = lat_min + (lat_cell * 1.0 / cells) * (lat_max - lat_min)
    lat_high = lat_min + ((lat_cell + 1) * 1.0 / cells) * (lat_max - lat_min)
    lng_low = lng_min + (lng_cell * 1.0 / cells) * (lng_max - lng_min)
    lng_high = lng_min + ((lng_cell + 1) * 1.0 / cells) * (lng_max - lng_min)
    centre_lat = min(max((lat_low + lat_high) / 2, lat_min), lat_max)
    centre_lng = min(max((lng_low + lng_high) / 2, lng_min), lng_max)
    return centre_lat, centre_lng


def haversine_m(latitude1: float, longitude1: float, latitude2: float, longitude2: float) -> float:
    """Redis's great-circle distance in metres (geohashGetDistance), step for step."""
    v = math.sin((longitude2 * _D_R - longitude1 * _D_R) / 2)
    if v == 0.0:
        return EARTH_RADIUS_M * abs(latitude2 * _D_R - latitude1 * _D_R)
    u = math.sin((latitude2 * _D_R - latitude1 * _D_R) / 2)
    a = u * u + math.cos(latitude1 * _D_R) * math.cos(latitude2 * _D_R) * v * v
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


# Grid cells of the in-process backend, in degrees: about 2 km, a few hundred members
# each in a dense city, so that a small ring looks at a few cells, not at everyone.
_GRID_DEGREES = 0.02


def _grid_cell(latitude: float, longitude: float) -> tuple[int, int]:
    return math.floor(latitude / _GRID_DEGREES), math.floor(longitude / _GRID_DEGREES)


class _GeoSet:
    __slots__ = ("positions", "grid")

    def __init__(self):
        self.positions: dict[int, tuple[float, float]] = {}
        self.grid: dict[tuple[int, int], set[int]] = {}

    def put(self, member: int, latitude: float, longitude: float) -> None:
        self.drop(member)
        position = geohash_cell_centre(latitude, longitude)
        self.positions[member] = position
        self.grid.setdefault(_grid_cell(*position), set()).add(member)

    def drop(self, member: int) -> None:
        position = self.positions.pop(member, None)
        if position is None:
            return
        cell = _grid_cell(*position)
        members = self.grid[cell]
        members.discard(member)
        if not members:
            del self.grid[cell]

    def candidates(self, latitude: float, longitude: float, radius_m: float) -> Iterable[int]:
        """Members that may lie within the radius (a superset), from the grid cells
        covering the circle's bounding box, or everyone when that box is not smaller."""
        angle = radius_m / EARTH_RADIUS_M  # the circle's angular radius
        lat_span = math.degrees(angle) * 1.001 + 1e-9
        if abs(latitude) + lat_span >= 89.0:
            return self.positions.keys()  # the circle nears a pole: no simple box
        # The widest longitude the spherical circle reaches (at latitude asin(sin φ / cos r)).
        ratio = math.sin(angle) / math.cos(latitude * _D_R)
        if angle >= math.pi / 2 or ratio >= 1:
            return self.positions.keys()
        lng_span = math.degrees(math.asin(ratio)) * 1.001 + 1e-9
        if abs(longitude) + lng_span >= 180.0:
            return self.positions.keys()  # crosses the antimeridian
        south, west = _grid_cell(latitude - lat_span, longitude - lng_span)
        north, east = _grid_cell(latitude + lat_span, longitude + lng_span)
        if (north - south + 1) * (east - west + 1) >= len(self.grid):
            return self.positions.keys()
        found: list[int] = []
        for row in range(south, north + 1):
            for column in range(west, east + 1):
                members = self.grid.get((row, column))
                if members:
                    found.extend(members)
        return found


class MemoryLocationIndex:
    """The in-process backend (embedded default): one lock around plain dicts.

    Positions are kept as Redis keeps them (geohash cell centres) and measured as Redis
    measures, so both backends give the same answers; ties at equal distance go to the
    lower member id here, and to whichever Redis meets first there.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._sets: dict[str, _GeoSet] = {}
        self._built_at: float | None = None
        self._rebuilding = threading.Lock()

    def search_rings(
        self, key: str, *, latitude: float, longitude: float, want: int, rings_km: Sequence[float]
    ) -> list[Hit]:
        return search_rings_one_by_one(
            self, key, latitude=latitude, longitude=longitude, want=want, rings_km=rings_km
        )

    def put(self, key: str, member: int, *, latitude: float, longitude: float) -> None:
        validate_position(latitude, longitude)
        with self._lock:
            self._sets.setdefault(key, _GeoSet()).put(int(member), latitude, longitude)

    def drop(self, key: str, member: int) -> None:
        with self._lock:
            geo_set = self._sets.get(key)
            if geo_set is None:
                return
            geo_set.drop(int(member))
            if not geo_set.positions:
                del self._sets[key]

    def search(
        self, key: str, *, latitude: float, longitude: float, radius_km: float, count: int
    ) -> list[Hit]:
        _validate_search(latitude, longitude, radius_km)
        if count < 1:
            return []
        radius_m = radius_km * 1000
        with self._lock:
            geo_set = self._sets.get(key)
            if geo_set is None:
                return []
            within = []
            positions = geo_set.positions
            for member in geo_set.candidates(latitude, longitude, radius_m):
                member_latitude, member_longitude = positions[member]
                distance = haversine_m(latitude, longitude, member_latitude, member_longitude)
                if distance <= radius_m:
                    within.append((distance, member))
        nearest_first = heapq.nsmallest(count, within)
        # Redis answers in km with four decimals ("%.4f").
        return [Hit(member=member, distance_km=round(d / 1000, 4)) for d, member in nearest_first]

    def replace_all(self, contents: dict[str, dict[int, tuple[float, float]]]) -> None:
        sets: dict[str, _GeoSet] = {}
        for key, members in contents.items():
            if not members:
                continue
            geo_set = sets[key] = _GeoSet()
            for member, (latitude, longitude) in members.items():
                validate_position(latitude, longitude)
                geo_set.put(int(member), latitude, longitude)
        with self._lock:
            self._sets = sets
            self._built_at = time.time()

    def size(self, key: str) -> int:
        with self._lock:
            geo_set = self._sets.get(key)
            return len(geo_set.positions) if geo_set else 0

    def keys(self) -> set[str]:
        with self._lock:
            return set(self._sets)

    def built_at(self) -> float | None:
        with self._lock:
            return self._built_at

    @contextlib.contextmanager
    def rebuild_lock(self, *, wait_seconds: float) -> Iterator[bool]:
        held = self._rebuilding.acquire(timeout=wait_seconds)
        try:
            yield held
        finally:
            if held:
                self._rebuilding.release()

    def clear(self) -> None:
        with self._lock:
            self._sets = {}
            self._built_at = None


# --- searching and choosing the backend --------------------------------------------------


def nearest(
    index: LocationIndex,
    key: str,
    *,
    latitude: float,
    longitude: float,
    want: int,
    rings_km: Sequence[float] = DEFAULT_RINGS_KM,
) -> list[Hit]:
    """The `want` nearest members of `key`, nearest first, searching outward in growing
    rings until enough are found or the last ring has been searched (a wide search over
    a dense set is slow: DESIGN.md §5). Stops early, too, once every member is found."""
    if want < 1 or not rings_km:
        return []
    return index.search_rings(
        key, latitude=latitude, longitude=longitude, want=want, rings_km=rings_km
    )


def search_rings_one_by_one(
    index, key: str, *, latitude: float, longitude: float, want: int, rings_km: Sequence[float]
) -> list[Hit]:
    total = index.size(key)
    if total == 0:
        return []
    enough = min(want, total)
    hits: list[Hit] = []
    for radius_km in rings_km:
        hits = index.search(
            key, latitude=latitude, longitude=longitude, radius_km=radius_km, count=want
        )
        if len(hits) >= enough:
            break
    return hits


_index: LocationIndex | None = None
_index_lock = threading.Lock()


def location_index() -> LocationIndex:
    """The index for this process: Redis when settings.LOCATION_INDEX_URL is set, else
    one process-wide in-memory index. Made once (under a lock: in the embedded default
    the server and the worker thread must share one in-memory index, not race to make
    two); location_index.cache_clear() forgets it.

    settings.LOCATION_INDEX_PREFIX lets test runs that share a Redis database keep to
    their own keys.
    """
    global _index
    index = _index
    if index is None:
        with _index_lock:
            if _index is None:
                url = settings.LOCATION_INDEX_URL
                if url:
                    _index = RedisLocationIndex(url, prefix=settings.LOCATION_INDEX_PREFIX)
                else:
                    _index = MemoryLocationIndex()
            index = _index
    return index


def _location_index_cache_clear() -> None:
    global _index
    with _index_lock:
        _index = None


location_index.cache_clear = _location_index_cache_clear  # type: ignore[attr-defined]
