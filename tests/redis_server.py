"""A Redis server of a test's own, to kill and restart: the shared one on 6379 is never
touched (other runs and engineers use it)."""

import contextlib
import shutil
import subprocess
import tempfile

import pytest
import redis

from tests.backends import REQUIRE_SERVICES
from tests.processes import free_port, wait_until


class PrivateRedis:
    """`redis-server` on a free port of 127.0.0.1, keeping nothing on disk (as
    production's: docker-compose.yml), so that a restart comes back empty."""

    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.directory = tempfile.mkdtemp(prefix="tongxin-redis-")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", self.directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self.answers, timeout=10, interval=0.05, what="the private redis-server")
        return self

    def answers(self) -> bool:
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: Redis dies as in a crash, with no chance to save or say goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


def redis_server_available() -> bool:
    return shutil.which("redis-server") is not None


@contextlib.contextmanager
def private_redis():
    if not redis_server_available():
        if REQUIRE_SERVICES:
            pytest.fail("TONGXIN_REQUIRE_SERVICES=1 but redis-server is not on the PATH")
        pytest.skip("needs redis-server on the PATH")
    server = PrivateRedis().start()
    try:
        yield server
    finally:
        server.stop()
