"""Issue 16's table, re-run: do the tests fail when the behaviour breaks?

For each row a deliberate bug is planted, by exact text substitutions in one file, in a
copy of the project (the files git tracks, and new files not ignored, as they are in the
working tree now), and the test files about that code are run there with pytest. A row
is *caught* when a test fails; *missed* when they all pass; *error* when pytest could
not run them (the bug broke an import, say) or only fixtures failed (setup errors are
not a test about the behaviour catching it).

Each anchor must appear exactly once in its file: when the code changes so that it no
longer does, the script stops and says so, before running anything, rather than run the
tests on an unplanted copy.

    .venv/bin/python bench/planted_bugs.py [--only NAME] [--json] [--no-baseline]
                                           [--database-url URL] [--redis-url URL]

Each pytest run makes its own test database and uses its own Redis keys (tests/backends.py),
on the servers given (default: those the test suite uses). TONGXIN_REQUIRE_SERVICES=1, so
a test skipped for want of PostgreSQL or Redis fails instead of passing the row silently.
Before the rows, a baseline runs every row's test files on an unplanted copy: they must
pass, or no row means anything (`--no-baseline` skips it, with `--only` for instance).
A full run takes about 10 minutes on the 2-core VM (8.4 min measured).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tongxin"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
# One row's pytest run; a planted bug that hangs a test must not hang the script.
ROW_TIMEOUT_SECONDS = 20 * 60

SERVICES = "dispatch/services.py"
EVENTS = "dispatch/events.py"
CONSUMERS = "dispatch/consumers.py"
SMS_OFFERS = "dispatch/sms/offers.py"
SMS_REPLIES = "dispatch/sms/replies.py"
SETTINGS = "config/settings.py"
TASKS = "dispatch/tasks.py"

TEST_SERVICES = "tests/dispatch/test_services.py"
TEST_EVENTS = "tests/dispatch/test_events.py"
TEST_CONSUMERS = "tests/dispatch/test_consumers.py"
TEST_TASKS = "tests/dispatch/test_tasks.py"
TEST_SMS_OFFERS = "tests/dispatch/sms/test_offers.py"
TEST_SMS_REPLIES = "tests/dispatch/sms/test_replies.py"
TEST_SETTINGS = "tests/config/test_settings.py"
TEST_EMBEDDED = "tests/config/test_embedded.py"


@dataclass(frozen=True)
class Bug:
    name: str
    what: str  # as the table says it
    path: str
    anchor: str
    replacement: str
    tests: tuple[str, ...]
    caught_before: str  # the "caught?" column
    # Further (anchor, replacement) pairs in the same file, applied after the first.
    more: tuple[tuple[str, str], ...] = ()

    def edits(self) -> list[tuple[str, str]]:
        return [(self.anchor, self.replacement), *self.more]


def lines(text: str, indent: int) -> str:
    """A block of code as it stands in its file: `text` dedented, then indented by
    `indent` spaces (empty lines stay empty)."""
    return textwrap.indent(textwrap.dedent(text).lstrip("\n"), " " * indent)


BUGS = [
    Bug(
        name="need-lock",
        what="need row lock removed (`need_locked`)",
        path=SERVICES,
        anchor=lines(
            """
            Need.objects.select_for_update(of=("self",), no_key=True)
            .select_related("incident", "skill")
            """,
            8,
        ),
        replacement=lines(
            """
            Need.objects.all()
            .select_related("incident", "skill")
            """,
            8,
        ),
        tests=(TEST_SERVICES,),
        caught_before="yes",
    ),
    Bug(
        name="expire-returns-nothing",
        what="`offers_expire` returns nothing",
        path=SERVICES,
        anchor=lines(
            """
                    _event(EventKind.OFFER_EXPIRED, assignment)
                    need_ids.add(assignment.need_id)
            return sorted(need_ids)
            """,
            4,
        ),
        replacement=lines(
            """
                    _event(EventKind.OFFER_EXPIRED, assignment)
                    need_ids.add(assignment.need_id)
            return []
            """,
            4,
        ),
        tests=(TEST_SERVICES,),
        caught_before="yes",
    ),
    Bug(
        name="expire-no-recheck",
        what="expiry drops its status re-check under the lock",
        path=SERVICES,
        anchor=lines(
            """
            if assignment.status != AssignmentStatus.OFFERED:
                continue
            _set_status(assignment, AssignmentStatus.EXPIRED, answered_at=now)
            """,
            12,
        ),
        replacement=lines(
            """
            _set_status(assignment, AssignmentStatus.EXPIRED, answered_at=now)
            """,
            12,
        ),
        tests=(TEST_SERVICES,),
        caught_before="no",
    ),
    Bug(
        name="consumer-no-seq-check",
        what='consumer drops the "seq ≤ last sent" check',
        path=CONSUMERS,
        anchor=lines(
            """
            if seq <= self.client_upto:
                return
            """,
            8,
        ),
        replacement="",
        tests=(TEST_CONSUMERS,),
        caught_before="yes",
    ),
    Bug(
        name="consumer-no-gap-fill",
        what="consumer drops the gap fill",
        path=CONSUMERS,
        anchor=lines(
            """
            if seq > self.client_upto + 1:
                for missed in await self.frames_missed(before=seq):
                    await self.send_json(missed)
            """,
            8,
        ),
        replacement="",
        tests=(TEST_CONSUMERS,),
        caught_before="yes",
    ),
    Bug(
        name="consumer-joins-late",
        what="consumer joins its groups *after* reading `last_seq`",
        path=CONSUMERS,
        # The position is read before the groups are joined, instead of after.
        anchor=lines(
            """
            await self.accept(subprotocol=SUBPROTOCOL if wants_protocol else None)
            last_seq = await _db(live.last_seq)()
            """,
            8,
        ),
        replacement=lines(
            """
            await self.accept(subprotocol=SUBPROTOCOL if wants_protocol else None)
            """,
            8,
        ),
        more=(
            (
                lines(
                    """
                    # and the client drops what it has by seq.
                    self.joined = []
                    """,
                    8,
                ),
                lines(
                    """
                    # and the client drops what it has by seq.
                    last_seq = await _db(live.last_seq)()
                    self.joined = []
                    """,
                    8,
                ),
            ),
        ),
        tests=(TEST_CONSUMERS,),
        caught_before="no",
    ),
    Bug(
        name="accept-ignores-expiry",
        what="`assignment_accept` ignores `expires_at`",
        path=SERVICES,
        anchor=lines(
            """
            if assignment.expires_at and assignment.expires_at <= now:
                raise OfferClosed(_("This offer expired and went to someone else."))
            """,
            4,
        ),
        replacement="",
        tests=(TEST_SERVICES,),
        caught_before="yes",
    ),
    Bug(
        name="critical-180",
        what="critical offers get 180 s instead of 90 s",
        path=SERVICES,
        anchor=lines(
            """
            return timedelta(seconds=settings.OFFER_TIMEOUT_SECONDS[priority])
            """,
            4,
        ),
        replacement=lines(
            """
            return timedelta(seconds=settings.OFFER_TIMEOUT_SECONDS[min(priority, 3)])
            """,
            4,
        ),
        tests=(TEST_SERVICES,),
        caught_before="no",
    ),
    Bug(
        name="withdraw-does-nothing",
        what="`offers_withdraw_from_busy` does nothing",
        path=SERVICES,
        # Returns at once, after its docstring.
        anchor=lines(
            '''
                is refused by the database (one active assignment per volunteer or vehicle).
                """
                resource = (
            ''',
            4,
        ),
        replacement=lines(
            '''
                is refused by the database (one active assignment per volunteer or vehicle).
                """
                return []
                resource = (
            ''',
            4,
        ),
        tests=(TEST_SERVICES, TEST_TASKS),
        caught_before="no (no test at all)",
    ),
    Bug(
        name="failed-send-published",
        what="`events_send` marks failed sends as published",
        path=EVENTS,
        anchor=lines(
            """
                    "publishing events %s failed; the relay will retry", [e.seq for e in events]
                )
                return 0
            """,
            8,
        ),
        replacement=lines(
            """
                    "publishing events %s failed; the relay will retry", [e.seq for e in events]
                )
            """,
            8,
        ),
        tests=(TEST_EVENTS,),
        caught_before="no",
    ),
    Bug(
        name="seq-max-plus-one",
        what="seq taken as `MAX(seq)+1` without the lock",
        path=EVENTS,
        anchor=lines(
            """
            "UPDATE dispatch_eventsequence SET last_seq = last_seq + %s WHERE id = 1 "
            "RETURNING last_seq",
            """,
            12,
        ),
        replacement=lines(
            """
            "SELECT COALESCE(MAX(seq), 0) + %s FROM dispatch_deploymentevent",
            """,
            12,
        ),
        tests=(TEST_EVENTS,),
        caught_before="yes",
    ),
    Bug(
        name="sms-retry-claim-unguarded",
        what='SMS retry claim loses its "not already claimed" guard',
        path=SMS_OFFERS,
        anchor=lines(
            """
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=_claim_stale_before(now)))
            .update(claimed_at=now)
            """,
            8,
        ),
        replacement=lines(
            """
            .update(claimed_at=now)
            """,
            8,
        ),
        tests=(TEST_SMS_OFFERS,),
        caught_before="no",
    ),
    Bug(
        name="sms-code-any-phone",
        what="SMS code lookup ignores the sender's phone",
        path=SMS_REPLIES,
        anchor=lines(
            """
            .filter(Q(assignment__volunteer=volunteer) | Q(assignment__vehicle__crew=volunteer))
            """,
            8,
        ),
        replacement="",
        tests=(TEST_SMS_REPLIES,),
        caught_before="yes",
    ),
    Bug(
        name="beat-no-expiry",
        what="offer expiry removed from the beat schedule",
        path=SETTINGS,
        anchor=lines(
            """
            "expire-unanswered-offers": {
                "task": "dispatch.tasks.offers_expire",
                "schedule": float(env_int("OFFER_SWEEP_SECONDS", 5)),
            },
            """,
            4,
        ),
        replacement="",
        tests=(TEST_SETTINGS,),
        caught_before="no",
    ),
    Bug(
        name="beat-no-relay",
        what="the relay removed from the beat schedule",
        path=SETTINGS,
        anchor=lines(
            """
            "relay-unpublished-events": {
                "task": "dispatch.tasks.events_relay",
                "schedule": float(env_int("EVENT_RELAY_SECONDS", 5)),
            },
            """,
            4,
        ),
        replacement="",
        tests=(TEST_SETTINGS, TEST_EMBEDDED),
        caught_before="no",
    ),
    Bug(
        name="reconcile-does-nothing",
        what="`index_reconcile` does nothing",
        path=TASKS,
        anchor=lines(
            """
            return availability.index_rebuild()
            """,
            4,
        ),
        replacement=lines(
            """
            return {}
            """,
            4,
        ),
        tests=(TEST_TASKS,),
        caught_before="no",
    ),
    Bug(
        name="timeout-ignores-priority",
        what="the per-priority time-out ignores the priority",
        path=SERVICES,
        anchor=lines(
            """
            return timedelta(seconds=settings.OFFER_TIMEOUT_SECONDS[priority])
            """,
            4,
        ),
        replacement=lines(
            """
            return timedelta(seconds=settings.OFFER_TIMEOUT_SECONDS[2])
            """,
            4,
        ),
        tests=(TEST_SERVICES,),
        caught_before="yes (only by setup errors in the reports fixture)",
    ),
]


def project_files() -> list[str]:
    """The files of the project as they are now: tracked ones (less those deleted in
    the working tree) and new ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({name for name in listed.split("\0") if name and (PROJECT / name).is_file()})


def copy_project(files: list[str], into: Path) -> None:
    for name in files:
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT / name, target)


def planted(bug: Bug, text: str) -> str:
    """The file's text with the bug planted; stops the script when an anchor is not
    found exactly once (the code changed: the row must be updated)."""
    for anchor, replacement in bug.edits():
        found = text.count(anchor)
        if found != 1:
            raise SystemExit(
                f"{bug.name}: an anchor is found {found} times in {bug.path} (must be once): "
                f"the code changed, update the row in bench/planted_bugs.py.\n"
                f"anchor:\n{anchor}"
            )
        text = text.replace(anchor, replacement)
    return text


def plant(bug: Bug, root: Path) -> None:
    path = root / bug.path
    path.write_text(planted(bug, path.read_text(encoding="utf-8")), encoding="utf-8")


def check_anchors(files: list[str]) -> None:
    """Every row's anchors, checked before anything runs."""
    for bug in BUGS:
        planted(bug, (PROJECT / bug.path).read_text(encoding="utf-8"))
        for test in bug.tests:
            if test not in files:
                raise SystemExit(f"{bug.name}: no test file {test}")


def run_tests(root: Path, tests: tuple[str, ...], *, database_url: str, redis_url: str) -> dict:
    report = root / "junit.xml"
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        TEST_DATABASE_URL=database_url,
        TEST_REDIS_URL=redis_url,
        TONGXIN_REQUIRE_SERVICES="1",
        # The copy, not the project, whatever the interpreter's paths say; the workers
        # and servers the tests start inherit it.
        PYTHONPATH=str(root),
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={report}",
        *tests,
    ]
    started = time.monotonic()
    try:
        result = subprocess.run(
            command,
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=ROW_TIMEOUT_SECONDS,
        )
        code, output = result.returncode, result.stdout + result.stderr
    except subprocess.TimeoutExpired as expired:
        code, output = None, f"timed out after {ROW_TIMEOUT_SECONDS} s\n{expired.stdout or ''}"
    seconds = round(time.monotonic() - started, 1)
    failed, counts = _junit(report)
    return {"code": code, "seconds": seconds, "failed": failed, **counts, "output": output}


def _junit(report: Path) -> tuple[list[str], dict]:
    """The tests that failed (in the test itself: <failure>), and the counts. A test
    that errored in a fixture (<error>) is counted, not listed: a row caught only by
    setup errors is not caught by a test about the behaviour."""
    if not report.exists():
        return [], {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    root = ElementTree.parse(report).getroot()
    failed = []
    for case in root.iter("testcase"):
        if case.find("failure") is not None:
            module = case.get("classname", "").replace(".", "/")
            failed.append(f"{module}.py::{case.get('name')}")
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    return failed, counts


def outcome(result: dict) -> str:
    """caught: a test failed; missed: every test passed; error: pytest could not run
    them, or only fixtures failed (exit codes: 0 passed, 1 failures, 2+ no run)."""
    if result["code"] == 0:
        return "missed"
    if result["code"] == 1 and result["failed"]:
        return "caught"
    return "error"


def run_row(bug: Bug | None, files: list[str], args) -> dict:
    tests = bug.tests if bug else tuple(sorted({t for b in BUGS for t in b.tests}))
    with tempfile.TemporaryDirectory(prefix="tongxin-planted-") as directory:
        root = Path(directory)
        copy_project(files, root)
        if bug:
            plant(bug, root)
        result = run_tests(root, tests, database_url=args.database_url, redis_url=args.redis_url)
    return {
        "name": bug.name if bug else "baseline",
        "bug": bug.what if bug else "none planted",
        "where": bug.path if bug else "",
        "issue_said": bug.caught_before if bug else "",
        "tests": list(tests),
        "outcome": outcome(result),
        "failed_tests": result["failed"],
        "seconds": result["seconds"],
        "pytest_exit": result["code"],
        "counts": {k: result[k] for k in ("tests", "failures", "errors", "skipped")},
        "_output": result["output"],
    }


def print_table(rows: list[dict]) -> None:
    """The issue's table: the bug, where, what the issue found, what this run found, and
    the tests that failed (the first two)."""
    print()
    print("| deliberate bug | where | issue 16 | now | s | failing tests |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        failing = [name.split("::")[-1] for name in row["failed_tests"]]
        shown = ", ".join(f"`{name}`" for name in failing[:2])
        if len(failing) > 2:
            shown += f" (+{len(failing) - 2})"
        print(
            f"| {row['bug']} | {row['where']} | {row['issue_said']} | **{row['outcome']}** "
            f"| {row['seconds']:.0f} | {shown} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=[bug.name for bug in BUGS], action="append")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_DATABASE_URL),
    )
    parser.add_argument("--redis-url", default=os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--verbose", action="store_true", help="print pytest's output of each row")
    args = parser.parse_args()

    files = project_files()
    check_anchors(files)
    bugs = [bug for bug in BUGS if not args.only or bug.name in args.only]
    started = time.monotonic()
    baseline = None
    if not args.no_baseline:
        print("baseline: the rows' test files on the unplanted code …", flush=True)
        baseline = run_row(None, files, args)
        passes = baseline["outcome"] == "missed"  # nothing planted, nothing failed
        print(f"baseline: {'passes' if passes else 'FAILS'} in {baseline['seconds']} s", flush=True)
        if not passes:
            print(baseline["_output"][-6000:])
            print("the baseline fails: fix the tests before planting anything")
    rows = []
    for bug in bugs:
        print(f"{bug.name}: {bug.what} ({bug.path}) …", flush=True)
        row = run_row(bug, files, args)
        print(
            f"{bug.name}: {row['outcome']} in {row['seconds']} s "
            f"({len(row['failed_tests'])} failing)",
            flush=True,
        )
        if args.verbose or row["outcome"] == "error":
            print(row["_output"][-6000:])
        rows.append(row)
    print_table(rows)
    caught = sum(row["outcome"] == "caught" for row in rows)
    minutes = (time.monotonic() - started) / 60
    print(f"\ncaught {caught} of {len(rows)} in {minutes:.1f} min", end="")
    if baseline is not None:
        passes = baseline["outcome"] == "missed"
        print(f"; baseline (nothing planted): {'passes' if passes else 'FAILS'}")
    else:
        print()
    if args.json:
        public = [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
        summary = {"rows": public, "caught": caught, "total": len(rows)}
        if baseline is not None:
            summary["baseline_passes"] = baseline["outcome"] == "missed"
        print(json.dumps(summary, ensure_ascii=False))
    baseline_ok = baseline is None or baseline["outcome"] == "missed"
    return 0 if caught == len(rows) and baseline_ok else 1


if __name__ == "__main__":
    sys.exit(main())
