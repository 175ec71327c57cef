"""Enqueuing dispatch's Celery tasks, for the services (DESIGN.md §4 rule 2, §5b: tasks
call services, services enqueue tasks).

The tasks are sent by their registered name, so this module imports neither
dispatch.tasks nor any service: nothing here can close an import cycle. The names are
the `name=` of each task in dispatch/tasks.py and must not change: beat's schedule
(config/settings.py) and messages already queued refer to them.

Each `…_enqueue` sends its task once the current transaction commits, exactly as
`task.delay_on_commit(…)` did: through the current Celery app (the one the shared tasks
are bound to: config.celery's, or the embedded runner's on the memory:// transport), to
the default queue (CELERY_QUEUE), with the same arguments in the message; outside a
transaction, at once.

A broker error is logged, never raised (DESIGN.md §4 rule 5, issue 10): the caller's
transaction has committed, so its caller must be told it succeeded, and a client told
"500" would retry and duplicate. Every task sent here has a sweep that derives the same
work from the database once the broker is back: needs_redispatch offers every need
left unfilled (the lost dispatches and re-dispatches), offers_withdraw_from_busy_sweep
withdraws the open offers of whoever is busy (the lost withdrawals), and an offer whose
Web Push was lost is texted by the SMS fallback if no phone confirmed it. Beat runs them on
its schedule, and the worker asks for them as soon as it finds the broker back
(dispatch.tasks.CatchUpConsumer).

An incident opened and a need added or enlarged are not sent at once but batched
(dispatch.batching, DISPATCH_BATCH_WINDOW_MS): what arrives within the window is
planned together, by one needs_dispatch_batch task sent when the window opens. With the
window at 0 they are sent at once, as before; so they are when the batch cannot be
reached (the broker's Redis down: then that send fails too, and the sweeps take over).
"""

import logging
from collections.abc import Sequence
from functools import partial

from celery import current_app
from django.db import transaction

from dispatch import batching

logger = logging.getLogger(__name__)

# The tasks' registered names.
EVENTS_RELAY = "dispatch.tasks.events_relay"
INCIDENT_DISPATCH = "dispatch.tasks.incident_dispatch"
NEEDS_DISPATCH = "dispatch.tasks.needs_dispatch"
NEEDS_DISPATCH_BATCH = "dispatch.tasks.needs_dispatch_batch"
OFFERS_EXPIRE = "dispatch.tasks.offers_expire"
NEEDS_REDISPATCH = "dispatch.tasks.needs_redispatch"
OFFERS_WITHDRAW_FROM_BUSY = "dispatch.tasks.offers_withdraw_from_busy"
INDEX_RECONCILE = "dispatch.tasks.index_reconcile"
OFFERS_SMS_FALLBACK = "dispatch.tasks.offers_sms_fallback"
OFFERS_WITHDRAW_FROM_BUSY_SWEEP = "dispatch.tasks.offers_withdraw_from_busy_sweep"
IDEMPOTENCY_KEYS_EXPIRE = "dispatch.tasks.idempotency_keys_expire"
PERSONAL_DATA_EXPIRE = "dispatch.tasks.personal_data_expire"
OFFERS_PUSH = "dispatch.tasks.offers_push"
SHIFTS_TAKE_UP = "dispatch.tasks.shifts_take_up"


def _send(name: str, args: tuple = (), kwargs: dict | None = None, **options) -> bool:
    # Every task is declared with ignore_result=True; delay() put that in the message.
    #
    # Runs in the commit's on_commit hook, after the transaction committed: a broker
    # error (Redis down, after kombu's own retries) is logged and swallowed, and the
    # sweeps do the work when the broker is back (module docstring). False then.
    try:
        current_app.send_task(name, args=args, kwargs=kwargs or {}, ignore_result=True, **options)
    except Exception:
        logger.exception(
            "could not queue %s%r %r; the periodic sweeps will do its work", name, args, kwargs
        )
        return False
    return True


def _after_commit(name: str, *args, **kwargs) -> None:
    transaction.on_commit(partial(_send, name, args, kwargs))


def incident_dispatch_enqueue(*, incident_id: int) -> None:
    """Offer a newly opened incident's needs, planned with whatever else arrives within
    the batch window (dispatch.batching); at once with the window at 0
    (dispatch.services.incident_dispatch)."""
    if batching.batch_window_ms() > 0:
        transaction.on_commit(partial(_batch_join, incident_ids=[incident_id]))
    else:
        _after_commit(INCIDENT_DISPATCH, incident_id)


def needs_dispatch_batched_enqueue(*, need_ids: list[int]) -> None:
    """Offer these needs' open places (a need just added, or enlarged), planned with
    whatever else arrives within the batch window (dispatch.batching); at once with the
    window at 0 (dispatch.services.needs_dispatch)."""
    if batching.batch_window_ms() > 0:
        transaction.on_commit(partial(_batch_join, need_ids=list(need_ids)))
    else:
        _after_commit(NEEDS_DISPATCH, list(need_ids))


def _batch_join(*, need_ids: Sequence[int] = (), incident_ids: Sequence[int] = ()) -> None:
    # After the commit, so the drain, which reads the database once the window ends,
    # finds these needs committed.
    window_ms = batching.batch_window_ms()
    try:
        token = batching.batch_join(
            need_ids=need_ids, incident_ids=incident_ids, window_ms=window_ms
        )
    except Exception:
        logger.exception("could not reach the dispatch batch; dispatching at once")
        _dispatch_at_once(need_ids=need_ids, incident_ids=incident_ids)
        return
    if token is None:
        return  # a window is open: its drain, on its way, takes these too
    if not _send(NEEDS_DISPATCH_BATCH, (token,), countdown=window_ms / 1000):
        try:
            batching.batch_release(token=token)
        except Exception:
            logger.exception("could not give the dispatch batch's token back")


def _dispatch_at_once(*, need_ids: Sequence[int], incident_ids: Sequence[int]) -> None:
    for incident_id in incident_ids:
        _send(INCIDENT_DISPATCH, (incident_id,))
    if need_ids:
        _send(NEEDS_DISPATCH, (list(need_ids),))


def needs_dispatch_enqueue(*, need_ids: list[int]) -> None:
    """Offer these needs' open places (dispatch.services.needs_dispatch)."""
    _after_commit(NEEDS_DISPATCH, list(need_ids))


def offers_withdraw_from_busy_enqueue(
    *, volunteer_id: int | None = None, vehicle_id: int | None = None
) -> None:
    """Withdraw the other offers of someone (or a vehicle) who just took a task, and
    offer those needs to others (dispatch.services.offers_withdraw_from_busy)."""
    _after_commit(OFFERS_WITHDRAW_FROM_BUSY, volunteer_id=volunteer_id, vehicle_id=vehicle_id)


def offers_push_enqueue(*, assignment_ids: list[int]) -> None:
    """Push these new offers to their volunteers' phones (dispatch.push.offers_push)."""
    _after_commit(OFFERS_PUSH, list(assignment_ids))
