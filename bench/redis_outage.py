"""Benchmark: a Redis outage on the real stack (issue 10, DESIGN.md §4 rule 5).

    .venv/bin/python bench/redis_outage.py [--json] [--outage-seconds 30] [--rate 1]
                                           [--volunteers 300] [--database-url URL]

It makes a scratch PostgreSQL database (dropped and made again each run: it is the
benchmark's own), starts a redis-server of its own on a free port (keeping nothing on
disk, as production's), uvicorn, a prefork Celery worker and Celery beat with
production-like settings, all on 127.0.0.1. Then, for BEFORE + OUTAGE + AFTER seconds:

- coordinators' clients open incidents at `--rate` a second, each next to one of
  HOT_SPOTS volunteers (so that people hold several offers at once), and
  retry a failed request (no answer, a timeout, a 5xx) with the same Idempotency-Key
  every second, for at most RETRY_SECONDS;
- phones accept an offer of some incidents (over REST) 3 to 30 s after it is made, and report
  their positions (which puts them back in a location index Redis lost);
- a socket prober opens a dashboard socket every two seconds;
- Redis is SIGKILLed after BEFORE seconds and started again, empty, OUTAGE seconds later.

It waits at most SETTLE_SECONDS for the stack to catch up, then counts, from the
database: `post_5xx` (answers ≥ 500 to the clients' POSTs), `duplicate_incidents` (one
request saved more than once), `lost` (incidents never offered to anyone),
`busy_with_open_offers` (the most open offers of volunteers on a task for over
BUSY_GRACE_SECONDS, sampled every second from BUSY_GRACE_SECONDS after Redis's return,
and at the end),
`max_dispatch_delay_s` (for incidents opened during and after the outage: from the later
of their opening and Redis's return to their first offer) and `far_offers` (first-round
offers more than FAR_SLACK_KM further than the k-th nearest volunteer available then,
k the offers the need got). The targets are zero but the delay, a few seconds. Nothing
is asserted: the figures are for people to read; with --json the last line is one JSON
object.
"""

import argparse
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, Python puts bench/ on the path
VENV_BIN = Path(sys.executable).parent

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tongxin_redis_outage"
PREFIX = "tongxin-outage"
SEED = 20210720

# The city (DESIGN.md §1): volunteers anywhere in it, incidents next to one of them.
LATITUDES = (34.30, 34.62)
LONGITUDES = (113.55, 113.90)
KM_PER_DEGREE_LATITUDE = 111.32
INCIDENT_OFFSET_KM = 0.15  # an incident lies this far from the volunteer it is next to
# Incidents happen next to these many volunteers only (flooded places), so that people
# hold several offers at once and an accept leaves others to withdraw.
HOT_SPOTS = 25

BEFORE_SECONDS = 15
AFTER_SECONDS = 30
RETRY_SECONDS = 120  # a client gives up on a request after this long
REQUEST_TIMEOUT_SECONDS = 10
SETTLE_SECONDS = 120  # the most to wait, after the stream, for the stack to catch up
ACCEPT_SHARE = 0.3  # of the incidents, one offer accepted by its phone
ACCEPT_AFTER_SECONDS = (3, 30)  # after the offer, at random: some during the outage
POSITION_REPORTS_PER_SECOND = 5
FAR_SLACK_KM = 1.0
# An open offer of someone on a task for longer than this counts as left open: the
# withdrawal runs within milliseconds of the accept, or the sweep within
# WITHDRAW_SWEEP_SECONDS (10); during the outage neither can run.
BUSY_GRACE_SECONDS = 15
PROCESS_START_SECONDS = 90


def say(line: str = "") -> None:
    print(line, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--volunteers", type=int, default=300)
    parser.add_argument("--rate", type=float, default=1.0, help="incidents a second")
    parser.add_argument("--outage-seconds", type=float, default=30)
    parser.add_argument("--before-seconds", type=float, default=BEFORE_SECONDS)
    parser.add_argument("--after-seconds", type=float, default=AFTER_SECONDS)
    args = parser.parse_args()
    if urlsplit(args.database_url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("this benchmark only talks to 127.0.0.1")
    if not 20 <= args.volunteers <= 5000:
        parser.error("--volunteers: 20 to 5000")
    if not 0.1 <= args.rate <= 10:
        parser.error("--rate: 0.1 to 10 a second")
    for name in ("outage_seconds", "before_seconds", "after_seconds"):
        if not 1 <= getattr(args, name) <= 300:
            parser.error(f"--{name.replace('_', '-')}: 1 to 300")
    if shutil.which("redis-server") is None:
        parser.error("needs redis-server on the PATH")
    return args


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the database and the city ------------------------------------------------------------


def database_recreate(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def city_seed(volunteers: int, rng: random.Random) -> tuple[str, dict[int, dict]]:
    """A coordinator and `volunteers` rescuers on duty spread over the city, each with
    a token. Returns the coordinator's token and the volunteers by id."""
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from volunteers.models import Skill, Township, Volunteer
    from volunteers.roles import Role

    coordinator = User.objects.create_user("coordinator", password=secrets.token_hex(8))
    coordinator.groups.add(Group.objects.get(name=Role.COORDINATOR.value))
    coordinator_token = Token.objects.create(user=coordinator).key
    rescue = Skill.objects.get(code="rescue")
    township = Township.objects.first()
    group = Group.objects.get(name=Role.VOLUNTEER.value)
    people = {}
    for n in range(volunteers):
        user = User.objects.create_user(f"1390000{n:04d}", password=None)
        user.groups.add(group)
        volunteer = Volunteer.objects.create(
            user=user,
            name=f"志愿者{n:04d}",
            phone=f"1390000{n:04d}",
            township=township,
            on_duty=True,
            travel_range_km=60,
            last_latitude=rng.uniform(*LATITUDES),
            last_longitude=rng.uniform(*LONGITUDES),
        )
        volunteer.skills.add(rescue)
        people[volunteer.pk] = {
            "token": Token.objects.create(user=user).key,
            "latitude": volunteer.last_latitude,
            "longitude": volunteer.last_longitude,
        }
    return coordinator_token, people


# --- the processes ------------------------------------------------------------------------


class Processes:
    """redis-server, uvicorn, a prefork Celery worker and Celery beat; logs in files."""

    def __init__(self, env: dict, redis_port: int):
        self.env = env
        self.redis_port = redis_port
        self.workdir = Path(tempfile.mkdtemp(prefix="tongxin-outage-"))
        self.running: dict[str, subprocess.Popen] = {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"

    def _start(self, name: str, command: list[str], env: dict | None = None) -> None:
        with open(self.workdir / f"{name}.log", "ab") as log:
            self.running[name] = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env or self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def redis_start(self) -> None:
        self._start(
            "redis",
            [
                shutil.which("redis-server"),
                "--port", str(self.redis_port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
            ],
        )  # fmt: skip
        wait(lambda: redis_answers(self.redis_port), seconds=10, what="redis-server")

    def redis_kill(self) -> None:
        process = self.running.pop("redis")
        process.kill()
        process.wait(timeout=10)

    def uvicorn_start(self) -> None:
        self._start(
            "uvicorn",
            [
                str(VENV_BIN / "uvicorn"),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            {**self.env, "DB_POOL_MAX_SIZE": "8"},
        )

    def worker_start(self) -> None:
        self._start(
            "worker",
            [str(VENV_BIN / "celery"), "-A", "config", "worker", "--pool=prefork",
             "--concurrency=2", "-n", f"{PREFIX}@%h", "--loglevel=INFO"],
            {**self.env, "DB_CONN_MAX_AGE": "60"},
        )  # fmt: skip

    def beat_start(self) -> None:
        self._start(
            "beat",
            [str(VENV_BIN / "celery"), "-A", "config", "beat", "--loglevel=INFO",
             "--schedule", str(self.workdir / "celerybeat-schedule")],
        )  # fmt: skip

    def web_answers(self) -> bool:
        return http("GET", f"{self.base}/healthz", timeout=2)[0] == 200

    def stack_start(self) -> None:
        self.uvicorn_start()
        self.worker_start()
        self.beat_start()
        wait(self.web_answers, seconds=PROCESS_START_SECONDS, what="uvicorn")

    def group_kill(self, name: str) -> None:
        """SIGKILL a process and its whole group (a prefork worker's children too): no
        chance to finish a task, acknowledge a message or close a socket."""
        process = self.running.pop(name)
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in reversed(list(self.running.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)


def redis_answers(port: int) -> bool:
    import redis

    client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def wait(condition, *, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise RuntimeError(f"gave up after {seconds} s waiting for {what}")


LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


def http(method, url, *, token=None, body=None, key=None, timeout=REQUEST_TIMEOUT_SECONDS):
    """(status or None, body). Never raises."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    if key:
        headers["Idempotency-Key"] = key
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with LOCAL.open(request, timeout=timeout) as response:
            raw, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    except OSError as error:
        return None, str(error)
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw[:200].decode(errors="replace")


# --- the run --------------------------------------------------------------------------------


class Run:
    def __init__(self, args, base: str, coordinator_token: str, people: dict, rng):
        self.args = args
        self.base = base
        self.coordinator_token = coordinator_token
        self.people = people
        self.rng = rng
        self.lock = threading.Lock()
        self.statuses = Counter()  # answers to the clients' POSTs (None: no answer)
        self.post_seconds: list[tuple[float, float]] = []  # (sent at, seconds to answer)
        self.requests: list[dict] = []
        self.gave_up = 0
        self.sockets = Counter()
        self.accepts = Counter()
        self.reports = Counter()
        self.busy_samples: list[tuple[float, int]] = []  # (time, open offers of the busy)
        self.stop = threading.Event()
        self.hot_spots = rng.sample(sorted(people), HOT_SPOTS)

    def incident_body(self, n: int) -> dict:
        near = self.people[self.rng.choice(self.hot_spots)]
        bearing = self.rng.uniform(0, 2 * math.pi)
        offset = INCIDENT_OFFSET_KM / KM_PER_DEGREE_LATITUDE
        latitude = near["latitude"] + offset * math.cos(bearing)
        longitude = near["longitude"] + offset * math.sin(bearing) / math.cos(
            math.radians(latitude)
        )
        return {
            "kind": "flood_rescue",
            "title": f"bench incident {n}",
            "latitude": round(latitude, 6),
            "longitude": round(longitude, 6),
            "priority": 4,
            "needs": [{"kind": "people", "skill": "rescue", "count": 1}],
        }

    def client(self, n: int) -> None:
        """One coordinator's request, retried with its key until it gets an answer."""
        body, key = self.incident_body(n), secrets.token_hex(16)
        sent_at = time.time()
        while time.time() - sent_at < RETRY_SECONDS:
            attempt = time.time()
            status, _ = http("POST", f"{self.base}/api/incidents/", token=self.coordinator_token,
                             body=body, key=key)  # fmt: skip
            with self.lock:
                self.statuses[status] += 1
                self.post_seconds.append((attempt, time.time() - attempt))
            if status is not None and status < 500:
                with self.lock:
                    self.requests.append({"title": body["title"], "status": status})
                return
            time.sleep(1)
        with self.lock:
            self.gave_up += 1

    def phones(self) -> None:
        """Accept one offer of some incidents, a few seconds after it was made."""
        from django.db import close_old_connections

        from dispatch.models import Assignment, AssignmentStatus

        decided: dict[int, float | None] = {}  # need -> when its offer is accepted (None: never)
        while not self.stop.is_set():
            close_old_connections()
            offers = Assignment.objects.filter(
                status=AssignmentStatus.OFFERED, volunteer__isnull=False
            ).values_list("pk", "need_id", "volunteer_id", "offered_at")
            for pk, need_id, volunteer_id, offered_at in offers:
                if need_id not in decided:
                    accept = self.rng.random() < ACCEPT_SHARE
                    delay = self.rng.uniform(*ACCEPT_AFTER_SECONDS)
                    decided[need_id] = offered_at.timestamp() + delay if accept else None
                due = decided[need_id]
                if due is None or due > time.time():
                    continue
                decided[need_id] = None
                self.accept(pk, self.people[volunteer_id]["token"])
            self.stop.wait(1)

    def accept(self, assignment: int, token: str) -> None:
        status, _ = http("POST", f"{self.base}/api/assignments/{assignment}/accept/", token=token)
        with self.lock:
            self.accepts[status] += 1

    def reporters(self) -> None:
        """Phones report where they are (as they do every few seconds)."""
        ids = sorted(self.people)
        while not self.stop.is_set():
            for volunteer_id in self.rng.sample(ids, POSITION_REPORTS_PER_SECOND):
                person = self.people[volunteer_id]
                status, _ = http("PATCH", f"{self.base}/api/me/volunteer/", token=person["token"],
                                 body={"latitude": person["latitude"],
                                       "longitude": person["longitude"]})  # fmt: skip
                with self.lock:
                    self.reports[status] += 1
            self.stop.wait(1)

    def busy_sampler(self) -> None:
        """Every second: open offers of volunteers on a task for over BUSY_GRACE_SECONDS."""
        from datetime import timedelta

        from django.db import close_old_connections
        from django.utils import timezone

        from dispatch.models import ACTIVE_STATUSES, Assignment, AssignmentStatus

        while not self.stop.is_set():
            close_old_connections()
            busy_since_long = Assignment.objects.filter(
                status__in=ACTIVE_STATUSES,
                answered_at__lt=timezone.now() - timedelta(seconds=BUSY_GRACE_SECONDS),
            ).values("volunteer_id")
            count = Assignment.objects.filter(
                status=AssignmentStatus.OFFERED, volunteer_id__in=busy_since_long
            ).count()
            with self.lock:
                self.busy_samples.append((time.time(), count))
            self.stop.wait(1)

    def socket_prober(self) -> None:
        from websockets.sync.client import connect

        url = self.base.replace("http", "ws") + "/ws/dashboard/"
        while not self.stop.is_set():
            protocols = ["tongxin", f"token.{self.coordinator_token}"]
            try:
                with connect(url, origin=self.base, open_timeout=5, subprotocols=protocols) as ws:
                    frame = json.loads(ws.recv(timeout=5))
                    outcome = frame.get("type", "?")
            except Exception as error:  # noqa: BLE001 - every way a handshake fails is a figure
                code = getattr(getattr(error, "rcvd", None), "code", None)
                status = getattr(getattr(error, "response", None), "status_code", None)
                outcome = f"close {code}" if code else f"http {status}" if status else "no answer"
            with self.lock:
                self.sockets[outcome] += 1
            self.stop.wait(2)


def incident_stream(run: Run, seconds: float, faults: list, helpers) -> dict:
    """Open incidents at the run's rate for `seconds` while the helper threads run,
    and do each fault when it is due: (seconds from the start, its name in the
    timeline, what to do, what to say). The timeline has when each was done."""
    started = time.time()
    timeline = {"started": started}
    for thread in [threading.Thread(target=helper, daemon=True) for helper in helpers]:
        thread.start()
    due = sorted(faults, key=lambda fault: fault[0])
    with ThreadPoolExecutor(max_workers=32) as pool:
        n = 0
        while (elapsed := time.time() - started) < seconds:
            while due and elapsed >= due[0][0]:
                _, name, action, message = due.pop(0)
                action()
                timeline[name] = time.time()
                say(f"{elapsed:5.1f} s  {message}")
            if n < elapsed * run.args.rate:
                pool.submit(run.client, n)
                n += 1
            time.sleep(0.05)
        timeline["stream_end"] = time.time()
        say(f"{time.time() - started:5.1f} s  stream over: {n} incidents asked for")
    timeline["answered"] = time.time()
    return timeline


def run_stream(run: Run, processes: Processes, args) -> dict:
    outage_at = args.before_seconds
    back_at = args.before_seconds + args.outage_seconds
    faults = [
        (outage_at, "redis_killed", processes.redis_kill, "redis-server killed"),
        (back_at, "redis_back", processes.redis_start, "redis-server started again, empty"),
    ]
    helpers = (run.phones, run.reporters, run.socket_prober, run.busy_sampler)
    return incident_stream(run, back_at + args.after_seconds, faults, helpers)


def caught_up() -> bool:
    from dispatch.availability import volunteer_busy_ids
    from dispatch.models import Assignment, AssignmentStatus
    from incidents.models import Incident

    undispatched = Incident.objects.filter(needs__assignments__isnull=True).exists()
    busy = volunteer_busy_ids()
    open_busy = Assignment.objects.filter(
        status=AssignmentStatus.OFFERED, volunteer_id__in=busy
    ).exists()
    return not undispatched and not open_busy


def dispatch_rows() -> tuple[Counter, list[dict], list[dict]]:
    """From the database: how many incidents have each title (one per request), the
    incidents, and every offer ever made."""
    from django.db import close_old_connections

    from dispatch.models import Assignment
    from incidents.models import Incident

    close_old_connections()
    titles = Counter(Incident.objects.values_list("title", flat=True))
    incidents = list(Incident.objects.values("pk", "opened_at", "latitude", "longitude"))
    offers = list(
        Assignment.objects.values(
            "need__incident_id", "need_id", "volunteer_id", "offered_at", "distance_m"
        )
    )
    return titles, incidents, offers


def first_offers(offers: list[dict]) -> dict:
    """Incident -> when its first offer was made."""
    first_offer = {}
    for offer in offers:
        incident = offer["need__incident_id"]
        if incident not in first_offer or offer["offered_at"] < first_offer[incident]:
            first_offer[incident] = offer["offered_at"]
    return first_offer


def far_offers(people: dict, incidents: list[dict], offers: list[dict]) -> list[dict]:
    """First-round offers more than FAR_SLACK_KM further than the k-th nearest
    volunteer available then (on duty, and not on a task accepted before it), k the
    offers the need got in that round."""
    from geopy.distance import geodesic

    from dispatch.models import ACTIVE_STATUSES, Assignment, AssignmentStatus

    accepted_at = defaultdict(list)
    for volunteer_id, answered in Assignment.objects.filter(
        status__in=[*ACTIVE_STATUSES, AssignmentStatus.COMPLETED], volunteer__isnull=False
    ).values_list("volunteer_id", "answered_at"):
        accepted_at[volunteer_id].append(answered.timestamp())
    place = {i["pk"]: (i["latitude"], i["longitude"]) for i in incidents}
    by_need = defaultdict(list)
    for offer in offers:
        by_need[offer["need_id"]].append(offer)
    far = []
    for need_id, need_offers in by_need.items():
        start = min(offer["offered_at"] for offer in need_offers)
        first_round = [o for o in need_offers if (o["offered_at"] - start).total_seconds() < 1]
        at = start.timestamp()
        here = place[first_round[0]["need__incident_id"]]
        # Needs planned together share out the people near them (DESIGN.md §5: minimum
        # total travel): whoever another need got in the same round was not free for it.
        planned_elsewhere = {
            o["volunteer_id"]
            for o in offers
            if o["need_id"] != need_id and abs(o["offered_at"].timestamp() - at) < 1
        }
        free = sorted(
            geodesic(here, (person["latitude"], person["longitude"])).km
            for pk, person in people.items()
            if pk not in planned_elsewhere and not any(t <= at for t in accepted_at.get(pk, ()))
        )
        k = min(len(first_round), len(free))
        if not k:
            continue
        kth = free[k - 1]
        far += [o for o in first_round if o["distance_m"] / 1000 > kth + FAR_SLACK_KM]
    return far


def busy_with_open_offers_now() -> int:
    from dispatch.availability import volunteer_busy_ids
    from dispatch.models import Assignment, AssignmentStatus

    return Assignment.objects.filter(
        status=AssignmentStatus.OFFERED, volunteer_id__in=volunteer_busy_ids()
    ).count()


def measure(run: Run, timeline: dict) -> dict:
    titles, incidents, offers = dispatch_rows()
    first_offer = first_offers(offers)
    lost = [i["pk"] for i in incidents if i["pk"] not in first_offer]

    killed, back = timeline["redis_killed"], timeline["redis_back"]
    delays_before, delays_after = [], []
    for incident in incidents:
        offered = first_offer.get(incident["pk"])
        if offered is None:
            continue
        opened = incident["opened_at"].timestamp()
        if opened < killed:
            delays_before.append(offered.timestamp() - opened)
        else:
            delays_after.append(offered.timestamp() - max(opened, back))

    far = far_offers(run.people, incidents, offers)
    busy_open_at_end = busy_with_open_offers_now()
    # Once Redis is back, long enough for a busy person's offers to be withdrawn.
    busy_open_peak = max(
        (count for at, count in run.busy_samples if at >= back + BUSY_GRACE_SECONDS), default=0
    )
    return {
        "incidents_asked": len(run.requests) + run.gave_up,
        "incidents_saved": len(incidents),
        "post_answers": {str(k): v for k, v in sorted(run.statuses.items(), key=str)},
        "post_5xx": sum(v for k, v in run.statuses.items() if k is not None and k >= 500),
        "post_no_answer": run.statuses.get(None, 0),
        "post_seconds_during_outage": _p50_max(
            [took for at, took in run.post_seconds if killed <= at < back]
        ),
        "post_seconds_otherwise": _p50_max(
            [took for at, took in run.post_seconds if not killed <= at < back]
        ),
        "clients_gave_up": run.gave_up,
        "duplicate_incidents": sum(count - 1 for count in titles.values() if count > 1),
        "lost": len(lost),
        "busy_with_open_offers": max(busy_open_peak, busy_open_at_end),
        "busy_with_open_offers_during_outage": max(
            (count for at, count in run.busy_samples if killed <= at < back), default=0
        ),
        "max_dispatch_delay_s": round(max(delays_after), 2) if delays_after else None,
        "median_dispatch_delay_after_s": round(statistics.median(delays_after), 2)
        if delays_after
        else None,
        "max_dispatch_delay_before_s": round(max(delays_before), 2) if delays_before else None,
        "far_offers": len(far),
        "far_offer_km": sorted(round(o["distance_m"] / 1000, 1) for o in far)[:10],
        "offers": len(offers),
        "accepts": {str(k): v for k, v in run.accepts.items()},
        "position_reports": {str(k): v for k, v in run.reports.items()},
        "sockets": dict(run.sockets),
        "outage_s": round(back - killed, 1),
        "caught_up": bool(timeline.get("caught_up")),
    }


def _p50_max(seconds: list[float]) -> dict | None:
    if not seconds:
        return None
    return {"p50": round(statistics.median(seconds), 3), "max": round(max(seconds), 3)}


def stack_environment(database_url: str, redis_port: int) -> dict:
    """Production-like settings (DEBUG off, a random secret key) on 127.0.0.1, our own
    Redis and names in it, for this process and the stack's. Returns the stack's
    environment: it logs INFO into its files, this process only warnings."""
    values = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "HTTPS": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOCATION_INDEX_PREFIX": f"{PREFIX}:geo:",
        "CHANNEL_PREFIX": PREFIX,
        "CELERY_QUEUE": PREFIX,
    }
    os.environ.update(values)
    env = {**os.environ, "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
    os.environ["LOG_LEVEL"] = "WARNING"
    return env


def city_make(database_url: str, volunteers: int, rng) -> tuple[str, dict[int, dict]]:
    """The scratch database made again, migrated and seeded (city_seed)."""
    say(f"scratch database {database_url}: made again")
    database_recreate(database_url)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    coordinator_token, people = city_seed(volunteers, rng)
    say(f"{len(people)} rescuers on duty over the city")
    return coordinator_token, people


def stack_up(processes: Processes) -> None:
    """Redis, then uvicorn, the worker and beat; up once the worker has filled the
    location index from the database (it does as it starts)."""
    from dispatch.location_index import location_index

    processes.redis_start()
    processes.stack_start()
    wait(lambda: location_index().keys(), seconds=60, what="the worker's index rebuild")


def settle(timeline: dict) -> None:
    """Wait at most SETTLE_SECONDS for every incident to be offered and every busy
    person's offers withdrawn; notes when in the timeline."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline and not caught_up():
        time.sleep(0.5)
    if caught_up():
        timeline["caught_up"] = time.time()


def main() -> None:
    args = parse_args()
    rng = random.Random(SEED)
    redis_port = free_port()
    env = stack_environment(args.database_url, redis_port)
    coordinator_token, people = city_make(args.database_url, args.volunteers, rng)

    processes = Processes(env, redis_port)
    say(f"logs in {processes.workdir}")
    try:
        stack_up(processes)
        say(f"stack up at {processes.base}: uvicorn, worker (prefork ×2), beat, redis")
        run = Run(args, processes.base, coordinator_token, people, rng)
        timeline = run_stream(run, processes, args)
        settle(timeline)
        run.stop.set()
        figures = measure(run, timeline)
    finally:
        processes.stop()

    say()
    for name in ("post_5xx", "duplicate_incidents", "lost", "busy_with_open_offers",
                 "far_offers", "max_dispatch_delay_s"):  # fmt: skip
        say(f"{name:>24}: {figures[name]}")
    say(f"{'incidents':>24}: {figures['incidents_saved']} saved of "
        f"{figures['incidents_asked']} asked for")  # fmt: skip
    say(f"{'POST answers':>24}: {figures['post_answers']}")
    say(f"{'POST seconds':>24}: during the outage {figures['post_seconds_during_outage']}, "
        f"otherwise {figures['post_seconds_otherwise']}")  # fmt: skip
    say(f"{'dispatch delay':>24}: before the outage at most "
        f"{figures['max_dispatch_delay_before_s']} s; after, median "
        f"{figures['median_dispatch_delay_after_s']} s")  # fmt: skip
    say(f"{'sockets':>24}: {figures['sockets']}")
    say(f"{'accepts':>24}: {figures['accepts']}; position reports {figures['position_reports']}")
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
