"""Planning together what arrives together (issue 13, item 4; docs/decisions.md).

Incidents opened a moment apart used to be planned one at a time, first come first
served: the first took the volunteer nearest to it, even one who was the only person
able to reach the second. Now the needs that become dispatchable within
DISPATCH_BATCH_WINDOW_MS of each other (incidents opened, needs added or enlarged) are
planned as one batch, across incidents, by dispatch.services.needs_dispatch (one
minimum-cost assignment, matching.plan_optimal):

- An arrival joins the batch once its transaction has committed (dispatch.queue): its
  ids go into the pending set. The arrival that finds no window open opens one: it
  takes the window's token (SET NX PX: lives for the window) and sends the drain task
  with the window as countdown. A lone incident waits for the window, no longer.
- The drain (dispatch.tasks.needs_dispatch_batch) first gives its token back, so that
  any arrival from then on opens the next window and sends the next drain (an arrival
  before that committed before the drain reads the set: it is in this batch). Then it
  reads the pending set, plans every need in it together, and only then forgets the
  members it planned, and of those only the ones not added again meanwhile (each add
  gives its member a new score; a need enlarged again while it was being planned stays).

Nothing is lost with a message or a token: the ids stay in the set until a drain has
planned them (a retry after a database error, or the next window's drain, takes them);
a token outlives its window only as long as it takes to send the drain (a failed send
gives it back); and needs_redispatch still offers every need left unfilled, whatever
became of the batch. The set and the token live beside the task messages, in the
broker's Redis (on the embedded memory transport, in the one process that runs the
server and its worker), so the batch is reachable exactly when the queue is.

Nothing here imports a service or a task: dispatch.queue calls the joining half,
dispatch.tasks the draining half.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from typing import Protocol

import redis
from celery import current_app
from django.conf import settings

from incidents.models import Need

# The pending set outlives its last add by this long at most: a set nobody drains (the
# workers are gone) does not stay in Redis for ever. Far longer than any window; its
# needs are the re-dispatch sweep's by then anyway.
PENDING_KEEP_SECONDS = 3600

NEED = "need"
INCIDENT = "incident"


# --- the pure parts ----------------------------------------------------------------------


def batch_members(*, need_ids: Iterable[int] = (), incident_ids: Iterable[int] = ()) -> list[str]:
    """The pending set's members for these arrivals: an incident opened stands for all
    its needs (resolved by the drain, so the enqueue costs no query)."""
    return [f"{NEED}:{int(pk)}" for pk in need_ids] + [
        f"{INCIDENT}:{int(pk)}" for pk in incident_ids
    ]


def batch_parse(members: Iterable[str]) -> tuple[set[int], set[int]]:
    """The need ids and the incident ids in these members (unknown ones ignored: a
    member written by a newer version, say, is left to the sweep)."""
    need_ids: set[int] = set()
    incident_ids: set[int] = set()
    for member in members:
        kind, _, pk = member.partition(":")
        if not pk.isdigit():
            continue
        if kind == NEED:
            need_ids.add(int(pk))
        elif kind == INCIDENT:
            incident_ids.add(int(pk))
    return need_ids, incident_ids


def batch_window_ms() -> int:
    """The window, from the settings (0 or less: no batching, each incident is planned
    alone and at once, as before)."""
    return max(settings.DISPATCH_BATCH_WINDOW_MS, 0)


# --- where the batch is kept -----------------------------------------------------------


class BatchStore(Protocol):
    def join(self, members: list[str], *, token: str, window_ms: int) -> bool:
        """Add the members; True when this call opened the window (took the token)."""

    def take(self, *, token: str) -> dict[str, int]:
        """Give the token back if it is still this one; the pending members and their
        scores."""

    def forget(self, seen: dict[str, int]) -> None:
        """Remove the members whose score is still the one seen."""

    def release(self, *, token: str) -> None:
        """Give the token back if it is still this one (its drain could not be sent)."""

    def clear(self) -> None:
        """Forget everything (tests)."""


class RedisBatchStore:
    """The batch in the broker's Redis: the token (a string with the window's PX), the
    pending set (a sorted set: member → the number of its last add) and the counter
    that numbers the adds. Each step is one script, so it is atomic."""

    JOIN_SCRIPT = """
    for i = 4, #ARGV do
        redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[i])
    end
    redis.call('EXPIRE', KEYS[2], ARGV[3])
    redis.call('EXPIRE', KEYS[3], ARGV[3])
    if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
        return 1
    end
    return 0
    """
    TAKE_SCRIPT = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then
        redis.call('DEL', KEYS[1])
    end
    return redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
    """
    FORGET_SCRIPT = """
    for i = 1, #ARGV, 2 do
        if redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[i + 1] then
            redis.call('ZREM', KEYS[1], ARGV[i])
        end
    end
    """
    RELEASE_SCRIPT = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then
        redis.call('DEL', KEYS[1])
    end
    """

    def __init__(self, url: str, *, prefix: str):
        # Short timeouts: joining runs in a request's commit hook.
        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.token_key = f"{prefix}token"
        self.pending_key = f"{prefix}pending"
        self.counter_key = f"{prefix}adds"
        self._join = self.redis.register_script(self.JOIN_SCRIPT)
        self._take = self.redis.register_script(self.TAKE_SCRIPT)
        self._forget = self.redis.register_script(self.FORGET_SCRIPT)
        self._release = self.redis.register_script(self.RELEASE_SCRIPT)

    def join(self, members: list[str], *, token: str, window_ms: int) -> bool:
        keys = [self.token_key, self.pending_key, self.counter_key]
        return bool(self._join(keys=keys, args=[token, window_ms, PENDING_KEEP_SECONDS, *members]))

    def take(self, *, token: str) -> dict[str, int]:
        flat = self._take(keys=[self.token_key, self.pending_key], args=[token])
        return {flat[i].decode(): int(flat[i + 1]) for i in range(0, len(flat), 2)}

    def forget(self, seen: dict[str, int]) -> None:
        if seen:
            args = [value for member, score in seen.items() for value in (member, score)]
            self._forget(keys=[self.pending_key], args=args)

    def release(self, *, token: str) -> None:
        self._release(keys=[self.token_key], args=[token])

    def clear(self) -> None:
        self.redis.delete(self.token_key, self.pending_key, self.counter_key)


class MemoryBatchStore:
    """The same in this process, for the embedded default's memory transport, whose
    worker is a thread of the server process that enqueues."""

    def __init__(self):
        self._lock = threading.Lock()
        self._token: str | None = None
        self._token_until = 0.0
        self._pending: dict[str, int] = {}
        self._adds = 0

    def _token_alive(self) -> bool:
        return self._token is not None and time.monotonic() < self._token_until

    def join(self, members: list[str], *, token: str, window_ms: int) -> bool:
        with self._lock:
            for member in members:
                self._adds += 1
                self._pending[member] = self._adds
            if self._token_alive():
                return False
            self._token, self._token_until = token, time.monotonic() + window_ms / 1000
            return True

    def take(self, *, token: str) -> dict[str, int]:
        with self._lock:
            if self._token == token:
                self._token = None
            return dict(self._pending)

    def forget(self, seen: dict[str, int]) -> None:
        with self._lock:
            for member, score in seen.items():
                if self._pending.get(member) == score:
                    del self._pending[member]

    def release(self, *, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None

    def clear(self) -> None:
        with self._lock:
            self._token, self._pending = None, {}


_stores: dict[tuple[str, str], BatchStore] = {}
_stores_lock = threading.Lock()


def batch_store() -> BatchStore | None:
    """The store beside the current Celery app's messages: in its Redis broker (keys
    named after its queue, so test runs and benchmarks sharing a Redis database keep
    apart), or in this process on the memory transport. None on any other broker: no
    batching there, each incident is dispatched at once."""
    url = current_app.conf.broker_url or ""
    queue = current_app.conf.task_default_queue
    scheme = url.partition("://")[0]
    if scheme not in ("redis", "rediss", "memory"):
        return None
    with _stores_lock:
        store = _stores.get((url, queue))
        if store is None:
            if scheme == "memory":
                store = MemoryBatchStore()
            else:
                store = RedisBatchStore(url, prefix=f"tongxin:dispatch-batch:{queue}:")
            _stores[url, queue] = store
    return store


# --- joining and draining ------------------------------------------------------------


def batch_join(
    *, need_ids: Iterable[int] = (), incident_ids: Iterable[int] = (), window_ms: int
) -> str | None:
    """Put these arrivals in the batch. When they opened the window, the window's token:
    the caller then sends the drain with it, due at the window's end. None when a window
    is open already: its drain, on its way, takes these too."""
    store = batch_store()
    if store is None:
        raise RuntimeError(f"no dispatch batch on the broker {current_app.conf.broker_url!r}")
    token = uuid.uuid4().hex
    members = batch_members(need_ids=need_ids, incident_ids=incident_ids)
    return token if store.join(members, token=token, window_ms=window_ms) else None


def batch_release(*, token: str) -> None:
    """The drain could not be sent: give the token back, so that the next arrival opens
    a window and sends one (its drain takes these members too)."""
    store = batch_store()
    if store is not None:
        store.release(token=token)


def batch_take(*, token: str) -> dict[str, int]:
    """The drain's first step: give the token back and read what arrived."""
    store = batch_store()
    return store.take(token=token) if store is not None else {}


def batch_forget(seen: dict[str, int]) -> None:
    """The drain's last step, once the needs are planned and committed."""
    store = batch_store()
    if store is not None:
        store.forget(seen)


def batch_need_ids(members: Iterable[str]) -> list[int]:
    """Every need these members stand for: the needs named, and every need of the
    incidents named. needs_dispatch leaves out those of closed incidents and those that
    want no offer now (filled meanwhile, say)."""
    need_ids, incident_ids = batch_parse(members)
    if incident_ids:
        need_ids |= set(
            Need.objects.filter(incident_id__in=incident_ids).values_list("pk", flat=True)
        )
    return sorted(need_ids)
