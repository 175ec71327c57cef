"""Celery tasks: thin wrappers over services, safe to run twice or concurrently."""

from celery import shared_task

from dispatch.events import events_relay as relay_unpublished_events


@shared_task(name="dispatch.tasks.events_relay", ignore_result=True)
def events_relay() -> int:
    return relay_unpublished_events()
