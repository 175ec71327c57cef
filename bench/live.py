"""Benchmark of live delivery on the real stack (issue 4, DESIGN.md §4 and §6,
docs/websockets.md).

    .venv/bin/python bench/live.py [--json] [--sockets 1000] [--pool solo|prefork]
                                   [--database-url URL] [--redis-url URL] [--fresh]

It sets Django up against a scratch PostgreSQL database (created, migrated and seeded
with the full city once), puts exactly N volunteers on duty, starts uvicorn, a Celery
worker and Celery beat as subprocesses with production-like settings, connects N phone
sockets and dashboards from one asyncio process, opens incidents through the REST API
and has the phones acknowledge, open, accept, decline and report progress as phones
would. It prints its figures; with --json the last line is one JSON object. Nothing is
asserted: the figures are for people to read.

Every run first resets what the previous one changed (it cancels every open incident
of the scratch database, which withdraws their offers and frees everyone), so runs can
follow each other on the same seeded city.
"""

import argparse
import asyncio
import json
import math
import os
import platform
import random
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts bench/ on the path, not the project.
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tongxin_live"
# As bench/matching.py: database 13 (the test suite takes 10-12, a dev server 0-2). One
# REDIS_URL serves three databases (config/env.py): the channel layer on 13, Celery on
# 14, the location index on 15. Our own prefixes and queue keep us apart from the other
# benchmark's keys there.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
INDEX_PREFIX = "tongxin-live:geo:"
CHANNEL_PREFIX = "tongxin-live"
QUEUE = "tongxin-live"
WORKER_NAME = "tongxin-live@%h"
# Database connections as docker-compose sets them up: a pool in uvicorn, connections
# kept between tasks in the worker.
WEB_POOL_SIZE = "20"
WORKER_CONN_MAX_AGE = "60"

SEED = 20210720
URGENT_KINDS = ("flood_rescue", "evacuation", "medical", "search")
SKILLS = ("rescue", "first_aid")
PRIORITY = 4  # critical: offers expire after OFFER_TIMEOUT_CRITICAL (90 s)
PLACE_JITTER_KM = 1.0  # an incident lies within this of an on-duty volunteer
KM_PER_DEGREE_LATITUDE = 111.32

WARMUP_INCIDENTS = 3
SEQUENTIAL_INCIDENTS = 50
SEQUENTIAL_INTERVAL_SECONDS = 1.0
SURGE_NEEDS = 166  # the July 2021 flood: 160 vehicle dispatches + 6 boats
SURGE_SECONDS = 120
RESUME_AWAY_SECONDS = 3.0
# A socket the server closes comes back with ?since=<the last seq it saw>, as an app
# would, a second later and at most this many times.
RECONNECTS = 5
RECONNECT_DELAY_SECONDS = 1.0

# What a phone does with an offer: confirm delivery at once (the app does), then the
# volunteer opens it (`seen`) after a few seconds or never; of those who open it some
# accept, some decline, the rest let it expire. Who accepted reports en route and
# completed, which frees them for the next call.
OPEN_SHARE = 0.6
ACCEPT_SHARE_OF_OPENED = 0.5
DECLINE_SHARE_OF_OPENED = 0.15
OPEN_DELAY_SECONDS = (1.0, 4.0)
EN_ROUTE_DELAY_SECONDS = (1.0, 3.0)
COMPLETE_DELAY_SECONDS = (3.0, 8.0)

# Phone requests by the first letter of their ref.
REQUESTS = {
    "d": "delivered",
    "s": "seen",
    "a": "accept",
    "n": "decline",
    "e": "en_route",
    "c": "completed",
}

CONNECT_CONCURRENCY = 50
CONNECT_ATTEMPTS = 3
HANDSHAKE_TIMEOUT_SECONDS = 60
SETTLE_SECONDS = 10  # after the last incident, for the phones' delayed answers
QUIET_SECONDS = 3  # after the phones stop acting, before the log's end is read
DELIVERY_WAIT_SECONDS = 30  # the most to wait for frames of events up to the end
PROCESS_START_SECONDS = 90
PROCESS_STOP_SECONDS = 30
LAG_PROBE_SECONDS = 0.05


def say(line: str = "") -> None:
    print(line, flush=True)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def p50_p99_ms(seconds: list[float]) -> tuple[float | None, float | None]:
    if not seconds:
        return None, None
    return ms(statistics.median(seconds)), ms(percentile(seconds, 99))


def fmt(value, unit=" ms") -> str:
    return "n/a" if value is None else f"{value:,.1f}{unit}"


# --- setting up ---------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--sockets", type=int, default=1000, help="volunteers on duty, connected")
    parser.add_argument(
        "--pool",
        choices=("solo", "prefork"),
        default="prefork",
        help="the Celery worker's pool (prefork: --concurrency 2, as docker-compose runs it)",
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument(
        "--fresh", action="store_true", help="drop the scratch database and seed it again"
    )
    parser.add_argument("--incidents", type=int, default=SEQUENTIAL_INCIDENTS)
    parser.add_argument("--surge-needs", type=int, default=SURGE_NEEDS)
    parser.add_argument("--surge-seconds", type=float, default=SURGE_SECONDS)
    args = parser.parse_args()
    if not 1 <= args.sockets <= 5000:
        parser.error("--sockets: 1 to 5000")
    if not 0 <= args.incidents <= 1000 or not 0 <= args.surge_needs <= 2000:
        parser.error("--incidents up to 1000, --surge-needs up to 2000")
    if not 1 <= args.surge_seconds <= 600:
        parser.error("--surge-seconds: 1 to 600")
    parts = urlsplit(args.redis_url)
    if parts.hostname not in ("127.0.0.1", "localhost") or urlsplit(
        args.database_url
    ).hostname not in ("127.0.0.1", "localhost"):
        parser.error("this benchmark only talks to 127.0.0.1")
    if int(parts.path.strip("/") or 0) > 13:
        parser.error(
            "--redis-url: give a database number of 13 or lower (the index goes two above)"
        )
    return args


def environment_set(args: argparse.Namespace) -> dict[str, str]:
    """Settings for this process and the stack's: production-like (DEBUG off, a secret
    key, PostgreSQL, Redis), plain http on 127.0.0.1, our own Redis prefixes and queue.
    Returns the environment of the subprocesses."""
    values = {
        # config.settings unless told otherwise: another module (importing it and
        # changing one thing) tries a settings change without editing the project.
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "HTTPS": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOCATION_INDEX_PREFIX": INDEX_PREFIX,
        "CHANNEL_PREFIX": CHANNEL_PREFIX,
        "CELERY_QUEUE": QUEUE,
    }
    os.environ.update(values)
    child = dict(os.environ)
    child["LOG_LEVEL"] = "INFO"  # the production default, into log files
    child["PYTHONUNBUFFERED"] = "1"
    # This process logs warnings only: its output is the figures.
    os.environ["LOG_LEVEL"] = "WARNING"
    return child


def database_ensure(url: str, *, fresh: bool) -> bool:
    """Create the scratch database when it is missing (drop it first with fresh);
    True when it was created."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        if fresh:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if found.fetchone():
            return False
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def city_prepare() -> None:
    import io

    from django.core.management import call_command
    from django.db import connection

    from volunteers.demo import FULL
    from volunteers.models import Volunteer

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    say(f"migrations applied ({time.perf_counter() - started:.1f} s)")
    if Volunteer.objects.exists():
        say("the city is seeded already: not seeding again")
    else:
        started = time.perf_counter()
        output = io.StringIO()  # seed_demo prints the demo logins; keep the counts only
        call_command("seed_demo", full=True, allow_demo_logins=True, stdout=output)
        say(
            "seeded the full city: "
            + output.getvalue().strip().splitlines()[-1]
            + f" ({time.perf_counter() - started:.1f} s)"
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    count = Volunteer.objects.count()
    if count != FULL.volunteers:
        say(f"WARNING: {count:,} volunteers, not the full city's {FULL.volunteers:,}")


def dispatch_reset() -> dict:
    """Undo what earlier runs left: cancel every open incident of the scratch database
    (the seeded testing sites too, on the first run: their shift offers would go to the
    benchmark's phones), which withdraws open offers and frees whoever was on a task.
    Through incidents.services, so the log records it like any cancellation."""
    from django.contrib.auth import get_user_model

    from dispatch.models import ACTIVE_STATUSES, Assignment
    from incidents.models import Incident
    from incidents.services import incident_cancel

    started = time.perf_counter()
    coordinator = get_user_model().objects.get(username="coordinator")
    cancelled = 0
    for incident in Incident.objects.filter(status=Incident.Status.OPEN).order_by("pk")[:100_000]:
        incident_cancel(incident=incident, actor=coordinator, note="bench/live.py: reset")
        cancelled += 1
    busy = Assignment.objects.filter(status__in=ACTIVE_STATUSES).count()
    seconds = time.perf_counter() - started
    say(f"reset: cancelled {cancelled} open incidents in {seconds:.1f} s ({busy} still busy)")
    return {"cancelled": cancelled, "seconds": round(seconds, 2)}


def redis_reset(redis_url: str) -> None:
    """Our channel-layer keys (stale groups of dead sockets) and any task a previous
    run left queued."""
    import redis

    from config.env import redis_url_with_db_offset

    for offset, pattern in ((0, f"{CHANNEL_PREFIX}*"), (1, f"{QUEUE}*")):
        client = redis.Redis.from_url(redis_url_with_db_offset(redis_url, offset))
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        client.close()


@dataclass
class Phone:
    volunteer_id: int
    token: str
    latitude: float
    longitude: float
    skills: tuple[str, ...]


def volunteers_prepare(n: int, rng: random.Random) -> list[Phone]:
    """Exactly n volunteers on duty, everyone else off: half with the rescue skill,
    half with first_aid, taken township by township in turn so they are spread over
    the city. Each gets a DRF token. Then the location index is rebuilt."""
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from dispatch.availability import index_rebuild
    from volunteers.models import Volunteer

    started = time.perf_counter()
    holders = defaultdict(set)
    for volunteer_id, code in Volunteer.skills.through.objects.filter(
        skill__code__in=SKILLS
    ).values_list("volunteer_id", "skill__code"):
        holders[code].add(volunteer_id)
    rows = Volunteer.objects.filter(pk__in=holders["rescue"] | holders["first_aid"]).values_list(
        "id",
        "township_id",
        "user_id",
        "last_latitude",
        "last_longitude",
        "home_latitude",
        "home_longitude",
    )
    info, pools = {}, defaultdict(lambda: {code: [] for code in SKILLS})
    for pk, township, user_id, last_lat, last_lng, home_lat, home_lng in rows:
        position = (last_lat, last_lng) if last_lat is not None else (home_lat, home_lng)
        if position[0] is None:
            continue
        info[pk] = (user_id, position, township)
        # Each volunteer goes into one pool: rescue if they have it, else first_aid.
        pools[township]["rescue" if pk in holders["rescue"] else "first_aid"].append(pk)
    for by_skill in pools.values():
        for members in by_skill.values():
            members.sort()
            rng.shuffle(members)
    chosen: list[int] = []
    townships = sorted(pools)
    turn = 0
    while len(chosen) < n and any(any(p.values()) for p in pools.values()):
        for township in townships:
            code = SKILLS[turn % 2]
            pool = pools[township][code] or pools[township][SKILLS[(turn + 1) % 2]]
            if pool and len(chosen) < n:
                chosen.append(pool.pop())
        turn += 1
    if len(chosen) < n:
        say(f"WARNING: only {len(chosen)} volunteers have {' or '.join(SKILLS)}")

    with transaction.atomic():
        Volunteer.objects.filter(on_duty=True).update(on_duty=False)
        Volunteer.objects.filter(pk__in=chosen).update(on_duty=True)
    user_ids = [info[pk][0] for pk in chosen]
    have = set(Token.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
    Token.objects.bulk_create(
        [
            Token(user_id=user_id, key=Token.generate_key())
            for user_id in user_ids
            if user_id not in have
        ]
    )
    keys = dict(Token.objects.filter(user_id__in=user_ids).values_list("user_id", "key"))
    sizes = index_rebuild()
    phones = [
        Phone(
            volunteer_id=pk,
            token=keys[info[pk][0]],
            latitude=info[pk][1][0],
            longitude=info[pk][1][1],
            skills=tuple(code for code in SKILLS if pk in holders[code]),
        )
        for pk in chosen
    ]
    on_duty = Volunteer.objects.filter(on_duty=True).count()
    say(
        f"{on_duty} volunteers on duty ({sum('rescue' in p.skills for p in phones)} with rescue, "
        f"{sum('first_aid' in p.skills for p in phones)} with first_aid, in "
        f"{len({info[pk][2] for pk in chosen})} townships), tokens ready, index rebuilt "
        f"(volunteer:rescue {sizes.get('volunteer:rescue', 0)}, volunteer:first_aid "
        f"{sizes.get('volunteer:first_aid', 0)}) in {time.perf_counter() - started:.1f} s"
    )
    return phones


def coordinator_token() -> str:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.get(username="coordinator")
    return Token.objects.get_or_create(user=user)[0].key


def machine_facts(pool: str) -> dict:
    import celery
    import channels
    import channels_redis
    import django
    import uvicorn
    import websockets
    from django.conf import settings
    from django.db import connection

    from dispatch.location_index import location_index

    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    database = settings.DATABASES["default"]
    return {
        "settings": os.environ["DJANGO_SETTINGS_MODULE"],
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "redis": location_index().redis.info("server")["redis_version"],
        "postgresql": postgres,
        "django": django.get_version(),
        "channels": channels.__version__,
        "channels_redis": channels_redis.__version__,
        "celery": celery.__version__,
        "uvicorn": uvicorn.__version__,
        "websockets": websockets.__version__,
        "worker_pool": pool if pool == "solo" else "prefork --concurrency 2",
        "database_connections": f"uvicorn: a pool of {WEB_POOL_SIZE}; "
        f"worker: kept {WORKER_CONN_MAX_AGE} s (as docker-compose); this process: "
        f"CONN_MAX_AGE {database.get('CONN_MAX_AGE')}",
        "channel_layer": f"{settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]} "
        f"prefix {CHANNEL_PREFIX}, capacity "
        f"{settings.CHANNEL_LAYERS['default']['CONFIG']['capacity']}",
    }


# --- the stack ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


def http_json(method: str, url: str, *, token: str | None = None, body=None, timeout=30.0):
    """(status, parsed body or text, seconds). Never raises for an HTTP status."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    started = time.perf_counter()
    try:
        with LOCAL.open(request, timeout=timeout) as response:
            raw, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    except OSError as error:
        return None, str(error), time.perf_counter() - started
    seconds = time.perf_counter() - started
    try:
        return status, json.loads(raw or b"null"), seconds
    except ValueError:
        return status, raw[:300].decode(errors="replace"), seconds


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path


@dataclass
class Stack:
    base: str
    processes: dict[str, Process]
    workdir: Path
    exceptions = {}  # process name -> the exceptions its log shows, after the stop


def _start(name: str, command: list[str], env: dict, workdir: Path) -> Process:
    log = workdir / f"{name}.log"
    with open(log, "wb") as output:  # a file, not a pipe: a full pipe would block the server
        popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: prefork children go with it
        )
    return Process(name, popen, log)


def _stop(process: Process) -> None:
    popen = process.popen
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout=PROCESS_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=PROCESS_STOP_SECONDS)
    # Whatever it left behind in its own group (a prefork child, say).
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)


def log_exceptions(process: Process) -> dict[str, int]:
    """The exceptions a process logged, by their last line (the exception itself)."""
    found = Counter()
    try:
        lines = process.log.read_text(errors="replace").splitlines()
    except OSError:
        return {}
    in_traceback = False
    for line in lines:
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
        elif in_traceback and line and not line.startswith((" ", "\t", "Traceback")):
            if line.startswith(("The above exception", "During handling")):
                continue
            found[line[:120]] += 1
            in_traceback = False
    return dict(found.most_common(8))


def _log_tail(process: Process, lines: int = 30) -> str:
    try:
        return "\n".join(process.log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait(condition, *, seconds: float, what: str, processes: dict[str, Process]):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes.values():
            if process.popen.poll() is not None:
                raise RuntimeError(
                    f"{process.name} exited ({process.popen.returncode}):\n{_log_tail(process)}"
                )
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise RuntimeError(f"gave up after {seconds} s waiting for {what}")


@contextmanager
def stack_running(env: dict, *, pool: str):
    """uvicorn, a Celery worker and Celery beat, as docker-compose runs them (but on
    127.0.0.1 with plain http); stopped at the end whatever happens. Logs go to files
    in a temporary folder, which is kept (its path is printed)."""
    from config.celery import app

    workdir = Path(tempfile.mkdtemp(prefix="tongxin-live-"))
    port = free_port()
    pool_args = ["--pool=solo"] if pool == "solo" else ["--pool=prefork", "--concurrency=2"]
    processes: dict[str, Process] = {}
    failed = True
    try:
        processes["uvicorn"] = _start(
            "uvicorn",
            [
                str(VENV_BIN / "uvicorn"),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            {**env, "DB_POOL_MAX_SIZE": WEB_POOL_SIZE},
            workdir,
        )
        processes["worker"] = _start(
            "worker",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "worker",
                *pool_args,
                "-n",
                WORKER_NAME,
                "--loglevel=INFO",
            ],
            {**env, "DB_CONN_MAX_AGE": WORKER_CONN_MAX_AGE},
            workdir,
        )
        processes["beat"] = _start(
            "beat",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(workdir / "celerybeat-schedule"),
            ],
            env,
            workdir,
        )
        base = f"http://127.0.0.1:{port}"
        _wait(
            lambda: http_json("GET", f"{base}/healthz", timeout=2)[0] == 200,
            seconds=PROCESS_START_SECONDS,
            what="uvicorn to answer /healthz",
            processes=processes,
        )

        def worker_answers():
            replies = app.control.ping(timeout=0.5)
            return any(name.startswith("tongxin-live@") for reply in replies for name in reply)

        _wait(worker_answers, seconds=PROCESS_START_SECONDS, what="the worker", processes=processes)
        failed = False
        yield Stack(base=base, processes=processes, workdir=workdir)
    except BaseException:
        failed = True
        raise
    finally:
        for process in reversed(list(processes.values())):
            _stop(process)
        for process in processes.values():
            Stack.exceptions[process.name] = log_exceptions(process)
        if failed:
            for process in processes.values():
                say(f"--- {process.name} log ({process.log}) ---")
                say(_log_tail(process))
        say(f"the stack's logs: {workdir}")


def _proc_pids(root_pid: int) -> list[int]:
    """The process and its children (prefork workers)."""
    pids = [root_pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == root_pid:
                pids.append(int(entry.name))
    return pids


def rss_mb(pid: int, *, children: bool = False) -> float:
    total = 0
    for each in _proc_pids(pid) if children else [pid]:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for each in _proc_pids(pid) if children else [pid]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return round(total / ticks, 1)


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def load_average() -> float:
    """The 1-minute load average: above the core count, something else shares the machine."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def busy_percent(before, after) -> float:
    total = after[1] - before[1]
    return round(100 * (after[0] - before[0]) / total, 1) if total else 0.0


# --- the clients --------------------------------------------------------------------


@dataclass
class Client:
    """One socket's view: every event frame it received and when (time.time(), the
    same clock as the log's occurred_at: one machine)."""

    name: str
    token: str
    volunteer_id: int | None = None  # None: a dashboard
    hello_seq: int | None = None  # the log's position at the first connect
    hellos: list = field(default_factory=list)
    seqs: Counter = field(default_factory=Counter)
    first_at: dict = field(default_factory=dict)  # seq -> arrival
    offer_at: dict = field(default_factory=dict)  # assignment -> arrival of offer.made
    max_seq: int = 0
    out_of_order: int = 0
    resyncs: int = 0
    snapshots: int = 0
    errors: Counter = field(default_factory=Counter)
    ws: object = None
    reader: asyncio.Task | None = None
    closing: bool = False
    dropped: int = 0  # connections the server or network ended
    reconnects: int = 0
    drops: list = field(default_factory=list)  # each: when, the seq it resumes from, code
    handshake_seconds: list = field(default_factory=list)


@dataclass
class Incident:
    number: int
    phase: str
    body: dict
    id: int | None = None
    status: int | None = None
    http_seconds: float | None = None
    posted_at: float | None = None


class Run:
    def __init__(self, *, base: str, phones: list[Phone], coordinator: str, args, rng):
        self.base = base
        self.ws_base = base.replace("http://", "ws://")
        self.origin = base
        self.args = args
        self.rng = rng
        self.phones = {
            phone.volunteer_id: Client(
                f"phone {phone.volunteer_id}", phone.token, phone.volunteer_id
            )
            for phone in phones
        }
        self.places = [(phone.latitude, phone.longitude) for phone in phones]
        self.coordinator = coordinator
        self.dashboard = Client("dashboard", coordinator)
        self.resumer = Client("dashboard (resumes)", coordinator)
        self.acting = True
        self.finished = False
        self.tasks: set[asyncio.Task] = set()
        self.incidents: list[Incident] = []
        self.accept_sent: dict[int, float] = {}  # assignment -> when the accept went out
        self.accepted: set[int] = set()  # assignments whose accept was acknowledged
        self.dashboard_accepted_at: dict[int, float] = {}
        self.answers = Counter()
        self.request_sent: dict[str, float] = {}  # ref -> when the request went out
        self.round_trips: dict[str, list[float]] = defaultdict(list)  # request -> seconds
        self.lag: list[float] = []
        self.resume: dict = {}
        self.marks: dict[str, tuple] = {}

    # -- sockets --

    def clients(self) -> list[Client]:
        return [self.dashboard, self.resumer, *self.phones.values()]

    def spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def connect(self, client: Client, *, since: int | None = None) -> bool:
        from websockets.asyncio.client import connect

        path = "/ws/dashboard/" if client.volunteer_id is None else "/ws/volunteer/"
        url = self.ws_base + path + (f"?since={since}" if since is not None else "")
        for attempt in range(CONNECT_ATTEMPTS):
            started = time.perf_counter()
            try:
                ws = await connect(
                    url,
                    subprotocols=["tongxin", f"token.{client.token}"],
                    origin=self.origin,
                    open_timeout=HANDSHAKE_TIMEOUT_SECONDS,
                    proxy=None,
                )
                # The socket is usable once the server said hello (after its DB reads).
                hello = json.loads(await asyncio.wait_for(ws.recv(), HANDSHAKE_TIMEOUT_SECONDS))
            except Exception as error:  # refused, timed out, reset: try again, bounded
                client.errors[f"connect: {type(error).__name__}: {error}"[:120]] += 1
                await asyncio.sleep(0.5 * (attempt + 1))
                continue
            client.handshake_seconds.append(time.perf_counter() - started)
            client.ws, client.closing = ws, False
            self.frame(client, hello, time.time())
            client.reader = asyncio.get_running_loop().create_task(self.read(client, ws))
            return True
        return False

    async def read(self, client: Client, ws) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in ws:
                self.frame(client, json.loads(raw), time.time())
        except ConnectionClosed:
            pass
        except Exception as error:
            client.errors[f"read: {type(error).__name__}"] += 1
        if not client.closing and client.ws is ws:
            client.dropped += 1
            client.errors[f"closed by the server: {ws.close_code} {ws.close_reason}"[:100]] += 1
            client.drops.append(
                {"at": round(time.time(), 3), "since": client.max_seq, "code": ws.close_code}
            )
            if client.reconnects < RECONNECTS and not self.finished:
                client.reconnects += 1
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)
                if not client.closing and not self.finished:
                    await self.connect(client, since=client.max_seq)

    async def send(self, client: Client, message: dict) -> bool:
        if "ref" in message:
            self.request_sent[message["ref"]] = time.time()
        try:
            await client.ws.send(json.dumps(message))
            return True
        except Exception as error:
            client.errors[f"send: {type(error).__name__}"] += 1
            return False

    # -- frames --

    def frame(self, client: Client, frame: dict, at: float) -> None:
        kind = frame.get("type")
        if kind == "hello":
            client.hellos.append(frame.get("last_seq"))
            if client.hello_seq is None:
                # Where the client stands after its snapshot: the position it resumes
                # from until it sees an event.
                client.hello_seq = client.max_seq = frame.get("last_seq")
        elif kind == "event":
            self.event(client, frame, at)
        elif kind == "snapshot":
            client.snapshots += 1
        elif kind == "resync":
            client.resyncs += 1
        elif kind == "ack":
            self.answered(frame, at)
            self.ack(client, frame)
        elif kind == "error":
            self.answered(frame, at)
            ref = frame.get("ref") or ""
            client.errors[f"error frame ({ref[:1] or '-'}): {frame.get('reason', '')}"[:100]] += 1
            self.answers[f"refused {ref[:1]}"] += 1

    def event(self, client: Client, frame: dict, at: float) -> None:
        seq = frame["seq"]
        client.seqs[seq] += 1
        if client.seqs[seq] > 1:
            return  # a phone applies each seq once, as docs/websockets.md asks
        client.first_at[seq] = at
        if seq < client.max_seq:
            client.out_of_order += 1
        client.max_seq = max(client.max_seq, seq)
        assignment = frame.get("assignment")
        if client is self.dashboard and frame["kind"] == "offer.accepted" and assignment:
            self.dashboard_accepted_at.setdefault(assignment, at)
        if client.volunteer_id is None or frame["kind"] != "offer.made":
            return
        if frame.get("volunteer") not in (client.volunteer_id, None):
            return  # someone else's: a leak, counted from the log afterwards
        client.offer_at.setdefault(assignment, at)
        if self.acting:
            self.spawn(self.answer(client, assignment))

    def answered(self, frame: dict, at: float) -> None:
        sent = self.request_sent.pop(frame.get("ref") or "", None)
        if sent is not None:
            self.round_trips[REQUESTS.get(frame["ref"][:1], "?")].append(at - sent)

    def ack(self, client: Client, frame: dict) -> None:
        ref = frame.get("ref") or ""
        self.answers[f"ack {ref[:1]}"] += 1
        if ref.startswith("a") and frame.get("status") == "accepted":
            self.accepted.add(frame["assignment"])
            if self.acting:
                self.spawn(self.progress(client, frame["assignment"]))

    # -- a phone's behaviour --

    async def answer(self, client: Client, assignment: int) -> None:
        """Confirm delivery at once, then maybe open, accept or decline it."""
        await self.send(
            client, {"type": "delivered", "assignment": assignment, "ref": f"d{assignment}"}
        )
        draw = self.rng.random()
        if draw >= OPEN_SHARE:
            return  # never opened: it expires and goes to the next candidate
        await asyncio.sleep(self.rng.uniform(*OPEN_DELAY_SECONDS))
        if not self.acting:
            return
        await self.send(client, {"type": "seen", "assignment": assignment, "ref": f"s{assignment}"})
        choice = draw / OPEN_SHARE
        if choice < ACCEPT_SHARE_OF_OPENED:
            self.accept_sent[assignment] = time.time()
            await self.send(
                client, {"type": "accept", "assignment": assignment, "ref": f"a{assignment}"}
            )
        elif choice < ACCEPT_SHARE_OF_OPENED + DECLINE_SHARE_OF_OPENED:
            await self.send(
                client,
                {
                    "type": "decline",
                    "assignment": assignment,
                    "reason": "busy",
                    "ref": f"n{assignment}",
                },
            )

    async def progress(self, client: Client, assignment: int) -> None:
        await asyncio.sleep(self.rng.uniform(*EN_ROUTE_DELAY_SECONDS))
        if not self.acting:
            return
        await self.send(
            client,
            {
                "type": "status",
                "assignment": assignment,
                "status": "en_route",
                "ref": f"e{assignment}",
            },
        )
        await asyncio.sleep(self.rng.uniform(*COMPLETE_DELAY_SECONDS))
        if not self.acting:
            return
        await self.send(
            client,
            {
                "type": "status",
                "assignment": assignment,
                "status": "completed",
                "people_moved": self.rng.randint(0, 6),
                "ref": f"c{assignment}",
            },
        )

    # -- incidents --

    def incident_body(self, number: int, phase: str, needs: list[tuple[str, int]]) -> dict:
        latitude, longitude = self.rng.choice(self.places)
        distance = self.rng.uniform(0, PLACE_JITTER_KM)
        bearing = self.rng.uniform(0, 2 * math.pi)
        latitude += distance * math.cos(bearing) / KM_PER_DEGREE_LATITUDE
        longitude += (
            distance
            * math.sin(bearing)
            / (KM_PER_DEGREE_LATITUDE * math.cos(math.radians(latitude)))
        )
        return {
            "kind": self.rng.choice(URGENT_KINDS),
            "title": f"bench/live.py {phase} {number}",
            "latitude": round(latitude, 6),
            "longitude": round(longitude, 6),
            "address": f"bench {phase} {number}",
            "priority": PRIORITY,
            "people_affected": self.rng.randint(1, 40),
            "needs": [{"kind": "people", "skill": skill, "count": count} for skill, count in needs],
        }

    def random_needs(self) -> list[tuple[str, int]]:
        skills = self.rng.choice([("rescue",), ("first_aid",), ("rescue", "first_aid")])
        return [(skill, self.rng.randint(1, 3)) for skill in skills]

    async def open_incident(self, incident: Incident) -> None:
        incident.posted_at = time.time()
        status, body, seconds = await asyncio.to_thread(
            http_json,
            "POST",
            f"{self.base}/api/incidents/",
            token=self.coordinator,
            body=incident.body,
        )
        incident.status, incident.http_seconds = status, seconds
        if status == 201 and isinstance(body, dict):
            incident.id = body["id"]
        else:
            self.answers[f"POST {status}: {str(body)[:80]}"] += 1

    # -- the run --

    async def lag_probe(self) -> None:
        """How late this process's event loop wakes up: if the clients themselves are
        starved, their arrival times are late too."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_PROBE_SECONDS
            await asyncio.sleep(LAG_PROBE_SECONDS)
            self.lag.append(loop.time() - due)

    def mark(self, name: str) -> None:
        self.marks[name] = (time.time(), machine_cpu(), load_average())

    async def connect_everyone(self) -> dict:
        for dashboard in (self.dashboard, self.resumer):
            if not await self.connect(dashboard):
                raise RuntimeError(
                    f"the {dashboard.name} could not connect: {dict(dashboard.errors)}"
                )
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(client):
            async with gate:
                return await self.connect(client)

        started = time.perf_counter()
        done = await asyncio.gather(*(one(client) for client in self.phones.values()))
        seconds = time.perf_counter() - started
        handshakes = [s for c in self.phones.values() for s in c.handshake_seconds]
        p50, p99 = p50_p99_ms(handshakes)
        say(
            f"connected {sum(done)}/{len(done)} phone sockets + 2 dashboards in {seconds:.1f} s "
            f"({CONNECT_CONCURRENCY} at a time; handshake to hello p50 {fmt(p50)}, p99 {fmt(p99)})"
        )
        failed = [c for c, ok in zip(self.phones.values(), done, strict=True) if not ok]
        if failed:
            say(f"  {len(failed)} failed: {dict(sum((c.errors for c in failed), Counter()))}")
        return {
            "connected": sum(done),
            "connect_seconds": round(seconds, 1),
            "handshake_p50_ms": p50,
            "handshake_p99_ms": p99,
        }

    async def sequential(self, count: int, phase: str) -> None:
        for number in range(count):
            started = time.monotonic()
            incident = Incident(
                number, phase, self.incident_body(number, phase, self.random_needs())
            )
            self.incidents.append(incident)
            await self.open_incident(incident)
            await asyncio.sleep(
                max(0.0, SEQUENTIAL_INTERVAL_SECONDS - (time.monotonic() - started))
            )

    async def surge(self, needs: int, seconds: float) -> None:
        """One urgent need (one place) per incident, at random times within `seconds`;
        the resuming dashboard drops halfway through and comes back."""
        times = sorted(self.rng.uniform(0, seconds) for _ in range(needs))
        start = asyncio.get_running_loop().time()
        posts = []
        resume = asyncio.get_running_loop().create_task(self.drop_and_resume(seconds / 2))
        for number, at in enumerate(times):
            await asyncio.sleep(max(0.0, start + at - asyncio.get_running_loop().time()))
            skill = SKILLS[number % 2]
            incident = Incident(number, "surge", self.incident_body(number, "surge", [(skill, 1)]))
            self.incidents.append(incident)
            posts.append(asyncio.get_running_loop().create_task(self.open_incident(incident)))
        await asyncio.wait_for(asyncio.gather(*posts), timeout=300)
        await asyncio.wait_for(resume, timeout=120)

    async def drop_and_resume(self, after: float) -> None:
        await asyncio.sleep(after)
        client = self.resumer
        since = client.max_seq
        # Events below `since` not yet received when it drops: out-of-order frames still
        # in flight, which a resume from `since` does not replay.
        gaps = [seq for seq in range(client.hello_seq + 1, since) if seq not in client.seqs]
        client.closing = True
        await client.ws.close()
        await asyncio.wait_for(client.reader, timeout=30)
        closed_at = time.time()
        await asyncio.sleep(RESUME_AWAY_SECONDS)
        before = sum(client.seqs.values())
        ok = await self.connect(client, since=since)
        self.resume = {
            "since": since,
            "away_seconds": round(time.time() - closed_at, 2),
            "reconnected": ok,
            "hello_last_seq": client.hellos[-1] if ok else None,
            "gaps_below_since_at_drop": gaps[:20],
            "frames_before": before,
        }

    async def wait_for_delivery(self, expected: dict[str, set[int]], seconds: float) -> float:
        started = time.monotonic()
        deadline = started + seconds
        while time.monotonic() < deadline:
            if all(expected[c.name].issubset(c.seqs.keys()) for c in self.clients()):
                break
            await asyncio.sleep(0.25)
        return time.monotonic() - started

    async def close_everyone(self) -> None:
        self.finished = True

        async def one(client):
            if client.ws is None:
                return
            client.closing = True
            with suppress(Exception):
                await asyncio.wait_for(client.ws.close(), timeout=10)

        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def gated(client):
            async with gate:
                await one(client)

        await asyncio.wait_for(asyncio.gather(*(gated(c) for c in self.clients())), timeout=120)
        for task in list(self.tasks):
            task.cancel()

    async def main(self, stack: Stack) -> dict:
        loop = asyncio.get_running_loop()
        probe = loop.create_task(self.lag_probe())
        figures = {}
        try:
            self.mark("connect")
            figures |= await self.connect_everyone()
            uvicorn = stack.processes["uvicorn"].popen.pid
            figures["rss_mb_connected"] = rss_mb(uvicorn)
            say(f"uvicorn RSS with every socket open: {figures['rss_mb_connected']} MB")
            self.start_seq = min(c.hello_seq for c in self.clients() if c.hello_seq is not None)

            self.mark("warmup")
            await self.sequential(WARMUP_INCIDENTS, "warmup")
            await asyncio.sleep(3)
            self.mark("sequential")
            say(f"opening {self.args.incidents} incidents one after another, one a second ...")
            await self.sequential(self.args.incidents, "sequential")
            await asyncio.sleep(3)
            self.mark("surge")
            say(
                f"surge: {self.args.surge_needs} urgent needs as {self.args.surge_needs} incidents "
                f"within {self.args.surge_seconds:.0f} s; the resuming dashboard drops halfway ..."
            )
            await self.surge(self.args.surge_needs, self.args.surge_seconds)
            self.mark("settle")
            await asyncio.sleep(SETTLE_SECONDS)
            self.acting = False  # phones stop answering: the log comes to rest
            await asyncio.sleep(QUIET_SECONDS)
            self.mark("end")
            self.end_seq = await asyncio.to_thread(last_seq)
            events = await asyncio.to_thread(log_read, self.start_seq, self.end_seq)
            self.events = events
            self.expected = expected_frames(events, self.clients())
            figures["delivery_wait_seconds"] = round(
                await self.wait_for_delivery(self.expected, DELIVERY_WAIT_SECONDS), 2
            )
            figures["rss_mb"] = rss_mb(uvicorn)
            figures["worker_rss_mb"] = rss_mb(stack.processes["worker"].popen.pid, children=True)
            figures["cpu_seconds"] = {
                "uvicorn": cpu_seconds(uvicorn),
                "worker": cpu_seconds(stack.processes["worker"].popen.pid, children=True),
                "beat": cpu_seconds(stack.processes["beat"].popen.pid),
                "bench_clients": round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 1),
            }
        finally:
            probe.cancel()
            await self.close_everyone()
        return figures


def last_seq() -> int:
    from dispatch.live import last_seq as log_last_seq

    return log_last_seq()


@dataclass
class LogEvent:
    seq: int
    kind: str
    at: float
    incident: int | None
    assignment: int | None
    volunteer: int | None
    vehicle: int | None


def log_read(after: int, upto: int) -> dict:
    """The log between two positions, and the crews of the vehicles it names."""
    from django.db import close_old_connections

    from dispatch.models import DeploymentEvent
    from volunteers.models import Vehicle

    rows = DeploymentEvent.objects.filter(seq__gt=after, seq__lte=upto).order_by("seq")
    events = [
        LogEvent(seq, kind, at.timestamp(), incident, assignment, volunteer, vehicle)
        for seq, kind, at, incident, assignment, volunteer, vehicle in rows.values_list(
            "seq",
            "kind",
            "occurred_at",
            "incident_id",
            "assignment_id",
            "volunteer_id",
            "vehicle_id",
        )
    ]
    vehicles = {event.vehicle for event in events if event.vehicle}
    crews = defaultdict(set)
    for vehicle_id, volunteer_id in Vehicle.crew.through.objects.filter(
        vehicle_id__in=vehicles
    ).values_list("vehicle_id", "volunteer_id"):
        crews[vehicle_id].add(volunteer_id)
    close_old_connections()
    return {"events": events, "crews": crews, "after": after, "upto": upto}


def expected_frames(log: dict, clients: list[Client]) -> dict[str, set[int]]:
    """What each client must have received (docs/websockets.md): a dashboard every
    event after its first hello; a phone the events of its volunteer or of a vehicle
    they crew, after its first hello."""
    by_volunteer = defaultdict(set)
    for event in log["events"]:
        if event.volunteer:
            by_volunteer[event.volunteer].add(event.seq)
        for member in log["crews"].get(event.vehicle, ()):
            by_volunteer[member].add(event.seq)
    everything = {event.seq for event in log["events"]}
    expected = {}
    for client in clients:
        start = client.hello_seq if client.hello_seq is not None else log["upto"]
        mine = everything if client.volunteer_id is None else by_volunteer[client.volunteer_id]
        expected[client.name] = {seq for seq in mine if seq > start}
    return expected


# --- the figures ------------------------------------------------------------------------


def first_dispatch_offers(events: list[LogEvent]) -> dict[int, list[LogEvent]]:
    """Per incident, the offers of its first dispatch. A transaction that writes events
    holds the log's sequence row until it commits (dispatch.events._next_seqs), so one
    dispatch's offer.made events are consecutive in seq: the first run of offer.made
    events of the incident. Later offers (escalation after an expiry, a decline or a
    withdrawal) are measured from their own offer.made, not from the incident."""
    first: dict[int, list[LogEvent]] = {}
    open_run = None
    for event in events:
        if event.kind == "offer.made" and event.incident is not None:
            if event.incident not in first:
                first[event.incident] = [event]
                open_run = event.incident
                continue
            if open_run == event.incident:
                first[event.incident].append(event)
                continue
        open_run = None
    return first


def analyse(run: Run, figures: dict) -> dict:
    from dispatch.models import Assignment

    events = run.events["events"]
    by_seq = {event.seq: event for event in events}
    opened = {e.incident: e.at for e in events if e.kind == "incident.opened"}
    first = first_dispatch_offers(events)
    phase_of = {incident.id: incident.phase for incident in run.incidents if incident.id}
    phones = run.phones

    def offer_arrival(event: LogEvent) -> float | None:
        client = phones.get(event.volunteer)
        return client.offer_at.get(event.assignment) if client else None

    def latencies(phase: str) -> dict:
        total, dispatch, publish, missing, count = [], [], [], 0, 0
        for incident, offers in first.items():
            if phase_of.get(incident) != phase or incident not in opened:
                continue
            for event in offers:
                count += 1
                arrived = offer_arrival(event)
                if arrived is None:
                    missing += 1
                    continue
                total.append(arrived - opened[incident])
                dispatch.append(event.at - opened[incident])
                publish.append(arrived - event.at)
        p50, p99 = p50_p99_ms(total)
        d50, d99 = p50_p99_ms(dispatch)
        u50, u99 = p50_p99_ms(publish)
        return {
            "incidents": sum(1 for i in run.incidents if i.phase == phase and i.id),
            "first_offers": count,
            "first_offers_missing": missing,
            "p50_ms": p50,
            "p99_ms": p99,
            "max_ms": ms(max(total)) if total else None,
            "dispatch_p50_ms": d50,
            "dispatch_p99_ms": d99,
            "publish_p50_ms": u50,
            "publish_p99_ms": u99,
        }

    made = [e for e in events if e.kind == "offer.made"]
    offers_received = sum(1 for e in made if offer_arrival(e) is not None)
    publish_all = [offer_arrival(e) - e.at for e in made if offer_arrival(e) is not None]
    assignment_ids = [e.assignment for e in made]
    delivered_db = Assignment.objects.filter(
        pk__in=assignment_ids, delivered_at__isnull=False
    ).count()

    sequential = latencies("sequential")
    surge = latencies("surge")
    surge_ids = {i.id for i in run.incidents if i.phase == "surge" and i.id}
    surge_made = [e for e in made if e.incident in surge_ids]
    surge_posts = [i for i in run.incidents if i.phase == "surge"]
    surge_span = (
        max(i.posted_at for i in surge_posts) - min(i.posted_at for i in surge_posts)
        if surge_posts
        else 0
    )
    surge |= {
        "needs": len(surge_posts),
        "incidents_opened": len(surge_ids),
        "opened_within_seconds": round(surge_span, 1),
        "offers": len(surge_made),
        "offer_frames": sum(1 for e in surge_made if offer_arrival(e) is not None),
        "delivered_in_db": Assignment.objects.filter(
            pk__in=[e.assignment for e in surge_made], delivered_at__isnull=False
        ).count(),
    }

    accept_lat = [
        run.dashboard_accepted_at[a] - sent
        for a, sent in run.accept_sent.items()
        if a in run.accepted and a in run.dashboard_accepted_at
    ]
    a50, a99 = p50_p99_ms(accept_lat)

    # lost and duplicated, per client, against the log
    lost = duplicated = foreign = 0
    per_client = {}
    worst = []
    for client in run.clients():
        expected = run.expected[client.name]
        got = set(client.seqs)
        missing = expected - got
        dups = sum(n - 1 for n in client.seqs.values() if n > 1)
        # A phone must see nothing of anyone else's (events it is not party to).
        strangers = (
            {s for s in got if s in by_seq and s > (client.hello_seq or 0)} - expected
            if client.volunteer_id is not None
            else set()
        )
        lost += len(missing)
        duplicated += dups
        foreign += len(strangers)
        if missing or dups or strangers:
            worst.append((client.name, len(missing), dups, len(strangers), sorted(missing)[:10]))
        if client.volunteer_id is None:
            per_client[client.name] = {
                "expected": len(expected),
                "received": len(got & expected),
                "lost": len(missing),
                "duplicated": dups,
                "out_of_order": client.out_of_order,
                "resyncs": client.resyncs,
                "dropped": client.dropped,
                "reconnects": client.reconnects,
                "drops": client.drops,
                "lost_range": [min(missing), max(missing)] if missing else None,
            }
    phone_clients = list(run.phones.values())
    posts = [i.http_seconds for i in run.incidents if i.http_seconds is not None]
    p_post50, p_post99 = p50_p99_ms(posts)
    marks = run.marks

    def phase_cpu(a, b):
        return busy_percent(marks[a][1], marks[b][1]) if a in marks and b in marks else None

    lag = sorted(run.lag)
    result = {
        "sockets": sum(1 for c in phone_clients if c.hello_seq is not None),
        "dashboards": 2,
        "incidents": sum(1 for i in run.incidents if i.id),
        "incidents_refused": sum(1 for i in run.incidents if not i.id),
        "events": len(events),
        "seq_range": [run.events["after"], run.events["upto"]],
        "offers": len(made),
        "offer_frames": offers_received,
        "offers_delivered_in_db": delivered_db,
        "offer_p50_ms": sequential["p50_ms"],
        "offer_p99_ms": sequential["p99_ms"],
        "sequential": sequential,
        "offer_publish_all_p50_ms": p50_p99_ms(publish_all)[0],
        "offer_publish_all_p99_ms": p50_p99_ms(publish_all)[1],
        "accepts_sent": len(run.accept_sent),
        "accepts_acknowledged": len(run.accepted),
        "accept_to_dashboard_p50_ms": a50,
        "accept_to_dashboard_p99_ms": a99,
        "surge": surge,
        "lost": lost,
        "duplicated": duplicated,
        "foreign_frames": foreign,
        "dashboards_detail": per_client,
        "phones_out_of_order": sum(c.out_of_order for c in phone_clients),
        "phones_dropped": sum(c.dropped for c in phone_clients),
        "phones_reconnected": sum(c.reconnects for c in phone_clients),
        "resume": run.resume,
        "client_errors": dict(sum((c.errors for c in run.clients()), Counter()).most_common(10)),
        "answers": dict(run.answers),
        "request_round_trip_ms": {
            kind: {"count": len(times), "p50": p50_p99_ms(times)[0], "p99": p50_p99_ms(times)[1]}
            for kind, times in sorted(run.round_trips.items())
        },
        "post_p50_ms": p_post50,
        "post_p99_ms": p_post99,
        "client_loop_lag_p99_ms": ms(percentile(lag, 99)) if lag else None,
        "client_loop_lag_max_ms": ms(lag[-1]) if lag else None,
        "load_average": {name: mark[2] for name, mark in marks.items()},
        "machine_busy_percent": {
            "connect": phase_cpu("connect", "warmup"),
            "sequential": phase_cpu("sequential", "surge"),
            "surge": phase_cpu("surge", "settle"),
        },
        **figures,
    }
    result["_worst"] = worst[:10]
    return result


def report(result: dict) -> None:
    s, q = result["surge"], result["sequential"]
    say()
    say("== offers: incident committed -> offer frame on the phone ==")
    say(
        f"{result['incidents']} incidents opened over REST "
        f"({result['incidents_refused']} refused), POST p50 {fmt(result['post_p50_ms'])}, "
        f"p99 {fmt(result['post_p99_ms'])}"
    )
    say(
        f"sequential ({q['first_offers']} first-dispatch offers of {q['incidents']} incidents, "
        f"one a second): p50 {fmt(q['p50_ms'])}, p99 {fmt(q['p99_ms'])}, max {fmt(q['max_ms'])} "
        "(targets 100 / 500 ms)"
    )
    say(
        f"  of which commit -> offer.made written (queue + dispatch task): p50 "
        f"{fmt(q['dispatch_p50_ms'])}, p99 {fmt(q['dispatch_p99_ms'])}; "
        f"offer.made -> frame (commit, publish, channel layer, socket): p50 "
        f"{fmt(q['publish_p50_ms'])}, p99 {fmt(q['publish_p99_ms'])}"
    )
    say(
        f"surge: {s['needs']} needs as {s['incidents_opened']} incidents opened within "
        f"{s['opened_within_seconds']} s; {s['offers']} offers in the log, {s['offer_frames']} "
        f"offer frames received, {s['delivered_in_db']} confirmed delivered in the database"
    )
    say(
        f"  first-dispatch offers ({s['first_offers']}): p50 {fmt(s['p50_ms'])}, p99 "
        f"{fmt(s['p99_ms'])}, max {fmt(s['max_ms'])}; dispatch part p50 {fmt(s['dispatch_p50_ms'])}"
        f" / p99 {fmt(s['dispatch_p99_ms'])}, publish part p50 {fmt(s['publish_p50_ms'])} / p99 "
        f"{fmt(s['publish_p99_ms'])}"
    )
    say(
        f"all {result['offers']} offers of the run (escalations too): {result['offer_frames']} "
        f"frames received, {result['offers_delivered_in_db']} confirmed delivered; offer.made -> "
        f"frame p50 {fmt(result['offer_publish_all_p50_ms'])}, p99 "
        f"{fmt(result['offer_publish_all_p99_ms'])}"
    )
    say()
    say("== accepts ==")
    say(
        f"{result['accepts_sent']} accepts sent over the phone sockets, "
        f"{result['accepts_acknowledged']} accepted (the rest: already filled or busy); "
        "accept sent -> offer.accepted on the dashboard p50 "
        f"{fmt(result['accept_to_dashboard_p50_ms'])}, "
        f"p99 {fmt(result['accept_to_dashboard_p99_ms'])}"
    )
    say("answers: " + ", ".join(f"{k} {v}" for k, v in sorted(result["answers"].items())))
    say(
        "phone request -> its ack or error frame: "
        + ", ".join(
            f"{kind} ({t['count']}) p50 {fmt(t['p50'])} p99 {fmt(t['p99'])}"
            for kind, t in result["request_round_trip_ms"].items()
        )
    )
    say()
    say("== lost and duplicated, against the log ==")
    say(
        f"{result['events']} events in seq {result['seq_range'][0] + 1}..{result['seq_range'][1]}; "
        f"{result['sockets']} phones and {result['dashboards']} dashboards: lost {result['lost']}, "
        f"duplicated {result['duplicated']} (targets 0 and 0), frames of someone else's "
        f"events on a phone {result['foreign_frames']}"
    )
    for name, d in result["dashboards_detail"].items():
        say(
            f"  {name}: expected {d['expected']}, received {d['received']}, lost {d['lost']}, "
            f"duplicated {d['duplicated']}, out of order {d['out_of_order']}, resyncs "
            f"{d['resyncs']}, dropped by the server {d['dropped']}, reconnected {d['reconnects']}"
        )
        for drop in d["drops"]:
            say(f"    dropped (code {drop['code']}), resumed from seq {drop['since']}")
        if d["lost_range"]:
            say(f"    lost seqs between {d['lost_range'][0]} and {d['lost_range'][1]}")
    r = result["resume"]
    if r:
        say(
            f"  resume: closed at seq {r['since']}, away {r['away_seconds']} s, came back with "
            f"?since={r['since']} (server's hello last_seq {r['hello_last_seq']}); seqs "
            f"below it not yet received when it dropped: {r['gaps_below_since_at_drop']}"
        )
    say(
        f"  phones: out-of-order frames {result['phones_out_of_order']}, connections dropped by "
        f"the server {result['phones_dropped']} (reconnected with ?since= "
        f"{result['phones_reconnected']}); waited {result['delivery_wait_seconds']} s for "
        "the last frames"
    )
    for name, missing, dups, strangers, sample in result["_worst"]:
        say(f"  {name}: lost {missing} {sample}, duplicated {dups}, foreign {strangers}")
    if result["client_errors"]:
        say("  client-side errors and closes: " + json.dumps(result["client_errors"]))
    say()
    say("== the server ==")
    say(
        f"uvicorn RSS {result['rss_mb']} MB at the end ({result['rss_mb_connected']} MB once "
        f"connected); worker RSS {result['worker_rss_mb']} MB"
    )
    say(
        "CPU seconds: "
        + ", ".join(f"{k} {v}" for k, v in result["cpu_seconds"].items())
        + "; machine busy: "
        + ", ".join(f"{k} {v} %" for k, v in result["machine_busy_percent"].items())
    )
    say(
        "load average (1 min) at each phase: "
        + ", ".join(f"{k} {v}" for k, v in result["load_average"].items())
        + f" on {os.cpu_count()} cores"
    )
    for name, found in result["server_exceptions"].items():
        say(f"exceptions in the {name} log: " + json.dumps(found, ensure_ascii=False))
    say(
        f"the benchmark's own event loop: lag p99 {fmt(result['client_loop_lag_p99_ms'])}, "
        f"max {fmt(result['client_loop_lag_max_ms'])}"
    )


# --- main -----------------------------------------------------------------------------


def _interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    args = parse_args()
    env = environment_set(args)
    rng = random.Random(SEED)
    started = time.perf_counter()
    if database_ensure(args.database_url, fresh=args.fresh):
        say(f"created the database {urlsplit(args.database_url).path.lstrip('/')}")
    import django

    django.setup()
    # SIGTERM ends the run like ^C: the stack is stopped on the way out.
    signal.signal(signal.SIGTERM, _interrupted)

    say("== the city ==")
    city_prepare()
    reset = dispatch_reset()
    redis_reset(args.redis_url)
    phones = volunteers_prepare(args.sockets, rng)
    coordinator = coordinator_token()
    facts = machine_facts(args.pool)
    say()
    say("== machine ==")
    for name, value in facts.items():
        say(f"  {name}: {value}")
    say(f"set up in {time.perf_counter() - started:.1f} s")

    say()
    say("== the run ==")
    with stack_running(env, pool=args.pool) as stack:
        say(f"stack up: uvicorn at {stack.base}, worker ({facts['worker_pool']}), beat")
        run = Run(base=stack.base, phones=phones, coordinator=coordinator, args=args, rng=rng)
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        figures = runner(run.main(stack))
    result = analyse(run, figures)
    result["server_exceptions"] = {name: found for name, found in Stack.exceptions.items() if found}
    result["reset"] = reset
    result["machine"] = facts
    result["seconds"] = round(time.perf_counter() - started, 1)
    report(result)
    say(f"\nwhole run {result['seconds']:.0f} s")
    if args.json:
        result.pop("_worst")
        print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
