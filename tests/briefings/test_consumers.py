"""A broadcast reaching phones' sockets through the real ASGI stack and the real Redis
channel layer, and the receipts phones send back over them (dispatch.consumers)."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from briefings import services
from briefings.models import Audience, BroadcastReceipt
from tests.dispatch.test_consumers import (
    frames_until,
    pong_next,
    run,
    session_cookie,
    socket,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("channel_layer"),
]


def phone_of(volunteer):
    return socket("/ws/volunteer/", cookie=session_cookie(volunteer.user))


async def connected(ws) -> list[dict]:
    """Connect; the frames the server sends on connecting (a ping's pong and ack mark
    their end: the consumer answers in order)."""
    ok, _ = await ws.connect()
    assert ok
    frames = await frames_until(ws, "snapshot")
    await ws.send_json_to({"type": "ping"})
    frames += await frames_until(ws, "ack")
    return frames[:-2]


send = database_sync_to_async(services.broadcast_send)


def receipt(broadcast, volunteer) -> BroadcastReceipt:
    return BroadcastReceipt.objects.get(broadcast=broadcast, volunteer=volunteer)


def test_a_township_broadcast_reaches_the_sockets_of_those_on_duty_there_only(
    coordinator, people, longhu
):
    boatman, elsewhere, resting = people["boatman"], people["elsewhere"], people["resting"]

    phones = {name: phone_of(people[name]) for name in ("boatman", "elsewhere", "resting")}

    async def scenario():
        for ws in phones.values():
            # Nothing unread: no "broadcasts" frame.
            assert [frame["type"] for frame in await connected(ws)] == ["hello", "snapshot"]
        broadcast = await send(
            author=coordinator,
            text="水位上涨，冲锋舟到龙湖镇",
            audience=Audience.TOWNSHIP,
            township=longhu,
        )
        reached = await phones["boatman"].receive_json_from(timeout=5)
        # Nothing reached the others: the next frame each gets is the answer to a ping.
        others = [await pong_next(phones[name]) for name in ("elsewhere", "resting")]
        for ws in phones.values():
            await ws.disconnect()
        return broadcast, reached, others

    broadcast, reached, others = run(scenario)

    assert reached["type"] == "broadcast"
    assert reached["broadcast"]["id"] == broadcast.pk
    assert reached["broadcast"]["text"] == "水位上涨，冲锋舟到龙湖镇"
    assert reached["broadcast"]["briefing"] is None
    assert others == [{"type": "pong"}, {"type": "pong"}]
    assert not BroadcastReceipt.objects.filter(volunteer__in=[elsewhere, resting]).exists()
    assert receipt(broadcast, boatman).delivered_at is None  # until the phone says so


def test_the_phone_reports_delivered_read_and_confirmed(coordinator, people, longhu):
    boatman = people["boatman"]
    briefing = services.broadcast_send(
        author=coordinator,
        text="防汛安全会",
        audience=Audience.TOWNSHIP,
        township=longhu,
        briefing_place="龙湖镇政府",
        briefing_starts_at=timezone.now() + timedelta(hours=1),
    )

    ws = phone_of(boatman)

    async def scenario():
        await connected(ws)
        answers = []
        for kind in (
            "broadcast_delivered",
            "broadcast_delivered",
            "broadcast_read",
            "broadcast_confirm",
        ):
            await ws.send_json_to({"type": kind, "broadcast": briefing.pk, "ref": kind})
            answers.append(await ws.receive_json_from(timeout=5))
        await ws.disconnect()
        return answers

    answers = run(scenario)

    assert [answer["type"] for answer in answers] == ["ack"] * 4
    assert [answer["first"] for answer in answers] == [True, False, True, True]
    assert {answer["broadcast"] for answer in answers} == {briefing.pk}
    mine = receipt(briefing, boatman)
    assert mine.delivered_at <= mine.read_at <= mine.confirmed_at
    assert receipt(briefing, people["medic"]).delivered_at is None


def test_receipts_for_messages_not_theirs_or_malformed_are_errors(coordinator, people, longhu):
    plain = services.broadcast_send(
        author=coordinator, text="注意安全", audience=Audience.TOWNSHIP, township=longhu
    )

    ws, boat = phone_of(people["elsewhere"]), phone_of(people["boatman"])

    async def scenario():
        await connected(ws)
        answers = []
        for frame in (
            {"type": "broadcast_read", "broadcast": plain.pk},
            {"type": "broadcast_read", "broadcast": "1"},
            {"type": "broadcast_read", "broadcast": 2**63},
            {"type": "broadcast_read"},
        ):
            await ws.send_json_to(frame)
            answers.append(await ws.receive_json_from(timeout=5))
        await connected(boat)
        await boat.send_json_to({"type": "broadcast_confirm", "broadcast": plain.pk})
        answers.append(await boat.receive_json_from(timeout=5))
        await ws.disconnect()
        await boat.disconnect()
        return answers

    answers = run(scenario)

    assert [answer["type"] for answer in answers] == ["error"] * 5
    assert answers[1]["reason"] == answers[3]["reason"] == "broadcast: expected int"
    assert answers[2]["reason"] == answers[0]["reason"]  # no such message
    assert "not a briefing" in answers[4]["reason"] or "不是" in answers[4]["reason"]
    assert not BroadcastReceipt.objects.filter(read_at__isnull=False).exists()


def test_a_phone_that_connects_gets_its_unread_messages(coordinator, people, longhu):
    boatman = people["boatman"]
    first, second = (
        services.broadcast_send(
            author=coordinator, text=text, audience=Audience.TOWNSHIP, township=longhu
        )
        for text in ("第一条", "第二条")
    )
    services.broadcast_mark_read(broadcast_id=first.pk, volunteer=boatman)

    ws = phone_of(boatman)

    async def scenario():
        frames = await connected(ws)
        await ws.disconnect()
        return frames

    frames = run(scenario)

    assert [frame["type"] for frame in frames] == ["hello", "snapshot", "broadcasts"]
    (unread,) = frames[-1]["broadcasts"]
    assert (unread["id"], unread["text"], unread["read_at"]) == (second.pk, "第二条", None)
    assert unread["author"] == "coordinator"
