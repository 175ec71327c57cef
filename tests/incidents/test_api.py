import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent
from incidents.models import Incident

FLOOD_RESCUE = {
    "kind": "flood_rescue",
    "title": "龙湖镇 积水 群众被困",
    "latitude": 34.61,
    "longitude": 113.68,
    "address": "龙湖镇 泰山村",
    "priority": 4,
    "people_affected": 40,
    "needs": [
        {"kind": "people", "skill": "rescue", "count": 4},
        {"kind": "vehicle", "vehicle_kind": "boat", "count": 2},
        {"kind": "capability", "people_to_move": 40, "water_depth_m": "1.2"},
    ],
}


def post_incident(client, body):
    return client.post("/api/incidents/", body, format="json")


@pytest.mark.django_db
def test_it_lets_a_coordinator_open_an_incident_and_see_it_in_the_log(api, coordinator):
    client = api(coordinator)

    response = post_incident(client, FLOOD_RESCUE)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "open"
    assert body["reporter"] == "coordinator"
    assert [need["kind"] for need in body["needs"]] == ["people", "vehicle", "capability"]
    log = client.get("/api/log/", {"incident": body["id"]}).json()
    assert [event["kind"] for event in log["results"]] == ["incident.opened"]
    assert log["results"][0]["data"]["title"] == "龙湖镇 积水 群众被困"


@pytest.mark.django_db
def test_it_accepts_a_token_as_phones_and_scripts_send_it(client, coordinator):
    token = client.post(
        "/api/auth/token/", {"username": "coordinator", "password": "correct-horse-battery"}
    ).json()["token"]

    response = client.post(
        "/api/incidents/",
        FLOOD_RESCUE,
        content_type="application/json",
        headers={"authorization": f"Token {token}"},
    )

    assert response.status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"latitude": 91}, "latitude"),
        ({"longitude": "east"}, "longitude"),
        ({"kind": "alien_invasion"}, "kind"),
        ({"priority": 9}, "priority"),
        ({"title": ""}, "title"),
        ({"needs": []}, "needs"),
        ({"needs": [{"kind": "people", "count": 2}]}, "needs"),
        ({"needs": [{"kind": "people", "skill": "juggling"}]}, "needs"),
        ({"needs": [{"kind": "people", "skill": "rescue", "count": 0}]}, "needs"),
        ({"needs": [{"kind": "vehicle", "vehicle_kind": "spaceship"}]}, "needs"),
        ({"needs": [{"kind": "capability", "people_to_move": 5}]}, "needs"),
        ({"needs": [{"kind": "capability", "people_to_move": 5, "water_depth_m": "-1"}]}, "needs"),
        (
            {
                "needs": [
                    {
                        "kind": "people",
                        "skill": "sampling",
                        "shift_start": "2026-11-27T14:00:00+08:00",
                        "shift_end": "2026-11-27T06:00:00+08:00",
                    }
                ]
            },
            "shift_end",
        ),
    ],
)
def test_it_answers_bad_input_with_a_400_naming_the_field_and_writes_nothing(
    api, coordinator, change, field
):
    response = post_incident(api(coordinator), {**FLOOD_RESCUE, **change})

    assert response.status_code == 400
    assert field in response.content.decode()
    assert not Incident.objects.exists()
    assert not DeploymentEvent.objects.exists()


@pytest.mark.django_db
def test_it_answers_a_body_that_is_not_json_with_a_400(api, coordinator):
    response = api(coordinator).post(
        "/api/incidents/", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.django_db
def test_it_lets_only_coordinators_open_incidents(api, commander, volunteer):
    assert post_incident(api(commander), FLOOD_RESCUE).status_code == 403
    assert post_incident(api(volunteer.user), FLOOD_RESCUE).status_code == 403
    assert post_incident(api(None), FLOOD_RESCUE).status_code in (401, 403)
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_it_lets_commanders_read_but_not_volunteers(api, coordinator, commander, volunteer):
    incident_id = post_incident(api(coordinator), FLOOD_RESCUE).json()["id"]

    assert api(commander).get(f"/api/incidents/{incident_id}/").status_code == 200
    assert api(commander).get("/api/log/").status_code == 200
    assert api(volunteer.user).get(f"/api/incidents/{incident_id}/").status_code == 403
    assert api(volunteer.user).get("/api/log/").status_code == 403


@pytest.mark.django_db
def test_it_filters_the_incident_list(api, coordinator):
    client = api(coordinator)
    flood = post_incident(client, FLOOD_RESCUE).json()
    site = post_incident(client, {**FLOOD_RESCUE, "kind": "testing_site", "title": "采样点"}).json()
    client.post(f"/api/incidents/{flood['id']}/resolve/", {}, format="json")

    def ids(**filters):
        return [row["id"] for row in client.get("/api/incidents/", filters).json()["results"]]

    assert ids(status="open") == [site["id"]]
    assert ids(kind="flood_rescue") == [flood["id"]]
    assert ids() == [site["id"], flood["id"]]


@pytest.mark.django_db
def test_it_resolves_an_incident_once_and_answers_409_after(api, coordinator):
    client = api(coordinator)
    client.credentials(HTTP_ACCEPT_LANGUAGE="en")
    incident_id = post_incident(client, FLOOD_RESCUE).json()["id"]

    first = client.post(f"/api/incidents/{incident_id}/resolve/", {"note": "完成"}, format="json")
    second = client.post(f"/api/incidents/{incident_id}/cancel/", {}, format="json")

    assert first.status_code == 200
    assert first.json()["status"] == "resolved"
    assert second.status_code == 409
    assert second.json()["detail"] == f"Incident #{incident_id} is already resolved."
    kinds = [e["kind"] for e in client.get("/api/log/").json()["results"]]
    assert kinds == ["incident.opened", "incident.resolved"]


@pytest.mark.django_db
def test_it_answers_unknown_things_with_json_404s(api, coordinator):
    client = api(coordinator)

    assert client.get("/api/incidents/999/").status_code == 404
    assert client.post("/api/incidents/999/resolve/").status_code == 404
    missing = client.get("/api/no-such-thing/")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "No API endpoint at /api/no-such-thing/."


# --- how far the needs have filled ----------------------------------------------------------


def assignments_for(need_id: int, volunteers, *statuses: AssignmentStatus) -> None:
    """One assignment of the need per status, each to the next of the volunteers."""
    for volunteer, status in zip(volunteers, statuses, strict=False):
        Assignment.objects.create(need_id=need_id, volunteer=volunteer, status=status)


@pytest.fixture
def crowd(make_volunteer):
    return [make_volunteer(f"139000000{n:02d}") for n in range(10)]


@pytest.mark.django_db
def test_it_shows_how_far_each_need_has_filled(api, coordinator, crowd):
    client = api(coordinator)
    incident = post_incident(client, FLOOD_RESCUE).json()
    people_need = incident["needs"][0]["id"]
    assignments_for(
        people_need,
        crowd,
        AssignmentStatus.ACCEPTED,
        AssignmentStatus.ON_SCENE,
        AssignmentStatus.COMPLETED,
        AssignmentStatus.OFFERED,
        AssignmentStatus.OFFERED,
        AssignmentStatus.DECLINED,
        AssignmentStatus.EXPIRED,
        AssignmentStatus.WITHDRAWN,
    )

    listed = client.get("/api/incidents/").json()["results"][0]
    one = client.get(f"/api/incidents/{incident['id']}/").json()

    for body in (listed, one):
        fill = [(need["filled"], need["offered"]) for need in body["needs"]]
        assert fill == [(3, 2), (0, 0), (0, 0)]  # people; boats and capability untouched


@pytest.mark.django_db
def test_it_answers_an_opened_and_a_closed_incident_with_their_fill(api, coordinator, crowd):
    client = api(coordinator)

    opened = post_incident(client, FLOOD_RESCUE).json()
    assignments_for(opened["needs"][0]["id"], crowd, AssignmentStatus.ACCEPTED)
    resolved = client.post(f"/api/incidents/{opened['id']}/resolve/", {}, format="json").json()

    assert [(n["filled"], n["offered"]) for n in opened["needs"]] == [(0, 0)] * 3
    # Resolving stands everyone down: the volunteer's task is cancelled.
    assert resolved["status"] == "resolved"
    assert [(n["filled"], n["offered"]) for n in resolved["needs"]] == [(0, 0)] * 3


@pytest.mark.django_db
def test_it_lists_incidents_in_the_same_few_queries_however_many(
    api, coordinator, crowd, django_assert_max_num_queries
):
    client = api(coordinator)

    def opened_with_offers(number: int):
        need_id = post_incident(client, FLOOD_RESCUE).json()["needs"][0]["id"]
        # One volunteer at work and one asked, on each incident.
        assignments_for(
            need_id, crowd[number:], AssignmentStatus.ACCEPTED, AssignmentStatus.OFFERED
        )

    opened_with_offers(0)
    client.get("/api/incidents/")  # the first request of a session may cache a lookup
    with CaptureQueriesContext(connection) as queries:
        assert len(client.get("/api/incidents/").json()["results"]) == 1
    for_one = len(queries)  # now: each request clears the connection's query log
    for number in range(1, 6):
        opened_with_offers(number)

    with django_assert_max_num_queries(for_one):
        listed = client.get("/api/incidents/").json()["results"]

    assert len(listed) == 6
    assert all(incident["needs"][0]["filled"] == 1 for incident in listed)


# --- languages ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept_language", "detail"),
    [
        ("en-US,en;q=0.9", "Incident #{id} is already cancelled."),
        ("zh-CN,zh;q=0.9", "事件 #{id} 已取消。"),
        (None, "事件 #{id} 已取消。"),  # no preference: the site's language
    ],
)
def test_it_says_an_incident_is_closed_in_the_coordinators_language(
    api, coordinator, accept_language, detail
):
    client = api(coordinator)
    incident_id = post_incident(client, FLOOD_RESCUE).json()["id"]
    client.post(f"/api/incidents/{incident_id}/cancel/", {"note": "误报"}, format="json")
    if accept_language:
        client.credentials(HTTP_ACCEPT_LANGUAGE=accept_language)

    again = client.post(f"/api/incidents/{incident_id}/resolve/", {}, format="json")

    assert again.status_code == 409
    assert again.json()["detail"] == detail.format(id=incident_id)


@pytest.mark.django_db
def test_it_says_what_is_wrong_with_a_need_in_the_coordinators_language(api, coordinator):
    client = api(coordinator)
    body = {**FLOOD_RESCUE, "needs": [{"kind": "people", "count": 2}]}

    client.credentials(HTTP_ACCEPT_LANGUAGE="en")
    english = post_incident(client, body)
    client.credentials(HTTP_ACCEPT_LANGUAGE="zh-Hans")
    chinese = post_incident(client, body)

    assert english.status_code == chinese.status_code == 400
    assert english.json()["needs"]["0"] == {"skill": ["Required for a need of this kind."]}
    assert chinese.json()["needs"]["0"] == {"skill": ["此类需求必须填写此项。"]}


# --- how precise the place is (issue 12) ---------------------------------------------------

LONGHU = (34.61, 113.68)  # the town's seat in the gazetteer
# Found only as the township it names: 新建路街道's centre, not the address.
TOWNSHIP_ONLY = "新郑市新建路街道中华北路88号"


def by_address(address: str, **more) -> dict:
    body = {
        key: value for key, value in FLOOD_RESCUE.items() if key not in ("latitude", "longitude")
    }
    return {**body, "address": address, **more}


@pytest.mark.django_db
def test_it_refuses_an_address_found_only_as_a_township_and_says_what_to_send(api, coordinator):
    client = api(coordinator)
    client.credentials(HTTP_ACCEPT_LANGUAGE="en")

    response = post_incident(client, by_address(TOWNSHIP_ONLY))

    assert response.status_code == 400
    message = response.json()["location_precision"][0]
    assert "a township's centre (新建路街道)" in message
    assert "latitude and longitude" in message
    assert "“township”" in message
    assert not Incident.objects.exists()
    assert not DeploymentEvent.objects.exists()


@pytest.mark.django_db
def test_it_says_why_in_chinese_too(api, coordinator):
    client = api(coordinator)
    client.credentials(HTTP_ACCEPT_LANGUAGE="zh-Hans")

    response = post_incident(client, by_address(TOWNSHIP_ONLY))

    assert response.status_code == 400
    assert "乡镇中心" in response.json()["location_precision"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("acknowledged", ["township", "city"])
def test_it_opens_at_the_townships_centre_when_told_that_is_accepted(
    api, coordinator, acknowledged
):
    response = post_incident(
        api(coordinator), by_address("龙湖镇泰山村", location_precision=acknowledged)
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["latitude"], body["longitude"]) == LONGHU
    # What was found, not what was accepted.
    assert body["location_precision"] == "township"
    assert body["township"] is not None
    assert Incident.objects.get().location_precision == "township"


@pytest.mark.django_db
@pytest.mark.parametrize("claimed", ["address", "street", "pin", "point", "bogus"])
def test_it_does_not_take_a_finer_precision_as_an_acknowledgement(api, coordinator, claimed):
    response = post_incident(
        api(coordinator), by_address(TOWNSHIP_ONLY, location_precision=claimed)
    )

    assert response.status_code == 400
    assert "location_precision" in response.json()
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_it_refuses_the_city_alone_without_an_acknowledgement(api, coordinator):
    client = api(coordinator)

    assert post_incident(client, by_address("新郑市")).status_code == 400
    accepted = post_incident(client, by_address("新郑市", location_precision="city"))
    assert accepted.status_code == 201
    assert accepted.json()["location_precision"] == "city"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent", "recorded"),
    [
        ({}, "point"),
        ({"location_precision": "pin"}, "pin"),
        ({"location_precision": "address"}, "address"),
    ],
)
def test_it_opens_at_the_coordinates_sent_as_precise_as_the_client_says(
    api, coordinator, sent, recorded
):
    body = {**FLOOD_RESCUE, "address": TOWNSHIP_ONLY, "latitude": 34.3921, "longitude": 113.7402}

    response = post_incident(api(coordinator), {**body, **sent})

    assert response.status_code == 201, response.json()
    assert (response.json()["latitude"], response.json()["longitude"]) == (34.3921, 113.7402)
    assert response.json()["location_precision"] == recorded


@pytest.mark.django_db
def test_it_asks_for_both_coordinates_or_an_address(api, coordinator):
    client = api(coordinator)

    only_latitude = post_incident(client, {**by_address(""), "latitude": 34.4})
    nothing = post_incident(client, by_address(""))
    unknown = post_incident(client, by_address("火星基地"))

    assert only_latitude.status_code == 400 and "longitude" in only_latitude.json()
    assert nothing.status_code == 400 and "latitude" in nothing.json()
    assert unknown.status_code == 400 and "address" in unknown.json()
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_it_tells_phones_how_precise_the_place_is(api, coordinator, make_volunteer):
    incident = post_incident(
        api(coordinator), by_address("龙湖镇泰山村", location_precision="township")
    ).json()
    volunteer = make_volunteer("13900000099")
    Assignment.objects.create(need_id=incident["needs"][0]["id"], volunteer=volunteer)

    offers = api(volunteer.user).get("/api/me/assignments/").json()
    rows = offers["results"] if isinstance(offers, dict) else offers

    assert rows[0]["incident_location_precision"] == "township"
