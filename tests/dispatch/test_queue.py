"""Enqueuing by name (dispatch.queue): once the transaction commits, the very message
`task.delay_on_commit(…)` sent."""

import json
from types import SimpleNamespace

import pytest
import redis
from celery import Task
from django.conf import settings
from django.db import transaction

from briefings import tasks as briefings_tasks
from dispatch import queue, tasks
from tests.dispatch.test_tasks import empty_this_runs_queue

# (enqueue, its arguments, the task, what delay() was given)
ENQUEUES = [
    (queue.incident_dispatch_enqueue, {"incident_id": 7}, tasks.incident_dispatch, (7,), {}),
    (queue.needs_dispatch_enqueue, {"need_ids": [3, 4]}, tasks.needs_dispatch, ([3, 4],), {}),
    (
        queue.offers_withdraw_from_busy_enqueue,
        {"volunteer_id": 5},
        tasks.offers_withdraw_from_busy,
        (),
        {"volunteer_id": 5, "vehicle_id": None},
    ),
    (queue.offers_push_enqueue, {"assignment_ids": [8, 9]}, tasks.offers_push, ([8, 9],), {}),
]
IDS = [enqueue.__name__ for enqueue, *_ in ENQUEUES]


class Rollback(Exception):
    pass


@pytest.fixture(autouse=True)
def _no_batch_window(settings):
    """The enqueues here send their task at once, as with the batch window at 0; joining
    a batch instead is tests/dispatch/test_batching.py's."""
    settings.DISPATCH_BATCH_WINDOW_MS = 0


@pytest.fixture
def sent(monkeypatch):
    """What reaches the Celery app, instead of the broker."""
    messages = []

    def send_task(name, *, args, kwargs, **options):
        messages.append((name, tuple(args), kwargs, options))

    monkeypatch.setattr(queue, "current_app", SimpleNamespace(send_task=send_task))
    return messages


def test_it_registers_every_task_under_the_name_it_always_had():
    names = {value for key, value in vars(queue).items() if key.isupper()}
    declared = {
        task.name: function_name
        for function_name, task in vars(tasks).items()
        if isinstance(task, Task)
    }

    assert set(declared) == names
    assert all(name == f"dispatch.tasks.{declared[name]}" for name in names)
    # Beat runs dispatch's sweeps, and one task of another app: the broadcasts' SMS.
    others = {briefings_tasks.BROADCASTS_SMS_FALLBACK}
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= names | others


@pytest.mark.parametrize("enqueue, arguments, task, args, kwargs", ENQUEUES, ids=IDS)
@pytest.mark.django_db
def test_it_sends_the_task_once_the_transaction_commits(
    enqueue, arguments, task, args, kwargs, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as hooks:
        enqueue(**arguments)
        assert sent == []

    assert len(hooks) == 1
    assert sent == [(task.name, args, kwargs, {"ignore_result": True})]


@pytest.mark.parametrize("enqueue, arguments, task, args, kwargs", ENQUEUES, ids=IDS)
@pytest.mark.django_db
def test_it_sends_nothing_when_the_transaction_rolls_back(
    enqueue, arguments, task, args, kwargs, sent, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as hooks,
        pytest.raises(Rollback),
        transaction.atomic(),
    ):
        enqueue(**arguments)
        raise Rollback

    assert hooks == []
    assert sent == []


def _queued() -> list[dict]:
    """This run's queue on the Redis broker, oldest first, emptied."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    key = settings.CELERY_TASK_DEFAULT_QUEUE
    messages = [json.loads(raw) for raw in reversed(broker.lrange(key, 0, -1))]
    broker.delete(key)
    return messages


def _comparable(message: dict) -> dict:
    """A message without what differs from one sending to the next."""
    headers = {k: v for k, v in message["headers"].items() if k not in ("id", "root_id")}
    properties = {
        k: v
        for k, v in message["properties"].items()
        if k not in ("correlation_id", "delivery_tag")
    }
    return {**message, "headers": headers, "properties": properties}


@pytest.mark.redis
@pytest.mark.parametrize("enqueue, arguments, task, args, kwargs", ENQUEUES, ids=IDS)
@pytest.mark.django_db(transaction=True)
def test_it_queues_the_message_delay_on_commit_queued(enqueue, arguments, task, args, kwargs):
    empty_this_runs_queue()
    with transaction.atomic():
        task.delay_on_commit(*args, **kwargs)
    (by_the_task,) = _queued()

    with transaction.atomic():
        enqueue(**arguments)
        assert _queued() == []
    (by_name,) = _queued()

    assert by_name["headers"]["task"] == task.name
    assert by_name["properties"]["delivery_info"]["routing_key"] == (
        settings.CELERY_TASK_DEFAULT_QUEUE
    )
    assert _comparable(by_name) == _comparable(by_the_task)
