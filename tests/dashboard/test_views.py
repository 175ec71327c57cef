"""The coordinators' dashboard page and its JSON views (Django's test client)."""

import json
from decimal import Decimal

import pytest

from dispatch import services
from dispatch.availability import index_rebuild
from dispatch.models import Assignment, AssignmentStatus
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open
from tests.dispatch import scenes
from tests.dispatch.scenes import KM, SITE
from volunteers.models import Team, Township, Vehicle, VehicleKind, Volunteer


def page_config(response) -> dict:
    """The JSON the page hands its scripts (json_script "dashboard-config")."""
    html = response.content.decode()
    start = html.index('<script id="dashboard-config" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def open_rescue(reporter, *, count=2) -> Incident:
    return scenes.open_rescue(reporter, count=count)


# --- who sees the page ----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_an_anonymous_visitor_to_sign_in(client):
    response = client.get("/dashboard/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/dashboard/"


@pytest.mark.django_db
def test_it_refuses_a_volunteer(client, volunteer):
    client.force_login(volunteer.user)

    assert client.get("/dashboard/").status_code == 403


@pytest.mark.django_db
def test_it_shows_a_coordinator_the_dashboard_in_chinese_by_default(client, coordinator):
    client.force_login(coordinator)

    response = client.get("/dashboard/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert "调度台" in html and "进行中的事件" in html and "新建事件" in html
    assert 'id="incident-form"' in html
    # The form opens on "high", the most common urgency of a new incident.
    assert '<input type="radio" name="priority" value="3" checked>' in html
    assert "/static/leaflet/leaflet.js" in html and "/static/dashboard/dashboard.js" in html
    config = page_config(response)
    assert config["can_edit"] is True
    assert config["language"] == "zh-hans"
    assert config["labels"]["incident_kind"]["flood_rescue"] == "防汛救援"
    assert config["labels"]["offer_state"]["seen"] == "已查看"
    assert config["strings"]["live"] == "实时"
    assert {"code": "rescue", "name": "救援"} in config["skills"]
    assert len(config["townships"]) == 15
    assert config["urls"]["offers"] == "/dashboard/incidents/{id}/offers/"
    assert config["urls"]["assign"] == "/api/needs/{id}/assign/"


@pytest.mark.django_db
def test_it_speaks_english_when_the_browser_or_the_switch_asks(client, coordinator):
    client.force_login(coordinator)

    by_browser = client.get("/dashboard/", headers={"accept-language": "en-US,en;q=0.9"})
    client.post("/i18n/setlang/", {"language": "en", "next": "/dashboard/"})
    by_switch = client.get("/dashboard/")

    for response in (by_browser, by_switch):
        html = response.content.decode()
        assert '<html lang="en">' in html
        assert "Dispatch dashboard" in html and "Open incidents" in html
        assert "调度台" not in html
        config = page_config(response)
        assert config["labels"]["incident_kind"]["flood_rescue"] == "Flood rescue"
        assert {"code": "rescue", "name": "Rescue"} in config["skills"]
        assert {"Longhu Town", "Xinjianlu Subdistrict"} <= {t["name"] for t in config["townships"]}


@pytest.mark.django_db
def test_it_shows_a_commander_the_dashboard_read_only(client, commander):
    client.force_login(commander)

    response = client.get("/dashboard/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="incident-form"' not in html
    assert 'id="new-incident"' not in html
    assert "只读" in html
    assert page_config(response)["can_edit"] is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/dashboard/resources/", "/dashboard/markers/", "/dashboard/incidents/1/offers/"]
)
def test_it_answers_its_json_views_with_json_errors(client, volunteer, path):
    anonymous = client.get(path)
    client.force_login(volunteer.user)
    refused = client.get(path)

    assert (anonymous.status_code, refused.status_code) == (401, 403)
    assert anonymous.json()["detail"] and refused.json()["detail"]


# --- the resource board ---------------------------------------------------------------------


@pytest.fixture
def resources(coordinator, make_volunteer):
    """Three volunteers in 新建路街道 (two on duty, one of them busy), one on duty in
    龙湖镇; a rescue team; three vehicles."""
    longhu = Township.objects.get(name="龙湖镇")
    team = Team.objects.create(name="蓝天救援队", kind=Team.Kind.RESCUE)
    busy = make_volunteer("13900000001", on_duty=True, last_latitude=34.4, last_longitude=113.74)
    idle = make_volunteer("13900000002", on_duty=True, home_latitude=34.41, home_longitude=113.75)
    make_volunteer("13900000003", on_duty=False)
    north = make_volunteer(
        "13900000004", township=longhu, on_duty=True, last_latitude=SITE[0], last_longitude=SITE[1]
    )
    team.members.add(busy, idle, north)
    rescue = open_rescue(coordinator, count=1)
    services.assignment_assign_manually(
        need_id=rescue.needs.get().pk,
        target=services.ManualTarget(volunteer=busy),
        actor=coordinator,
        reason="他在现场",
    )
    seat = Township.objects.get(name="新建路街道")
    for call_sign, kind, status in [
        ("舟-1", VehicleKind.BOAT, Vehicle.Status.AVAILABLE),
        ("舟-2", VehicleKind.BOAT, Vehicle.Status.OUT_OF_SERVICE),
        ("卡-1", VehicleKind.TRUCK, Vehicle.Status.ASSIGNED),
    ]:
        Vehicle.objects.create(
            call_sign=call_sign,
            kind=kind,
            status=status,
            township=seat,
            capacity=8,
            max_water_depth_m=Decimal("1.5"),
            latitude=34.5 if call_sign == "舟-1" else None,
            longitude=113.7 if call_sign == "舟-1" else None,
        )
    return {"busy": busy, "idle": idle, "north": north, "team": team}


@pytest.mark.django_db
def test_it_counts_volunteers_on_duty_per_township_and_team_and_vehicles_by_status(
    client, coordinator, resources
):
    client.force_login(coordinator)

    board = client.get("/dashboard/resources/").json()

    assert board["volunteers"] == {"total": 4, "on_duty": 3, "busy": 1}
    townships = {row["name"]: row for row in board["townships"]}
    assert len(townships) == 15
    assert townships["新建路街道"] == {
        "id": Township.objects.get(name="新建路街道").pk,
        "name": "新建路街道",
        "total": 3,
        "on_duty": 2,
        "busy": 1,
    }
    assert (townships["龙湖镇"]["on_duty"], townships["龙湖镇"]["busy"]) == (1, 0)
    assert townships["岗李乡"]["total"] == 0
    assert board["teams"][0] == {
        "id": resources["team"].pk,
        "name": "蓝天救援队",
        "kind": "rescue",
        "total": 3,
        "on_duty": 3,
    }
    vehicles = board["vehicles"]
    assert vehicles["total"] == 3
    assert vehicles["by_status"] == {"available": 1, "assigned": 1, "out_of_service": 1}
    assert {row["kind"]: row["total"] for row in vehicles["by_kind"]} == {"boat": 2, "truck": 1}


@pytest.mark.django_db
def test_it_names_townships_in_english_on_the_english_board(client, commander, resources):
    client.force_login(commander)

    board = client.get("/dashboard/resources/", headers={"accept-language": "en"}).json()

    assert "Longhu Town" in {row["name"] for row in board["townships"]}


@pytest.mark.django_db
def test_it_puts_on_duty_volunteers_and_vehicles_on_the_map(client, coordinator, resources):
    client.force_login(coordinator)

    markers = client.get("/dashboard/markers/").json()

    assert markers["on_duty"] == 3
    assert sorted(markers["volunteers"]) == sorted(
        [
            [resources["busy"].pk, 34.4, 113.74, 1],
            [resources["idle"].pk, 34.41, 113.75, 0],  # home: no position reported yet
            [resources["north"].pk, *SITE, 0],
        ]
    )
    where = {v["call_sign"]: (v["latitude"], v["longitude"]) for v in markers["vehicles"]}
    assert where["舟-1"] == (34.5, 113.7)
    # Never reported: not placed at a guess (the engine does not offer it either).
    assert "卡-1" not in where


# --- an incident's offers and manual assignment -------------------------------------------


@pytest.fixture
def offered(coordinator, make_volunteer, live_index):
    """A rescue near three on-duty rescuers (1, 2, 3 km north), offered to all three."""
    rescuers = [
        make_volunteer(
            f"1380000000{n}",
            on_duty=True,
            last_latitude=SITE[0] + n * KM,
            last_longitude=SITE[1],
            name=f"救援{n}",
        )
        for n in (1, 2, 3)
    ]
    index_rebuild()
    incident = open_rescue(coordinator, count=2)
    services.incident_dispatch(incident_id=incident.pk)
    return incident, rescuers


def offer_to(volunteer) -> Assignment:
    return Assignment.objects.get(volunteer=volunteer)


@pytest.mark.django_db
def test_it_shows_each_offer_sent_delivered_seen_or_answered(
    client, commander, coordinator, offered
):
    incident, (first, second, third) = offered
    services.offer_mark_delivered(assignment_id=offer_to(second).pk, volunteer=second)
    services.offer_mark_seen(assignment_id=offer_to(third).pk, volunteer=third)
    services.assignment_accept(assignment_id=offer_to(first).pk, volunteer=first)
    client.force_login(commander)

    body = client.get(f"/dashboard/incidents/{incident.pk}/offers/").json()

    rows = {row["volunteer_name"]: row for row in body["assignments"]}
    assert {name: row["state"] for name, row in rows.items()} == {
        "救援1": "accepted",
        "救援2": "delivered",
        "救援3": "seen",
    }
    assert rows["救援2"]["delivered_at"] and not rows["救援2"]["seen_at"]
    assert rows["救援3"]["delivered_at"] and rows["救援3"]["seen_at"]
    assert rows["救援1"]["answered_at"] and rows["救援1"]["distance_m"] > 0
    assert rows["救援1"]["volunteer_phone"] is None  # a commander reviews; no phones
    assert client.get("/dashboard/incidents/999999/offers/").status_code == 404
    client.force_login(coordinator)
    calls = client.get(f"/dashboard/incidents/{incident.pk}/offers/").json()["assignments"]
    assert {row["volunteer_phone"] for row in calls} == {
        "13800000001",
        "13800000002",
        "13800000003",
    }


@pytest.mark.django_db
def test_it_shows_the_offers_as_the_rest_api_does_with_the_pages_extras(client, commander, offered):
    incident, (first, _second, _third) = offered
    services.assignment_accept(assignment_id=offer_to(first).pk, volunteer=first)
    client.force_login(commander)

    page = client.get(f"/dashboard/incidents/{incident.pk}/offers/").json()["assignments"]
    api = client.get(f"/api/incidents/{incident.pk}/assignments/").json()["results"]

    extras = {"state", "volunteer_phone", "vehicle_capacity"}
    assert [{k: v for k, v in row.items() if k not in extras} for row in page] == api
    assert [row["state"] for row in page] == ["accepted", "sent", "sent"]


@pytest.mark.django_db
def test_it_shows_a_commander_how_many_are_on_duty_not_where(client, commander, resources):
    client.force_login(commander)

    markers = client.get("/dashboard/markers/").json()

    assert (markers["on_duty"], markers["volunteers"]) == (3, [])


@pytest.mark.django_db
def test_it_lists_candidates_for_a_manual_assignment_nearest_and_free_first(
    client, coordinator, offered, make_volunteer
):
    incident, (first, second, third) = offered
    services.assignment_accept(assignment_id=offer_to(first).pk, volunteer=first)
    make_volunteer("13800000009", on_duty=False, home_latitude=SITE[0], home_longitude=SITE[1])
    client.force_login(coordinator)

    body = client.get(f"/dashboard/needs/{incident.needs.get().pk}/candidates/").json()

    listed = [(c["name"], c["on_duty"], c["unavailable"]) for c in body["candidates"]]
    # On duty before off duty; the one already on this need last, and not choosable.
    assert listed == [
        ("救援2", True, None),
        ("救援3", True, None),
        ("志愿者0009", False, None),
        ("救援1", True, "on_this_need"),
    ]
    assert body["candidates"][0]["distance_km"] == pytest.approx(2.0, abs=0.1)
    assert body["candidates"][-1]["place_status"] == "accepted"


@pytest.mark.django_db
def test_it_does_not_offer_by_hand_someone_who_already_filled_a_place(client, coordinator, offered):
    incident, (first, *_) = offered
    services.assignment_accept(assignment_id=offer_to(first).pk, volunteer=first)
    services.assignment_progress(
        assignment_id=offer_to(first).pk, volunteer=first, status=AssignmentStatus.COMPLETED
    )
    client.force_login(coordinator)

    body = client.get(f"/dashboard/needs/{incident.needs.get().pk}/candidates/").json()

    # Listed, so the coordinator sees why, but not to be chosen: free again, not busy.
    mine = next(c for c in body["candidates"] if c["volunteer"] == first.pk)
    assert (mine["unavailable"], mine["place_status"], mine["busy"]) == (
        "on_this_need",
        "completed",
        False,
    )
    assert [c["unavailable"] for c in body["candidates"]] == [None, None, "on_this_need"]


@pytest.mark.django_db
def test_it_says_why_a_busy_volunteer_cannot_be_assigned_by_hand(client, coordinator, offered):
    incident, (first, second, _) = offered
    other = open_rescue(coordinator, count=1)
    services.assignment_assign_manually(
        need_id=other.needs.get().pk,
        target=services.ManualTarget(volunteer=second),
        actor=coordinator,
        reason="电话确认",
    )
    client.force_login(coordinator)

    body = client.get(f"/dashboard/needs/{incident.needs.get().pk}/candidates/").json()

    by_name = {c["name"]: c for c in body["candidates"]}
    assert [c["name"] for c in body["candidates"]] == ["救援1", "救援3", "救援2"]
    assert by_name["救援2"]["unavailable"] == "busy" and by_name["救援2"]["busy"] is True
    assert by_name["救援2"]["busy_on"] == {"incident": other.pk, "title": other.title}
    assert (by_name["救援1"]["unavailable"], by_name["救援1"]["busy_on"]) == (None, None)


@pytest.mark.django_db
def test_it_lists_vehicles_deep_enough_for_a_capability_need(client, coordinator):
    seat = Township.objects.get(name="龙湖镇")
    for call_sign, depth in [("舟-深", "1.8"), ("卡-浅", "0.5")]:
        Vehicle.objects.create(
            call_sign=call_sign,
            kind=VehicleKind.BOAT if depth == "1.8" else VehicleKind.TRUCK,
            township=seat,
            capacity=10,
            max_water_depth_m=Decimal(depth),
        )
    incident = incident_open(
        reporter=coordinator,
        kind=Incident.Kind.EVACUATION,
        title="转移群众",
        latitude=SITE[0],
        longitude=SITE[1],
        needs=[
            NeedSpec(kind=Need.Kind.CAPABILITY, people_to_move=40, water_depth_m=Decimal("1.2"))
        ],
    )
    client.force_login(coordinator)

    body = client.get(f"/dashboard/needs/{incident.needs.get().pk}/candidates/").json()

    # Nobody crews it: listed, and said why it cannot go.
    assert [(c["name"], c["unavailable"]) for c in body["candidates"]] == [("舟-深", "no_crew")]


@pytest.mark.django_db
def test_it_lists_vehicles_as_the_engine_sees_them(client, coordinator, volunteer):
    seat = Township.objects.get(name="龙湖镇")
    placed, unplaced = (
        Vehicle.objects.create(
            call_sign=call_sign,
            kind=VehicleKind.BOAT,
            township=seat,
            capacity=6,
            max_water_depth_m=Decimal("1.5"),
            **position,
        )
        for call_sign, position in [
            ("舟-近", {"latitude": SITE[0] + 0.01, "longitude": SITE[1]}),
            ("舟-无位置", {}),
        ]
    )
    placed.crew.add(volunteer)
    earlier = incident_open(
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title="先前的任务",
        latitude=SITE[0],
        longitude=SITE[1],
        needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=1)],
    )
    services.assignment_assign_manually(
        need_id=earlier.needs.get().pk,
        target=services.ManualTarget(vehicle=placed),
        actor=coordinator,
        reason="就近",
    )
    incident = incident_open(
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title="又一处被困",
        latitude=SITE[0],
        longitude=SITE[1],
        needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=1)],
    )
    client.force_login(coordinator)

    body = client.get(f"/dashboard/needs/{incident.needs.get().pk}/candidates/").json()

    listed = {c["name"]: (c["busy"], c["distance_km"]) for c in body["candidates"]}
    # Busy because it holds an active assignment (its status column is not the rule);
    # with no reported position it has no distance (not its township seat's).
    assert listed == {"舟-近": (True, pytest.approx(1.1, abs=0.1)), "舟-无位置": (False, None)}
    why = {c["name"]: (c["unavailable"], c["busy_on"]) for c in body["candidates"]}
    assert why == {
        "舟-近": ("busy", {"incident": earlier.pk, "title": "先前的任务"}),
        "舟-无位置": ("no_crew", None),
    }


@pytest.mark.django_db
def test_it_lets_only_coordinators_see_candidates(client, commander, offered):
    incident, _ = offered
    client.force_login(commander)

    response = client.get(f"/dashboard/needs/{incident.needs.get().pk}/candidates/")

    assert response.status_code == 403


@pytest.mark.django_db
def test_it_keeps_closed_assignments_out_of_the_busy_count(client, coordinator, offered):
    incident, (first, *_) = offered
    services.assignment_accept(assignment_id=offer_to(first).pk, volunteer=first)
    services.assignment_unassign(assignment_id=offer_to(first).pk, actor=coordinator, reason="换人")
    client.force_login(coordinator)

    board = client.get("/dashboard/resources/").json()

    assert board["volunteers"]["busy"] == 0
    assert Assignment.objects.get(volunteer=first).status == AssignmentStatus.CANCELLED


# --- the status board: who is where doing what (issue 12) ---------------------------------


@pytest.mark.django_db
def test_it_lets_coordinators_and_commanders_see_the_status_board(
    client, coordinator, commander, volunteer
):
    anonymous = client.get("/dashboard/units/")
    client.force_login(volunteer.user)
    as_volunteer = client.get("/dashboard/units/")
    client.force_login(commander)
    as_commander = client.get("/dashboard/units/")
    client.force_login(coordinator)
    as_coordinator = client.get("/dashboard/units/")

    assert [r.status_code for r in (anonymous, as_volunteer, as_commander, as_coordinator)] == [
        401,
        403,
        200,
        200,
    ]
    assert as_volunteer.json()["detail"]


@pytest.mark.django_db
def test_a_commander_reads_the_status_board_without_phones_or_live_positions(
    client, commander, resources
):
    """DESIGN.md §6: commanders read what a review needs, not volunteers' phone numbers
    or where each one is; the vehicles keep their places, as on the commander's map."""
    client.force_login(commander)

    board = client.get("/dashboard/units/").json()
    page = client.get("/dashboard/")

    people = {row["id"]: row for row in board["volunteers"]}
    busy = people[resources["busy"].pk]
    assert busy["state"] == "accepted" and busy["incident_title"]
    assert {(row["phone"], row["latitude"], row["longitude"]) for row in people.values()} == {
        (None, None, None)
    }
    assert any(row["latitude"] is not None for row in board["vehicles"])
    assert page_config(page)["urls"]["units"] == "/dashboard/units/"
    html = page.content.decode()
    assert 'id="status-board"' in html and "13900000001" not in html


@pytest.mark.django_db
def test_it_says_who_is_where_doing_what_and_since_when(client, coordinator, resources):
    client.force_login(coordinator)

    board = client.get("/dashboard/units/").json()

    people = {row["id"]: row for row in board["volunteers"]}
    # On duty or on a task; the one off duty is left out of the whole board.
    assert set(people) == {resources[name].pk for name in ("busy", "idle", "north")}
    busy = people[resources["busy"].pk]
    assert busy["state"] == "accepted"
    assert busy["incident_title"] == Incident.objects.get().title
    assert busy["since"] and busy["phone"] == "13900000001"
    assert busy["teams"] == [resources["team"].pk]
    assert (busy["latitude"], busy["longitude"]) == (34.4, 113.74)
    idle = people[resources["idle"].pk]
    assert (idle["state"], idle["incident"], idle["incident_title"]) == ("free", None, None)
    assert (idle["latitude"], idle["longitude"]) == (34.41, 113.75)  # home
    vehicles = {row["name"]: row["state"] for row in board["vehicles"]}
    assert vehicles == {"舟-1": "free", "舟-2": "off_duty", "卡-1": "free"}
    assert board["teams"] == [{"id": resources["team"].pk, "name": "蓝天救援队"}]


@pytest.mark.django_db
def test_it_shows_offers_and_progress_on_the_status_board(client, coordinator, offered):
    incident, (first, second, third) = offered
    services.assignment_accept(assignment_id=offer_to(first).pk, volunteer=first)
    services.assignment_progress(
        assignment_id=offer_to(first).pk, volunteer=first, status=AssignmentStatus.EN_ROUTE
    )
    client.force_login(coordinator)

    board = client.get("/dashboard/units/").json()

    states = {row["name"]: (row["state"], row["incident_title"]) for row in board["volunteers"]}
    assert states == {
        "救援1": ("en_route", incident.title),
        "救援2": ("offered", incident.title),
        "救援3": ("offered", incident.title),
    }
    en_route = next(row for row in board["volunteers"] if row["name"] == "救援1")
    assert en_route["since"] == offer_to(first).en_route_at.isoformat()


@pytest.mark.django_db
def test_it_gives_only_the_units_asked_for_whatever_their_state(client, coordinator, resources):
    off = Volunteer.objects.get(phone="13900000003")
    boat = Vehicle.objects.get(call_sign="舟-2")
    client.force_login(coordinator)

    some = client.get(
        f"/dashboard/units/?volunteers={off.pk},{resources['idle'].pk}&vehicles={boat.pk}"
    ).json()
    none = client.get("/dashboard/units/?volunteers=").json()

    assert {row["id"]: row["state"] for row in some["volunteers"]} == {
        off.pk: "off_duty",
        resources["idle"].pk: "free",
    }
    assert [row["id"] for row in some["vehicles"]] == [boat.pk]
    assert (none["volunteers"], none["vehicles"]) == ([], [])


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["volunteers=a", "volunteers=-1", "vehicles=1,,x"])
def test_it_refuses_units_asked_for_by_anything_but_ids(client, coordinator, query):
    client.force_login(coordinator)

    response = client.get(f"/dashboard/units/?{query}")

    assert response.status_code == 400
    assert response.json()["detail"]


@pytest.mark.django_db
def test_it_reads_the_status_board_in_a_fixed_number_of_queries(
    client, coordinator, resources, make_volunteer, django_assert_max_num_queries
):
    client.force_login(coordinator)
    client.get("/dashboard/units/")  # the session and the user, read once
    with django_assert_max_num_queries(12) as few:
        client.get("/dashboard/units/")
    for n in range(30):
        extra = make_volunteer(
            f"1370000{n:04d}", on_duty=True, home_latitude=34.4, home_longitude=113.7
        )
        resources["team"].members.add(extra)

    with django_assert_max_num_queries(len(few.captured_queries)):
        board = client.get("/dashboard/units/").json()

    assert len(board["volunteers"]) == 33


# --- the base map without tiles (issue 12) --------------------------------------------------


@pytest.mark.django_db
def test_the_map_gets_the_township_areas_when_it_has_no_tiles(client, coordinator, settings):
    client.force_login(coordinator)
    settings.MAP_TILES_URL = ""
    without = page_config(client.get("/dashboard/"))
    settings.MAP_TILES_URL = "https://tiles.example.internal/{z}/{x}/{y}.png"
    with_tiles = page_config(client.get("/dashboard/"))

    assert {area["id"] for area in without["township_areas"]} == set(
        Township.objects.values_list("pk", flat=True)
    )
    # Drawn over real tiles, lines of the system's own would pass for official ones.
    assert with_tiles["township_areas"] == []
