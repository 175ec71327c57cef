"""The WebSocket consumers through the real ASGI stack (origin check, session and
token authentication, routing), on the configured channel layer (Redis in CI)."""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.asgi import application
from dispatch import events, live, services
from dispatch.availability import index_rebuild
from dispatch.consumers import json_too_deep
from dispatch.events import DASHBOARD_GROUP, event_frame, event_record, volunteer_group
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from tests.dispatch.scenes import KM, SITE
from tests.dispatch.test_services import open_rescue
from volunteers.models import Vehicle, VehicleKind

ALLOWED_ORIGIN = b"http://testserver"

pytestmark = pytest.mark.usefixtures("live_index", "channel_layer")


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(path="/ws/dashboard/", *, cookie=None, origin=ALLOWED_ORIGIN, subprotocols=None):
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, path, headers=headers, subprotocols=subprotocols)


def run(scenario):
    """Run an async scenario from a sync test (the database is reached from threads,
    so the tests are transactional)."""
    return async_to_sync(scenario)()


def refused_with(ws) -> int | None:
    """The close code a client sees on connecting, or None when it was let in. A refused
    socket is accepted, then closed with its code: a browser sees that code, where a
    handshake refused outright reaches it as a bare 1006."""

    async def scenario():
        connected, code = await ws.connect()
        if not connected:
            return f"handshake refused ({code}): the browser sees 1006"
        output = await ws.receive_output(timeout=5)
        await ws.disconnect()
        return output["code"] if output["type"] == "websocket.close" else None

    return run(scenario)


async def frames_until(ws, frame_type: str, limit: int = 20) -> list[dict]:
    """Frames received up to and including the first of `frame_type`."""
    frames = []
    for _ in range(limit):
        frames.append(await ws.receive_json_from(timeout=5))
        if frames[-1]["type"] == frame_type:
            return frames
    raise AssertionError(f"no {frame_type} frame in {frames}")


async def pong_next(ws) -> dict:
    """The frame after a ping sent now. The consumer handles one message at a time, in
    order, so whatever it sent on connecting (a replay, a snapshot) comes before the
    pong: "nothing more" proven by an answer, not by a pause that hopes it was long
    enough."""
    await ws.send_json_to({"type": "ping"})
    return await ws.receive_json_from(timeout=5)


@pytest.fixture
def scene(coordinator, make_volunteer):
    """A rescuer on duty near a flood, an incident, and its offers made."""
    rescuer = make_volunteer(
        "13900000001", on_duty=True, last_latitude=SITE[0] + KM, last_longitude=SITE[1]
    )
    other = make_volunteer(
        "13900000002", on_duty=True, last_latitude=SITE[0] + 2 * KM, last_longitude=SITE[1]
    )
    index_rebuild()
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    return {
        "rescuer": rescuer,
        "other": other,
        "incident": incident,
        "offer": Assignment.objects.get(volunteer=rescuer),
        "others_offer": Assignment.objects.get(volunteer=other),
    }


# --- the handshake ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_page_from_another_site_even_with_a_valid_session(coordinator):
    ws = socket(cookie=session_cookie(coordinator), origin=b"https://evil.example")

    async def scenario():
        connected, _ = await ws.connect()
        return connected

    assert run(scenario) is False


@pytest.mark.django_db(transaction=True)
def test_it_refuses_anonymous_and_the_wrong_role(volunteer, coordinator):
    assert refused_with(socket()) == 4401
    assert refused_with(socket(cookie=session_cookie(volunteer.user))) == 4403
    assert refused_with(socket("/ws/volunteer/", cookie=session_cookie(coordinator))) == 4403


@pytest.mark.django_db(transaction=True)
def test_it_takes_a_phones_token_as_a_subprotocol_not_in_the_url(volunteer):
    key = Token.objects.create(user=volunteer.user).key
    ws = socket("/ws/volunteer/", subprotocols=["tongxin", f"token.{key}"])

    async def scenario():
        connected, subprotocol = await ws.connect()
        hello = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return connected, subprotocol, hello

    connected, subprotocol, hello = run(scenario)

    assert connected
    assert subprotocol == "tongxin"
    assert hello["role"] == "volunteer"
    wrong = socket("/ws/volunteer/", subprotocols=["tongxin", "token.not-a-token"])
    assert refused_with(wrong) == 4401


# --- the dashboard ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_gives_the_dashboard_a_snapshot_then_the_log_as_it_happens(coordinator, scene):
    cookie = session_cookie(coordinator)

    async def scenario():
        ws = socket(cookie=cookie)
        await ws.connect()
        first = await frames_until(ws, "snapshot")
        await database_sync_to_async(services.assignment_accept)(
            assignment_id=scene["offer"].pk, volunteer=scene["rescuer"]
        )
        accepted = await frames_until(ws, "event")
        await ws.disconnect()
        return first, accepted

    (hello, snapshot), accepted = run(scenario)

    assert hello["type"] == "hello"
    assert hello["last_seq"] == DeploymentEvent.objects.filter(seq__lte=hello["last_seq"]).count()
    [incident] = snapshot["incidents"]
    assert incident["id"] == scene["incident"].pk
    assert incident["needs"][0]["offered"] == 2
    assert incident["needs"][0]["filled"] == 0
    assert accepted[-1]["kind"] == "offer.accepted"
    assert accepted[-1]["seq"] == hello["last_seq"] + 1


@pytest.mark.django_db(transaction=True)
def test_it_joins_its_groups_before_it_reads_where_the_log_stands(coordinator, scene, monkeypatch):
    """An event that commits just after the socket read the log's position reaches it
    live. Joined to its groups only after that read, the socket would miss the event's
    frame, and the client, told a position below the event, would never ask for it."""
    read_position = live.last_seq
    committed = []

    def position_then_an_event_commits():
        position = read_position()
        if not committed:  # once, while this socket connects
            with transaction.atomic():
                event = event_record(kind=EventKind.VOLUNTEER_ON_DUTY, volunteer=scene["other"])
            committed.append(event.seq)
        return position

    monkeypatch.setattr(live, "last_seq", position_then_an_event_commits)
    ws = socket(cookie=session_cookie(coordinator))

    async def scenario():
        await ws.connect()
        frames = await frames_until(ws, "event")
        await ws.disconnect()
        return frames

    hello, snapshot, event = run(scenario)

    assert snapshot["type"] == "snapshot"
    assert committed == [hello["last_seq"] + 1]
    assert event["seq"] == committed[0]


@pytest.mark.django_db(transaction=True)
def test_it_replays_what_a_dropped_dashboard_missed_and_nothing_else(coordinator, scene):
    cookie = session_cookie(coordinator)
    opened = DeploymentEvent.objects.get(kind="incident.opened").seq
    missed = list(DeploymentEvent.objects.filter(seq__gt=opened).values_list("seq", flat=True))

    async def scenario():
        ws = socket(f"/ws/dashboard/?since={opened}", cookie=cookie)
        await ws.connect()
        frames = [await ws.receive_json_from(timeout=5) for _ in range(1 + len(missed))]
        after = await pong_next(ws)
        await ws.disconnect()
        return frames, after

    frames, after = run(scenario)

    assert frames[0]["type"] == "hello"
    assert [frame["seq"] for frame in frames[1:]] == missed
    assert after == {"type": "pong"}  # nothing more


@pytest.mark.django_db(transaction=True)
def test_it_sends_a_fresh_snapshot_to_a_client_too_far_behind(coordinator, scene, settings):
    settings.WS_REPLAY_LIMIT = 2
    cookie = session_cookie(coordinator)

    async def scenario():
        ws = socket("/ws/dashboard/?since=0", cookie=cookie)
        await ws.connect()
        frames = await frames_until(ws, "snapshot")
        await ws.disconnect()
        return frames

    assert [frame["type"] for frame in run(scenario)] == ["hello", "resync", "snapshot"]


# --- the volunteer's phone ------------------------------------------------------------------


def volunteer_socket(volunteer, since=None):
    path = "/ws/volunteer/" + (f"?since={since}" if since is not None else "")
    return socket(path, cookie=session_cookie(volunteer.user))


@pytest.mark.django_db(transaction=True)
def test_it_shows_a_volunteer_only_their_own_offers(scene):
    ws = volunteer_socket(scene["rescuer"])

    async def scenario():
        await ws.connect()
        frames = await frames_until(ws, "snapshot")
        await ws.disconnect()
        return frames

    _, snapshot = run(scenario)

    assert [a["id"] for a in snapshot["assignments"]] == [scene["offer"].pk]
    assert snapshot["volunteer"]["id"] == scene["rescuer"].pk


@pytest.mark.django_db(transaction=True)
def test_it_records_delivery_and_sight_once_and_accepts_over_the_socket(scene):
    ws = volunteer_socket(scene["rescuer"])
    offer = scene["offer"].pk

    async def scenario():
        await ws.connect()
        await frames_until(ws, "snapshot")
        answers = []
        for request in (
            {"type": "delivered", "assignment": offer, "ref": "d1"},
            {"type": "delivered", "assignment": offer, "ref": "d2"},
            {"type": "seen", "assignment": offer, "ref": "s1"},
            {"type": "accept", "assignment": offer, "ref": "a1"},
            {"type": "accept", "assignment": scene["others_offer"].pk, "ref": "a2"},
        ):
            await ws.send_json_to(request)
            answers.append(await frames_until(ws, "ack" if request["ref"] != "a2" else "error"))
        await ws.disconnect()
        return [frames[-1] for frames in answers]

    delivered, again, seen, accepted, not_mine = run(scenario)

    assert delivered == {"type": "ack", "ref": "d1", "assignment": offer, "first": True}
    assert again["first"] is False
    assert seen["first"] is True
    assert accepted == {"type": "ack", "ref": "a1", "assignment": offer, "status": "accepted"}
    # The phone names no language: the site's.
    assert not_mine == {"type": "error", "ref": "a2", "reason": "这不是派给您的任务。"}
    stored = Assignment.objects.get(pk=offer)
    assert stored.delivered_at and stored.seen_at and stored.status == AssignmentStatus.ACCEPTED
    kinds = list(DeploymentEvent.objects.filter(assignment_id=offer).values_list("kind", flat=True))
    assert kinds == ["offer.made", "offer.delivered", "offer.seen", "offer.accepted"]


@pytest.mark.django_db(transaction=True)
def test_it_answers_bad_frames_with_an_error_and_stays_open(scene):
    ws = volunteer_socket(scene["rescuer"])
    before = DeploymentEvent.objects.count()
    bad_frames = [
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"type": "dance"}),
        json.dumps({"type": "accept"}),
        json.dumps({"type": "accept", "assignment": "1"}),
        json.dumps({"type": "accept", "assignment": 999999}),
        json.dumps({"type": "status", "assignment": scene["offer"].pk, "status": "flying"}),
        json.dumps({"type": "location", "latitude": 91, "longitude": 113.7}),
        json.dumps({"type": "location", "latitude": "north", "longitude": 113.7}),
        json.dumps({"type": "duty", "on_duty": "yes"}),
    ]

    async def scenario():
        await ws.connect()
        await frames_until(ws, "snapshot")
        answers = []
        for frame in bad_frames:
            await ws.send_to(text_data=frame)
            answers.append(await ws.receive_json_from(timeout=5))
        await ws.send_json_to({"type": "ping"})
        pong = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return answers, pong

    answers, pong = run(scenario)

    assert [answer["type"] for answer in answers] == ["error"] * len(bad_frames)
    assert all(answer["reason"] for answer in answers)
    assert pong == {"type": "pong"}
    assert DeploymentEvent.objects.count() == before
    assert Assignment.objects.get(pk=scene["offer"].pk).status == AssignmentStatus.OFFERED


@pytest.mark.django_db(transaction=True)
def test_it_closes_on_an_oversized_frame_and_on_a_flood(scene, settings):
    settings.WS_RATE_LIMIT_PER_MINUTE = 5
    big = volunteer_socket(scene["rescuer"])
    flood = volunteer_socket(scene["rescuer"])

    async def scenario():
        await big.connect()
        await frames_until(big, "snapshot")
        await big.send_to(text_data=json.dumps({"type": "ping", "pad": "x" * 10_000}))
        big_closed = await big.receive_output(timeout=5)

        await flood.connect()
        await frames_until(flood, "snapshot")
        for _ in range(6):
            await flood.send_json_to({"type": "ping"})
        frames = [await flood.receive_output(timeout=5) for _ in range(12)]
        return big_closed, frames

    big_closed, frames = run(scenario)

    assert big_closed == {"type": "websocket.close", "code": 1009}
    assert frames[-1] == {"type": "websocket.close", "code": 4429}
    assert json.loads(frames[-2]["text"]) == {"type": "error", "reason": "too many messages"}


@pytest.mark.django_db(transaction=True)
def test_it_replays_a_volunteers_own_events_only(scene):
    opened = DeploymentEvent.objects.get(kind="incident.opened").seq
    mine = list(
        DeploymentEvent.objects.filter(volunteer=scene["rescuer"]).values_list("seq", flat=True)
    )
    ws = volunteer_socket(scene["rescuer"], since=opened)

    async def scenario():
        await ws.connect()
        frames = [await ws.receive_json_from(timeout=5) for _ in range(1 + len(mine))]
        after = await pong_next(ws)
        await ws.disconnect()
        return frames, after

    frames, after = run(scenario)

    assert [frame["seq"] for frame in frames[1:]] == mine
    assert all(frame["volunteer"] == scene["rescuer"].pk for frame in frames[1:])
    assert after == {"type": "pong"}  # nothing more


# --- frames in seq order, once ----------------------------------------------------------


def unpublished_events(monkeypatch, *volunteers) -> list[DeploymentEvent]:
    """One committed event per volunteer whose publication has not reached anyone yet,
    as when another process commits and its frames are still on their way."""
    monkeypatch.setattr(events, "events_send", lambda batch: 0)
    recorded = []
    for volunteer in volunteers:
        with transaction.atomic():
            recorded.append(event_record(kind=EventKind.VOLUNTEER_ON_DUTY, volunteer=volunteer))
    monkeypatch.undo()
    return recorded


async def publish_late(event: DeploymentEvent, *groups: str):
    """Send an event's frame to groups, as a slow publisher (or the relay) would."""
    frame = await database_sync_to_async(event_frame)(event)
    for group in groups:
        await get_channel_layer().group_send(group, {"type": "log.event", "event": frame})


async def frames_before_a_last_event(ws, monkeypatch, volunteer, group: str) -> list[dict]:
    """The frames the socket gets before one more event, committed now and published to
    `group` after everything the test sent there. A consumer gets its channel's
    messages in the order they were sent and handles them one at a time, so a frame it
    wrongly let through would arrive before this one: "nothing more" proven by a frame
    that must come next, not by a pause that hopes it was long enough."""
    (last,) = await database_sync_to_async(unpublished_events)(monkeypatch, volunteer)
    await publish_late(last, group)
    frames = []
    while (frame := await ws.receive_json_from(timeout=5)).get("seq") != last.seq:
        frames.append(frame)
    return frames


@pytest.mark.django_db(transaction=True)
def test_it_fills_a_gap_from_the_log_so_the_dashboard_gets_frames_in_order(
    coordinator, scene, monkeypatch
):
    ws = socket(cookie=session_cookie(coordinator))

    async def scenario():
        await ws.connect()
        await frames_until(ws, "snapshot")
        first, second = await database_sync_to_async(unpublished_events)(
            monkeypatch, scene["rescuer"], scene["other"]
        )
        # The second event's frame arrives first; the first's is still on its way.
        await publish_late(second, DASHBOARD_GROUP)
        frames = [await ws.receive_json_from(timeout=5) for _ in range(2)]
        # Then the late frame, and the relay's second publication: both already sent.
        await publish_late(first, DASHBOARD_GROUP)
        await publish_late(second, DASHBOARD_GROUP)
        more = await frames_before_a_last_event(ws, monkeypatch, scene["rescuer"], DASHBOARD_GROUP)
        await ws.disconnect()
        return [first.seq, second.seq], frames, more

    seqs, frames, more = run(scenario)

    assert [frame["seq"] for frame in frames] == seqs
    assert more == []


@pytest.mark.django_db(transaction=True)
def test_it_fills_a_phones_gap_with_its_own_events_only(scene, monkeypatch):
    rescuer, other = scene["rescuer"], scene["other"]
    ws = volunteer_socket(rescuer)

    async def scenario():
        await ws.connect()
        await frames_until(ws, "snapshot")
        mine, theirs, mine_too = await database_sync_to_async(unpublished_events)(
            monkeypatch, rescuer, other, rescuer
        )
        await publish_late(mine_too, volunteer_group(rescuer.pk))
        frames = [await ws.receive_json_from(timeout=5) for _ in range(2)]
        more = await frames_before_a_last_event(
            ws, monkeypatch, rescuer, volunteer_group(rescuer.pk)
        )
        await ws.disconnect()
        return [mine.seq, mine_too.seq], frames, more, theirs.seq

    seqs, frames, more, theirs = run(scenario)

    assert [frame["seq"] for frame in frames] == seqs
    assert theirs not in [frame["seq"] for frame in frames]
    assert more == []


@pytest.mark.django_db(transaction=True)
def test_it_does_not_send_again_a_frame_the_replay_sent(coordinator, scene, monkeypatch):
    opened = DeploymentEvent.objects.get(kind="incident.opened")
    missed = DeploymentEvent.objects.filter(seq__gt=opened.seq).count()
    ws = socket(f"/ws/dashboard/?since={opened.seq - 1}", cookie=session_cookie(coordinator))

    async def scenario():
        await ws.connect()
        frames = [await ws.receive_json_from(timeout=5) for _ in range(2 + missed)]
        # A publication of the opening that was still on its way during the replay.
        await publish_late(opened, DASHBOARD_GROUP)
        more = await frames_before_a_last_event(ws, monkeypatch, scene["rescuer"], DASHBOARD_GROUP)
        await ws.disconnect()
        return frames, more

    frames, more = run(scenario)

    assert frames[1]["seq"] == opened.seq
    assert more == []


# --- what a phone is told, in its language ----------------------------------------------------


def phone_socket(volunteer, *, accept_language=None, language_cookie=None):
    """A volunteer's socket from a browser with these languages and language switch."""
    cookie = session_cookie(volunteer.user)
    if language_cookie:
        cookie += f"; {settings.LANGUAGE_COOKIE_NAME}={language_cookie}".encode()
    headers = [(b"origin", ALLOWED_ORIGIN), (b"host", b"testserver"), (b"cookie", cookie)]
    if accept_language:
        headers.append((b"accept-language", accept_language.encode()))
    return WebsocketCommunicator(application, "/ws/volunteer/", headers=headers)


async def answer_to(ws, request: dict) -> dict:
    await ws.send_json_to(request)
    frames = await frames_until(ws, "error" if request.get("ref") == "refused" else "ack")
    return frames[-1]


FILLED_ZH = "已满员：此任务已不需要您，谢谢。"
FILLED_EN = "Already filled: this task no longer needs you. Thank you."


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("accept_language", "language_cookie", "reason"),
    [
        ("zh-CN,zh;q=0.9", None, FILLED_ZH),
        ("en-US,en;q=0.9", None, FILLED_EN),
        ("en-US,en;q=0.9", "zh-hans", FILLED_ZH),  # the pages' language switch wins
        ("zh-CN,zh;q=0.9", "en", FILLED_EN),
        (None, None, FILLED_ZH),  # no preference: the site's language
    ],
    ids=["chinese", "english", "switched-to-chinese", "switched-to-english", "default"],
)
def test_it_says_why_an_offer_closed_in_the_volunteers_language(
    scene, accept_language, language_cookie, reason
):
    services.assignment_accept(assignment_id=scene["others_offer"].pk, volunteer=scene["other"])
    ws = phone_socket(
        scene["rescuer"], accept_language=accept_language, language_cookie=language_cookie
    )

    async def scenario():
        await ws.connect()
        await frames_until(ws, "snapshot")
        refused = await answer_to(
            ws, {"type": "accept", "assignment": scene["offer"].pk, "ref": "refused"}
        )
        await ws.disconnect()
        return refused

    assert run(scenario) == {"type": "error", "ref": "refused", "reason": reason}
    assert Assignment.objects.get(pk=scene["offer"].pk).status == AssignmentStatus.WITHDRAWN


@pytest.mark.django_db(transaction=True)
def test_it_answers_two_phones_at_once_each_in_its_own_language(scene):
    chinese = phone_socket(scene["rescuer"], accept_language="zh-CN")
    english = phone_socket(scene["other"], accept_language="en")
    nowhere = {"type": "location", "latitude": 91.0, "longitude": 113.7, "ref": "refused"}

    async def scenario():
        for ws in (chinese, english):
            await ws.connect()
            await frames_until(ws, "snapshot")
        # Both sockets' requests are in flight together, on one event loop.
        answers = await asyncio.gather(answer_to(chinese, nowhere), answer_to(english, nowhere))
        for ws in (chinese, english):
            await ws.disconnect()
        return answers

    zh, en = run(scenario)

    assert zh["reason"] == "纬度须在 [-90, 90] 之间，经度须在 [-180, 180] 之间。"
    assert en["reason"] == "Latitude must lie in [-90, 90] and longitude in [-180, 180]."


@pytest.mark.django_db(transaction=True)
def test_it_gives_a_phone_its_offers_as_the_rest_api_does(scene):
    rescuer = scene["rescuer"]
    services.offer_mark_delivered(assignment_id=scene["offer"].pk, volunteer=rescuer)
    ws = volunteer_socket(rescuer)
    api = APIClient()
    api.force_authenticate(rescuer.user)

    async def scenario():
        await ws.connect()
        frames = await frames_until(ws, "snapshot")
        await ws.disconnect()
        return frames[-1]

    snapshot = run(scenario)

    over_rest = api.get("/api/me/assignments/", {"open": 1}).json()["results"]
    assert snapshot["assignments"] == over_rest
    (offer,) = snapshot["assignments"]
    assert offer["incident_kind"] == "flood_rescue"
    assert (offer["need_kind"], offer["need_skill"]) == ("people", "rescue")
    assert offer["volunteer_name"] == rescuer.name
    assert offer["delivered_at"] is not None and offer["seen_at"] is None


@pytest.mark.django_db(transaction=True)
def test_it_replays_to_a_crew_member_the_events_of_their_vehicle(scene, township):
    rescuer = scene["rescuer"]
    truck = Vehicle.objects.create(
        call_sign="抢险车 9",
        kind=VehicleKind.TRUCK,
        township=township,
        capacity=6,
        max_water_depth_m=0.6,
    )
    truck.crew.add(rescuer)
    opened = DeploymentEvent.objects.get(kind="incident.opened").seq
    with transaction.atomic():
        trucks = event_record(kind=EventKind.VEHICLE_STATUS, vehicle=truck)
    mine = list(DeploymentEvent.objects.filter(volunteer=rescuer).values_list("seq", flat=True))
    ws = volunteer_socket(rescuer, since=opened)

    async def scenario():
        await ws.connect()
        frames = [await ws.receive_json_from(timeout=5) for _ in range(2 + len(mine))]
        after = await pong_next(ws)
        await ws.disconnect()
        return frames, after

    frames, after = run(scenario)

    assert [frame["seq"] for frame in frames[1:]] == [*mine, trucks.seq]
    assert frames[-1]["vehicle"] == truck.pk
    assert after == {"type": "pong"}  # nothing more


# --- frames nested too deeply -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        ('{"type": "ping"}', False),
        ("[" * 64 + "]" * 64, False),
        ("[" * 65 + "]" * 65, True),
        ('{"a": "' + "[" * 100 + '"}', False),  # brackets in a string are text
        ('{"a": "\\"' + "[" * 100 + '"}', False),  # after an escaped quote too
        ('{"a":' * 70 + "1" + "}" * 70, True),
    ],
)
def test_it_knows_json_nested_too_deeply_to_read_whatever_the_stack(text, too_deep):
    assert json_too_deep(text) is too_deep
