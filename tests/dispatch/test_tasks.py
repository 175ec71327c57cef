from datetime import timedelta

import pytest
import redis
from celery.result import allow_join_result
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from dispatch import services, tasks
from dispatch.availability import index_rebuild
from dispatch.batching import batch_store
from dispatch.events import DASHBOARD_GROUP, event_record
from dispatch.location_index import volunteer_key
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from dispatch.tasks import events_relay, offers_expire
from tests.dispatch.scenes import KM, SITE, offers_on_two_rescues
from tests.dispatch.test_events import listen, receive
from tests.dispatch.test_services import open_rescue
from tests.processes import celery_worker, database_url_of_this_run, environment, wait_until


def empty_this_runs_queue():
    """Tasks left by earlier tests (on_commit hooks) would run first: drop them, and the
    dispatches waiting in the batch window (dispatch.batching). Only this run's queue:
    other runs may share the Redis database."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(settings.CELERY_TASK_DEFAULT_QUEUE)
    store = batch_store()
    if store is not None:
        store.clear()


def unpublished_old_event(volunteer) -> DeploymentEvent:
    """An event committed by a process that died before publishing it."""
    from django.db import transaction

    with transaction.atomic():
        event = event_record(kind=EventKind.VOLUNTEER_ON_DUTY, volunteer=volunteer)
    DeploymentEvent.objects.filter(seq=event.seq).update(
        published_at=None, occurred_at=timezone.now() - timedelta(minutes=5)
    )
    return event


@pytest.mark.django_db(transaction=True)
def test_it_changes_nothing_when_the_relay_runs_twice(volunteer, channel_layer):
    event = unpublished_old_event(volunteer)

    assert events_relay() == 1
    published_at = DeploymentEvent.objects.get(seq=event.seq).published_at
    assert events_relay() == 0
    assert DeploymentEvent.objects.get(seq=event.seq).published_at == published_at


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_relays_lost_events_through_a_real_worker_on_redis(volunteer, channel_layer):
    empty_this_runs_queue()
    event = unpublished_old_event(volunteer)
    dashboard = listen(DASHBOARD_GROUP)

    with celery_worker(environment(DATABASE_URL=database_url_of_this_run())):
        events_relay.delay()
        wait_until(
            lambda: DeploymentEvent.objects.get(seq=event.seq).published_at,
            timeout=60,
            what="the worker to publish the event",
        )

    assert receive(dashboard)["event"]["seq"] == event.seq


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_dispatches_expires_and_escalates_through_a_real_worker(
    coordinator, make_volunteer, live_index
):
    empty_this_runs_queue()
    rescuers = [
        make_volunteer(
            f"1390000000{n}", on_duty=True, last_latitude=SITE[0] + n * KM, last_longitude=SITE[1]
        )
        for n in range(1, 5)
    ]
    index_rebuild()

    def offered() -> list[int]:
        return sorted(
            Assignment.objects.filter(status=AssignmentStatus.OFFERED).values_list(
                "volunteer_id", flat=True
            )
        )

    with celery_worker(environment(DATABASE_URL=database_url_of_this_run())):
        # Nobody calls the dispatch: opening the incident enqueues it after commit.
        open_rescue(coordinator, count=1)
        first = wait_until(offered, timeout=60, what="the worker to send the offers")
        Assignment.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        offers_expire.delay()
        second = wait_until(
            lambda: offered() if set(offered()).isdisjoint(first) else None,
            timeout=60,
            what="the worker to expire the offers and ask the next",
        )

    assert first == [rescuers[0].pk, rescuers[1].pk]
    assert second == [rescuers[2].pk, rescuers[3].pk]
    assert Assignment.objects.filter(status=AssignmentStatus.EXPIRED).count() == 2


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_withdraws_a_busy_volunteers_other_offers_through_a_real_worker(
    live_index, coordinator, rescuers
):
    busy, free = rescuers[0], rescuers[1]
    taken, other, offers = offers_on_two_rescues(coordinator, (busy, free))
    empty_this_runs_queue()  # the dispatches the two incidents queued: not this test's

    def offered_again():
        return list(
            Assignment.objects.filter(need=other, status=AssignmentStatus.OFFERED)
            .exclude(pk__in=[offer.pk for offer in offers.values()])
            .values_list("volunteer_id", flat=True)
        )

    with celery_worker(environment(DATABASE_URL=database_url_of_this_run())):
        # Nobody calls the withdrawal: the accept queues it after its commit.
        services.assignment_accept(assignment_id=offers[taken.pk, busy.pk].pk, volunteer=busy)
        again = wait_until(
            offered_again, timeout=60, what="the worker to withdraw the offer and offer again"
        )

    withdrawn = Assignment.objects.get(pk=offers[other.pk, busy.pk].pk)
    assert (withdrawn.status, withdrawn.reason) == (
        AssignmentStatus.WITHDRAWN,
        services.ACCEPTED_ANOTHER,
    )
    assert Assignment.objects.get(pk=offers[other.pk, free.pk].pk).status == "offered"
    assert busy.pk not in again
    assert DeploymentEvent.objects.filter(assignment=withdrawn, kind="offer.withdrawn").exists()


@pytest.mark.django_db
def test_it_rebuilds_the_location_index_from_the_database(live_index, rescuers):
    live_index.replace_all({})  # Redis restarted: it keeps nothing on disk

    sizes = tasks.index_reconcile()

    assert sizes == {volunteer_key("rescue"): len(rescuers)}
    hits = live_index.search(
        volunteer_key("rescue"), latitude=SITE[0], longitude=SITE[1], radius_km=50, count=10
    )
    assert [hit.member for hit in hits] == [volunteer.pk for volunteer in rescuers]


def run_here(task, *args):
    """Run a task in this process, retries included (Celery runs them at once here).
    Allowed to wait for results: an embedded worker started by an earlier test marks
    the process as one where waiting on a result would block a worker."""
    with allow_join_result():
        return task.apply(args=args).get()


def test_it_retries_a_dispatch_that_hit_a_deadlock(monkeypatch):
    calls = []

    def deadlocked_once(*, incident_id):
        calls.append(incident_id)
        if len(calls) == 1:
            raise OperationalError("deadlock detected")
        return ["an offer"]

    monkeypatch.setattr(services, "incident_dispatch", deadlocked_once)

    assert run_here(tasks.incident_dispatch, 7) == 1
    assert calls == [7, 7]


def test_it_gives_up_on_a_dispatch_after_a_few_retries(monkeypatch):
    calls = []

    def always_deadlocked(*, incident_id):
        calls.append(incident_id)
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(services, "incident_dispatch", always_deadlocked)

    with pytest.raises(OperationalError):
        run_here(tasks.incident_dispatch, 7)
    # Then the re-dispatch sweep takes the incident's needs, 30 s later at most.
    assert len(calls) == 1 + tasks.RETRY_ON_DATABASE_ERRORS["max_retries"]
