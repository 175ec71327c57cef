"""Benchmark: the fault matrix on the real stack (issue 10, item 8; DESIGN.md §4).

    .venv/bin/python bench/faults.py [--json] [--only SCENARIO ...] [--sockets 200]
                                     [--quick] [--rate 1] [--database-url URL]

Four scenarios, each on a fresh scratch database (made again, migrated and seeded with
`--sockets` rescuers on duty) and a fresh stack of its own, as bench/redis_outage.py
runs it: a private redis-server, uvicorn, a prefork Celery worker ×2 and beat.
During each, for STREAM_SECONDS (and the 30 s of the outage):

- every rescuer's phone keeps a socket open on /ws/volunteer/, and a coordinator's
  dashboard one on /ws/dashboard/, as pages/static/tongxin/live.js keeps its own: a
  socket that ends comes back with `?since=<last seq seen>` after 0.5 s, doubling up to
  15 s, at least 2 s (spread ½–1½×) after a `4503` / `1013`; a phone confirms each
  offer frame with `delivered`;
- coordinators' clients post incidents at `--rate` a second and retry a request that
  got no answer or a 5xx with the same Idempotency-Key; phones accept some offers over
  REST and report their positions (bench/redis_outage.py's stream), and decline
  DECLINE_SHARE of the offers, retrying answers as the posts;
- the fault:
  `worker_kill`     the worker's whole process group SIGKILLed three times, each just
                    after an incident's post (so that its dispatch goes with it), and
                    started again at once;
  `redis_restart`   redis-server SIGKILLed and started again at once, empty;
  `redis_down_30s`  redis-server SIGKILLed, started again empty 30 s later;
  `asgi_kill`       uvicorn SIGKILLed (every socket drops) and started again at once.

After the stream it waits (at most SETTLE_SECONDS) for every incident to be offered and
every busy person's offers withdrawn, stops the phones acting, reads the log's end and
waits (at most DELIVERY_WAIT_SECONDS) for the frames. Then, per scenario:

`lost`                  nothing committed was lost: the sum of
  `lost_frames`         events in the log (seq) that a socket should have received and
                        never did, even after resuming: a dashboard every event after its
                        first `hello`, a phone every event of its volunteer
                        (bench/live.py's `expected_frames`); events a `resync` snapshot
                        stood for are not expected as frames;
  `lost_incidents`      incidents saved and never offered to anyone;
  `lost_posts`          posts answered 2xx whose incident is not in the database.
`duplicated`            frames a socket received more than once (the same seq twice:
                        the server promises each event once, so a client without its own
                        seq check would apply these twice; counted as bench/live.py does).
`duplicate_incidents`   one request saved more than once (as bench/redis_outage.py).
`stuck_needs`           needs of open incidents that, at the end, want people (fewer
                        accepted than asked for), hold no open offer, have seen nothing
                        happen (an offer made or answered) for more than the re-dispatch
                        period + STUCK_GRACE_SECONDS, while a rescuer with the skill is on
                        duty, free and not yet asked for it: work the system forgot.
`post_5xx`              5xx answers to the clients' POSTs: incidents, accepts, declines.
`busy_with_open_offers` the most open offers of volunteers on a task for over
                        BUSY_GRACE_SECONDS, sampled every second outside each fault and
                        the BUSY_GRACE_SECONDS after it, and at the end.
`max_dispatch_delay_s`  the longest wait for an incident's first offer, from its opening,
                        or from the end of the fault it was opened during (the moment the
                        killed part was started again, so a restart's boot counts).
`far_offers`            first-round offers more than FAR_SLACK_KM further than the k-th
                        nearest volunteer available then (as bench/redis_outage.py).

A process of the stack that exits unasked is started again, as docker-compose's
`restart: unless-stopped` does, and counted in `unasked_exits`. Diagnostics beside
them: POST answers, how connections ended, reconnect attempts, resyncs, the tasks the
worker kills left unacknowledged (`tasks_cut_by_kills`, from the broker's `unacked`
hash), and at the end the sockets open against their memberships in the channel
layer's groups in Redis (`group_memberships_at_end`: a socket outside its group is
open and hears nothing).

The targets are zero but the delay. Nothing is asserted: the figures are for people to
read; with --json the last line is one JSON object, {"scenarios": {name: figures},
the totals (sums; the delay: the longest), "sockets", "seconds"}.
"""

import argparse
import asyncio
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, Python puts bench/ on the path

from bench.live import Client, expected_frames, log_read  # noqa: E402
from bench.redis_outage import (  # noqa: E402
    BUSY_GRACE_SECONDS,
    FAR_SLACK_KM,
    RETRY_SECONDS,
    SEED,
    Processes,
    Run,
    busy_with_open_offers_now,
    city_make,
    dispatch_rows,
    far_offers,
    first_offers,
    free_port,
    http,
    incident_stream,
    say,
    settle,
    stack_environment,
    stack_up,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tongxin_faults"
SCENARIOS = ("worker_kill", "redis_restart", "redis_down_30s", "asgi_kill")
STREAM_SECONDS = 60
OUTAGE_SECONDS = 30  # redis_down_30s: a quarter into the stream, which it lengthens
# --quick: a shorter stream and a 10 s outage, to try the script, not for figures.
QUICK_STREAM_SECONDS = 30
QUICK_OUTAGE_SECONDS = 10
DECLINE_SHARE = 0.3  # of the offers, declined by their phone
DECLINE_AFTER_SECONDS = (2, 10)

# The phones' sockets, as pages/static/tongxin/live.js (docs/websockets.md).
RETRY_FIRST_SECONDS = 0.5
RETRY_TRY_LATER_SECONDS = 2.0
RETRY_MOST_SECONDS = 15.0
TRY_LATER = (4503, 1013)
SIGNED_OUT = (4401, 4403)
HANDSHAKES_AT_ONCE = 50  # the benchmark's own limit: one process holds every phone
HANDSHAKE_TIMEOUT_SECONDS = 30
CONNECT_SECONDS = 120

QUIET_SECONDS = 3  # after the phones stop acting, before the log's end is read
# The most to wait for the frames of events up to the log's end: a socket may be in
# its longest back-off (15 s × 1½) when the wait starts.
DELIVERY_WAIT_SECONDS = 45
STUCK_GRACE_SECONDS = 15  # on top of the re-dispatch period: a sweep takes a while

# The counts whose target is zero, and the delay: the per-scenario table's columns.
COUNTS = (
    "lost",
    "duplicated",
    "duplicate_incidents",
    "stuck_needs",
    "post_5xx",
    "busy_with_open_offers",
    "far_offers",
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--only", action="append", choices=SCENARIOS, help="repeatable")
    parser.add_argument("--sockets", type=int, default=200, help="rescuers, each with a phone")
    parser.add_argument("--quick", action="store_true", help="30 s streams, a 10 s outage")
    parser.add_argument("--rate", type=float, default=1.0, help="incidents a second")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    if urlsplit(args.database_url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("this benchmark only talks to 127.0.0.1")
    if not 20 <= args.sockets <= 2000:
        parser.error("--sockets: 20 to 2000")
    if not 0.1 <= args.rate <= 5:
        parser.error("--rate: 0.1 to 5 a second")
    return args


# --- the faults ---------------------------------------------------------------------------


@dataclass
class Fault:
    down_at: float  # seconds into the stream
    up_at: float
    stop: object  # what breaks it
    start: object  # what mends it
    stopped: str  # what to say
    started: str


def faults_of(
    scenario: str, processes: Processes, quick: bool, cut: dict
) -> tuple[float, list[Fault]]:
    """The stream's length and the scenario's faults, on these processes. A worker kill
    adds to `cut` the tasks it took with it."""
    stream = QUICK_STREAM_SECONDS if quick else STREAM_SECONDS

    def worker_kill():
        processes.group_kill("worker")
        cut.update(unacked_tasks(processes.redis_port))  # one entry a message

    if scenario == "worker_kill":
        # Just after an incident's post (one a second at the default rate), while its
        # dispatch is queued or running: the kill takes work with it, not an idle worker.
        times = (6.05, 14.1, 22.15) if quick else (12.05, 27.1, 42.15)
        return stream, [
            Fault(at, at, worker_kill, processes.worker_start,
                  f"worker SIGKILLed ({n + 1} of 3)", "worker started again")
            for n, at in enumerate(times)
        ]  # fmt: skip
    if scenario == "redis_restart":
        at = stream / 3
        return stream, [
            Fault(at, at, processes.redis_kill, processes.redis_start,
                  "redis-server SIGKILLed", "redis-server started again, empty")
        ]  # fmt: skip
    if scenario == "redis_down_30s":
        down, outage = stream / 4, QUICK_OUTAGE_SECONDS if quick else OUTAGE_SECONDS
        return stream + outage, [
            Fault(down, down + outage, processes.redis_kill, processes.redis_start,
                  "redis-server SIGKILLed", "redis-server started again, empty")
        ]  # fmt: skip
    at = stream / 3
    return stream, [
        Fault(at, at, lambda: processes.group_kill("uvicorn"), processes.uvicorn_start,
              "uvicorn SIGKILLed", "uvicorn started again")
    ]  # fmt: skip


def unacked_tasks(redis_port: int) -> dict[str, str]:
    """The tasks in the broker's `unacked` hash, delivery tag -> name: delivered to a worker and not
    acknowledged (running, prefetched, or waiting for their countdown). After a SIGKILL
    nobody will acknowledge them: kombu gives them back after the visibility timeout."""
    import redis

    from config.env import redis_url_with_db_offset

    url = redis_url_with_db_offset(f"redis://127.0.0.1:{redis_port}/0", 1)  # Celery's
    client = redis.Redis.from_url(url)
    try:
        return {
            tag.decode(): json.loads(raw)[0]["headers"]["task"].rsplit(".", 1)[-1]
            for tag, raw in client.hgetall("unacked").items()
        }
    finally:
        client.close()


def group_memberships(redis_port: int) -> int:
    """Sockets in the channel layer's groups, counted in Redis: each open socket
    joins one group (a volunteer's, or the dashboards')."""
    import redis

    from bench.redis_outage import PREFIX

    client = redis.Redis(port=redis_port)  # the channel layer's database, 0
    try:
        return sum(client.zcard(key) for key in client.scan_iter(f"{PREFIX}:group:*"))
    finally:
        client.close()


def stream_faults(faults: list[Fault], supervisor: "Supervisor") -> list[tuple]:
    """The faults as incident_stream's timed actions, `down_n` and `up_n`, each done
    while the supervisor looks away."""
    actions = []
    for n, fault in enumerate(faults):
        actions.append((fault.down_at, f"down_{n}", supervisor.aside(fault.stop), fault.stopped))
        actions.append((fault.up_at, f"up_{n}", supervisor.aside(fault.start), fault.started))
    return actions


class Supervisor:
    """Starts again a process of the stack that exits unasked, as docker-compose's
    `restart: unless-stopped` does in production, and counts it: a crash the faults
    cause is a finding, and the rest of the run shows whether the stack recovers."""

    def __init__(self, processes: Processes):
        self.processes = processes
        self.lock = threading.Lock()  # a fault's kill and start are not crashes
        self.exits = Counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def aside(self, action):
        def locked():
            with self.lock:
                action()

        return locked

    def watch(self) -> None:
        starts = {
            "redis": self.processes.redis_start,
            "uvicorn": self.processes.uvicorn_start,
            "worker": self.processes.worker_start,
            "beat": self.processes.beat_start,
        }
        while not self.stop.wait(1):
            with self.lock:
                for name, process in list(self.processes.running.items()):
                    if process.poll() is not None:
                        say(f"{name} exited ({process.returncode}) unasked: started again")
                        self.exits[name] += 1
                        del self.processes.running[name]
                        starts[name]()


def fault_windows(timeline: dict, faults: list[Fault]) -> list[tuple[float, float]]:
    return [(timeline[f"down_{n}"], timeline[f"up_{n}"]) for n in range(len(faults))]


# --- the clients --------------------------------------------------------------------------


class Phones(Run):
    """bench/redis_outage.py's clients, whose phones also decline some offers, and
    retry an answer as they retry any request: no answer or a 5xx, again a second
    later, for at most RETRY_SECONDS."""

    def __init__(self, *args):
        super().__init__(*args)
        self.declines = Counter()

    def accept(self, assignment: int, token: str) -> None:
        self.answer(f"/api/assignments/{assignment}/accept/", token, None, self.accepts)

    def answer(self, path: str, token: str, body, tally: Counter) -> None:
        deadline = time.time() + RETRY_SECONDS
        while True:
            status, _ = http("POST", self.base + path, token=token, body=body)
            with self.lock:
                tally[status] += 1
            if (status is not None and status < 500) or time.time() > deadline:
                return
            time.sleep(1)

    def decliners(self) -> None:
        """Phones decline DECLINE_SHARE of the offers a few seconds after they are made:
        the need must go to someone else, at once or, when the broker lost that task,
        by the re-dispatch sweep."""
        from django.db import close_old_connections

        from dispatch.models import Assignment, AssignmentStatus

        due: dict[int, float | None] = {}  # offer -> when its phone declines it (None: never)
        while not self.stop.is_set():
            close_old_connections()
            offers = Assignment.objects.filter(
                status=AssignmentStatus.OFFERED, volunteer__isnull=False
            ).values_list("pk", "volunteer_id", "offered_at")
            for pk, volunteer_id, offered_at in offers:
                if pk not in due:
                    declines = self.rng.random() < DECLINE_SHARE
                    delay = self.rng.uniform(*DECLINE_AFTER_SECONDS)
                    due[pk] = offered_at.timestamp() + delay if declines else None
                if due[pk] is None or due[pk] > time.time():
                    continue
                due[pk] = None
                token = self.people[volunteer_id]["token"]
                self.answer(f"/api/assignments/{pk}/decline/", token, {"reason": "busy"},
                            self.declines)  # fmt: skip
            self.stop.wait(1)


class Fleet:
    """A socket per phone and one dashboard, on an event loop of their own (a thread),
    each kept connected as pages/static/tongxin/live.js keeps its own. What each
    received is in its bench.live.Client."""

    def __init__(self, base: str, people: dict, coordinator_token: str):
        self.ws_base = base.replace("http://", "ws://")
        self.origin = base
        self.clients = [Client("dashboard", coordinator_token)] + [
            Client(f"phone {pk}", person["token"], pk) for pk, person in people.items()
        ]
        # Seqs a snapshot stood for after a resync, by client: not expected as frames.
        self.covered: dict[str, set[int]] = defaultdict(set)
        self.ended = Counter()  # how connections ended: close codes, errors
        self.retry = {client.name: RETRY_FIRST_SECONDS for client in self.clients}
        self.finished = False
        self.rng = random.Random(SEED)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()
        gate = self.call(self._gate)
        for client in self.clients:
            asyncio.run_coroutine_threadsafe(self.keep_connected(client, gate), self.loop)

    def call(self, function, *args):
        """Run a function on the fleet's loop (where the clients change) and return
        its result."""

        async def inside():
            return function(*args)

        return asyncio.run_coroutine_threadsafe(inside(), self.loop).result(timeout=60)

    @staticmethod
    def _gate() -> asyncio.Semaphore:
        return asyncio.Semaphore(HANDSHAKES_AT_ONCE)

    def connected(self) -> int:
        return self.call(lambda: sum(1 for c in self.clients if c.ws is not None))

    async def keep_connected(self, client: Client, gate: asyncio.Semaphore) -> None:
        while not self.finished:
            ended = await self.session(client, gate)
            if self.finished:
                return
            self.ended[ended] += 1
            client.dropped += 1
            if ended in SIGNED_OUT:
                return
            retry = self.retry[client.name]
            delay = retry
            if ended in TRY_LATER:
                retry = max(retry, RETRY_TRY_LATER_SECONDS)
                delay = retry * self.rng.uniform(0.5, 1.5)
            self.retry[client.name] = min(retry * 2, RETRY_MOST_SECONDS)
            await asyncio.sleep(delay)
            client.reconnects += 1

    async def session(self, client: Client, gate: asyncio.Semaphore):
        """One connection, from its handshake to its end: how it ended (the close
        code, 1006 without one, or the error)."""
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        path = "/ws/dashboard/" if client.volunteer_id is None else "/ws/volunteer/"
        since = "" if client.hello_seq is None else f"?since={client.max_seq}"
        try:
            async with gate:
                ws = await connect(
                    self.ws_base + path + since,
                    subprotocols=["tongxin", f"token.{client.token}"],
                    origin=self.origin,
                    open_timeout=HANDSHAKE_TIMEOUT_SECONDS,
                    proxy=None,
                )
        except Exception as error:  # noqa: BLE001 - refused, a 500, a timeout: all retried
            status = getattr(getattr(error, "response", None), "status_code", None)
            return f"http {status}" if status else f"connect: {type(error).__name__}"
        client.ws = ws
        try:
            async for raw in ws:
                await self.frame(client, ws, json.loads(raw))
        except ConnectionClosed:
            pass
        except Exception as error:  # noqa: BLE001 - a figure, and the socket is retried
            client.errors[f"read: {type(error).__name__}"] += 1
        finally:
            client.ws = None
        return ws.close_code or 1006

    async def frame(self, client: Client, ws, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "hello":
            client.hellos.append(frame["last_seq"])
            self.retry[client.name] = RETRY_FIRST_SECONDS  # served: back-off from the bottom
            if client.hello_seq is None:
                client.hello_seq = client.max_seq = frame["last_seq"]
        elif kind == "resync":
            # The snapshot that follows shows every event up to hello's last_seq.
            client.resyncs += 1
            upto = client.hellos[-1]
            self.covered[client.name].update(range(client.max_seq + 1, upto + 1))
            client.max_seq = max(client.max_seq, upto)
        elif kind == "event":
            await self.event(client, ws, frame)

    async def event(self, client: Client, ws, frame: dict) -> None:
        seq = frame["seq"]
        client.seqs[seq] += 1
        if seq <= client.max_seq:
            client.out_of_order += client.seqs[seq] == 1
            return  # applied already (live.js drops it too)
        client.max_seq = seq
        mine = client.volunteer_id is not None and frame.get("volunteer") == client.volunteer_id
        if mine and frame["kind"] == "offer.made":
            message = {"type": "delivered", "assignment": frame["assignment"]}
            with suppress(Exception):
                await ws.send(json.dumps(message))

    def missing(self, expected: dict[str, set[int]]) -> dict[str, set[int]]:
        """Per client, the expected seqs it has not received."""

        def now():
            return {c.name: expected[c.name] - c.seqs.keys() - self.covered[c.name]
                    for c in self.clients}  # fmt: skip

        return self.call(now)

    def stop(self) -> None:
        async def close_everyone():
            self.finished = True
            open_sockets = [c.ws for c in self.clients if c.ws is not None]
            await asyncio.gather(
                *(asyncio.wait_for(ws.close(), 10) for ws in open_sockets),
                return_exceptions=True,
            )

        asyncio.run_coroutine_threadsafe(close_everyone(), self.loop).result(timeout=120)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)


# --- one scenario -------------------------------------------------------------------------


def scenario_run(name: str, args, env: dict, redis_port: int) -> dict:
    from django.db import connections

    started = time.time()
    say(f"\n== {name} ==")
    connections.close_all()  # the database is dropped and made again
    rng = random.Random(SEED)
    coordinator_token, people = city_make(args.database_url, args.sockets, rng)
    processes = Processes(env, redis_port)
    say(f"logs in {processes.workdir}")
    fleet = None
    supervisor = Supervisor(processes)
    try:
        stack_up(processes)
        supervisor.thread.start()
        fleet = Fleet(processes.base, people, coordinator_token)
        fleet.start()
        wait_for(lambda: fleet.connected() == len(fleet.clients), CONNECT_SECONDS)
        say(f"stack up at {processes.base}; {fleet.connected()} sockets connected")
        cut = {}
        stream, faults = faults_of(name, processes, args.quick, cut)
        run = Phones(args, processes.base, coordinator_token, people, rng)
        helpers = (run.phones, run.decliners, run.reporters, run.busy_sampler)
        timeline = incident_stream(run, stream, stream_faults(faults, supervisor), helpers)
        settle(timeline)
        run.stop.set()  # the phones stop accepting: the log comes to rest
        time.sleep(QUIET_SECONDS)
        from dispatch.live import last_seq  # once Django is set up (city_make)

        start_seq = min(c.hello_seq for c in fleet.clients if c.hello_seq is not None)
        log = log_read(start_seq, last_seq())
        expected = expected_frames(log, fleet.clients)
        waited = wait_for(lambda: not any(fleet.missing(expected).values()), DELIVERY_WAIT_SECONDS)
        missing = fleet.missing(expected)
        sockets_open, memberships = fleet.connected(), group_memberships(redis_port)
        fleet.stop()
        figures = {
            **frame_figures(fleet, log, expected, missing),
            **dispatch_figures(run, timeline, fault_windows(timeline, faults)),
            "delivery_wait_s": round(waited, 1),
            "tasks_cut_by_kills": dict(Counter(cut.values())),
            "sockets_open_at_end": sockets_open,
            "group_memberships_at_end": memberships,
            "unasked_exits": dict(supervisor.exits),
            "faults_at_s": [
                round(down - timeline["started"], 1) for down, _ in fault_windows(timeline, faults)
            ],
        }
    finally:
        supervisor.stop.set()
        if supervisor.thread.is_alive():
            supervisor.thread.join(timeout=30)  # before the stop, which it would undo
        if fleet is not None and not fleet.finished:
            fleet.stop()
        processes.stop()
    figures["lost"] = figures["lost_frames"] + figures["lost_incidents"] + figures["lost_posts"]
    figures["seconds"] = round(time.time() - started, 1)
    scenario_report(name, figures)
    return figures


def wait_for(condition, seconds: float) -> float:
    """Wait until the condition holds, at most `seconds`; how long it took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds and not condition():
        time.sleep(0.5)
    return time.monotonic() - started


def frame_figures(fleet: Fleet, log: dict, expected: dict, missing: dict) -> dict:
    kinds = {event.seq: event.kind for event in log["events"]}
    clients = fleet.clients
    worst = sorted(((len(m), name) for name, m in missing.items() if m), reverse=True)[:5]
    return {
        "lost_frames": sum(len(m) for m in missing.values()),
        "duplicated": sum(n - 1 for c in clients for n in c.seqs.values() if n > 1),
        "events": len(log["events"]),
        "frames_expected": sum(len(e) for e in expected.values()),
        "sockets": len(clients),
        "sockets_that_lost_frames": sum(1 for m in missing.values() if m),
        "lost_frames_sample": {
            name: [f"{seq} {kinds.get(seq)}" for seq in sorted(missing[name])[:5]]
            for _, name in worst
        },
        "connections_ended": {str(k): v for k, v in fleet.ended.most_common(8)},
        "reconnect_attempts": sum(c.reconnects for c in clients),
        "resyncs": sum(c.resyncs for c in clients),
        "out_of_order": sum(c.out_of_order for c in clients),
    }


def dispatch_figures(run: Phones, timeline: dict, windows: list[tuple[float, float]]) -> dict:
    titles, incidents, offers = dispatch_rows()
    first_offer = first_offers(offers)
    delays = dispatch_delays(incidents, first_offer, windows)
    answered = {r["title"] for r in run.requests if 200 <= r["status"] < 300}
    incident_5xx = sum(v for k, v in run.statuses.items() if k is not None and k >= 500)
    accept_5xx = sum(v for k, v in run.accepts.items() if k is not None and k >= 500)
    decline_5xx = sum(v for k, v in run.declines.items() if k is not None and k >= 500)
    busy_outside_faults = [
        count
        for at, count in run.busy_samples
        if not any(down <= at < up + BUSY_GRACE_SECONDS for down, up in windows)
    ]
    far = far_offers(run.people, incidents, offers)
    stuck, without_offer = stuck_need_ids()
    return {
        "lost_incidents": sum(1 for i in incidents if i["pk"] not in first_offer),
        "lost_posts": len(answered - set(titles)),
        "duplicate_incidents": sum(count - 1 for count in titles.values() if count > 1),
        "stuck_needs": len(stuck),
        "stuck_need_ids": stuck[:10],
        "needs_unfilled_without_offer": without_offer,
        "post_5xx": incident_5xx + accept_5xx + decline_5xx,
        "post_5xx_incidents": incident_5xx,
        "post_5xx_accepts": accept_5xx,
        "post_5xx_declines": decline_5xx,
        "busy_with_open_offers": max([*busy_outside_faults, busy_with_open_offers_now()]),
        "max_dispatch_delay_s": round(max(delays), 2) if delays else None,
        "far_offers": len(far),
        "far_offer_km": sorted(round(o["distance_m"] / 1000, 1) for o in far)[:10],
        "incidents_asked": len(run.requests) + run.gave_up,
        "incidents_saved": len(incidents),
        "offers": len(offers),
        "post_answers": {str(k): v for k, v in sorted(run.statuses.items(), key=str)},
        "accepts": {str(k): v for k, v in sorted(run.accepts.items(), key=str)},
        "declines": {str(k): v for k, v in sorted(run.declines.items(), key=str)},
        "position_reports": {str(k): v for k, v in sorted(run.reports.items(), key=str)},
        "clients_gave_up": run.gave_up,
        "caught_up": "caught_up" in timeline,
    }


def dispatch_delays(incidents: list[dict], first_offer: dict, windows: list) -> list[float]:
    """Per offered incident: from when it could be dispatched (its opening, or the end
    of the fault it was opened during) to its first offer."""
    delays = []
    for incident in incidents:
        offered = first_offer.get(incident["pk"])
        if offered is None:
            continue  # lost: counted as such
        ready = incident["opened_at"].timestamp()
        for down, up in windows:
            if down <= ready < up:
                ready = up
        delays.append(offered.timestamp() - ready)
    return delays


def stuck_need_ids() -> tuple[list[int], int]:
    """Needs of open incidents wanting people, with no open offer and nothing done
    about them for longer than the re-dispatch period (and a grace), while someone
    free, on duty and with the skill has not been asked for them; and how many needs
    wanted people with no open offer at all (stuck or not yet). Read from the rows,
    not through dispatch.selectors: the benchmark checks the product, not itself."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from dispatch.availability import volunteer_busy_ids
    from dispatch.models import FILLED_STATUSES, Assignment, AssignmentStatus
    from dispatch.selectors import ASKED_STATUSES
    from incidents.models import Incident, Need
    from volunteers.models import Volunteer

    period = settings.CELERY_BEAT_SCHEDULE["redispatch-unfilled-needs"]["schedule"]
    quiet_since = timezone.now() - timedelta(seconds=period + STUCK_GRACE_SECONDS)
    busy = volunteer_busy_ids()
    skilled = defaultdict(set)
    for pk, skill in Volunteer.objects.filter(on_duty=True).values_list("pk", "skills"):
        if pk not in busy:
            skilled[skill].add(pk)
    by_need = defaultdict(list)
    for row in Assignment.objects.filter(need__incident__status=Incident.Status.OPEN).values(
        "need_id", "volunteer_id", "status", "offered_at", "answered_at"
    ):
        by_need[row["need_id"]].append(row)
    stuck, without_offer = [], 0
    needs = Need.objects.filter(incident__status=Incident.Status.OPEN).values(
        "pk", "count", "skill_id", "incident__opened_at"
    )
    for need in needs.order_by("pk"):
        rows = by_need[need["pk"]]
        filled = sum(1 for r in rows if r["status"] in FILLED_STATUSES)
        if filled >= need["count"] or any(r["status"] == AssignmentStatus.OFFERED for r in rows):
            continue
        without_offer += 1
        moments = [need["incident__opened_at"]]
        moments += [r[at] for r in rows for at in ("offered_at", "answered_at") if r[at]]
        if max(moments) > quiet_since:
            continue  # too recent to say the sweep forgot it
        # Whoever declined it or let it expire is not asked again; the withdrawn may be.
        asked = {r["volunteer_id"] for r in rows if r["status"] in ASKED_STATUSES}
        if skilled[need["skill_id"]] - asked:
            stuck.append(need["pk"])
    return stuck, without_offer


# --- the report ---------------------------------------------------------------------------


def scenario_report(name: str, f: dict) -> None:
    say(
        f"{name}: lost {f['lost']} (frames {f['lost_frames']}, incidents {f['lost_incidents']}, "
        f"posts {f['lost_posts']}), duplicated {f['duplicated']}, duplicate incidents "
        f"{f['duplicate_incidents']}, stuck needs {f['stuck_needs']}, post 5xx {f['post_5xx']}, "
        f"busy with open offers {f['busy_with_open_offers']}, far offers {f['far_offers']}, "
        f"max dispatch delay {f['max_dispatch_delay_s']} s"
    )
    say(
        f"  {f['incidents_saved']} incidents saved of {f['incidents_asked']} asked for, "
        f"{f['offers']} offers; POST answers {f['post_answers']}, accepts {f['accepts']}, "
        f"declines {f['declines']}; {f['events']} events, {f['frames_expected']} frames "
        f"expected on {f['sockets']} sockets, delivered within {f['delivery_wait_s']} s; "
        f"connections ended {f['connections_ended']}, {f['reconnect_attempts']} reconnect "
        f"attempts, {f['resyncs']} resyncs; at the end {f['sockets_open_at_end']} sockets open, "
        f"{f['group_memberships_at_end']} in the channel layer's groups; {f['seconds']} s"
    )
    if f["unasked_exits"]:
        say(f"  processes that exited unasked (started again): {f['unasked_exits']}")
    if f["tasks_cut_by_kills"]:
        say(f"  tasks the kills took with them, unacknowledged: {f['tasks_cut_by_kills']}")
    if f["lost_frames_sample"]:
        say(f"  frames lost, e.g.: {f['lost_frames_sample']}")


def table(scenarios: dict) -> list[str]:
    columns = [*COUNTS, "max_dispatch_delay_s"]
    lines = ["| scenario | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, figures in scenarios.items():
        lines.append(f"| {name} | " + " | ".join(str(figures[c]) for c in columns) + " |")
    return lines


def totals(scenarios: dict) -> dict:
    delays = [f["max_dispatch_delay_s"] for f in scenarios.values() if f["max_dispatch_delay_s"]]
    return {
        **{count: sum(f[count] for f in scenarios.values()) for count in COUNTS},
        "lost_frames": sum(f["lost_frames"] for f in scenarios.values()),
        "max_dispatch_delay_s": max(delays, default=None),
    }


def main() -> None:
    args = parse_args()
    started = time.time()
    redis_port = free_port()  # the same for every scenario: this process's settings name it
    env = stack_environment(args.database_url, redis_port)
    scenarios = {}
    for name in args.only or SCENARIOS:
        scenarios[name] = scenario_run(name, args, env, redis_port)
    result = {
        "scenarios": scenarios,
        **totals(scenarios),
        "sockets": args.sockets + 1,
        "far_slack_km": FAR_SLACK_KM,
        "quick": args.quick,
        "seconds": round(time.time() - started, 1),
    }
    say()
    for line in table(scenarios):
        say(line)
    say(f"\nwhole run {result['seconds']:.0f} s")
    if args.json:
        print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
