"""Celery tasks: thin wrappers over services. Each is safe to run twice or at the same
time as itself (acks late: a worker killed mid-task means the task runs again), and
the periodic ones derive their work from the database, so a lost message only delays.

Their names are dispatch.queue's constants: the services enqueue them by name through
dispatch.queue, so that this module may import the services without a cycle."""

from celery import shared_task
from django.db import OperationalError

from dispatch import availability, events, queue, services
from dispatch.sms import offers as sms_offers

# Tasks a user's action starts (not the periodic sweeps, whose next run is the retry)
# retry a deadlock, a serialisation failure or a dropped database connection: the
# work is idempotent, and the sweep 30 s later would be a long wait for an offer.
RETRY_ON_DATABASE_ERRORS = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 1,  # seconds, doubling: 1, 2, 4 … (jittered)
    "retry_backoff_max": 10,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name=queue.EVENTS_RELAY, ignore_result=True)
def events_relay() -> int:
    return events.events_relay()


@shared_task(name=queue.INCIDENT_DISPATCH, ignore_result=True, **RETRY_ON_DATABASE_ERRORS)
def incident_dispatch(incident_id: int) -> int:
    return len(services.incident_dispatch(incident_id=incident_id))


@shared_task(name=queue.NEEDS_DISPATCH, ignore_result=True, **RETRY_ON_DATABASE_ERRORS)
def needs_dispatch(need_ids: list[int]) -> int:
    return len(services.needs_dispatch(need_ids=need_ids))


@shared_task(name=queue.OFFERS_EXPIRE, ignore_result=True)
def offers_expire() -> int:
    """Expire unanswered offers and escalate: offer their needs to the next best."""
    need_ids = services.offers_expire()
    if need_ids:
        services.needs_dispatch(need_ids=need_ids)
    return len(need_ids)


@shared_task(name=queue.NEEDS_REDISPATCH, ignore_result=True)
def needs_redispatch() -> int:
    return len(services.needs_redispatch())


@shared_task(name=queue.OFFERS_WITHDRAW_FROM_BUSY, ignore_result=True, **RETRY_ON_DATABASE_ERRORS)
def offers_withdraw_from_busy(volunteer_id: int | None = None, vehicle_id: int | None = None):
    need_ids = services.offers_withdraw_from_busy(volunteer_id=volunteer_id, vehicle_id=vehicle_id)
    if need_ids:
        services.needs_dispatch(need_ids=need_ids)
    return len(need_ids)


@shared_task(name=queue.INDEX_RECONCILE, ignore_result=True)
def index_reconcile() -> dict:
    """Rebuild the location index from the database (Redis keeps nothing on disk)."""
    return availability.index_rebuild()


@shared_task(name=queue.OFFERS_SMS_FALLBACK, ignore_result=True)
def offers_sms_fallback() -> int:
    """Text each offer no phone confirmed within SMS_FALLBACK_SECONDS, once."""
    return sms_offers.offers_sms_fallback()
