"""The broadcasts' and activities' REST API: who may do what, the receipts counted, and
bad input refused with a 400 naming the field, changing nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from briefings import services
from briefings.models import Activity, Audience, Broadcast, BroadcastReceipt
from dispatch.models import DeploymentEvent, EventKind
from tests.briefings.conftest import SITE

pytestmark = pytest.mark.django_db

URL = "/api/broadcasts/"


def to_longhu(longhu, **more) -> dict:
    return {
        "text": "水位上涨，冲锋舟到龙湖镇",
        "audience": "township",
        "township": longhu.pk,
    } | more


def later(hours: float = 1) -> str:
    return (timezone.now() + timedelta(hours=hours)).isoformat()


def test_a_coordinator_sends_a_briefing_and_gets_its_counts(api, coordinator, people, longhu):
    response = api(coordinator).post(
        URL,
        to_longhu(longhu, briefing_place="龙湖镇政府", briefing_starts_at=later()),
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["audience"] == "township"
    assert body["audience_label"] == "龙湖镇"
    assert body["author"] == "coordinator"
    assert body["briefing_place"] == "龙湖镇政府"
    assert body["receipts"] == {"total": 2, "delivered": 0, "read": 0, "confirmed": 0, "texted": 0}
    assert BroadcastReceipt.objects.filter(broadcast_id=body["id"]).count() == 2


def test_the_counts_follow_the_receipts(api, coordinator, commander, people, longhu):
    broadcast = services.broadcast_send(
        author=coordinator,
        text="集合",
        audience=Audience.TOWNSHIP,
        township=longhu,
        briefing_place="龙湖镇政府",
        briefing_starts_at=timezone.now() + timedelta(hours=1),
    )
    services.broadcast_confirm(broadcast_id=broadcast.pk, volunteer=people["boatman"])
    services.broadcast_mark_delivered(broadcast_id=broadcast.pk, volunteer=people["medic"])
    BroadcastReceipt.objects.filter(volunteer=people["medic"]).update(sms_sent_at=timezone.now())

    detail = api(commander).get(f"{URL}{broadcast.pk}/").json()
    listed = api(coordinator).get(URL).json()["results"]

    expected = {"total": 2, "delivered": 2, "read": 1, "confirmed": 1, "texted": 1}
    assert detail["receipts"] == expected
    assert [row["id"] for row in listed] == [broadcast.pk]
    assert listed[0]["receipts"] == expected


def test_an_area_message_names_its_circle(api, coordinator, people):
    response = api(coordinator).post(
        URL,
        {
            "text": "洪水",
            "audience": "area",
            "latitude": SITE[0],
            "longitude": SITE[1],
            "radius_km": 5,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["receipts"]["total"] == 2


def test_only_coordinators_send_and_volunteers_do_not_list(api, commander, people, longhu):
    assert api(commander).post(URL, to_longhu(longhu), format="json").status_code == 403
    assert (
        api(people["boatman"].user).post(URL, to_longhu(longhu), format="json").status_code == 403
    )
    assert api(people["boatman"].user).get(URL).status_code == 403
    assert api().get(URL).status_code == 403
    assert not Broadcast.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"township": None}, "township"),
        ({"audience": "team", "township": None}, "team"),
        ({"audience": "skill", "township": None, "skill": "no-such-skill"}, "skill"),
        ({"audience": "area", "township": None, "latitude": SITE[0]}, "longitude"),
        ({"audience": "area", "township": None, "latitude": 91, "longitude": 113}, "latitude"),
        ({"audience": "all_on_duty"}, "township"),  # given, not used by that audience
        ({"audience": "everyone"}, "audience"),
        ({"text": ""}, "text"),
        ({"text": "x" * 501}, "text"),
        ({"briefing_place": "龙湖镇政府"}, "briefing_starts_at"),
        ({"briefing_starts_at": "tomorrow"}, "briefing_starts_at"),
        ({"briefing_place": "龙湖镇政府", "briefing_starts_at": later(-1)}, "briefing_starts_at"),
        (
            {"briefing_place": "龙湖镇政府", "briefing_starts_at": later(24 * 31)},
            "briefing_starts_at",
        ),
        ({"briefing_starts_at": later()}, "briefing_place"),
        (
            {
                "briefing_place": "龙湖镇政府",
                "briefing_starts_at": later(),
                "briefing_latitude": 34.6,
            },
            "briefing_longitude",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_sends_nothing(
    api, coordinator, people, longhu, body, field
):
    # A None leaves the field out.
    request = {key: value for key, value in (to_longhu(longhu) | body).items() if value is not None}

    response = api(coordinator).post(URL, request, format="json")

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Broadcast.objects.exists()
    assert not DeploymentEvent.objects.filter(kind=EventKind.BROADCAST_SENT).exists()


def test_an_audience_nobody_on_duty_is_in_is_a_400(api, coordinator, make_volunteer, longhu):
    make_volunteer("13900000008", township=longhu, on_duty=False)

    response = api(coordinator).post(URL, to_longhu(longhu), format="json")

    assert response.status_code == 400
    assert "audience" in response.json()


def test_a_retry_with_the_same_key_sends_nothing_twice(api, coordinator, people, longhu):
    client = api(coordinator)
    headers = {"Idempotency-Key": "broadcast-1"}

    first = client.post(URL, to_longhu(longhu), format="json", headers=headers)
    again = client.post(URL, to_longhu(longhu), format="json", headers=headers)

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert Broadcast.objects.count() == 1


# --- the volunteer's own ----------------------------------------------------------------


@pytest.fixture
def briefing(coordinator, people, longhu):
    return services.broadcast_send(
        author=coordinator,
        text="防汛安全会",
        audience=Audience.TOWNSHIP,
        township=longhu,
        briefing_place="龙湖镇政府",
        briefing_starts_at=timezone.now() + timedelta(hours=1),
    )


def test_a_phone_without_a_socket_reads_and_confirms_over_rest(api, briefing, people):
    client = api(people["boatman"].user)

    unread = client.get("/api/me/broadcasts/").json()
    read = client.post(f"/api/me/broadcasts/{briefing.pk}/read/")
    confirmed = client.post(f"/api/me/broadcasts/{briefing.pk}/confirm/")
    again = client.post(f"/api/me/broadcasts/{briefing.pk}/confirm/")

    assert [row["id"] for row in unread] == [briefing.pk]
    assert unread[0]["briefing"]["place"] == "龙湖镇政府"
    assert read.json() == {"broadcast": briefing.pk, "first": True}
    assert confirmed.json() == {"broadcast": briefing.pk, "first": True}
    assert again.json() == {"broadcast": briefing.pk, "first": False}
    assert client.get("/api/me/broadcasts/").json() == []
    receipt = BroadcastReceipt.objects.get(broadcast=briefing, volunteer=people["boatman"])
    assert receipt.delivered_at and receipt.read_at and receipt.confirmed_at


def test_someone_elses_message_is_a_404_and_a_plain_one_cannot_be_confirmed(
    api, coordinator, briefing, people, longhu
):
    plain = services.broadcast_send(
        author=coordinator, text="注意", audience=Audience.TOWNSHIP, township=longhu
    )

    elsewhere = api(people["elsewhere"].user).post(f"/api/me/broadcasts/{briefing.pk}/read/")
    confirm_plain = api(people["boatman"].user).post(f"/api/me/broadcasts/{plain.pk}/confirm/")
    coordinator_reads = api(coordinator).post(f"/api/me/broadcasts/{briefing.pk}/read/")

    assert elsewhere.status_code == 404
    assert confirm_plain.status_code == 409
    assert "detail" in confirm_plain.json()
    assert coordinator_reads.status_code == 403
    assert not BroadcastReceipt.objects.filter(read_at__isnull=False).exists()


# --- activities -------------------------------------------------------------------------


def test_a_coordinator_records_a_safety_talk(api, coordinator, commander, people, longhu):
    starts = timezone.now() - timedelta(hours=2)
    response = api(coordinator).post(
        "/api/activities/",
        {
            "title": "龙湖镇 防汛安全宣讲",
            "address": "龙湖镇中心广场",
            "township": longhu.pk,
            "latitude": SITE[0],
            "longitude": SITE[1],
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(),
            "staff": [people["boatman"].pk, people["medic"].pk],
            "audience_size": 120,
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "safety_talk"
    assert sorted(response.json()["staff"]) == sorted([people["boatman"].pk, people["medic"].pk])
    listed = api(commander).get("/api/activities/").json()["results"]
    assert [row["title"] for row in listed] == ["龙湖镇 防汛安全宣讲"]
    assert DeploymentEvent.objects.filter(kind=EventKind.ACTIVITY_RECORDED).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"starts_at": "0846-01-23T07:57:29+08:00"}, "starts_at"),
        ({"ends_at": "2021-07-20T09:00:00+08:00"}, "ends_at"),
        ({"audience_size": -1}, "audience_size"),
        ({"staff": [999999]}, "staff"),
        ({"kind": "concert"}, "kind"),
        ({"latitude": 34.6}, "longitude"),
    ],
)
def test_a_bad_activity_is_a_400_naming_the_field(api, coordinator, body, field):
    talk = {"title": "宣讲", "starts_at": "2021-07-20T10:00:00+08:00", "audience_size": 50}

    response = api(coordinator).post("/api/activities/", talk | body, format="json")

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Activity.objects.exists()


def test_only_coordinators_record_activities(api, commander, people):
    talk = {"title": "宣讲", "starts_at": "2021-07-20T10:00:00+08:00"}

    assert api(commander).post("/api/activities/", talk, format="json").status_code == 403
    assert api(people["boatman"].user).get("/api/activities/").status_code == 403
