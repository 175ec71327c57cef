"""The phone page's state (phone.views.phone_state) carries the volunteer's unread
messages, so a page opened or refreshed without a socket shows them too."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from briefings import services
from briefings.models import Audience, Broadcast

pytestmark = pytest.mark.django_db


def state_of(volunteer) -> dict:
    client = Client()
    client.force_login(volunteer.user)
    return client.get("/phone/state/").json()


def test_the_state_has_the_unread_messages_newest_first(coordinator, people, longhu):
    boatman = people["boatman"]
    first = services.broadcast_send(
        author=coordinator,
        text="集合",
        audience=Audience.TOWNSHIP,
        township=longhu,
        briefing_place="龙湖镇政府",
        briefing_starts_at=timezone.now() + timedelta(hours=1),
    )
    second = services.broadcast_send(
        author=coordinator, text="水位上涨", audience=Audience.ALL_ON_DUTY
    )

    messages = state_of(boatman)["messages"]
    assert [message["id"] for message in messages] == [second.pk, first.pk]
    assert messages[1]["briefing"]["place"] == "龙湖镇政府"
    assert messages[0]["briefing"] is None

    services.broadcast_mark_read(broadcast_id=second.pk, volunteer=boatman)
    assert [message["id"] for message in state_of(boatman)["messages"]] == [first.pk]
    assert state_of(people["resting"])["messages"] == []


def test_old_unread_messages_are_left_out(coordinator, people, longhu):
    old = services.broadcast_send(
        author=coordinator, text="三天前", audience=Audience.TOWNSHIP, township=longhu
    )
    Broadcast.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=4))

    assert state_of(people["boatman"])["messages"] == []
