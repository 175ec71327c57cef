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
"""

from functools import partial

from celery import current_app
from django.db import transaction

# The tasks' registered names.
EVENTS_RELAY = "dispatch.tasks.events_relay"
INCIDENT_DISPATCH = "dispatch.tasks.incident_dispatch"
NEEDS_DISPATCH = "dispatch.tasks.needs_dispatch"
OFFERS_EXPIRE = "dispatch.tasks.offers_expire"
NEEDS_REDISPATCH = "dispatch.tasks.needs_redispatch"
OFFERS_WITHDRAW_FROM_BUSY = "dispatch.tasks.offers_withdraw_from_busy"
INDEX_RECONCILE = "dispatch.tasks.index_reconcile"
OFFERS_SMS_FALLBACK = "dispatch.tasks.offers_sms_fallback"


def _send(name: str, args: tuple = (), kwargs: dict | None = None) -> None:
    # Every task is declared with ignore_result=True; delay() put that in the message.
    #
    # A broker error here is raised from the commit's on_commit hook, after the
    # transaction committed, as delay_on_commit's was. This is the one place where
    # issue 10 ("degrade, never fail after a commit", DESIGN.md §4 rule 5) will log it
    # instead and leave the work to the sweeps.
    current_app.send_task(name, args=args, kwargs=kwargs or {}, ignore_result=True)


def _after_commit(name: str, *args, **kwargs) -> None:
    transaction.on_commit(partial(_send, name, args, kwargs))


def incident_dispatch_enqueue(*, incident_id: int) -> None:
    """Offer a newly opened incident's needs (dispatch.services.incident_dispatch)."""
    _after_commit(INCIDENT_DISPATCH, incident_id)


def needs_dispatch_enqueue(*, need_ids: list[int]) -> None:
    """Offer these needs' open places (dispatch.services.needs_dispatch)."""
    _after_commit(NEEDS_DISPATCH, list(need_ids))


def offers_withdraw_from_busy_enqueue(
    *, volunteer_id: int | None = None, vehicle_id: int | None = None
) -> None:
    """Withdraw the other offers of someone (or a vehicle) who just took a task, and
    offer those needs to others (dispatch.services.offers_withdraw_from_busy)."""
    _after_commit(OFFERS_WITHDRAW_FROM_BUSY, volunteer_id=volunteer_id, vehicle_id=vehicle_id)
