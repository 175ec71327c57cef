"""Sockets joined on a Redis that has since restarted hear nothing: close them.

channels-redis keeps the groups in Redis, which keeps nothing on disk here. When Redis
restarts (a crash, a failover) every group is gone: this process's sockets stay open and
their pings are answered, yet no event reaches them any more — until each re-joins at
its next re-check, minutes later (bench/faults.py, redis_restart: 467 frames missing on
68 of 201 sockets). A long outage is not the danger (the sockets' reads fail and they
reconnect); a quick restart is.

So each process watches which Redis server its channel layer talks to — its run_id,
new at every start — every WS_LAYER_CHECK_SECONDS; when it changes, the sockets that
joined their groups before are closed with 4503 and the clients come back with
?since=, resuming from the log (which is in PostgreSQL: nothing is lost). One INFO call
per process per period, whatever the number of sockets.

One watch per event loop (uvicorn runs one per process; a test may run several in turn).
The in-memory layer of the embedded default needs none.
"""

import asyncio
import logging
import weakref

import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)


def _layer_address() -> str | None:
    config = settings.CHANNEL_LAYERS["default"]
    if not config["BACKEND"].startswith("channels_redis"):
        return None
    host = config["CONFIG"]["hosts"][0]
    return host["address"] if isinstance(host, dict) else host


class LayerWatch:
    def __init__(self, address: str, close_code: int):
        self.client = aioredis.from_url(address, socket_timeout=2, socket_connect_timeout=2)
        self.close_code = close_code
        self.run_id: str | None = None
        # Each socket with the run_id of the server it joined its groups on.
        self.sockets: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.task: asyncio.Task | None = None

    async def server_run_id(self) -> str | None:
        try:
            return (await self.client.info("server"))["run_id"]
        except Exception:  # noqa: BLE001 - Redis down: the sockets' own reads notice that
            return None

    async def joined(self, socket) -> None:
        if self.run_id is None:
            self.run_id = await self.server_run_id()
        self.sockets[socket] = self.run_id
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.watch())

    def left(self, socket) -> None:
        self.sockets.pop(socket, None)

    async def watch(self) -> None:
        while self.sockets:
            await asyncio.sleep(settings.WS_LAYER_CHECK_SECONDS)
            run_id = await self.server_run_id()
            if run_id is None or run_id == self.run_id:
                continue
            logger.warning("the channel layer's Redis restarted: closing the sockets it lost")
            self.run_id = run_id
            await self.close_those_joined_before(run_id)

    async def close_those_joined_before(self, run_id: str) -> None:
        for socket, joined_on in list(self.sockets.items()):
            if joined_on != run_id:
                self.sockets.pop(socket, None)
                try:
                    await socket.close(code=self.close_code)
                except Exception:  # noqa: BLE001 - gone meanwhile: nothing to close
                    logger.debug("socket already gone", exc_info=True)


_watches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _watch_of_this_loop(close_code: int) -> LayerWatch | None:
    address = _layer_address()
    if address is None:
        return None
    loop = asyncio.get_running_loop()
    if loop not in _watches:
        _watches[loop] = LayerWatch(address, close_code)
    return _watches[loop]


async def socket_joined(socket, *, close_code: int) -> None:
    """`socket` has joined its groups: close it with `close_code` should the layer's
    Redis restart."""
    watch = _watch_of_this_loop(close_code)
    if watch is not None:
        await watch.joined(socket)


def socket_left(socket) -> None:
    watch = _watches.get(asyncio.get_running_loop())
    if watch is not None:
        watch.left(socket)
