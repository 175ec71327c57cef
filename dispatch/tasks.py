"""Celery tasks: thin wrappers over services. Each is safe to run twice or at the same
time as itself (acks late: a worker killed mid-task means the task runs again), and
the periodic ones derive their work from the database, so a lost message only delays.

Their names are dispatch.queue's constants: the services enqueue them by name through
dispatch.queue, so that this module may import the services without a cycle."""

import functools
import logging
from datetime import timedelta

from celery import shared_task
from celery.worker.consumer import Consumer
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from config.idempotency.services import idempotency_keys_expire as _idempotency_keys_expire
from dispatch import availability, batching, events, push, queue, services
from dispatch.sms import offers as sms_offers
from dispatch.sms.gateways import sms_texts_forget
from signin.services import signin_codes_forget
from volunteers.services import tokens_expire, volunteer_positions_forget

logger = logging.getLogger(__name__)

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


@shared_task(name=queue.NEEDS_DISPATCH_BATCH, ignore_result=True, **RETRY_ON_DATABASE_ERRORS)
def needs_dispatch_batch(token: str) -> int:
    """Plan together every need that arrived within the batch window (dispatch.batching).
    What arrived is forgotten only once planned: a retry, or the next window's drain,
    takes it again."""
    arrived = batching.batch_take(token=token)
    need_ids = batching.batch_need_ids(arrived)
    offers = services.needs_dispatch(need_ids=need_ids) if need_ids else []
    batching.batch_forget(arrived)
    return len(offers)


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


@shared_task(name=queue.OFFERS_WITHDRAW_FROM_BUSY_SWEEP, ignore_result=True)
def offers_withdraw_from_busy_sweep() -> int:
    """Redo the withdrawals whose task was lost: every open offer of someone busy is
    withdrawn and its need offered to others."""
    need_ids = services.offers_withdraw_from_busy_sweep()
    if need_ids:
        services.needs_dispatch(need_ids=need_ids)
    return len(need_ids)


@shared_task(name=queue.SHIFTS_TAKE_UP, ignore_result=True)
def shifts_take_up() -> int:
    """Reserved shifts coming due become active work (or their clash is told, and a
    shift its volunteer could not start is offered to others)."""
    return len(services.shifts_take_up())


@shared_task(name=queue.INDEX_RECONCILE, ignore_result=True)
def index_reconcile() -> dict:
    """Rebuild the location index from the database (Redis keeps nothing on disk)."""
    return availability.index_rebuild()


@shared_task(name=queue.OFFERS_SMS_FALLBACK, ignore_result=True)
def offers_sms_fallback() -> int:
    """Text each offer no phone confirmed within SMS_FALLBACK_SECONDS, once; and the
    stand-down of each texted offer withdrawn since, once."""
    return sms_offers.offers_sms_fallback() + sms_offers.stand_downs_sms()


@shared_task(name=queue.OFFERS_PUSH, ignore_result=True)
def offers_push(assignment_ids: list[int]) -> int:
    """Push new offers to their volunteers' phones (best effort: no retry, the SMS
    fallback is the sweep behind it)."""
    return push.offers_push(assignment_ids)


@shared_task(name=queue.IDEMPOTENCY_KEYS_EXPIRE, ignore_result=True)
def idempotency_keys_expire() -> int:
    """Delete the API's idempotency keys older than IDEMPOTENCY_KEY_HOURS (kept with the
    other periodic tasks, on beat's schedule, though the keys are config.idempotency's)."""
    return _idempotency_keys_expire()


@shared_task(name=queue.PERSONAL_DATA_EXPIRE, ignore_result=True)
def personal_data_expire() -> dict:
    """Forget what is kept only for a while (README, "Personal data"): old positions,
    the words of old SMS, old API tokens, old requests for sign-in codes."""
    now = timezone.now()
    return {
        "positions": volunteer_positions_forget(
            reported_before=now - timedelta(days=settings.LOCATION_RETENTION_DAYS)
        ),
        "sms_texts": sms_texts_forget(
            sent_before=now - timedelta(days=settings.SMS_RETENTION_DAYS)
        ),
        "tokens": tokens_expire(created_before=now - timedelta(days=settings.TOKEN_MAX_AGE_DAYS)),
        # Requests for sign-in codes (strangers' numbers among them): the rate limits
        # look back an hour; a day is kept for looking into abuse.
        "sign_in_codes": signin_codes_forget(created_before=now - timedelta(days=1)),
    }


# --- the worker's consumer ---------------------------------------------------------------

# What the worker asks for as soon as it has the broker back after losing it: the tasks
# sent meanwhile were lost (dispatch.queue logs each), and these find their work in the
# database. In this order: the index (it may have missed syncs, or been lost with a
# restart), then the needs never offered, the withdrawals and the live notifications.
CATCH_UP = (
    queue.INDEX_RECONCILE,
    queue.NEEDS_REDISPATCH,
    queue.OFFERS_WITHDRAW_FROM_BUSY_SWEEP,
    queue.EVENTS_RELAY,
)
# Seconds between attempts to reach the broker again. Celery's (kombu's) default waits
# 2, 4, 6 … up to 30 s, so after a 30 s outage the worker found Redis back up to 12 s
# late (bench/redis_outage.py); a broker on the same network is tried every second.
RECONNECT_INTERVAL_SECONDS = 1


class CatchUpConsumer(Consumer):
    """The worker's consumer (settings.CELERY_WORKER_CONSUMER): tries the broker again
    every second after losing it, and once it is back asks for the sweeps at once
    (CATCH_UP) rather than leaving what the outage lost to their next turn on beat's
    schedule (REDISPATCH_SECONDS, 30 s). Several workers each ask: the sweeps are safe
    to run at once."""

    def ensure_connected(self, conn):
        reconnecting = not self.first_connection_attempt
        conn.ensure_connection = functools.partial(
            conn.ensure_connection,
            interval_start=RECONNECT_INTERVAL_SECONDS,
            interval_step=0,
            interval_max=RECONNECT_INTERVAL_SECONDS,
        )
        conn = super().ensure_connected(conn)
        if reconnecting:
            logger.warning("the broker is back: asking for the sweeps %s", ", ".join(CATCH_UP))
            for name in CATCH_UP:
                try:
                    self.app.send_task(name, ignore_result=True)
                except Exception:
                    logger.exception("could not ask for %s; beat will run it in its turn", name)
        return conn
