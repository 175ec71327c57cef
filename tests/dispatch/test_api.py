"""The offers and assignments endpoints (DESIGN.md §4, §6): a volunteer answers their
own offers and reports progress; coordinators assign and unassign by hand. Scenes are
built with the services (on_commit hooks do not fire here, so dispatch is called
directly); the actions under test go through the REST API only."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dispatch import services
from dispatch.availability import index_rebuild
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_cancel, incident_open
from tests.dispatch import scenes
from tests.dispatch.scenes import KM, SITE
from volunteers.models import Skill, Township, Vehicle, VehicleKind

pytestmark = pytest.mark.usefixtures("live_index")


@pytest.fixture
def api(api):
    """API clients that ask for English, as a script may: the refusals below are read
    in English. (Without a preference, the answer is Chinese: see "languages".)"""

    def client_for(user=None):
        client = api(user)
        client.credentials(HTTP_ACCEPT_LANGUAGE="en")
        return client

    return client_for


@pytest.fixture
def boat(make_volunteer):
    """An assault boat 2 km from the site, crewed by one volunteer."""
    crew = make_volunteer("13911111111", skills=("boat_operator",), on_duty=True)
    made = Vehicle.objects.create(
        call_sign="蓝天-01",
        kind=VehicleKind.BOAT,
        township=Township.objects.get(name="龙湖镇"),
        capacity=10,
        max_water_depth_m=Decimal("3.00"),
        latitude=SITE[0] + 2 * KM,
        longitude=SITE[1],
    )
    made.crew.add(crew)
    index_rebuild()
    return made


def open_rescue(reporter, *, count=1, **fields) -> Incident:
    return scenes.open_rescue(reporter, count=count, address="龙湖镇 泰山村", **fields)


def dispatched(reporter, *, count=1, **fields) -> Incident:
    """An open rescue, offered to the nearest rescuers (count 1: the two nearest)."""
    incident = open_rescue(reporter, count=count, **fields)
    services.incident_dispatch(incident_id=incident.pk)
    return incident


def offer_of(volunteer) -> Assignment:
    return Assignment.objects.get(volunteer=volunteer, status=AssignmentStatus.OFFERED)


def assigned(volunteer, incident) -> Assignment:
    """The volunteer's offer on the incident, accepted (through the services)."""
    offer = Assignment.objects.get(volunteer=volunteer, need__incident=incident)
    return services.assignment_accept(assignment_id=offer.pk, volunteer=volunteer)


def database_state() -> tuple:
    """Everything a refused request must leave as it was."""
    return (
        list(Assignment.objects.order_by("pk").values()),
        list(DeploymentEvent.objects.order_by("seq").values_list("seq", "kind")),
    )


def post(client, url, body=None):
    return client.post(url, body or {}, format="json")


def accept(client, assignment_id):
    return post(client, f"/api/assignments/{assignment_id}/accept/")


def decline(client, assignment_id, body=None):
    return post(client, f"/api/assignments/{assignment_id}/decline/", body)


def report(client, assignment_id, body):
    return post(client, f"/api/assignments/{assignment_id}/status/", body)


def unassign(client, assignment_id, body=None):
    return post(client, f"/api/assignments/{assignment_id}/unassign/", body)


def assign(client, need_id, body):
    return post(client, f"/api/needs/{need_id}/assign/", body)


def my_assignments(client, **params) -> list[dict]:
    response = client.get("/api/me/assignments/", params)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


# --- a volunteer's offers -------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_a_volunteer_what_where_how_far_and_until_when(api, coordinator, rescuers):
    incident = dispatched(coordinator)
    nearest = rescuers[0]
    offer = offer_of(nearest)

    listed = my_assignments(api(nearest.user))

    assert [item["id"] for item in listed] == [offer.pk]
    item = listed[0]
    assert item["status"] == "offered"
    assert (item["incident"], item["incident_title"]) == (incident.pk, "龙湖镇 泰山村 群众被困")
    assert item["need"] == incident.needs.get().pk
    assert "救援" in item["need_text"] or "rescue" in item["need_text"].lower()
    assert (item["latitude"], item["longitude"]) == SITE
    assert 900 <= item["distance_m"] <= 1100  # 1 km north
    assert item["eta_seconds"] > 0
    assert item["expires_at"] is not None
    assert (item["volunteer"], item["vehicle"]) == (nearest.pk, None)


@pytest.mark.django_db
def test_it_tells_a_phone_what_the_incident_and_the_need_are(api, coordinator, rescuers):
    incident = dispatched(coordinator)
    nearest = rescuers[0]
    offer = offer_of(nearest)
    services.offer_mark_delivered(assignment_id=offer.pk, volunteer=nearest)
    services.offer_mark_seen(assignment_id=offer.pk, volunteer=nearest)

    (item,) = my_assignments(api(nearest.user))

    assert item["incident_kind"] == "flood_rescue"
    assert item["incident_address"] == "龙湖镇 泰山村"
    assert item["incident_priority"] == Incident.Priority.CRITICAL == 4
    assert (item["need_kind"], item["need_skill"], item["need_vehicle_kind"]) == (
        "people",
        "rescue",
        "",
    )
    assert (item["shift_start"], item["shift_end"]) == (None, None)  # a rescue: now
    assert item["delivered_at"] is not None and item["seen_at"] is not None
    assert item["volunteer_name"] == nearest.name
    assert (item["vehicle_call_sign"], item["vehicle_kind"]) == (None, None)
    assert incident.needs.get().pk == item["need"]


@pytest.mark.django_db
def test_it_tells_a_phone_the_shift_it_is_offered(api, coordinator, volunteer):
    start = timezone.now() + timedelta(days=1)
    site = incident_open(
        reporter=coordinator,
        kind=Incident.Kind.TESTING_SITE,
        title="新建路街道 核酸采样点 3号",
        latitude=SITE[0],
        longitude=SITE[1],
        needs=[
            NeedSpec(
                kind=Need.Kind.PEOPLE,
                skill=Skill.objects.get(code="rescue"),
                count=4,
                shift_start=start,
                shift_end=start + timedelta(hours=4),
            )
        ],
    )
    Assignment.objects.create(need=site.needs.get(), volunteer=volunteer)

    (item,) = my_assignments(api(volunteer.user))

    assert item["incident_kind"] == "testing_site"
    assert item["incident_priority"] == Incident.Priority.NORMAL
    assert timezone.datetime.fromisoformat(item["shift_start"]) == start
    assert timezone.datetime.fromisoformat(item["shift_end"]) == start + timedelta(hours=4)
    assert (item["delivered_at"], item["seen_at"]) == (None, None)


@pytest.mark.django_db
def test_it_tells_a_crew_which_vehicle_is_offered(api, coordinator, boat):
    dispatched(
        coordinator,
        needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=1)],
    )

    (item,) = my_assignments(api(boat.crew.get().user))

    assert (item["need_kind"], item["need_skill"], item["need_vehicle_kind"]) == (
        "vehicle",
        None,
        "boat",
    )
    assert (item["vehicle_call_sign"], item["vehicle_kind"]) == ("蓝天-01", "boat")
    assert item["volunteer_name"] is None


@pytest.mark.django_db
def test_it_never_shows_a_volunteer_someone_elses_offers(api, coordinator, rescuers):
    dispatched(coordinator)  # one place: offered to the two nearest

    second = my_assignments(api(rescuers[1].user))
    farthest = my_assignments(api(rescuers[4].user))

    assert [item["volunteer"] for item in second] == [rescuers[1].pk]
    assert farthest == []


@pytest.mark.django_db
def test_it_lists_only_open_offers_and_work_when_asked(api, coordinator, rescuers):
    nearest = rescuers[0]
    first = dispatched(coordinator, title="第一起")
    services.assignment_decline(assignment_id=offer_of(nearest).pk, volunteer=nearest)
    second = dispatched(coordinator, title="第二起")
    client = api(nearest.user)

    everything = my_assignments(client)
    still_open = my_assignments(client, open=1)

    assert [(i["incident"], i["status"]) for i in everything] == [
        (second.pk, "offered"),  # newest first
        (first.pk, "declined"),
    ]
    assert [i["incident"] for i in still_open] == [second.pk]


@pytest.mark.django_db
def test_it_shows_a_vehicles_offers_to_its_crew(api, coordinator, boat, make_volunteer):
    incident = dispatched(
        coordinator,
        needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=1)],
    )
    crew = boat.crew.get()
    stranger = make_volunteer("13922222222", skills=("boat_operator",), on_duty=True)

    listed = my_assignments(api(crew.user), open=1)

    assert [(i["vehicle"], i["volunteer"]) for i in listed] == [(boat.pk, None)]
    assert listed[0]["incident"] == incident.pk
    assert my_assignments(api(stranger.user)) == []
    # The crew answers for the vehicle.
    response = accept(api(crew.user), listed[0]["id"])
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "accepted"


@pytest.mark.django_db
def test_it_refuses_the_offers_list_to_users_without_a_volunteer_profile(
    api, coordinator, commander
):
    assert api(coordinator).get("/api/me/assignments/").status_code == 403
    assert api(commander).get("/api/me/assignments/").status_code == 403
    assert api().get("/api/me/assignments/").status_code in (401, 403)


# --- accepting ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_accepts_an_offer(api, coordinator, rescuers):
    dispatched(coordinator)
    nearest = rescuers[0]
    offer = offer_of(nearest)

    response = accept(api(nearest.user), offer.pk)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["id"], body["status"]) == (offer.pk, "accepted")
    assert body["answered_at"] is not None
    offer.refresh_from_db()
    assert offer.status == AssignmentStatus.ACCEPTED
    event = DeploymentEvent.objects.filter(assignment=offer).last()
    assert (event.kind, event.actor) == (EventKind.OFFER_ACCEPTED, nearest.user)


@pytest.mark.django_db
def test_it_tells_the_second_volunteer_the_last_place_is_already_filled(api, coordinator, rescuers):
    incident = dispatched(coordinator, count=1)
    first, second = rescuers[:2]
    late = offer_of(second)
    assert accept(api(first.user), offer_of(first).pk).status_code == 200
    before = database_state()

    response = accept(api(second.user), late.pk)

    assert response.status_code == 409
    assert "already filled" in response.json()["detail"].lower()
    assert database_state() == before
    accepted = incident.needs.get().assignments.filter(status=AssignmentStatus.ACCEPTED)
    assert [a.volunteer_id for a in accepted] == [first.pk]


@pytest.mark.django_db
def test_it_refuses_to_accept_someone_elses_offer(api, coordinator, rescuers):
    dispatched(coordinator)
    offer = offer_of(rescuers[0])
    before = database_state()

    response = accept(api(rescuers[4].user), offer.pk)

    assert response.status_code == 403
    assert "not yours" in response.json()["detail"]
    assert database_state() == before


def _decline(offer):
    services.assignment_decline(assignment_id=offer.pk, volunteer=offer.volunteer)


def _expire_unswept(offer):
    Assignment.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def _expire(offer):
    _expire_unswept(offer)
    services.offers_expire()


def _withdraw_by_filling(offer):
    other = (
        Assignment.objects.filter(need=offer.need, status=AssignmentStatus.OFFERED)
        .exclude(pk=offer.pk)
        .first()
    )
    services.assignment_accept(assignment_id=other.pk, volunteer=other.volunteer)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("close", "reason"),
    [
        (_decline, "already declined"),
        (_expire, "expired"),
        (_expire_unswept, "expired"),
        (_withdraw_by_filling, "already filled"),
    ],
    ids=["declined", "expired", "past-its-time-before-the-sweep", "withdrawn"],
)
def test_it_refuses_to_accept_a_closed_offer_and_says_why(
    api, coordinator, rescuers, close, reason
):
    dispatched(coordinator, count=1)
    offer = offer_of(rescuers[0])
    close(offer)
    before = database_state()

    response = accept(api(rescuers[0].user), offer.pk)

    assert response.status_code == 409
    assert reason in response.json()["detail"].lower()
    assert database_state() == before


@pytest.mark.django_db
def test_it_tells_a_volunteer_the_incident_was_cancelled(api, coordinator, rescuers):
    incident = dispatched(coordinator, count=1)
    offer = offer_of(rescuers[0])
    incident_cancel(incident=incident, actor=coordinator, note="误报")

    response = accept(api(rescuers[0].user), offer.pk)

    assert response.status_code == 409
    assert "cancelled" in response.json()["detail"].lower()


@pytest.mark.django_db
def test_it_refuses_a_busy_volunteer_a_second_task(api, coordinator, rescuers):
    nearest = rescuers[0]
    first = dispatched(coordinator, title="第一起")
    dispatched(coordinator, title="第二起")
    assigned(nearest, first)  # the other offer stands until the withdraw task runs
    second_offer = offer_of(nearest)
    before = database_state()

    response = accept(api(nearest.user), second_offer.pk)

    assert response.status_code == 409
    assert "another assignment" in response.json()["detail"]
    assert database_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["accept", "decline", "status", "unassign"])
def test_it_answers_an_unknown_assignment_with_a_json_404(api, coordinator, volunteer, action):
    user = coordinator if action == "unassign" else volunteer.user
    body = {"status": "en_route", "reason": "人不在"}

    response = post(api(user), f"/api/assignments/999999/{action}/", body)

    assert response.status_code == 404
    assert response["content-type"] == "application/json"
    assert response.json()["detail"]


# --- declining ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_declines_with_a_reason(api, coordinator, rescuers):
    dispatched(coordinator)
    offer = offer_of(rescuers[0])

    response = decline(api(rescuers[0].user), offer.pk, {"reason": "车坏了"})

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["reason"]) == ("declined", "车坏了")
    offer.refresh_from_db()
    assert (offer.status, offer.reason) == (AssignmentStatus.DECLINED, "车坏了")
    event = DeploymentEvent.objects.filter(assignment=offer).last()
    assert (event.kind, event.data["reason"]) == (EventKind.OFFER_DECLINED, "车坏了")


@pytest.mark.django_db
def test_it_declines_without_a_reason(api, coordinator, rescuers):
    dispatched(coordinator)
    offer = offer_of(rescuers[0])

    response = decline(api(rescuers[0].user), offer.pk)

    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["reason"]) == ("declined", "")


@pytest.mark.django_db
def test_it_refuses_a_decline_reason_over_300_characters(api, coordinator, rescuers):
    dispatched(coordinator)
    offer = offer_of(rescuers[0])
    client = api(rescuers[0].user)
    before = database_state()

    response = decline(client, offer.pk, {"reason": "很" * 301})

    assert response.status_code == 400
    assert "reason" in response.json()
    assert database_state() == before
    assert decline(client, offer.pk, {"reason": "很" * 300}).status_code == 200


@pytest.mark.django_db
def test_it_refuses_to_decline_someone_elses_or_an_accepted_offer(api, coordinator, rescuers):
    incident = dispatched(coordinator, count=2)
    mine = assigned(rescuers[0], incident)
    theirs = offer_of(rescuers[1])
    client = api(rescuers[0].user)
    before = database_state()

    not_mine = decline(client, theirs.pk)
    taken = decline(client, mine.pk)

    assert not_mine.status_code == 403
    assert taken.status_code == 409
    assert "already accepted" in taken.json()["detail"]
    assert database_state() == before


# --- reporting progress ---------------------------------------------------------------------


@pytest.mark.django_db
def test_it_reports_en_route_on_scene_and_completed_with_people_moved(api, coordinator, rescuers):
    incident = dispatched(coordinator)
    work = assigned(rescuers[0], incident)
    client = api(rescuers[0].user)

    statuses = [
        report(client, work.pk, {"status": "en_route"}),
        report(client, work.pk, {"status": "on_scene"}),
        report(client, work.pk, {"status": "completed", "people_moved": 12}),
    ]

    assert [r.status_code for r in statuses] == [200, 200, 200]
    assert [r.json()["status"] for r in statuses] == ["en_route", "on_scene", "completed"]
    done = statuses[-1].json()
    assert done["people_moved"] == 12
    assert done["en_route_at"] <= done["on_scene_at"] <= done["finished_at"]
    assert list(DeploymentEvent.objects.filter(assignment=work).values_list("kind", flat=True)) == [
        "offer.made",
        "offer.accepted",
        "assignment.en_route",
        "assignment.on_scene",
        "assignment.completed",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("reached", "body", "field", "message"),
    [
        ("on_scene", {"status": "en_route"}, "detail", "Cannot go from “On scene” to “En route”"),
        ("completed", {"status": "on_scene"}, "detail", "Cannot go from “Completed”"),
        ("accepted", {"status": "teleported"}, "status", "teleported"),
        ("accepted", {}, "status", ""),
        ("accepted", {"status": "completed", "people_moved": -1}, "people_moved", "0"),
        ("accepted", {"status": "completed", "people_moved": "many"}, "people_moved", ""),
        ("accepted", {"status": "en_route", "people_moved": 3}, "detail", "when completing"),
        ("offered", {"status": "en_route"}, "detail", "Cannot go from “Offered”"),
    ],
    ids=[
        "back-to-en-route",
        "after-completing",
        "unknown-status",
        "no-status",
        "negative-people",
        "people-not-a-number",
        "people-before-completing",
        "before-accepting",
    ],
)
def test_it_refuses_a_bad_status_report_with_a_message(
    api, coordinator, rescuers, reached, body, field, message
):
    incident = dispatched(coordinator)
    volunteer = rescuers[0]
    work = offer_of(volunteer) if reached == "offered" else assigned(volunteer, incident)
    for step in {"on_scene": ["on_scene"], "completed": ["completed"]}.get(reached, []):
        services.assignment_progress(assignment_id=work.pk, volunteer=volunteer, status=step)
    before = database_state()

    response = report(api(volunteer.user), work.pk, body)

    assert response.status_code == 400
    answer = response.json()[field]
    answer = answer if isinstance(answer, str) else " ".join(answer)
    assert answer
    assert message in answer
    assert database_state() == before


@pytest.mark.django_db
def test_it_refuses_an_impossibly_large_people_moved(api, coordinator, rescuers):
    incident = dispatched(coordinator)
    work = assigned(rescuers[0], incident)
    client = api(rescuers[0].user)
    client.raise_request_exception = False

    response = report(client, work.pk, {"status": "completed", "people_moved": 2**31})

    assert response.status_code == 400


@pytest.mark.django_db
def test_it_lets_only_the_volunteer_report_their_status(api, coordinator, rescuers):
    incident = dispatched(coordinator)
    work = assigned(rescuers[0], incident)
    before = database_state()

    by_coordinator = report(api(coordinator), work.pk, {"status": "en_route"})
    by_someone_else = report(api(rescuers[4].user), work.pk, {"status": "en_route"})

    assert by_coordinator.status_code == 403
    assert by_someone_else.status_code == 403
    assert "not yours" in by_someone_else.json()["detail"]
    assert database_state() == before


# --- coordinators ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_lists_an_incidents_assignments_to_coordinators_and_commanders(
    api, coordinator, commander, rescuers
):
    incident = dispatched(coordinator, title="第一起")
    dispatched(coordinator, title="第二起")  # the same people, another incident
    offers = set(Assignment.objects.filter(need__incident=incident).values_list("pk", flat=True))
    url = f"/api/incidents/{incident.pk}/assignments/"

    for user in (coordinator, commander):
        response = api(user).get(url)
        assert response.status_code == 200, response.json()
        listed = response.json()["results"]
        assert {item["id"] for item in listed} == offers
        assert {item["incident"] for item in listed} == {incident.pk}
    assert api(rescuers[0].user).get(url).status_code == 403


def queries_of(client, url: str) -> tuple[int, list]:
    """How many queries a GET of `url` makes, and what it lists."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.json()
    return len(queries), response.json()["results"]


@pytest.mark.django_db
def test_it_lists_assignments_in_the_same_few_queries_however_many(
    api, coordinator, rescuers, boat, django_assert_max_num_queries
):
    nearest = rescuers[0]
    people = NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=1)
    boats = NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=1)
    first = dispatched(coordinator, needs=[people, boats])
    phone, desk = api(nearest.user), api(coordinator)
    mine, theirs = "/api/me/assignments/", f"/api/incidents/{first.pk}/assignments/"
    phone.get(mine), desk.get(theirs)  # the first request of a session may cache a lookup
    for_one_mine, listed_mine = queries_of(phone, mine)
    for_one_incident, listed_theirs = queries_of(desk, theirs)
    assert (len(listed_mine), len(listed_theirs)) == (1, 3)  # two people, one boat

    for number in range(5):
        dispatched(coordinator, title=f"第{number}起")
    assert Assignment.objects.filter(volunteer=nearest).count() == 6
    Assignment.objects.create(need=first.needs.get(kind=Need.Kind.PEOPLE), volunteer=rescuers[3])

    with django_assert_max_num_queries(for_one_mine):
        assert len(my_assignments(phone)) == 6
    with django_assert_max_num_queries(for_one_incident):
        listed = desk.get(theirs).json()["results"]
    assert len(listed) == 4
    assert {item["volunteer_name"] for item in listed} >= {nearest.name, rescuers[3].name}
    assert {item["vehicle_call_sign"] for item in listed} == {None, "蓝天-01"}


@pytest.mark.django_db
def test_it_answers_an_unknown_incidents_assignments_with_a_404(api, coordinator):
    response = api(coordinator).get("/api/incidents/999999/assignments/")

    assert response.status_code == 404


@pytest.mark.django_db
def test_it_lets_a_coordinator_assign_a_volunteer_by_hand(api, coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    need = incident.needs.get()
    far_away = rescuers[4]

    response = assign(api(coordinator), need.pk, {"volunteer": far_away.pk, "reason": "电话确认"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["offered_by"]) == ("accepted", coordinator.pk)
    assert (body["volunteer"], body["vehicle"], body["reason"]) == (far_away.pk, None, "电话确认")
    event = DeploymentEvent.objects.get(assignment_id=body["id"])
    assert (event.kind, event.actor, event.data["manual"]) == (
        EventKind.OFFER_ACCEPTED,
        coordinator,
        True,
    )
    # The volunteer sees it on their phone.
    assert [i["id"] for i in my_assignments(api(far_away.user), open=1)] == [body["id"]]


@pytest.mark.django_db
def test_it_lets_a_coordinator_assign_a_vehicle_by_hand(api, coordinator, boat):
    incident = open_rescue(
        coordinator,
        needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=1)],
    )

    response = assign(
        api(coordinator), incident.needs.get().pk, {"vehicle": boat.pk, "reason": "电话确认"}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["vehicle"], body["volunteer"]) == ("accepted", boat.pk, None)


@pytest.mark.django_db
def test_it_turns_an_open_offer_into_the_manual_assignment(api, coordinator, rescuers):
    incident = dispatched(coordinator, count=1)
    offer = offer_of(rescuers[0])

    response = assign(
        api(coordinator),
        incident.needs.get().pk,
        {"volunteer": rescuers[0].pk, "reason": "电话确认"},
    )

    assert response.status_code == 201, response.json()
    assert response.json()["id"] == offer.pk
    offer.refresh_from_db()
    assert (offer.status, offer.offered_by) == (AssignmentStatus.ACCEPTED, coordinator)
    # Full now: the other offer is withdrawn.
    assert not Assignment.objects.filter(
        need__incident=incident, status=AssignmentStatus.OFFERED
    ).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"volunteer": "<volunteer>"}, "reason"),
        ({"volunteer": "<volunteer>", "reason": ""}, "reason"),
        ({"volunteer": "<volunteer>", "reason": "   "}, "reason"),
        ({"volunteer": "<volunteer>", "reason": "很" * 301}, "reason"),
        ({"volunteer": "<volunteer>", "vehicle": "<vehicle>", "reason": "电话确认"}, None),
        ({"reason": "电话确认"}, None),
        ({"volunteer": None, "vehicle": None, "reason": "电话确认"}, None),
        ({"volunteer": 999999, "reason": "电话确认"}, "volunteer"),
        ({"vehicle": 999999, "reason": "电话确认"}, "vehicle"),
        ({"volunteer": "someone", "reason": "电话确认"}, "volunteer"),
    ],
    ids=[
        "no-reason",
        "empty-reason",
        "blank-reason",
        "long-reason",
        "both",
        "neither",
        "both-null",
        "unknown-volunteer",
        "unknown-vehicle",
        "volunteer-not-an-id",
    ],
)
def test_it_refuses_a_bad_manual_assignment_with_a_message(
    api, coordinator, rescuers, boat, body, field
):
    need = open_rescue(coordinator, count=1).needs.get()
    fill = {"<volunteer>": rescuers[0].pk, "<vehicle>": boat.pk}
    body = {name: fill.get(value, value) for name, value in body.items()}
    before = database_state()

    response = assign(api(coordinator), need.pk, body)

    assert response.status_code == 400
    errors = response.json()
    assert errors[field] if field else errors
    assert database_state() == before


@pytest.mark.django_db
def test_it_refuses_to_assign_to_a_full_need(api, coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    need = incident.needs.get()
    client = api(coordinator)
    assert (
        assign(client, need.pk, {"volunteer": rescuers[0].pk, "reason": "电话确认"}).status_code
        == 201
    )
    before = database_state()

    response = assign(client, need.pk, {"volunteer": rescuers[1].pk, "reason": "电话确认"})

    assert response.status_code == 409
    assert "already filled" in response.json()["detail"]
    assert database_state() == before


@pytest.mark.django_db
def test_it_refuses_to_assign_a_busy_volunteer(api, coordinator, rescuers):
    first = dispatched(coordinator, title="第一起")
    assigned(rescuers[0], first)
    second = open_rescue(coordinator, title="第二起")
    before = database_state()

    response = assign(
        api(coordinator), second.needs.get().pk, {"volunteer": rescuers[0].pk, "reason": "电话确认"}
    )

    assert response.status_code == 409
    assert "another assignment" in response.json()["detail"]
    assert database_state() == before


@pytest.mark.django_db
def test_it_refuses_to_assign_to_a_closed_incident(api, coordinator, rescuers):
    incident = open_rescue(coordinator)
    incident_cancel(incident=incident, actor=coordinator)
    before = database_state()

    response = assign(
        api(coordinator),
        incident.needs.get().pk,
        {"volunteer": rescuers[0].pk, "reason": "电话确认"},
    )

    assert response.status_code == 409
    assert "cancelled" in response.json()["detail"]
    assert database_state() == before


@pytest.mark.django_db
def test_it_answers_an_unknown_need_with_a_json_404(api, coordinator, rescuers):
    before = database_state()

    response = assign(api(coordinator), 999999, {"volunteer": rescuers[0].pk, "reason": "电话确认"})

    assert response.status_code == 404
    assert response.json()["detail"]
    assert database_state() == before


@pytest.mark.django_db
def test_it_lets_only_coordinators_assign_and_unassign(api, coordinator, commander, rescuers):
    incident = dispatched(coordinator)
    need = incident.needs.get()
    offer = offer_of(rescuers[0])
    before = database_state()

    for user in (rescuers[0].user, commander):
        client = api(user)
        hand = assign(client, need.pk, {"volunteer": rescuers[0].pk, "reason": "电话确认"})
        off = unassign(client, offer.pk, {"reason": "人不在"})
        assert (hand.status_code, off.status_code) == (403, 403)
        assert hand.json()["detail"]

    assert database_state() == before


@pytest.mark.django_db
def test_it_refuses_to_assign_a_vehicle_to_a_people_need(api, coordinator, boat):
    need = open_rescue(coordinator, count=1).needs.get()
    before = database_state()

    response = assign(api(coordinator), need.pk, {"vehicle": boat.pk, "reason": "电话确认"})

    assert response.status_code == 400
    assert database_state() == before


@pytest.mark.django_db
def test_it_lets_a_coordinator_take_someone_off_with_a_reason(api, coordinator, rescuers):
    incident = dispatched(coordinator, count=2)
    work = assigned(rescuers[0], incident)
    offer = offer_of(rescuers[1])
    client = api(coordinator)

    off = unassign(client, work.pk, {"reason": "人不在"})
    withdrawn = unassign(client, offer.pk, {"reason": "改派"})

    assert off.status_code == 200, off.json()
    assert (off.json()["status"], off.json()["reason"]) == ("cancelled", "人不在")
    assert off.json()["finished_at"] is not None
    assert withdrawn.status_code == 200, withdrawn.json()
    assert (withdrawn.json()["status"], withdrawn.json()["reason"]) == ("withdrawn", "改派")
    events = DeploymentEvent.objects.filter(assignment__in=[work, offer]).order_by("seq")
    assert [(e.kind, e.actor) for e in events][-2:] == [
        (EventKind.ASSIGNMENT_CANCELLED, coordinator),
        (EventKind.OFFER_WITHDRAWN, coordinator),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "  "}, {"reason": "很" * 301}])
def test_it_refuses_to_unassign_without_a_reason(api, coordinator, rescuers, body):
    incident = dispatched(coordinator)
    work = assigned(rescuers[0], incident)
    before = database_state()

    response = unassign(api(coordinator), work.pk, body)

    assert response.status_code == 400
    assert response.json()["reason"]
    assert database_state() == before


@pytest.mark.django_db
def test_it_refuses_to_unassign_finished_work(api, coordinator, rescuers):
    incident = dispatched(coordinator)
    work = assigned(rescuers[0], incident)
    services.assignment_progress(assignment_id=work.pk, volunteer=rescuers[0], status="completed")
    before = database_state()

    response = unassign(api(coordinator), work.pk, {"reason": "人不在"})

    assert response.status_code == 400
    assert response.json()["detail"] == "This assignment is already closed (Completed)."
    assert database_state() == before


# --- the contract ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_documents_the_offer_and_assignment_endpoints(api, volunteer):
    response = api(volunteer.user).get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {
        "/api/me/assignments/": "get",
        "/api/incidents/{id}/assignments/": "get",
        "/api/needs/{id}/assign/": "post",
        "/api/assignments/{id}/accept/": "post",
        "/api/assignments/{id}/decline/": "post",
        "/api/assignments/{id}/status/": "post",
        "/api/assignments/{id}/unassign/": "post",
    }
    for path, method in expected.items():
        assert method in paths.get(path, {}), path


@pytest.mark.django_db
def test_it_documents_what_phones_and_coordinators_read(api, volunteer):
    schemas = api(volunteer.user).get("/api/schema/", {"format": "json"}).json()["components"]
    assignment = schemas["schemas"]["Assignment"]["properties"]
    need = schemas["schemas"]["Need"]["properties"]

    assert {
        "incident_kind",
        "incident_address",
        "incident_priority",
        "need_kind",
        "need_skill",
        "need_vehicle_kind",
        "shift_start",
        "shift_end",
        "delivered_at",
        "seen_at",
        "volunteer_name",
        "vehicle_call_sign",
        "vehicle_kind",
    } <= set(assignment)
    assert all(assignment[name].get("readOnly") for name in assignment)
    assert need["filled"]["readOnly"] and need["offered"]["readOnly"]


@pytest.mark.django_db
def test_its_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", tmp_path / "api.yml")

    assert "/api/me/assignments/" in (tmp_path / "api.yml").read_text()


# --- languages ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept_language", "detail"),
    [
        ("en-US,en;q=0.9", "Already filled: this task no longer needs you. Thank you."),
        ("zh-Hans", "已满员：此任务已不需要您，谢谢。"),
        ("zh-CN,zh;q=0.9,en;q=0.5", "已满员：此任务已不需要您，谢谢。"),
        (None, "已满员：此任务已不需要您，谢谢。"),  # no preference: the site's language
    ],
)
def test_it_says_why_an_offer_closed_in_the_volunteers_language(
    api, coordinator, rescuers, accept_language, detail
):
    dispatched(coordinator, count=1)
    first, second = rescuers[:2]
    late = offer_of(second)
    assert accept(api(first.user), offer_of(first).pk).status_code == 200
    client = api(second.user)
    client.credentials(**({"HTTP_ACCEPT_LANGUAGE": accept_language} if accept_language else {}))

    response = accept(client, late.pk)

    assert response.status_code == 409
    assert response.json() == {"detail": detail}


@pytest.mark.django_db
def test_it_follows_the_language_switch_over_the_browsers_languages(api, coordinator, rescuers):
    dispatched(coordinator, count=1)
    nearest = rescuers[0]
    offer = offer_of(nearest)
    unassign(api(coordinator), offer.pk, {"reason": "人已够了"})
    client = api(nearest.user)  # an English browser...
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"  # ...switched to Chinese

    response = accept(client, offer.pk)

    assert response.status_code == 409
    assert response.json()["detail"] == "调度员已撤回：人已够了"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert accept(client, offer.pk).json()["detail"] == "Withdrawn by the coordinator: 人已够了"


@pytest.mark.django_db
def test_it_says_why_a_step_is_refused_in_chinese(api, coordinator, rescuers):
    incident = dispatched(coordinator)
    work = assigned(rescuers[0], incident)
    services.assignment_progress(assignment_id=work.pk, volunteer=rescuers[0], status="on_scene")
    client = api(rescuers[0].user)
    client.credentials(HTTP_ACCEPT_LANGUAGE="zh-Hans")

    response = report(client, work.pk, {"status": "en_route"})

    assert response.status_code == 400
    assert response.json() == {"detail": "不能从“在现场”变为“途中”。"}
