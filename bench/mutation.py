"""Mutation testing of the dispatch core (issue 16): do the tests notice when the code
that decides who gets what is changed?

mutmut (pinned in pyproject.toml's `mutation` extra; not installed by `.[test]`, CI does
not run this) changes one thing at a time inside a function of a core module (`<` to
`<=`, `and` to `or`, a constant, a string, an argument dropped, a call's result replaced
by None, ...) and runs the tests that call that function (found by a first, traced run
of the module's test files) with `-x`. A *killed* mutant made a test fail; a *survivor*
passed every test, so nothing in the tests pins what was changed; a *timeout* hung
(killed: a deadlock is noticed); *no tests*: no test of the module's files calls the
function.

    .venv/bin/pip install ".[test,mutation]"
    .venv/bin/python bench/mutation.py [--only dispatch/events.py ...] [--json]
                                       [--database-url URL] [--redis-url URL] [--keep]

Each module is mutated in a copy of the project (the files git tracks and new files not
ignored, as in the working tree now), in a temporary folder: the working tree is never
touched, and mutmut's `mutants/` folder lives in the copy. In the copy, and only there,
`@transaction.atomic` on a function of the module becomes `f = transaction.atomic(f)`
at the end of the file (the decorator's line becomes a comment, so line numbers stay):
mutmut leaves decorated functions alone, and those are the accept, the decline, the
dispatch. mutmut mutates code inside functions only: module constants (time-outs, batch
sizes) are not mutated.

Every pytest run makes its own test database (test_<name>_<pid>, on --database-url's
server) and the test runs share one Redis key prefix; a mutant stopped by its timeout
leaves its test database behind, and the script drops those of its own runs (the name
`tongxin_mutation`, pid no longer running) before and after each module.

Prints, per module, killed / survived / timeout / no tests and the score (killed and
timed out, over all mutants), then each survivor as file:line and the change. With
--json the last line is {"dispatch/events.py": {"killed": .., "survived": ..,
"timeout": .., "no_tests": .., "score": .., "survivors": [...]}, ..., "total": {...}}.
"""

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
MUTMUT_VERSION = "3.8.1"
# The test databases of this script's runs are test_tongxin_mutation_<pid>.
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tongxin_mutation"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"

# Each core module, and the test files that mirror it: a mutant runs only these (and of
# these only the tests that call the mutated function). Run on PostgreSQL and Redis.
MODULES = {
    "dispatch/services.py": (
        "tests/dispatch/test_services.py",
        "tests/dispatch/test_services_engagement.py",
        # The sweep that redoes lost withdrawals (issue 10): tested with the outage.
        "tests/dispatch/test_outage.py::test_it_withdraws_the_open_offers_of_someone_busy_when_"
        "the_withdrawal_was_lost",
        "tests/dispatch/test_outage.py::test_it_leaves_the_offers_of_someone_free_alone",
    ),
    "dispatch/availability.py": (
        "tests/dispatch/test_availability.py",
        # The index's repair when Redis lost it (issue 10): tested with the outage.
        "tests/dispatch/test_outage.py::test_it_rebuilds_the_index_redis_lost_before_searching_it",
        "tests/dispatch/test_outage.py::test_it_rebuilds_the_index_once_when_the_first_synced_"
        "resource_is_far",
        "tests/dispatch/test_outage.py::test_it_rebuilds_an_index_key_found_empty_while_the_"
        "database_has_someone",
        "tests/dispatch/test_outage.py::test_it_does_not_rebuild_for_a_key_nobody_available_"
        "belongs_in",
        "tests/dispatch/test_outage.py::test_it_rebuilds_once_when_workers_find_the_index_lost_"
        "together",
    ),
    "dispatch/events.py": ("tests/dispatch/test_events.py",),
    "dispatch/matching.py": ("tests/dispatch/test_matching.py",),
    "dispatch/sms/replies.py": ("tests/dispatch/sms/test_replies.py",),
}
# A mutant's wall-clock limit: (its tests' traced duration + CONSTANT) × MULTIPLIER
# seconds. The constant covers what the trace does not time: pytest's start, the test
# database's creation (1.5 s), fixtures. A mutant that deadlocks waits this long.
TIMEOUT_CONSTANT = 10.0
TIMEOUT_MULTIPLIER = 4.0
# A whole module's mutmut run, should mutmut itself hang.
MODULE_TIMEOUT_SECONDS = 3 * 60 * 60

STATUS_BY_EXIT_CODE = {
    None: "not_run",  # the run was stopped before this mutant
    1: "killed",
    3: "killed",  # pytest's internal error, raised by the mutant
    0: "survived",
    5: "no_tests",
    33: "no_tests",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    152: "timeout",
    255: "timeout",
}
ATOMIC = "@transaction.atomic"


def project_files() -> list[str]:
    """The project's files as they are now: tracked ones (less those deleted in the
    working tree) and new ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({name for name in listed.split("\0") if name and (PROJECT / name).is_file()})


def export_commit(ref: str, into: Path) -> None:
    """The project as committed at `ref`, without the working tree's changes."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=PROJECT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def copy_project(files: list[str], into: Path) -> None:
    for name in files:
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT / name, target)


def undecorate(text: str) -> str:
    """`@transaction.atomic` over a top-level function becomes a comment on the same
    line, and `name = transaction.atomic(name)` is appended to the file: the same
    behaviour, line numbers unchanged, and a function mutmut mutates."""
    lines = text.split("\n")
    names = []
    for number, line in enumerate(lines):
        if line.rstrip() != ATOMIC:
            continue
        match = re.match(r"def (\w+)\(", lines[number + 1])
        if not match:
            raise SystemExit(f"{ATOMIC} over something other than a function: {lines[number + 1]}")
        names.append(match.group(1))
        lines[number] = f"# {ATOMIC}: applied at the end of the file (bench/mutation.py)"
    if not names:
        return text
    tail = [f"{name} = transaction.atomic({name})" for name in names]
    return "\n".join([*lines, "", "# bench/mutation.py: the decorators, as calls", *tail, ""])


def mutmut_config(module: str, tests: tuple[str, ...], root: Path) -> str:
    """The [tool.mutmut] section for one module: the whole dispatch package is copied
    into mutants/, only `module` is mutated; everything else the tests import is
    copied beside it."""
    package = module.split("/")[0]
    also_copy = sorted(
        entry.name
        for entry in root.iterdir()
        if entry.name not in (package, "mutants", ".git", ".venv", "tests", "pyproject.toml")
    )

    def toml_list(values) -> str:
        return "[" + ", ".join(json.dumps(value) for value in values) + "]"

    return "\n".join(
        [
            "",
            "[tool.mutmut]",
            f"source_paths = {toml_list([package])}",
            f"only_mutate = {toml_list([module])}",
            f"also_copy = {toml_list(also_copy)}",
            f"pytest_add_cli_args_test_selection = {toml_list(tests)}",
            'pytest_add_cli_args = ["-p", "no:cacheprovider"]',
            f"timeout_constant = {TIMEOUT_CONSTANT}",
            f"timeout_multiplier = {TIMEOUT_MULTIPLIER}",
            "use_git_change_detection = false",
            "",
        ]
    )


def drop_leftover_databases(database_url: str) -> int:
    """Drop the test databases of this script's runs whose process is gone (a mutant
    stopped by its timeout cannot drop its own)."""
    import psycopg

    base = database_url.rsplit("/", 1)
    prefix = f"test_{base[1]}_"
    server = f"{base[0]}/postgres"
    dropped = 0
    with psycopg.connect(server, autocommit=True) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix + "%"]
            )
        ]
        for name in names:
            pid = name[len(prefix) :]
            if not pid.isdigit() or Path(f"/proc/{pid}").exists():
                continue
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [name],
            )
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            dropped += 1
    return dropped


def environment(root: Path, args) -> dict:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH")
    }
    env.update(
        TEST_DATABASE_URL=args.database_url,
        TEST_REDIS_URL=args.redis_url,
        TONGXIN_REQUIRE_SERVICES="1",
        # The workers and servers a test starts import the mutated copy too.
        PYTHONPATH=str(root / "mutants"),
    )
    return env


# Run in the copy, with mutmut's own reader of its files: each survivor's diff.
DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
print(json.dumps({name: get_diff_for_mutant(name, path=sys.argv[1]) for name in sys.argv[2:]}))
"""


def function_lines(source: str) -> dict[str, int]:
    """The line of each function's `def`, by mutmut's mangled name (x_name,
    xǁClassǁmethod)."""
    lines = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines[f"x_{node.name}"] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines[f"x\u01c1{node.name}\u01c1{item.name}"] = item.lineno
    return lines


def describe(diff: str, def_line: int | None) -> tuple[int | None, str]:
    """The file line of a mutant's first changed line, and the change as `old → new`."""
    old, new = [], []
    line = None
    position = 0  # 1-based line in the function's text as the diff shows it
    def_index = None
    for text in diff.split("\n"):
        if text.startswith(("---", "+++")):
            continue
        hunk = re.match(r"@@ -(\d+)", text)
        if hunk:
            position = int(hunk.group(1)) - 1
            continue
        if text.startswith("+"):
            new.append(text[1:].strip())
            continue
        position += 1
        body = text[1:]
        if def_index is None and re.match(r"\s*(async\s+)?def ", body):
            def_index = position
        if text.startswith("-"):
            old.append(body.strip())
            if line is None:
                line = position
    if line is not None and def_line is not None:
        # The diff starts at the def, or at comments just above it.
        line = def_line + line - (def_index or 1)
    change = f"{' / '.join(old)}  →  {' / '.join(new)}"
    return line, change


def run_module(
    module: str, tests: tuple[str, ...], snapshot: Path, args, previous: dict | None = None
) -> dict:
    """One module's mutmut run. With `previous` (this module's result in an earlier
    --json line), only that run's survivors are run again, against the tests as they
    are now, and the counts are the earlier ones with those survivors' new outcomes."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tongxin-mutation-") as directory:
        root = Path(directory) / "project"
        shutil.copytree(snapshot, root, symlinks=True)
        path = root / module
        path.write_text(undecorate(path.read_text(encoding="utf-8")), encoding="utf-8")
        pyproject = root / "pyproject.toml"
        pyproject.write_text(
            pyproject.read_text(encoding="utf-8") + mutmut_config(module, tests, root),
            encoding="utf-8",
        )
        env = environment(root, args)
        # Before mutmut starts: a PYTHONPATH entry missing at start-up is remembered as
        # missing (sys.path_importer_cache), and the tests' imports then fail.
        (root / "mutants").mkdir()
        log = Path(args.log_dir) / (module.replace("/", "_") + ".log")
        with open(log, "w", encoding="utf-8") as output:
            try:
                code = subprocess.run(
                    [
                        str(Path(sys.executable).parent / "mutmut"),
                        "run",
                        "--max-children",
                        "1",
                        *rechecked(previous),
                    ],
                    cwd=root,
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    timeout=MODULE_TIMEOUT_SECONDS,
                ).returncode
            except subprocess.TimeoutExpired:
                code = "timeout"
        meta_path = root / "mutants" / (module + ".meta")
        if not meta_path.exists():
            raise SystemExit(f"mutmut did not run on {module} (exit {code}); see {log}")
        exit_codes = json.loads(meta_path.read_text(encoding="utf-8"))["exit_code_by_key"]
        statuses = {
            name: STATUS_BY_EXIT_CODE.get(exit_code, f"other ({exit_code})")
            for name, exit_code in exit_codes.items()
        }
        if previous is not None:
            statuses = {name: statuses[name] for name in rechecked(previous)}
        survivors = sorted(name for name, status in statuses.items() if status == "survived")
        # Rechecking, the changes of every mutant run again are read, to be compared.
        shown = survivors if previous is None else sorted(statuses)
        diffs = {}
        if shown:
            diffs = json.loads(
                subprocess.run(
                    [sys.executable, "-c", DIFFS, module, *shown],
                    cwd=root,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
        if args.keep:
            kept = Path(args.log_dir) / ("mutants_" + module.replace("/", "_"))
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(root / "mutants", kept, symlinks=True)
    def_lines = function_lines((snapshot / module).read_text(encoding="utf-8"))
    described = {}
    for name in shown:
        function = name.rpartition(".")[2].partition("__mutmut_")[0]
        line, change = describe(diffs.get(name, ""), def_lines.get(function))
        described[name] = {"mutant": name, "line": line, "change": change}
    listed = [described[name] for name in survivors]
    listed.sort(key=lambda survivor: (survivor["line"] or 0, survivor["mutant"]))
    counts = {
        status: sum(1 for value in statuses.values() if value == status)
        for status in ("killed", "survived", "timeout", "no_tests", "not_run")
    }
    other = len(statuses) - sum(counts.values())
    mutants = len(statuses)
    if previous is not None:
        # The earlier run's outcomes stand for every mutant but its survivors: tests
        # were added, none taken away, and the module's code is the same (checked:
        # each survivor's change must read as it did).
        before = {s["mutant"]: s["change"] for s in previous["survivors"]}
        now = {name: s["change"] for name, s in described.items() if name in before}
        changed = [name for name in now if now[name] != before[name]]
        if changed:
            raise SystemExit(f"{module} changed since the earlier run: {changed[:3]}")
        for status in ("killed", "timeout", "not_run"):
            counts[status] += previous.get(status, 0)
        other += previous["other"]
        mutants = previous["mutants"]
    return {
        **counts,
        "other": other,
        "mutants": mutants,
        # Over the mutants that were run.
        "score": score(counts["killed"] + counts["timeout"], mutants - counts["not_run"]),
        "seconds": round(time.monotonic() - started),
        "tests": list(tests),
        "survivors": listed,
        "no_tests_mutants": sorted(n for n, s in statuses.items() if s == "no_tests"),
        "other_mutants": sorted(n for n, s in statuses.items() if s.startswith("other")),
    }


def rechecked(previous: dict | None) -> list[str]:
    """The mutants an earlier run left uncaught: its survivors, and those no test of
    the module's files called."""
    if previous is None:
        return []
    return [s["mutant"] for s in previous["survivors"]] + previous["no_tests_mutants"]


def score(caught: int, total: int) -> float:
    return round(100 * caught / total, 1) if total else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=list(MODULES), action="append")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument(
        "--log-dir",
        default=str(Path(tempfile.gettempdir()) / "tongxin-mutation"),
        help="mutmut's output of each module goes there",
    )
    parser.add_argument("--keep", action="store_true", help="keep each module's mutants/ there")
    parser.add_argument(
        "--commit",
        metavar="REF",
        help="mutate the project as committed at REF instead of the working tree (which "
        "others may be editing meanwhile)",
    )
    parser.add_argument(
        "--recheck",
        metavar="FILE",
        help="a file whose last line is an earlier run's --json output: run again only its "
        "survivors, against the tests as they are now, and count the rest as it did",
    )
    args = parser.parse_args()

    mutmut = Path(sys.executable).parent / "mutmut"
    if not mutmut.exists():
        raise SystemExit(
            "mutmut is not installed: .venv/bin/pip install '.[test,mutation]' "
            f"(mutmut=={MUTMUT_VERSION})"
        )
    Path(args.log_dir).mkdir(parents=True, exist_ok=True)
    earlier = None
    if args.recheck:
        earlier = json.loads(Path(args.recheck).read_text(encoding="utf-8").splitlines()[-1])
    modules = args.only or [m for m in MODULES if earlier is None or m in earlier]
    started = time.monotonic()
    results = {}
    # The project as it is when the run starts (or as committed at --commit): every
    # module is mutated in a copy of this snapshot, whatever is edited meanwhile.
    snapshot_directory = tempfile.TemporaryDirectory(prefix="tongxin-mutation-snapshot-")
    snapshot = Path(snapshot_directory.name)
    if args.commit:
        export_commit(args.commit, snapshot)
    else:
        copy_project(project_files(), snapshot)
    for module in modules:
        drop_leftover_databases(args.database_url)
        print(f"{module}: mutating, tests {', '.join(MODULES[module])} …", flush=True)
        previous = None
        if earlier is not None:
            if module not in earlier:
                raise SystemExit(f"{args.recheck} has no result for {module}")
            previous = earlier[module]
        result = run_module(module, MODULES[module], snapshot, args, previous)
        drop_leftover_databases(args.database_url)
        results[module] = result
        print(
            f"{module}: {result['mutants']} mutants, {result['killed']} killed, "
            f"{result['survived']} survived, {result['timeout']} timeout, "
            f"{result['no_tests']} no tests, {result['other']} other, "
            f"{result['not_run']} not run: "
            f"score {result['score']} % in {result['seconds'] / 60:.1f} min",
            flush=True,
        )
    snapshot_directory.cleanup()
    print()
    print("| module | mutants | killed | survived | timeout | no tests | not run | score % | min |")
    print("|---|---|---|---|---|---|---|---|---|")
    for module, result in results.items():
        print(
            f"| {module} | {result['mutants']} | {result['killed']} | {result['survived']} "
            f"| {result['timeout']} | {result['no_tests']} | {result['not_run']} "
            f"| {result['score']} "
            f"| {result['seconds'] / 60:.1f} |"
        )
    for module, result in results.items():
        if result["survivors"]:
            print(f"\nsurvivors in {module}:")
        for survivor in result["survivors"]:
            print(f"  {module}:{survivor['line']}  {survivor['change']}  ({survivor['mutant']})")
        for name in result["no_tests_mutants"]:
            print(f"  {module}: no test calls it: {name}")
        for name in result["other_mutants"]:
            print(f"  {module}: unclear outcome: {name}")
    totals = {
        key: sum(result[key] for result in results.values())
        for key in ("mutants", "killed", "survived", "timeout", "no_tests", "other", "not_run")
    }
    totals["score"] = score(
        totals["killed"] + totals["timeout"], totals["mutants"] - totals["not_run"]
    )
    totals["seconds"] = round(time.monotonic() - started)
    print(
        f"\ntotal: {totals['mutants']} mutants, score {totals['score']} % "
        f"in {totals['seconds'] / 60:.1f} min (logs in {args.log_dir})"
    )
    if args.json:
        summary = {
            module: {k: v for k, v in result.items() if k != "tests"}
            for module, result in results.items()
        }
        summary["total"] = totals
        print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
