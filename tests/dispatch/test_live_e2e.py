"""End to end over real sockets: a running uvicorn and Celery worker, on PostgreSQL and
the Redis channel layer, as a phone and a coordinator's screen use them."""

import asyncio
import json
import urllib.request

import pytest
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect

from dispatch.availability import index_rebuild
from dispatch.models import Assignment
from tests.dispatch.scenes import KM, SITE
from tests.processes import asgi_server, celery_worker, database_url_of_this_run, environment

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("live_index"),
]


def post(url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def open_socket(base: str, path: str, token: str):
    return await connect(
        base.replace("http", "ws") + path,
        subprotocols=["tongxin", f"token.{token}"],
        origin=base,
        open_timeout=10,
    )


async def next_frame(ws, wanted: str, *, kind: str | None = None) -> dict:
    """The next frame of this type (and event kind), within 20 s."""
    async with asyncio.timeout(20):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == wanted and (kind is None or frame.get("kind") == kind):
                return frame


def test_it_carries_an_offer_to_the_phone_and_the_answer_to_the_dashboard(
    coordinator, make_volunteer
):
    rescuer = make_volunteer(
        "13900000001", on_duty=True, last_latitude=SITE[0] + KM, last_longitude=SITE[1]
    )
    index_rebuild()
    phone_token = Token.objects.create(user=rescuer.user).key
    screen_token = Token.objects.create(user=coordinator).key
    env = environment(DATABASE_URL=database_url_of_this_run())
    rescue = {
        "kind": "medical", "title": "龙湖镇 老人摔伤", "latitude": SITE[0], "longitude": SITE[1],
        "priority": 4, "needs": [{"kind": "people", "skill": "rescue", "count": 1}],
    }  # fmt: skip

    async def scenario(base):
        phone = await open_socket(base, "/ws/volunteer/", phone_token)
        screen = await open_socket(base, "/ws/dashboard/", screen_token)
        await next_frame(phone, "snapshot")
        await next_frame(screen, "snapshot")
        incident = await asyncio.to_thread(post, f"{base}/api/incidents/", screen_token, rescue)
        offer = await next_frame(phone, "event", kind="offer.made")
        await phone.send(json.dumps({"type": "delivered", "assignment": offer["assignment"]}))
        await next_frame(phone, "ack")
        await phone.send(json.dumps({"type": "accept", "assignment": offer["assignment"]}))
        accepted = await next_frame(phone, "ack")
        on_screen = await next_frame(screen, "event", kind="offer.accepted")
        last_seen = on_screen["seq"]
        await screen.close()
        # While the screen is away, the rescuer sets off; back, it resumes from its seq.
        await phone.send(
            json.dumps({"type": "status", "assignment": offer["assignment"], "status": "en_route"})
        )
        await next_frame(phone, "ack")
        screen = await open_socket(base, f"/ws/dashboard/?since={last_seen}", screen_token)
        await next_frame(screen, "hello")
        missed = await next_frame(screen, "event")
        await screen.close()
        await phone.close()
        return incident, offer, accepted, missed

    # As docker-compose runs them: web on a connection pool, the worker's connections kept.
    web = {**env, "DB_POOL_MAX_SIZE": "4"}
    worker = {**env, "DB_CONN_MAX_AGE": "60"}
    with celery_worker(worker), asgi_server(web) as base:
        incident, offer, accepted, missed = asyncio.run(scenario(base))

    assert offer["incident"] == incident["id"]
    assert offer["volunteer"] == rescuer.pk
    assert accepted["status"] == "accepted"
    assert (missed["kind"], missed["assignment"]) == ("assignment.en_route", offer["assignment"])
    stored = Assignment.objects.get(pk=offer["assignment"])
    assert stored.delivered_at is not None
    assert stored.status == "en_route"
