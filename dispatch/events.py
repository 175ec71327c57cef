"""The deployment log: writing events and publishing them to live clients.

Writing (event_record) happens inside the caller's transaction. Publishing is a
notification only (DESIGN.md §4 rule 1): it happens after commit, at most once per
channel-layer send, and the periodic relay (dispatch.tasks.events_relay) re-sends any
event whose publication never happened, say because the process died between commit
and publish. Clients deduplicate by `seq`.
"""

import logging
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone

from dispatch.models import DeploymentEvent, EventKind
from volunteers.models import Vehicle

logger = logging.getLogger(__name__)

DASHBOARD_GROUP = "dashboard"
# Events older than this without publication are the relay's to re-send; younger ones
# are most likely still on their way from their own transaction's on_commit hook.
RELAY_GRACE_SECONDS = 2
RELAY_BATCH = 500


def volunteer_group(volunteer_id: int) -> str:
    return f"volunteer.{volunteer_id}"


def _next_seqs(count: int) -> range:
    # The UPDATE takes the sequence row's lock and holds it until this transaction
    # ends. So transactions that write events commit one after another in seq order:
    # a reader who has seen seq N can never later find a newly committed N-1, and the
    # numbers have no gaps (a rolled-back transaction gives its numbers back). A plain
    # database sequence gives neither guarantee. The price is that event-writing
    # transactions serialise from their first event on: record events last, after
    # every row lock the transaction takes (services.py).
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE dispatch_eventsequence SET last_seq = last_seq + %s WHERE id = 1 "
            "RETURNING last_seq",
            [count],
        )
        last = cursor.fetchone()[0]
    return range(last - count + 1, last + 1)


def event_record(
    *,
    kind: EventKind,
    actor=None,
    incident=None,
    need=None,
    assignment=None,
    volunteer=None,
    vehicle=None,
    data: dict | None = None,
) -> DeploymentEvent:
    """Append one event to the deployment log, in the caller's transaction, and
    publish it once that transaction commits."""
    fields = {
        "kind": kind,
        "actor": actor,
        "incident": incident,
        "need": need,
        "assignment": assignment,
        "volunteer": volunteer,
        "vehicle": vehicle,
        "data": data,
    }
    return events_record([fields])[0]


def events_record(events: list[dict]) -> list[DeploymentEvent]:
    """Append events (each given as DeploymentEvent's fields: event_record's
    arguments, or their *_id forms) in this order, with one round trip for their
    numbers and one for their rows: a dispatch logs an offer per volunteer, and each
    round trip is time before the phones hear of it."""
    if not connection.in_atomic_block:
        raise RuntimeError("event_record must run inside the transaction of its change")
    if not events:
        return []
    rows = [
        DeploymentEvent(seq=seq, **{**fields, "data": fields.get("data") or {}})
        for seq, fields in zip(_next_seqs(len(events)), events, strict=True)
    ]
    DeploymentEvent.objects.bulk_create(rows)
    for row in rows:
        transaction.on_commit(_publication_of(row), robust=True)
    return rows


class _PublishAfterCommit:
    """The on_commit hook of one event, one per event so that a rolled-back savepoint
    discards its own events' hooks and no others. The hooks of one transaction share
    one batch (the events' seqs): the first to run sends and empties it, the others
    find it empty. So a transaction's events go out over one channel-layer connection
    instead of one each (each async_to_sync opens its own, bench/live.py)."""

    def __init__(self, batch: list[int]):
        self.batch = batch
        # Django's robust on_commit names a hook that raised by its __qualname__, which
        # an instance lacks: without this, logging the failure raised AttributeError out
        # of the caller's commit and skipped the transaction's later hooks.
        self.__qualname__ = "dispatch.events.events_publish"

    def __call__(self):
        if not self.batch:
            return
        seqs = list(self.batch)
        self.batch.clear()
        # Read back from the log: an event of a rolled-back savepoint is still in the
        # batch, but not in the database (its seq went to the next event, which is).
        events_publish(seqs=seqs)


def _publication_of(event: DeploymentEvent) -> _PublishAfterCommit:
    # The hooks still registered in this transaction (Django drops those of rolled-back
    # savepoints from the list); the newest of ours holds the transaction's batch.
    # Django's own list, read defensively: should its shape change, each event gets a
    # batch of its own, which is slower but just as correct.
    batch = []
    for entry in reversed(getattr(connection, "run_on_commit", [])):
        hook = entry[1] if isinstance(entry, tuple) and len(entry) > 1 else None
        if isinstance(hook, _PublishAfterCommit):
            batch = hook.batch
            break
    batch.append(event.seq)
    return _PublishAfterCommit(batch)


def event_frame(event: DeploymentEvent) -> dict:
    """The small typed JSON frame live clients receive for one event."""
    return {
        "type": "event",
        "seq": event.seq,
        "kind": event.kind,
        "at": event.occurred_at.isoformat(),
        "incident": event.incident_id,
        "need": event.need_id,
        "assignment": event.assignment_id,
        "volunteer": event.volunteer_id,
        "vehicle": event.vehicle_id,
        "data": event.data,
    }


def event_groups(event: DeploymentEvent) -> list[str]:
    """The dashboard, and the phones of whoever the event concerns: the volunteer, or
    the crew of the vehicle."""
    groups = [DASHBOARD_GROUP]
    if event.volunteer_id:
        groups.append(volunteer_group(event.volunteer_id))
    if event.vehicle_id:
        crew = Vehicle.crew.through.objects.filter(vehicle_id=event.vehicle_id)
        groups += [volunteer_group(pk) for pk in crew.values_list("volunteer_id", flat=True)]
    return groups


def events_publish(*, seqs: list[int]) -> int:
    """Send these events, read from the log, to their groups and mark them published."""
    return events_send(list(DeploymentEvent.objects.filter(seq__in=seqs).order_by("seq")))


def events_send(events: list[DeploymentEvent]) -> int:
    """Send events, oldest first, to their groups in one connection to the channel
    layer, and mark them published. Returns how many were sent. If sending fails, the
    events stay unpublished for the relay."""
    if not events:
        return 0
    messages = [
        (group, {"type": "log.event", "event": event_frame(event)})
        for event in sorted(events, key=lambda event: event.seq)
        for group in event_groups(event)
    ]
    try:
        async_to_sync(group_send_all)(messages)
    except Exception:
        logger.exception(
            "publishing events %s failed; the relay will retry", [e.seq for e in events]
        )
        return 0
    DeploymentEvent.objects.filter(
        seq__in=[event.seq for event in events], published_at__isnull=True
    ).update(published_at=timezone.now())
    return len(events)


async def group_send_all(messages: list[tuple[str, dict]]) -> None:
    """Send each (group, message) over one channel-layer connection, in this order."""
    # One after another, not gathered: a group must get its frames in seq order.
    channel_layer = get_channel_layer()
    for group, message in messages:
        await channel_layer.group_send(group, message)


def events_relay() -> int:
    """Publish every event that was committed but never published (oldest first)."""
    cutoff = timezone.now() - timedelta(seconds=RELAY_GRACE_SECONDS)
    seqs = list(
        DeploymentEvent.objects.filter(published_at__isnull=True, occurred_at__lt=cutoff)
        .order_by("seq")
        .values_list("seq", flat=True)[:RELAY_BATCH]
    )
    if not seqs:
        return 0
    logger.info("relaying %d unpublished events from seq %d", len(seqs), seqs[0])
    return events_publish(seqs=seqs)
