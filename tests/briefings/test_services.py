"""Sending a broadcast to those on duty, the phones' receipts, and recording an
activity (briefings.services), on the test database."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from briefings import services
from briefings.models import Audience, Broadcast, BroadcastReceipt
from dispatch.models import DeploymentEvent, EventKind
from tests.briefings.conftest import KM, SITE
from volunteers.models import Skill, Team

pytestmark = pytest.mark.django_db


def recipients(broadcast) -> set[str]:
    return set(broadcast.receipts.values_list("volunteer__phone", flat=True))


def send(coordinator, **audience):
    return services.broadcast_send(
        author=coordinator, text="水位上涨，全体冲锋舟到龙湖镇", **audience
    )


def test_it_sends_to_those_on_duty_in_the_township_only(coordinator, people, longhu):
    broadcast = send(coordinator, audience=Audience.TOWNSHIP, township=longhu)

    assert recipients(broadcast) == {people["boatman"].phone, people["medic"].phone}
    assert broadcast.recipient_count == 2


def test_it_logs_one_event_with_the_audience_and_the_count(coordinator, people, longhu):
    broadcast = send(coordinator, audience=Audience.TOWNSHIP, township=longhu)

    (event,) = DeploymentEvent.objects.filter(kind=EventKind.BROADCAST_SENT)
    assert event.actor == coordinator
    assert event.volunteer_id is None
    assert event.data == {
        "broadcast": broadcast.pk,
        "audience": "township",
        "township": longhu.pk,
        "text": "水位上涨，全体冲锋舟到龙湖镇",
        "recipients": 2,
        "briefing": False,
    }


def test_it_sends_to_everyone_on_duty(coordinator, people):
    broadcast = send(coordinator, audience=Audience.ALL_ON_DUTY)

    assert recipients(broadcast) == {
        people[name].phone for name in ("boatman", "medic", "elsewhere")
    }


def test_it_sends_to_a_skill_and_to_a_team(coordinator, people):
    boats = send(
        coordinator, audience=Audience.SKILL, skill=Skill.objects.get(code="boat_operator")
    )
    team = Team.objects.create(name="蓝天救援队", kind=Team.Kind.RESCUE)
    team.members.add(people["medic"], people["resting"])
    blue_sky = send(coordinator, audience=Audience.TEAM, team=team)

    assert recipients(boats) == {people["boatman"].phone}
    assert recipients(blue_sky) == {people["medic"].phone}


def test_an_area_reaches_those_within_it_by_their_last_position_else_home(coordinator, people):
    # The boatman reported 1 km north, the medic lives 3 km north; the one 30 km south is out.
    near = send(
        coordinator, audience=Audience.AREA, latitude=SITE[0], longitude=SITE[1], radius_km=2
    )
    wider = send(
        coordinator, audience=Audience.AREA, latitude=SITE[0], longitude=SITE[1], radius_km=5
    )

    assert recipients(near) == {people["boatman"].phone}
    assert recipients(wider) == {people["boatman"].phone, people["medic"].phone}


def test_an_area_leaves_out_the_corners_of_its_box(coordinator, make_volunteer, longhu):
    # 1.5 km north and 1.5 km east: inside the 2 km box, 2.1 km from the centre.
    make_volunteer(
        "13900000009",
        township=longhu,
        on_duty=True,
        last_latitude=SITE[0] + 1.5 * KM,
        last_longitude=SITE[1] + 1.5 * KM / 0.823,
    )

    with pytest.raises(ValidationError) as refused:
        send(coordinator, audience=Audience.AREA, latitude=SITE[0], longitude=SITE[1], radius_km=2)

    assert "audience" in refused.value.message_dict


def test_it_refuses_an_audience_nobody_on_duty_is_in_and_writes_nothing(
    coordinator, people, make_volunteer
):
    team = Team.objects.create(name="空队", kind=Team.Kind.ASSOCIATION)
    team.members.add(people["resting"])

    with pytest.raises(ValidationError) as refused:
        send(coordinator, audience=Audience.TEAM, team=team)

    assert "audience" in refused.value.message_dict
    assert not Broadcast.objects.exists()
    assert not DeploymentEvent.objects.filter(kind=EventKind.BROADCAST_SENT).exists()


def test_a_briefing_carries_its_place_and_time_into_the_log(coordinator, people, longhu):
    at = timezone.now() + timedelta(hours=2)
    send(
        coordinator,
        audience=Audience.TOWNSHIP,
        township=longhu,
        briefing_place="龙湖镇政府门前",
        briefing_latitude=SITE[0],
        briefing_longitude=SITE[1],
        briefing_starts_at=at,
    )

    data = DeploymentEvent.objects.get(kind=EventKind.BROADCAST_SENT).data
    assert data["briefing"] is True
    assert data["briefing_place"] == "龙湖镇政府门前"
    assert data["briefing_starts_at"] == at.isoformat()


def test_a_briefing_without_a_place_is_refused_by_the_model(coordinator, people, longhu):
    with pytest.raises(ValidationError):
        send(
            coordinator,
            audience=Audience.TOWNSHIP,
            township=longhu,
            briefing_starts_at=timezone.now() + timedelta(hours=1),
        )


# --- receipts -------------------------------------------------------------------------


@pytest.fixture
def briefing(coordinator, people, longhu):
    return send(
        coordinator,
        audience=Audience.TOWNSHIP,
        township=longhu,
        briefing_place="龙湖镇政府",
        briefing_starts_at=timezone.now() + timedelta(hours=1),
    )


def receipt_of(broadcast, volunteer) -> BroadcastReceipt:
    return BroadcastReceipt.objects.get(broadcast=broadcast, volunteer=volunteer)


def test_the_first_delivery_report_wins(briefing, people):
    boatman = people["boatman"]

    assert services.broadcast_mark_delivered(broadcast_id=briefing.pk, volunteer=boatman)
    first = receipt_of(briefing, boatman).delivered_at
    assert not services.broadcast_mark_delivered(broadcast_id=briefing.pk, volunteer=boatman)

    assert receipt_of(briefing, boatman).delivered_at == first
    assert receipt_of(briefing, people["medic"]).delivered_at is None


def test_reading_marks_it_delivered_too(briefing, people):
    assert services.broadcast_mark_read(broadcast_id=briefing.pk, volunteer=people["medic"])

    receipt = receipt_of(briefing, people["medic"])
    assert receipt.delivered_at is not None
    assert receipt.read_at is not None
    assert receipt.confirmed_at is None


def test_confirming_a_briefing_marks_it_read_and_delivered(briefing, people):
    assert services.broadcast_confirm(broadcast_id=briefing.pk, volunteer=people["boatman"])
    assert not services.broadcast_confirm(broadcast_id=briefing.pk, volunteer=people["boatman"])

    receipt = receipt_of(briefing, people["boatman"])
    assert receipt.delivered_at and receipt.read_at and receipt.confirmed_at


def test_a_plain_message_cannot_be_confirmed(coordinator, people, longhu):
    message = send(coordinator, audience=Audience.TOWNSHIP, township=longhu)

    with pytest.raises(services.NotABriefing):
        services.broadcast_confirm(broadcast_id=message.pk, volunteer=people["boatman"])

    assert receipt_of(message, people["boatman"]).read_at is None


def test_a_message_sent_to_others_is_not_found(briefing, people):
    for volunteer in (people["elsewhere"], people["resting"]):
        with pytest.raises(services.NotYourMessage):
            services.broadcast_mark_read(broadcast_id=briefing.pk, volunteer=volunteer)
    with pytest.raises(services.NotYourMessage):
        services.broadcast_mark_read(broadcast_id=briefing.pk + 1000, volunteer=people["boatman"])

    assert not BroadcastReceipt.objects.filter(volunteer=people["elsewhere"]).exists()


# --- activities -----------------------------------------------------------------------


def test_it_records_a_safety_talk_with_its_staff_and_logs_it(coordinator, people, longhu):
    at = timezone.now() - timedelta(hours=3)
    talk = services.activity_record(
        recorded_by=coordinator,
        title="龙湖镇 防汛安全宣讲",
        address="龙湖镇中心广场",
        township=longhu,
        starts_at=at,
        ends_at=at + timedelta(hours=1),
        staff=[people["boatman"], people["medic"], people["boatman"]],
        audience_size=120,
    )

    assert set(talk.staff.values_list("phone", flat=True)) == {
        people["boatman"].phone,
        people["medic"].phone,
    }
    event = DeploymentEvent.objects.get(kind=EventKind.ACTIVITY_RECORDED)
    assert event.actor == coordinator
    assert event.data == {
        "activity": talk.pk,
        "kind": "safety_talk",
        "title": "龙湖镇 防汛安全宣讲",
        "starts_at": at.isoformat(),
        "audience_size": 120,
        "township": longhu.pk,
        "staff": sorted([people["boatman"].pk, people["medic"].pk]),
    }


def test_an_activity_ending_before_it_starts_is_refused(coordinator):
    at = timezone.now()

    with pytest.raises(ValidationError):
        services.activity_record(
            recorded_by=coordinator, title="宣讲", starts_at=at, ends_at=at - timedelta(hours=1)
        )

    assert not DeploymentEvent.objects.filter(kind=EventKind.ACTIVITY_RECORDED).exists()
