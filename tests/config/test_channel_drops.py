import logging

import pytest
from asgiref.sync import async_to_sync

from config.channel_drops import channel_sends_dropped


@pytest.mark.redis
@pytest.mark.django_db
def test_it_counts_and_warns_about_sends_dropped_to_a_full_channel(channel_layer, caplog, client):
    channel = async_to_sync(channel_layer.new_channel)()
    async_to_sync(channel_layer.group_add)("slow-readers", channel)
    before = channel_sends_dropped()

    capacity, channel_layer.capacity = channel_layer.capacity, 1  # a phone that stopped reading
    try:
        with caplog.at_level(logging.INFO, logger="channels_redis.core"):
            for number in range(3):
                async_to_sync(channel_layer.group_send)("slow-readers", {"type": "n", "n": number})
    finally:
        channel_layer.capacity = capacity

    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and r.getMessage().endswith("group slow-readers")
    ]
    assert len(warnings) == 2  # the first send fitted, the next two were dropped
    # Other processes and tests may drop sends to their own slow readers meanwhile.
    assert channel_sends_dropped() >= before + 2
    assert client.get("/healthz").json()["channel_sends_dropped"] >= before + 2
