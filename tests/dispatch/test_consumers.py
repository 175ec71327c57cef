"""/ws/dashboard/ through the real ASGI stack (origin check, session auth, routing)."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from tests.incidents.test_services import open_flood_rescue

ALLOWED_ORIGIN = b"http://testserver"


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def dashboard_socket(*, cookie: bytes | None = None, origin: bytes = ALLOWED_ORIGIN):
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/dashboard/", headers=headers)


def connect_and_close(socket) -> tuple[bool, object]:
    async def run():
        connected, code = await socket.connect()
        await socket.disconnect()
        return connected, code

    return async_to_sync(run)()


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_page_from_another_site_even_with_a_valid_session(coordinator):
    socket = dashboard_socket(cookie=session_cookie(coordinator), origin=b"https://evil.example")

    connected, _ = connect_and_close(socket)

    assert not connected


@pytest.mark.django_db(transaction=True)
def test_it_refuses_anonymous_and_volunteers(volunteer):
    assert connect_and_close(dashboard_socket()) == (False, 4403)
    assert connect_and_close(dashboard_socket(cookie=session_cookie(volunteer.user))) == (
        False,
        4403,
    )


@pytest.mark.django_db(transaction=True)
def test_it_streams_the_log_to_a_coordinator_from_where_it_stands(coordinator, channel_layer):
    cookie = session_cookie(coordinator)

    async def run():
        socket = dashboard_socket(cookie=cookie)
        connected, _ = await socket.connect()
        assert connected
        hello = await socket.receive_json_from(timeout=5)
        incident = await database_sync_to_async(open_flood_rescue)(coordinator)
        event = await socket.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "dance"})
        error = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return hello, incident, event, error

    hello, incident, event, error = async_to_sync(run)()

    assert hello == {"type": "hello", "last_seq": 0}
    assert event["type"] == "event"
    assert event["kind"] == "incident.opened"
    assert event["seq"] == 1
    assert event["incident"] == incident.pk
    assert error == {"type": "error", "reason": "unknown message type: 'dance'"}
