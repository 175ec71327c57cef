"""Counting the live notifications the channel layer drops.

channels-redis drops a group send to a channel that is full (a client that stopped
reading) and says so only in an INFO log line. The log is the truth and clients resume
with since=<seq>, so nothing is lost for good; but a coordinator's screen lags, and
operators must see it: this filter raises that line to WARNING and counts the drops
in Redis, where every process adds to one counter (shown by /healthz).
"""

import contextlib
import logging

import redis
from django.conf import settings

DROPS_KEY = "metrics:channel_sends_dropped"  # under the channel layer's prefix
DROP_MESSAGE = "%s of %s channels over capacity in group %s"


def _counter() -> redis.Redis | None:
    if settings.EMBEDDED:
        return None
    return redis.Redis.from_url(settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"])


def _drops_key() -> str:
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}:{DROPS_KEY}"


class CountDroppedSends(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == DROP_MESSAGE:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            counter = _counter()
            if counter is not None:
                # A Redis error must not break logging: the warning still goes out.
                with contextlib.suppress(redis.RedisError):
                    counter.incrby(_drops_key(), int(record.args[0]))
        return True


def channel_sends_dropped() -> int | None:
    """How many group sends the channel layer dropped since Redis started; None in
    the embedded default (the in-memory layer raises instead of dropping)."""
    counter = _counter()
    if counter is None:
        return None
    return int(counter.get(_drops_key()) or 0)
