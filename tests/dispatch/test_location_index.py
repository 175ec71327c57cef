"""One suite, run against both backends of the location index (Redis and in-process)."""

import os
import random
import threading

import pytest
from django.conf import settings
from geopy.distance import geodesic

from dispatch.location_index import (
    Hit,
    MemoryLocationIndex,
    RedisLocationIndex,
    geohash_cell_centre,
    haversine_m,
    location_index,
    nearest,
    search_rings_one_by_one,
    vehicle_key,
    volunteer_key,
)

CITY_SEAT = (34.40, 113.74)
# Test runs of several people may share one Redis database: each keeps to its own keys.
TEST_PREFIX = f"tongxin-test-{os.getpid()}:geo:"


def redis_index() -> RedisLocationIndex:
    if settings.EMBEDDED:
        pytest.skip("needs Redis; this run has no REDIS_URL")
    return RedisLocationIndex(settings.LOCATION_INDEX_URL, prefix=TEST_PREFIX)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def index(request):
    if request.param == "memory":
        yield MemoryLocationIndex()
        return
    backend = redis_index()
    backend.clear()
    yield backend
    backend.clear()
    backend.redis.close()


def offset(kilometres_north: float, kilometres_east: float, origin=CITY_SEAT):
    """The point this far north and east of `origin` (small distances)."""
    point = geodesic(kilometers=kilometres_north).destination(origin, 0)
    point = geodesic(kilometers=kilometres_east).destination(point, 90)
    return point.latitude, point.longitude


def put(index, key, member, position):
    index.put(key, member, latitude=position[0], longitude=position[1])


def search(index, key, *, radius_km=100, count=100, origin=CITY_SEAT):
    return index.search(
        key, latitude=origin[0], longitude=origin[1], radius_km=radius_km, count=count
    )


def members(hits):
    return [hit.member for hit in hits]


# --- put, search, drop ------------------------------------------------------------------


def test_it_finds_members_nearest_first_with_geodesic_distances(index):
    positions = {
        1: offset(3, 0),
        2: offset(0, 0.4),
        3: offset(-7, 7),
        4: offset(0, -12),
        5: offset(0.05, 0.05),
    }
    for member, position in positions.items():
        put(index, "volunteer:rescue", member, position)

    hits = search(index, "volunteer:rescue")

    assert members(hits) == [5, 2, 1, 3, 4]
    for hit in hits:
        exact_km = geodesic(CITY_SEAT, positions[hit.member]).km
        assert hit.distance_km == pytest.approx(exact_km, rel=0.005)
    assert all(isinstance(hit, Hit) and isinstance(hit.member, int) for hit in hits)


def test_it_returns_at_most_count_hits(index):
    for member in range(1, 21):
        put(index, "volunteer:rescue", member, offset(member * 0.5, 0))

    assert members(search(index, "volunteer:rescue", count=3)) == [1, 2, 3]
    assert members(search(index, "volunteer:rescue", count=0)) == []


def test_it_leaves_out_members_beyond_the_radius(index):
    put(index, "volunteer:rescue", 1, offset(0.9, 0))
    put(index, "volunteer:rescue", 2, offset(0, 1.9))
    put(index, "volunteer:rescue", 3, offset(-2.1, 0))

    assert members(search(index, "volunteer:rescue", radius_km=1)) == [1]
    assert members(search(index, "volunteer:rescue", radius_km=2)) == [1, 2]
    assert members(search(index, "volunteer:rescue", radius_km=0.5)) == []


def test_it_drops_a_member(index):
    put(index, "vehicle:boat", 1, offset(1, 0))
    put(index, "vehicle:boat", 2, offset(2, 0))

    index.drop("vehicle:boat", 1)
    index.drop("vehicle:boat", 99)  # not there: nothing happens
    index.drop("vehicle:truck", 2)  # not in that key: nothing happens

    assert members(search(index, "vehicle:boat")) == [2]
    assert index.size("vehicle:boat") == 1


def test_it_forgets_a_key_when_its_last_member_is_dropped(index):
    put(index, "vehicle:boat", 1, offset(1, 0))
    index.drop("vehicle:boat", 1)

    assert index.keys() == set()
    assert index.size("vehicle:boat") == 0
    assert search(index, "vehicle:boat") == []


def test_it_moves_a_member_that_is_put_again(index):
    put(index, "volunteer:rescue", 1, offset(10, 0))
    put(index, "volunteer:rescue", 2, offset(5, 0))

    put(index, "volunteer:rescue", 1, offset(1, 0))

    hits = search(index, "volunteer:rescue")
    assert members(hits) == [1, 2]
    assert hits[0].distance_km == pytest.approx(1, rel=0.005)
    assert index.size("volunteer:rescue") == 2


def test_it_keeps_keys_separate(index):
    put(index, volunteer_key("rescue"), 1, offset(1, 0))
    put(index, volunteer_key("medical"), 2, offset(1, 0))
    put(index, vehicle_key("boat"), 1, offset(2, 0))

    assert members(search(index, "volunteer:rescue")) == [1]
    assert members(search(index, "volunteer:medical")) == [2]
    assert members(search(index, "vehicle:boat")) == [1]
    assert search(index, "vehicle:truck") == []
    assert index.keys() == {"volunteer:rescue", "volunteer:medical", "vehicle:boat"}
    assert index.size("volunteer:rescue") == 1


def test_it_names_keys_by_skill_and_vehicle_kind():
    assert volunteer_key("water_rescue") == "volunteer:water_rescue"
    assert vehicle_key("boat") == "vehicle:boat"


def test_it_refuses_positions_redis_cannot_hold(index):
    with pytest.raises(ValueError, match="outside"):
        index.put("volunteer:rescue", 1, latitude=86, longitude=113.74)
    with pytest.raises(ValueError, match="outside"):
        index.put("volunteer:rescue", 1, latitude=34.4, longitude=float("nan"))
    with pytest.raises(ValueError, match="negative"):
        search(index, "volunteer:rescue", radius_km=-1)
    assert index.keys() == set()


def test_it_finds_everyone_within_the_radius_across_the_antimeridian_and_near_a_pole(index):
    rng = random.Random(7)
    for origin in [(60.0, 179.95), (84.0, 10.0), (-0.01, -179.99)]:
        index.replace_all({})
        points = {
            member: (
                min(max(origin[0] + rng.uniform(-0.5, 0.5), -85), 85),
                (origin[1] + rng.uniform(-0.5, 0.5) + 180) % 360 - 180,
            )
            for member in range(1, 301)
        }
        index.replace_all({"vehicle:boat": points})

        hits = search(index, "vehicle:boat", radius_km=20, count=1000, origin=origin)

        expected = {
            member
            for member, point in points.items()
            if haversine_m(*origin, *geohash_cell_centre(*point)) <= 20_000
        }
        assert expected, "the test data should put someone within the radius"
        assert set(members(hits)) == expected


# --- replace_all ------------------------------------------------------------------------


def test_it_replaces_all_contents_and_empties_stale_keys(index):
    put(index, "volunteer:rescue", 1, offset(1, 0))
    put(index, "volunteer:rescue", 2, offset(2, 0))
    put(index, "vehicle:boat", 7, offset(1, 0))

    index.replace_all(
        {
            "volunteer:rescue": {2: offset(3, 0), 3: offset(1, 0)},
            "volunteer:medical": {4: offset(0, 1)},
            "vehicle:truck": {},
        }
    )

    assert index.keys() == {"volunteer:rescue", "volunteer:medical"}
    hits = search(index, "volunteer:rescue")
    assert members(hits) == [3, 2]
    assert hits[1].distance_km == pytest.approx(3, rel=0.005)
    assert members(search(index, "volunteer:medical")) == [4]
    assert search(index, "vehicle:boat") == []


def test_it_empties_the_index_when_replaced_with_nothing(index):
    put(index, "volunteer:rescue", 1, offset(1, 0))
    put(index, "vehicle:boat", 7, offset(1, 0))

    index.replace_all({})

    assert index.keys() == set()
    assert index.size("volunteer:rescue") == 0


def test_it_never_shows_a_reader_a_half_replaced_index(index):
    rng = random.Random(3)

    def contents(size):
        return {
            "volunteer:rescue": {
                member: (
                    CITY_SEAT[0] + rng.uniform(-0.1, 0.1),
                    CITY_SEAT[1] + rng.uniform(-0.1, 0.1),
                )
                for member in range(1, size + 1)
            },
            "vehicle:boat": {
                member: offset(member / 100, 0) for member in range(1, size // 10 + 1)
            },
        }

    # Every generation has sizes of its own, so a reader can tell them apart.
    generations = [contents(size) for size in range(3000, 6000, 500)]
    index.replace_all(generations[0])
    seen = []
    done = threading.Event()

    def read():
        while not done.is_set():
            boats = index.size("vehicle:boat")
            rescuers = index.size("volunteer:rescue")
            seen.append((boats, rescuers, index.size("vehicle:boat")))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for generation in generations[1:]:
            index.replace_all(generation)
    finally:
        done.set()
        reader.join()

    sizes = {(size // 10, size) for size in range(3000, 6000, 500)}
    # Never a set half built or half emptied...
    assert {boats for boats, _, _ in seen} <= {boats for boats, _ in sizes}
    assert {rescuers for _, rescuers, _ in seen} <= {rescuers for _, rescuers in sizes}
    # ...nor two keys from different generations: when no swap came between the two
    # boat readings, the rescuers read in between are of the boats' generation.
    steady = [(boats, rescuers) for boats, rescuers, again in seen if boats == again]
    assert steady and set(steady) <= sizes


@pytest.mark.redis
def test_it_leaves_no_build_keys_or_expiry_behind_in_redis():
    index = redis_index()
    index.clear()
    try:
        index.replace_all({"volunteer:rescue": {1: offset(1, 0)}, "vehicle:boat": {2: CITY_SEAT}})
        index.replace_all({"volunteer:rescue": {3: offset(2, 0)}})

        names = {name.decode() for name in index.redis.scan_iter(match=f"{TEST_PREFIX[:-1]}*")}
        assert names == {f"{TEST_PREFIX}volunteer:rescue"}
        assert index.redis.ttl(f"{TEST_PREFIX}volunteer:rescue") == -1  # kept for good
    finally:
        index.clear()
        index.redis.close()


# --- nearest: growing rings ---------------------------------------------------------------


class RecordingIndex:
    """Passes calls through to an index and notes the radius of every search. Its
    rings are searched one by one, as the memory backend does (the Redis backend runs
    the same loop in one Lua script; test_it_searches_the_rings_alike_in_lua checks it)."""

    def __init__(self, index):
        self.index = index
        self.radii = []

    def __getattr__(self, name):
        return getattr(self.index, name)

    def search(self, key, **kwargs):
        self.radii.append(kwargs["radius_km"])
        return self.index.search(key, **kwargs)

    def search_rings(self, key, **kwargs):
        return search_rings_one_by_one(self, key, **kwargs)


def test_it_widens_the_rings_until_it_has_enough_hits(index):
    for member, kilometres in enumerate([0.5, 1.5, 4, 8, 30], start=1):
        put(index, "volunteer:rescue", member, offset(kilometres, 0))
    recording = RecordingIndex(index)

    hits = nearest(
        recording, "volunteer:rescue", latitude=CITY_SEAT[0], longitude=CITY_SEAT[1], want=3
    )

    assert members(hits) == [1, 2, 3]
    assert recording.radii == [1, 2, 5]


def test_it_stops_at_the_first_ring_when_it_is_enough(index):
    for member in range(1, 11):
        put(index, "volunteer:rescue", member, offset(member * 0.05, 0))
    recording = RecordingIndex(index)

    hits = nearest(
        recording, "volunteer:rescue", latitude=CITY_SEAT[0], longitude=CITY_SEAT[1], want=4
    )

    assert members(hits) == [1, 2, 3, 4]
    assert recording.radii == [1]


def test_it_stops_at_the_last_ring_with_what_it_found(index):
    put(index, "vehicle:boat", 1, offset(3, 0))
    put(index, "vehicle:boat", 2, offset(40, 0))
    put(index, "vehicle:boat", 3, offset(130, 0))  # beyond the last ring
    recording = RecordingIndex(index)

    hits = nearest(
        recording,
        "vehicle:boat",
        latitude=CITY_SEAT[0],
        longitude=CITY_SEAT[1],
        want=3,
        rings_km=(5, 20, 50),
    )

    assert members(hits) == [1, 2]
    assert recording.radii == [5, 20, 50]


def test_it_stops_widening_once_every_member_is_found(index):
    put(index, "vehicle:boat", 1, offset(3, 0))
    put(index, "vehicle:boat", 2, offset(8, 0))
    recording = RecordingIndex(index)

    hits = nearest(recording, "vehicle:boat", latitude=CITY_SEAT[0], longitude=CITY_SEAT[1], want=6)

    assert members(hits) == [1, 2]
    assert recording.radii == [1, 2, 5, 10]


@pytest.mark.redis
def test_it_searches_the_rings_alike_in_lua():
    backend = redis_index()
    backend.clear()
    rng = random.Random(7)
    try:
        for member, (latitude, longitude) in random_city(rng, 500).items():
            backend.put("volunteer:rescue", member, latitude=latitude, longitude=longitude)
        for _ in range(20):
            point = {
                "latitude": CITY_SEAT[0] + rng.uniform(-0.2, 0.2),
                "longitude": CITY_SEAT[1] + rng.uniform(-0.2, 0.2),
            }
            for want in (1, 6, 60, 600):
                rings = {"want": want, "rings_km": (1, 2, 5, 10, 20, 50, 100)}
                in_lua = backend.search_rings("volunteer:rescue", **point, **rings)
                in_python = search_rings_one_by_one(backend, "volunteer:rescue", **point, **rings)
                assert in_lua == in_python
    finally:
        backend.clear()
        backend.redis.close()


def test_it_does_not_search_an_empty_key(index):
    recording = RecordingIndex(index)

    hits = nearest(recording, "vehicle:boat", latitude=CITY_SEAT[0], longitude=CITY_SEAT[1], want=3)

    assert hits == []
    assert recording.radii == []


# --- both backends agree ------------------------------------------------------------------


def random_city(rng: random.Random, size: int) -> dict[int, tuple[float, float]]:
    return {
        member: (CITY_SEAT[0] + rng.uniform(-0.17, 0.17), CITY_SEAT[1] + rng.uniform(-0.2, 0.2))
        for member in rng.sample(range(1, 10 * size), size)
    }


@pytest.mark.redis
def test_it_gives_the_same_answers_on_both_backends():
    rng = random.Random(2021)
    points = random_city(rng, 2000)
    gone = rng.sample(sorted(points), 50)
    memory, redis_backend = MemoryLocationIndex(), redis_index()
    redis_backend.clear()
    try:
        for backend in (memory, redis_backend):
            backend.replace_all({"volunteer:rescue": points})
            for member in gone:
                backend.drop("volunteer:rescue", member)
        for _ in range(20):
            origin = (
                CITY_SEAT[0] + rng.uniform(-0.2, 0.2),
                CITY_SEAT[1] + rng.uniform(-0.25, 0.25),
            )
            radius_km = rng.choice([0.5, 1, 2, 5, 10, 30])
            count = rng.choice([1, 5, 50, 500])
            answers = [
                search(backend, "volunteer:rescue", radius_km=radius_km, count=count, origin=origin)
                for backend in (memory, redis_backend)
            ]
            rings = [
                nearest(
                    backend, "volunteer:rescue", latitude=origin[0], longitude=origin[1], want=50
                )
                for backend in (memory, redis_backend)
            ]

            assert members(answers[0]) == members(answers[1])
            assert [hit.distance_km for hit in answers[0]] == pytest.approx(
                [hit.distance_km for hit in answers[1]], abs=1e-4
            )
            assert rings[0] == rings[1]
        assert memory.size("volunteer:rescue") == redis_backend.size("volunteer:rescue") == 1950
    finally:
        redis_backend.clear()
        redis_backend.redis.close()


# --- which backend a process uses -----------------------------------------------------------


@pytest.fixture
def fresh_location_index():
    location_index.cache_clear()
    yield
    location_index.cache_clear()


def test_it_uses_one_in_process_index_without_a_redis_url(settings, fresh_location_index):
    settings.LOCATION_INDEX_URL = ""

    assert isinstance(location_index(), MemoryLocationIndex)
    assert location_index() is location_index()


def test_it_uses_redis_when_the_index_has_a_url(settings, fresh_location_index):
    settings.LOCATION_INDEX_URL = "redis://127.0.0.1:6379/12"

    index = location_index()

    assert isinstance(index, RedisLocationIndex)
    assert index.prefix == settings.LOCATION_INDEX_PREFIX
    assert location_index() is index


def test_it_makes_one_in_process_index_for_threads_asking_at_once(settings, fresh_location_index):
    settings.LOCATION_INDEX_URL = ""
    start = threading.Barrier(8)
    got = []

    def ask():
        start.wait()
        got.append(location_index())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(got) == 8
    assert len({id(index) for index in got}) == 1
    location_index.cache_clear()
    assert location_index() is not got[0]
