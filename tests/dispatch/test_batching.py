"""Planning together what arrives together (dispatch.batching, issue 13 item 4)."""

import base64
import json
import os
from types import SimpleNamespace

import pytest
import redis
from django.conf import settings

from dispatch import batching, queue, services, tasks
from dispatch.availability import index_rebuild
from dispatch.batching import (
    MemoryBatchStore,
    RedisBatchStore,
    batch_members,
    batch_parse,
    batch_store,
)
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from incidents.models import Incident
from tests.dispatch.scenes import KM, SITE, open_rescue
from tests.dispatch.test_tasks import empty_this_runs_queue
from tests.processes import celery_worker, database_url_of_this_run, environment, wait_until

# --- the scene ---------------------------------------------------------------------------
# Two one-place rescues: A at SITE, B 4 km north of it. X is 1 km north of A (3 km from
# B): the nearest to both. Y is 2 km south of A and goes 3 km at most: A's only. First
# come, first served, A takes X and leaves B nobody else; planned together, A gets Y and
# B gets X. Each need is offered to as many as it needs (no extra offers for urgent
# needs), so that the pairing shows in the offers.
NO_EXTRA_OFFERS = {"URGENT_EXTRA_OFFERS_PERCENT": "0"}
B_PLACE = (SITE[0] + 4 * KM, SITE[1])


@pytest.fixture
def x_and_y(make_volunteer, live_index):
    x = make_volunteer(
        "13900000001", on_duty=True, last_latitude=SITE[0] + 1 * KM, last_longitude=SITE[1]
    )
    y = make_volunteer(
        "13900000002",
        on_duty=True,
        last_latitude=SITE[0] - 2 * KM,
        last_longitude=SITE[1],
        travel_range_km=3,
    )
    index_rebuild()
    return SimpleNamespace(x=x, y=y)


def open_a_and_b(coordinator) -> tuple[Incident, Incident]:
    a = open_rescue(coordinator, count=1, title="A 泰山村")
    b = open_rescue(
        coordinator, count=1, title="B 龙湖镇北", latitude=B_PLACE[0], longitude=B_PLACE[1]
    )
    return a, b


def offered_to(incident: Incident) -> set[int]:
    return set(
        Assignment.objects.filter(
            need__incident=incident, status=AssignmentStatus.OFFERED
        ).values_list("volunteer_id", flat=True)
    )


def queued_tasks() -> list[dict]:
    """This run's queue on the Redis broker, oldest first (left in place): each task's
    name, arguments and ETA."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    raw = reversed(broker.lrange(settings.CELERY_TASK_DEFAULT_QUEUE, 0, -1))
    messages = [json.loads(message) for message in raw]
    return [
        {
            "task": message["headers"]["task"],
            "args": json.loads(base64.b64decode(message["body"]))[0],
            "eta": message["headers"]["eta"],
        }
        for message in messages
    ]


@pytest.fixture
def window(settings):
    """The batch window of this process (the one that joins the batch and sends the
    drain), in milliseconds; 3 s unless a test sets another: long enough that two
    incidents opened one after the other fall in one window on a busy machine."""
    settings.DISPATCH_BATCH_WINDOW_MS = 3000
    settings.URGENT_EXTRA_OFFERS_PERCENT = int(NO_EXTRA_OFFERS["URGENT_EXTRA_OFFERS_PERCENT"])
    empty_this_runs_queue()
    yield settings
    empty_this_runs_queue()


def worker():
    return celery_worker(environment(DATABASE_URL=database_url_of_this_run(), **NO_EXTRA_OFFERS))


# --- through a real worker ----------------------------------------------------------


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_plans_two_incidents_opened_within_the_window_together(coordinator, x_and_y, window):
    a, b = open_a_and_b(coordinator)
    # One drain for the two, due at the window's end; no dispatch of either alone.
    sent = queued_tasks()

    with worker():
        wait_until(
            lambda: offered_to(a) and offered_to(b), timeout=60, what="the worker to offer both"
        )
        # Then the drain forgets what it planned.
        wait_until(
            lambda: batch_store().take(token="none") == {},
            timeout=30,
            what="the drain to forget the planned",
        )

    assert [message["task"] for message in sent] == [queue.NEEDS_DISPATCH_BATCH]
    # The pairing first come, first served misses: A → Y, B → X.
    assert offered_to(a) == {x_and_y.y.pk}
    assert offered_to(b) == {x_and_y.x.pk}
    # In one run: one transaction holds the log's sequence to its commit, so the two
    # offers' events are consecutive.
    seqs = sorted(
        DeploymentEvent.objects.filter(kind=EventKind.OFFER_MADE).values_list("seq", flat=True)
    )
    assert len(seqs) == 2 and seqs[1] == seqs[0] + 1


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_plans_each_incident_alone_and_at_once_with_the_window_at_0(
    coordinator, x_and_y, window
):
    window.DISPATCH_BATCH_WINDOW_MS = 0
    a, b = open_a_and_b(coordinator)
    sent = queued_tasks()

    with worker():
        wait_until(
            lambda: offered_to(a) and offered_to(b), timeout=60, what="the worker to offer both"
        )

    # As before batching: one dispatch each, in the order they opened, at once.
    assert [(m["task"], m["args"], m["eta"]) for m in sent] == [
        (queue.INCIDENT_DISPATCH, [a.pk], None),
        (queue.INCIDENT_DISPATCH, [b.pk], None),
    ]
    # First come, first served: A takes the nearest, X, and B, planned afterwards, can
    # only be offered X as well (who is not busy until they accept one of the two).
    assert offered_to(a) == {x_and_y.x.pk}
    assert offered_to(b) == {x_and_y.x.pk}


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_offers_a_lone_incident_once_its_window_ends(coordinator, x_and_y, window):
    window.DISPATCH_BATCH_WINDOW_MS = 300

    with worker():
        a = open_rescue(coordinator, count=1)
        wait_until(lambda: offered_to(a), timeout=60, what="the worker to offer the incident")

    assert offered_to(a) == {x_and_y.x.pk}


# --- nothing lost ------------------------------------------------------------------------


def plant_open_window() -> str:
    """A window whose drain never comes: its token taken (for a minute), the message
    lost."""
    store = batch_store()
    store.join([], token="lost-drain", window_ms=60_000)
    return "lost-drain"


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_leaves_an_incident_whose_drain_was_lost_to_the_sweep(coordinator, x_and_y, window):
    plant_open_window()

    a = open_rescue(coordinator, count=1)

    assert queued_tasks() == []  # it found a window open: no drain of its own
    assert offered_to(a) == set()
    tasks.needs_redispatch()
    assert offered_to(a) == {x_and_y.x.pk}


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_plans_an_incident_whose_drain_was_lost_with_the_next_window(
    coordinator, x_and_y, window
):
    lost = plant_open_window()
    a = open_rescue(coordinator, count=1, title="A 泰山村")
    assert queued_tasks() == []
    batch_store().release(token=lost)  # its token expires

    b = open_rescue(
        coordinator, count=1, title="B 龙湖镇北", latitude=B_PLACE[0], longitude=B_PLACE[1]
    )
    (drain,) = queued_tasks()
    tasks.needs_dispatch_batch(*drain["args"])  # what the worker runs at the window's end

    assert (offered_to(a), offered_to(b)) == ({x_and_y.y.pk}, {x_and_y.x.pk})


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_plans_the_batch_again_when_its_drain_hit_a_database_error(
    coordinator, x_and_y, window, monkeypatch
):
    a = open_rescue(coordinator, count=1)
    (drain,) = queued_tasks()

    def deadlocked(*, need_ids):
        from django.db import OperationalError

        raise OperationalError("deadlock detected")

    with monkeypatch.context() as failing:
        failing.setattr(services, "needs_dispatch", deadlocked)
        with pytest.raises(Exception, match="deadlock"):
            tasks.needs_dispatch_batch(*drain["args"])
    assert offered_to(a) == set()
    # The retry (RETRY_ON_DATABASE_ERRORS) runs the same message again.
    tasks.needs_dispatch_batch(*drain["args"])

    assert offered_to(a) == {x_and_y.x.pk}
    assert batch_store().take(token="none") == {}


@pytest.mark.django_db(transaction=True)
def test_it_dispatches_at_once_when_the_batch_cannot_be_reached(
    coordinator, settings, monkeypatch, caplog
):
    settings.DISPATCH_BATCH_WINDOW_MS = 300
    sent = []

    def send_task(name, *, args, kwargs, **options):
        sent.append((name, tuple(args)))

    def unreachable(**arrivals):
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(queue, "current_app", SimpleNamespace(send_task=send_task))
    monkeypatch.setattr(batching, "batch_join", unreachable)

    a = open_rescue(coordinator, count=1)
    queue.needs_dispatch_batched_enqueue(need_ids=[a.needs.get().pk])

    assert sent == [
        (queue.INCIDENT_DISPATCH, (a.pk,)),
        (queue.NEEDS_DISPATCH, ([a.needs.get().pk],)),
    ]
    assert "could not reach the dispatch batch" in caplog.text


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_it_gives_the_token_back_when_the_drain_cannot_be_sent(coordinator, window, monkeypatch):
    def broker_down(name, **options):
        raise ConnectionError("the broker is down")

    with monkeypatch.context() as down:
        # Only the sending fails: the batch is in the broker's Redis, still up.
        down.setattr(queue, "current_app", SimpleNamespace(send_task=broker_down))
        a = open_rescue(coordinator, count=1)
    assert queued_tasks() == []

    # The next arrival opens a window and sends a drain, which takes the first one too.
    queue.needs_dispatch_batched_enqueue(need_ids=[])
    (drain,) = queued_tasks()
    arrived = batch_store().take(token=drain["args"][0])
    assert batching.batch_need_ids(arrived) == [a.needs.get().pk]


# --- the enqueue ----------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_it_sends_one_drain_per_window_due_at_its_end(window):
    window.DISPATCH_BATCH_WINDOW_MS = 2500

    queue.incident_dispatch_enqueue(incident_id=7)
    queue.needs_dispatch_batched_enqueue(need_ids=[3, 4])
    queue.incident_dispatch_enqueue(incident_id=8)

    (drain,) = queued_tasks()
    assert drain["task"] == queue.NEEDS_DISPATCH_BATCH
    assert drain["eta"] is not None
    arrived = batch_store().take(token=drain["args"][0])
    assert batch_parse(arrived) == ({3, 4}, {7, 8})
    # The drain gave the token back: the next arrival opens the next window.
    queue.incident_dispatch_enqueue(incident_id=9)
    assert len(queued_tasks()) == 2


# --- the stores, and the pure parts ------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        yield MemoryBatchStore()
        return
    if settings.EMBEDDED:
        pytest.skip("needs Redis; this run has no REDIS_URL")
    made = RedisBatchStore(
        settings.CELERY_BROKER_URL, prefix=f"tongxin-test-{os.getpid()}:batch-unit:"
    )
    made.clear()
    yield made
    made.clear()


def test_it_opens_a_window_once_until_its_drain_takes_the_token(store):
    assert store.join(["need:1"], token="first", window_ms=60_000) is True
    assert store.join(["need:2"], token="second", window_ms=60_000) is False

    assert set(store.take(token="first")) == {"need:1", "need:2"}
    assert store.join(["need:3"], token="third", window_ms=60_000) is True


def test_it_keeps_a_newer_windows_token_when_an_older_drain_takes(store):
    store.join(["need:1"], token="newer", window_ms=60_000)

    store.take(token="older")  # a drain that came late, after its window had lapsed

    assert store.join(["need:2"], token="another", window_ms=60_000) is False


def test_it_opens_the_next_window_once_a_lost_drains_token_lapses(store):
    store.join(["need:1"], token="lost", window_ms=1)

    wait_until(
        lambda: store.join(["need:2"], token="next", window_ms=60_000),
        timeout=10,
        what="the lost drain's token to lapse",
    )
    assert set(store.take(token="next")) == {"need:1", "need:2"}


def test_it_forgets_only_what_was_not_added_again_while_it_was_planned(store):
    store.join(["need:1", "incident:5"], token="t", window_ms=60_000)
    seen = store.take(token="t")
    store.join(["need:1"], token="t2", window_ms=60_000)  # enlarged again meanwhile

    store.forget(seen)

    assert set(store.take(token="t2")) == {"need:1"}


def test_it_gives_back_only_its_own_token(store):
    store.join([], token="mine", window_ms=60_000)

    store.release(token="someone-elses")
    assert store.join([], token="other", window_ms=60_000) is False
    store.release(token="mine")
    assert store.join([], token="other", window_ms=60_000) is True


def test_it_names_needs_and_incidents_apart():
    members = batch_members(need_ids=[3, 4], incident_ids=[3])

    assert members == ["need:3", "need:4", "incident:3"]
    assert batch_parse(members + ["volunteer:9", "need:x", "junk"]) == ({3, 4}, {3})


def test_it_turns_batching_off_with_a_window_of_0_or_less(settings):
    settings.DISPATCH_BATCH_WINDOW_MS = -5
    assert batching.batch_window_ms() == 0
    settings.DISPATCH_BATCH_WINDOW_MS = 250
    assert batching.batch_window_ms() == 250


@pytest.mark.django_db
def test_it_resolves_an_incident_to_all_its_needs(coordinator):
    from incidents.services import NeedSpec
    from volunteers.models import Skill

    rescue = Skill.objects.get(code="rescue")
    incident = open_rescue(
        coordinator,
        needs=[NeedSpec(kind="people", skill=rescue, count=1)] * 2,
    )
    other = open_rescue(coordinator, count=1).needs.get()

    need_ids = batching.batch_need_ids(
        batch_members(need_ids=[other.pk], incident_ids=[incident.pk])
    )

    assert need_ids == sorted([*incident.needs.values_list("pk", flat=True), other.pk])
