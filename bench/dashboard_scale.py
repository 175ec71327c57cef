"""Benchmark of the coordinators' dashboard at scale (issue 12, item 7), in headless
Chromium against a real uvicorn.

    .venv/bin/python bench/dashboard_scale.py [--json] [--incidents 500]
        [--volunteers 5000] [--live 50] [--database-url URL] [--redis-url URL]

It sets Django up against a scratch PostgreSQL database (created and migrated when
missing), makes sure it holds `--incidents` open incidents (opened through
incidents.services, so they are logged as in production) and `--volunteers` volunteers
on duty spread over the city, in ten teams. It starts uvicorn (no Celery worker: the
dispatch tasks the incidents enqueue wait on a queue of our own, emptied at the end, so
no offers are made and the figures are the page's alone), signs a coordinator in and
measures in the page:

- load: from navigation until the list shows every incident, and the three JSON views'
  server time (resources, markers, units) from the page's resource timing;
- frame time while panning and zooming the map with every volunteer on it:
  requestAnimationFrame deltas (p50, p95, max, frames over 50 ms);
- the same while `--live` incidents arrive over the websocket, one every 100 ms, and
  the update latency of each: from the call that opens it (write, commit, publish) to
  its card in the list (a MutationObserver in the page, on the same machine clock).

Each run cancels the incidents it opened, so runs can follow one another. It prints its
figures; with --json the last line is one JSON object. Nothing is asserted.
"""

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tongxin_board"
# Databases 4-6 (channel layer, broker, index): apart from the test suite (10-12), a dev
# server (0-2) and the other benchmarks (13-15); our own prefixes and queue besides.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/4"
QUEUE = "tongxin-board"
CHANNEL_PREFIX = "tongxin-board"
INDEX_PREFIX = "tongxin-board:geo:"
PASSWORD = secrets.token_urlsafe(12)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CITY = ((34.30, 34.66), (113.58, 113.90))  # the demo city, roughly
TITLES = ["群众被困", "群众转移", "老人摔伤", "车辆涉水", "小区停电", "物资发放", "核酸采样点"]


def say(line: str = "") -> None:
    print(line, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--incidents", type=int, default=500)
    parser.add_argument("--volunteers", type=int, default=5000)
    parser.add_argument("--live", type=int, default=50, help="incidents arriving live")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    return parser.parse_args()


def database_ensure(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as db:
        if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def setup_django(args) -> dict:
    values = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "HTTPS": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOCATION_INDEX_PREFIX": INDEX_PREFIX,
        "CHANNEL_PREFIX": CHANNEL_PREFIX,
        "CELERY_QUEUE": QUEUE,
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(values)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    child = dict(os.environ)
    # Playwright's sync API runs an event loop in this thread; our own database reads
    # here are plain synchronous ones (the tests do the same).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    return child


def in_thread(function, **arguments):
    """Services run in a thread of their own: Playwright's loop holds this one, where
    the publication after commit (async_to_sync) cannot run."""
    from django.db import connection

    def call():
        try:
            return function(**arguments)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(call).result()


def city_prepare(n_volunteers: int, n_incidents: int, rng: random.Random) -> dict:
    from django.contrib.auth.models import Group, User

    from incidents.models import Incident, Need
    from incidents.services import NeedSpec, incident_open
    from volunteers.models import Skill, Team, Township, Volunteer
    from volunteers.roles import Role

    coordinator, _ = User.objects.get_or_create(username="bench-coordinator")
    coordinator.set_password(PASSWORD)
    coordinator.save()
    coordinator.groups.add(Group.objects.get(name=Role.COORDINATOR.value))
    townships = list(Township.objects.all())
    teams = [
        Team.objects.get_or_create(name=f"测试队伍{n:02d}", defaults={"kind": Team.Kind.BRANCH})[0]
        for n in range(10)
    ]
    have = Volunteer.objects.count()
    if have < n_volunteers:
        started = time.perf_counter()
        users = User.objects.bulk_create(
            User(username=f"bench-v{n}", password="!") for n in range(have, n_volunteers)
        )
        volunteers = Volunteer.objects.bulk_create(
            Volunteer(
                user=user,
                name=f"志愿者{n:05d}",
                phone=f"150{n:08d}",
                township=rng.choice(townships),
                on_duty=True,
                last_latitude=rng.uniform(*CITY[0]),
                last_longitude=rng.uniform(*CITY[1]),
            )
            for n, user in enumerate(users, start=have)
        )
        Volunteer.teams.through.objects.bulk_create(
            Volunteer.teams.through(volunteer_id=v.pk, team_id=rng.choice(teams).pk)
            for v in volunteers
        )
        say(f"made {len(volunteers):,} volunteers ({time.perf_counter() - started:.1f} s)")
    Volunteer.objects.update(on_duty=True)
    skill = Skill.objects.get(code="rescue")
    opened = Incident.objects.filter(status=Incident.Status.OPEN).count()
    started = time.perf_counter()
    for n in range(opened, n_incidents):
        kind = rng.choice([Incident.Kind.FLOOD_RESCUE, Incident.Kind.EVACUATION,
                           Incident.Kind.MEDICAL, Incident.Kind.TESTING_SITE])  # fmt: skip
        in_thread(
            incident_open,
            reporter=coordinator,
            kind=kind,
            title=f"{rng.choice(townships).name} {rng.choice(TITLES)} {n}",
            latitude=rng.uniform(*CITY[0]),
            longitude=rng.uniform(*CITY[1]),
            priority=rng.choice([1, 2, 3, 4]),
            needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=skill, count=rng.randint(1, 5))],
        )
    if opened < n_incidents:
        say(f"opened {n_incidents - opened} incidents ({time.perf_counter() - started:.1f} s)")
    return {"coordinator": coordinator, "skill": skill, "townships": townships}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def uvicorn_start(env: dict) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="tongxin-board-")) / "uvicorn.log"
    process = subprocess.Popen(
        [
            str(VENV_BIN / "uvicorn"),
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],  # fmt: skip
        cwd=ROOT,
        env={**env, "LOG_LEVEL": "INFO"},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                return process, base, log
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError(f"uvicorn did not answer; see {log}")


def stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(q):
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "n": len(values),
        "p50": round(statistics.median(ordered), 1),
        "p95": at(0.95),
        "max": round(ordered[-1], 1),
        "over_50ms": sum(1 for v in values if v > 50),
    }


FRAMES_START = """() => {
  window.benchFrames = [];
  window.benchRecording = true;
  let last = performance.now();
  const tick = (now) => {
    window.benchFrames.push(now - last);
    last = now;
    if (window.benchRecording) requestAnimationFrame(tick);
  };
  requestAnimationFrame((now) => { last = now; requestAnimationFrame(tick); });
}"""
FRAMES_STOP = "() => { window.benchRecording = false; return window.benchFrames.slice(1); }"
WATCH_CARDS = """() => {
  window.benchSeen = {};
  window.benchFrame = {};
  const live = window.dashboard.live;
  const receive = live.receive.bind(live);
  live.receive = (frame) => {
    if (frame.type === "event" && frame.kind === "incident.opened")
      window.benchFrame[frame.incident] = performance.timeOrigin + performance.now();
    receive(frame);
  };
  new MutationObserver(() => {
    const now = performance.timeOrigin + performance.now();
    for (const card of document.querySelectorAll("#incident-list li.incident")) {
      const id = card.dataset.incident;
      if (!(id in window.benchSeen)) window.benchSeen[id] = now;
    }
  }).observe(document.getElementById("incident-list"), {childList: true, subtree: true});
}"""
PAN_AND_ZOOM = """async () => {
  const map = window.dashboard.map.map;
  const wait = (ms) => new Promise((done) => setTimeout(done, ms));
  const moves = [[300, 0], [0, 200], [-300, 0], [0, -200]];
  for (let round = 0; round < 3; round++) {
    for (const by of moves) { map.panBy(by, {duration: 0.4}); await wait(450); }
    map.zoomIn(1); await wait(500);
    for (const by of moves) { map.panBy(by, {duration: 0.4}); await wait(450); }
    map.zoomOut(1); await wait(500);
  }
}"""


def measure(args, env: dict, city: dict, rng: random.Random) -> dict:
    from playwright.sync_api import sync_playwright

    from incidents.models import Incident, Need
    from incidents.services import NeedSpec, incident_cancel, incident_open

    process, base, log = uvicorn_start(env)
    figures: dict = {}
    opened_live: list[int] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(
                viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
            context.set_default_timeout(120_000)
            page = context.new_page()
            page.goto(f"{base}/accounts/login/?next=/dashboard/")
            page.fill("input[name=username]", "bench-coordinator")
            page.fill("input[name=password]", PASSWORD)
            started = time.perf_counter()
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/dashboard/*")
            total = Incident.objects.filter(status=Incident.Status.OPEN).count()
            page.wait_for_function(
                "(n) => document.querySelectorAll('#incident-list li.incident').length >= n",
                arg=total,
            )
            figures["load_list_ms"] = round((time.perf_counter() - started) * 1000)
            page.wait_for_function(
                "() => window.dashboard.units && window.dashboard.units.units.size > 0"
            )
            figures["load_all_ms"] = round((time.perf_counter() - started) * 1000)
            timings = page.evaluate(
                """() => Object.fromEntries(performance.getEntriesByType("resource")
                    .filter((e) => /dashboard\\/(resources|markers|units)\\/$/.test(e.name))
                    .map((e) => [e.name.split("/").slice(-2)[0],
                                 {ms: Math.round(e.responseEnd - e.requestStart),
                                  kb: Math.round(e.encodedBodySize / 1024)}]))"""
            )
            figures["views"] = timings
            figures["on_map"] = page.evaluate(
                "() => ({volunteers: window.dashboard.map.volunteers.length,"
                " drawn: window.dashboard.map.volunteerLayer.getLayers().length,"
                " incidents: window.dashboard.map.incidentMarkers.size})"
            )
            page.wait_for_timeout(1000)

            # 1. Panning and zooming with everything on the map.
            page.evaluate(FRAMES_START)
            page.evaluate(PAN_AND_ZOOM)
            figures["pan_zoom_frames_ms"] = stats(page.evaluate(FRAMES_STOP))

            # 2. Incidents arriving live.
            page.evaluate(WATCH_CARDS)
            page.evaluate(FRAMES_START)
            sent: dict[int, float] = {}
            for n in range(args.live):
                at = time.time()
                incident = in_thread(
                    incident_open,
                    reporter=city["coordinator"],
                    kind=Incident.Kind.FLOOD_RESCUE,
                    title=f"实时 {n} 群众被困",
                    latitude=rng.uniform(*CITY[0]),
                    longitude=rng.uniform(*CITY[1]),
                    priority=rng.choice([2, 3, 4]),
                    needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=city["skill"], count=2)],
                )
                sent[incident.pk] = at
                opened_live.append(incident.pk)
                time.sleep(max(0.0, 0.1 - (time.time() - at)))
            page.wait_for_function(
                "(ids) => ids.every((id) => String(id) in window.benchSeen)",
                arg=list(sent),
            )
            page.wait_for_timeout(500)
            figures["live_frames_ms"] = stats(page.evaluate(FRAMES_STOP))
            seen = page.evaluate("window.benchSeen")
            figures["live_latency_ms"] = stats(
                [seen[str(pk)] - at * 1000 for pk, at in sent.items()]
            )
            frames = page.evaluate("window.benchFrame")
            # Where the time goes: to the page's socket, then from the frame to the card.
            figures["live_socket_ms"] = stats(
                [frames[str(pk)] - at * 1000 for pk, at in sent.items() if str(pk) in frames]
            )
            figures["live_page_ms"] = stats(
                [seen[str(pk)] - frames[str(pk)] for pk in sent if str(pk) in frames]
            )
            figures["live_updates"] = len(sent)
            context.close()
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
        for pk in opened_live:
            in_thread(
                incident_cancel,
                incident=Incident.objects.get(pk=pk),
                actor=city["coordinator"],
                note="bench",
            )
        say(f"uvicorn's log: {log}")
    return figures


def queue_empty(redis_url: str) -> None:
    """The dispatch tasks our incidents enqueued: nobody reads our queue."""
    import redis

    from config.env import redis_url_with_db_offset

    client = redis.Redis.from_url(redis_url_with_db_offset(redis_url, 1))
    client.delete(QUEUE)


def main() -> None:
    args = parse_args()
    rng = random.Random(12)
    database_ensure(args.database_url)
    env = setup_django(args)
    city = city_prepare(args.volunteers, args.incidents, rng)
    threading.excepthook = lambda hook: say(f"thread error: {hook.exc_value!r}")
    try:
        figures = measure(args, env, city, rng)
    finally:
        queue_empty(args.redis_url)
    result = {
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "chromium": subprocess.run(
                [CHROMIUM, "--version"], capture_output=True, text=True
            ).stdout.strip(),
        },
        "incidents": args.incidents,
        "volunteers_on_duty": args.volunteers,
        **figures,
    }
    say(f"incidents open: {args.incidents}, volunteers on duty: {args.volunteers:,}")
    load = figures["load_list_ms"], figures["load_all_ms"]
    say(f"page load: list {load[0]} ms, with the status board {load[1]} ms")
    for name, view in figures["views"].items():
        say(f"  GET /dashboard/{name}/: {view['ms']} ms, {view['kb']} kB")
    say(f"on the map: {figures['on_map']}")
    for name in (
        "pan_zoom_frames_ms",
        "live_frames_ms",
        "live_latency_ms",
        "live_socket_ms",
        "live_page_ms",
    ):
        say(f"{name}: {figures[name]}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
