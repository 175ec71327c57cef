from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from dispatch.events import DASHBOARD_GROUP, event_record
from dispatch.models import DeploymentEvent, EventKind
from dispatch.tasks import events_relay
from tests.dispatch.test_events import listen, receive
from tests.processes import celery_worker, database_url_of_this_run, environment, wait_until


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
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
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
