"""Sockets that live for weeks (dispatch.consumers.LiveConsumer._watch): they keep
receiving past the channel layer's group expiry, and a user who is deactivated, whose
token or session is revoked, or who loses the role, is closed out."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.authtoken.models import Token

from dispatch.events import volunteer_group
from tests.dispatch.test_consumers import frames_until, run, session_cookie, socket
from volunteers.roles import Role

pytestmark = [
    pytest.mark.usefixtures("live_index", "channel_layer"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def quick_rechecks(settings):
    settings.WS_RECHECK_SECONDS = 0.05


def phone_socket(volunteer):
    key = Token.objects.create(user=volunteer.user).key
    return socket("/ws/volunteer/", subprotocols=["tongxin", f"token.{key}"]), key


async def connected(ws) -> int:
    """Connect and read the socket's first frames; the log position it stands at."""
    ok, _subprotocol = await ws.connect()
    assert ok
    frames = await frames_until(ws, "snapshot")
    return frames[0]["last_seq"]


def closed_with(ws, change) -> int:
    """Connect, make `change` (in the database), and return the close code the socket
    gets; a socket that stays open fails the test when the wait runs out."""

    async def scenario():
        await connected(ws)
        await change()
        output = await ws.receive_output(timeout=5)
        assert output["type"] == "websocket.close", output
        return output["code"]

    return run(scenario)


def in_thread(function):
    return database_sync_to_async(function)


def test_it_closes_a_phone_whose_token_is_revoked(volunteer):
    ws, key = phone_socket(volunteer)

    code = closed_with(ws, in_thread(lambda: Token.objects.filter(key=key).delete()))

    assert code == 4401


def test_it_closes_the_socket_of_a_deactivated_member(volunteer):
    ws, _key = phone_socket(volunteer)

    def deactivate():
        volunteer.user.is_active = False
        volunteer.user.save(update_fields=["is_active"])

    assert closed_with(ws, in_thread(deactivate)) == 4401


def test_it_closes_a_dashboard_whose_session_signed_out(coordinator):
    client = Client()
    client.force_login(coordinator)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    ws = socket("/ws/dashboard/", cookie=cookie)

    assert closed_with(ws, in_thread(client.logout)) == 4401


def test_it_closes_a_dashboard_of_someone_no_longer_coordinator(coordinator):
    ws = socket("/ws/dashboard/", cookie=session_cookie(coordinator))

    def demote():
        coordinator.groups.remove(Group.objects.get(name=Role.COORDINATOR))

    assert closed_with(ws, in_thread(demote)) == 4403


def test_it_keeps_a_socket_receiving_past_the_group_expiry(volunteer):
    layer = get_channel_layer()
    ws, _key = phone_socket(volunteer)

    async def scenario():
        layer.group_expiry = 1  # a day, shortened: members older than this are dropped
        try:
            last_seq = await connected(ws)
            await asyncio.sleep(1.5)  # the membership made on connecting has lapsed
            frame = {"type": "event", "seq": last_seq + 1, "kind": "offer.made"}
            await layer.group_send(
                volunteer_group(volunteer.pk), {"type": "log.event", "event": frame}
            )
            return await ws.receive_json_from(timeout=5)
        finally:
            layer.group_expiry = 86400
            await ws.disconnect()

    frame = run(scenario)

    assert frame["kind"] == "offer.made"
