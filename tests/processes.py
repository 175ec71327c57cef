"""Starting Tongxin's real processes (ASGI server, Celery worker and beat) for tests."""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import deque
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

PROJECT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url_of_this_run() -> str:
    """The URL of the database this test run created, for processes the test starts."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def environment(**overrides: str | None) -> dict:
    """This process's environment with overrides; None removes a variable."""
    env = dict(os.environ)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def wait_until(condition, *, timeout: float, interval: float = 0.1, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"gave up after {timeout} s waiting for {what}")


class _Output:
    """A process's output, read as it comes. A pipe nobody reads holds 64 KiB; once
    full, the process blocks on its next log line (a worker running beat logs a few
    lines every few seconds). The last lines are kept, to print when it fails."""

    def __init__(self, process: subprocess.Popen, *, keep: int = 5000):
        self.lines: deque[str] = deque(maxlen=keep)
        self.thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line)

    def text(self) -> str:
        self.thread.join(timeout=5)
        return "".join(self.lines)


def _start(command: list[str], env: dict) -> tuple[subprocess.Popen, _Output]:
    process = subprocess.Popen(
        command,
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, _Output(process)


def _stop(process: subprocess.Popen, output: _Output) -> str:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return output.text()


@contextmanager
def celery_worker(env: dict, *, beat: bool = False):
    """A real `celery worker` process, as docker-compose runs it. With `beat`, it runs
    Celery beat too (`-B`), so the periodic tasks run as in production: the event
    relay, the offer expiry sweep, re-dispatch, the index rebuild and the SMS fallback
    (CELERY_BEAT_SCHEDULE). Its schedule file goes to a directory of its own, gone
    afterwards, not into the project."""
    with tempfile.TemporaryDirectory(prefix="tongxin-beat-") as schedule_dir:
        command = [
            str(VENV_BIN / "celery"),
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
        ]
        if beat:
            command += ["--beat", "--schedule", str(Path(schedule_dir) / "celerybeat-schedule")]
        process, output = _start(command, env)
        try:
            yield process
        finally:
            text = _stop(process, output)
            if process.returncode not in (0, -15):
                print(text)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def asgi_server(env: dict):
    """A real uvicorn process serving config.asgi; yields its base URL."""
    port = free_port()
    process, output = _start(
        [
            str(VENV_BIN / "uvicorn"),
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is not None or _answers(f"{base}/healthz"),
            timeout=60,
            what="the server to answer /healthz",
        )
        if process.poll() is not None:
            raise AssertionError(f"the server exited:\n{output.text()}")
        yield base
    finally:
        text = _stop(process, output)
        if process.returncode not in (0, -15):
            print(text)
