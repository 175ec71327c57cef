"""dispatch/vehicles.py: a vehicle's status follows its work, its crew or a coordinator
put it out of service and back, it goes where its crew member on the task goes, and it
is offered only while someone of its crew can take it — on PostgreSQL, with real
threads where an accept races an out-of-service report."""

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from dispatch import services, vehicles
from dispatch.availability import index_rebuild
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from tests.dispatch.scenes import KM, SITE, make_boat, open_boat_rescue
from tests.dispatch.test_services import race
from volunteers.models import Vehicle, VehicleStatus
from volunteers.services import volunteer_update_location

pytestmark = pytest.mark.postgres


@pytest.fixture
def boatman(make_volunteer):
    return make_volunteer(
        "13600000001", on_duty=True, last_latitude=SITE[0], last_longitude=SITE[1]
    )


def status_of(vehicle: Vehicle) -> str:
    return Vehicle.objects.values_list("status", flat=True).get(pk=vehicle.pk)


def logged_statuses(vehicle: Vehicle) -> list[tuple[str, str]]:
    return [
        (event.data["status"], event.data["reason"])
        for event in DeploymentEvent.objects.filter(
            kind=EventKind.VEHICLE_STATUS, vehicle=vehicle
        ).order_by("seq")
    ]


def dispatched_boat(coordinator) -> list[Assignment]:
    index_rebuild()
    incident = open_boat_rescue(coordinator)
    return services.incident_dispatch(incident_id=incident.pk)


def out_of_service(boat, actor, reason="发动机故障"):
    return vehicles.vehicle_set_in_service(
        vehicle_id=boat.pk, in_service=False, actor=actor, reason=reason
    )


# --- status follows work ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_boat_on_a_task_is_on_a_task_until_the_task_is_done(
    coordinator, township, boatman, live_index
):
    boat = make_boat(township, "舟-1", boatman)
    (offer,) = dispatched_boat(coordinator)
    assert status_of(boat) == VehicleStatus.AVAILABLE

    services.assignment_accept(assignment_id=offer.pk, volunteer=boatman)
    assert status_of(boat) == VehicleStatus.ASSIGNED

    services.assignment_progress(
        assignment_id=offer.pk, volunteer=boatman, status=AssignmentStatus.COMPLETED
    )
    assert status_of(boat) == VehicleStatus.AVAILABLE
    assert logged_statuses(boat) == [("assigned", ""), ("available", "")]


@pytest.mark.django_db
def test_a_cancelled_task_frees_its_boat(coordinator, township, boatman, live_index):
    boat = make_boat(township, "舟-1", boatman)
    (offer,) = dispatched_boat(coordinator)
    services.assignment_accept(assignment_id=offer.pk, volunteer=boatman)

    services.assignment_unassign(assignment_id=offer.pk, actor=coordinator, reason="换船")

    assert status_of(boat) == VehicleStatus.AVAILABLE


# --- out of service ----------------------------------------------------------------------


@pytest.mark.django_db
def test_an_out_of_service_boat_is_not_offered_and_is_again_once_back(
    coordinator, township, boatman, live_index
):
    boat = make_boat(township, "舟-1", boatman)
    out_of_service(boat, boatman.user)

    assert dispatched_boat(coordinator) == []

    vehicles.vehicle_set_in_service(
        vehicle_id=boat.pk, in_service=True, actor=coordinator, reason="修好了"
    )
    assert [offer.vehicle_id for offer in dispatched_boat(coordinator)] == [boat.pk]
    assert logged_statuses(boat) == [
        ("out_of_service", "发动机故障"),
        ("available", "修好了"),
    ]


@pytest.mark.django_db
def test_its_open_offers_go_to_others_and_cannot_be_accepted(
    coordinator, township, boatman, live_index
):
    boat = make_boat(township, "舟-1", boatman)
    (offer,) = dispatched_boat(coordinator)

    out_of_service(boat, coordinator)

    with translation.override("en"), pytest.raises(services.ResourceBusy, match="out of service"):
        services.assignment_accept(assignment_id=offer.pk, volunteer=boatman)
    assert Assignment.objects.get(pk=offer.pk).status == AssignmentStatus.OFFERED
    # The task queued after the commit (run here by hand): withdrawn, its need free.
    assert services.offers_withdraw_from_busy(vehicle_id=boat.pk) == [offer.need_id]
    withdrawn = Assignment.objects.get(pk=offer.pk)
    assert (withdrawn.status, withdrawn.reason) == (
        AssignmentStatus.WITHDRAWN,
        "vehicle out of service",
    )


@pytest.mark.django_db
def test_the_sweep_withdraws_what_a_lost_task_left_offered(
    coordinator, township, boatman, live_index
):
    boat = make_boat(township, "舟-1", boatman)
    (offer,) = dispatched_boat(coordinator)
    out_of_service(boat, coordinator)

    assert services.offers_withdraw_from_busy_sweep() == [offer.need_id]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("in_service", "reason", "message"),
    [
        (False, "  ", "Say why the vehicle is out of service."),
        (True, "", "舟-1 is in service."),
    ],
)
def test_it_refuses_what_makes_no_sense(township, boatman, in_service, reason, message):
    boat = make_boat(township, "舟-1", boatman)

    with translation.override("en"), pytest.raises(services.InvalidTransition) as refused:
        vehicles.vehicle_set_in_service(
            vehicle_id=boat.pk, in_service=in_service, actor=boatman.user, reason=reason
        )

    assert str(refused.value) == message
    assert status_of(boat) == VehicleStatus.AVAILABLE
    assert logged_statuses(boat) == []


@pytest.mark.django_db
def test_a_boat_on_a_task_is_taken_off_it_before_going_out_of_service(
    coordinator, township, boatman, live_index
):
    boat = make_boat(township, "舟-1", boatman)
    (offer,) = dispatched_boat(coordinator)
    services.assignment_accept(assignment_id=offer.pk, volunteer=boatman)

    with translation.override("en"), pytest.raises(services.InvalidTransition, match="on a task"):
        out_of_service(boat, boatman.user)

    assert status_of(boat) == VehicleStatus.ASSIGNED


@pytest.mark.django_db(transaction=True)
def test_an_accept_and_an_out_of_service_report_racing_do_not_both_win(
    coordinator, township, boatman, make_volunteer
):
    """The crew member accepts on one phone while the other reports the engine dead:
    either the boat goes on the task (and the report is refused), or it is out of
    service (and the accept refused) — never out of service on a task."""
    mate = make_volunteer("13600000002", on_duty=True)
    for attempt in range(5):
        boat = make_boat(township, f"舟-{attempt}", boatman, mate)
        offer = Assignment.objects.create(
            need=open_boat_rescue(coordinator).needs.get(),
            vehicle=boat,
            status=AssignmentStatus.OFFERED,
        )

        accepted, reported = race(
            lambda offer=offer: services.assignment_accept(
                assignment_id=offer.pk, volunteer=boatman
            ),
            lambda boat=boat: out_of_service(boat, mate.user),
        )

        if isinstance(accepted, Assignment):
            assert isinstance(reported, services.InvalidTransition)
            assert status_of(boat) == VehicleStatus.ASSIGNED
            services.assignment_unassign(assignment_id=offer.pk, actor=coordinator, reason="重来")
        else:
            assert isinstance(accepted, services.ResourceBusy), accepted
            assert isinstance(reported, Vehicle)
            assert status_of(boat) == VehicleStatus.OUT_OF_SERVICE
            assert Assignment.objects.get(pk=offer.pk).status == AssignmentStatus.OFFERED
        boat.crew.clear()


# --- where it is --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_boat_goes_where_its_crew_member_on_the_task_goes(
    coordinator, township, boatman, make_volunteer, live_index
):
    boat = make_boat(township, "舟-1", boatman)
    ashore = make_volunteer("13600000002", on_duty=True)
    boat.crew.add(ashore)
    (offer,) = dispatched_boat(coordinator)
    services.assignment_accept(assignment_id=offer.pk, volunteer=boatman)

    volunteer_update_location(volunteer=ashore, latitude=SITE[0] + 5 * KM, longitude=SITE[1])
    boat.refresh_from_db()
    assert (boat.latitude, boat.longitude) == SITE  # not with the one who stayed ashore

    volunteer_update_location(volunteer=boatman, latitude=SITE[0] + 2 * KM, longitude=SITE[1])
    boat.refresh_from_db()
    assert (boat.latitude, boat.longitude) == (SITE[0] + 2 * KM, SITE[1])
    assert boat.located_at is not None


# --- manned ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_boat_whose_crew_is_off_duty_is_not_offered(
    coordinator, township, make_volunteer, live_index
):
    at_home = make_volunteer("13600000001", on_duty=False)
    make_boat(township, "舟-1", at_home)

    assert dispatched_boat(coordinator) == []


# --- the API ------------------------------------------------------------------------------


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_its_crew_puts_it_out_of_service_over_the_api(township, boatman, make_volunteer):
    boat = make_boat(township, "舟-1", boatman)
    stranger = make_volunteer("13600000009")
    path = f"/api/vehicles/{boat.pk}/service/"

    refused = api_as(stranger.user).post(path, {"in_service": False, "reason": "x"}, format="json")
    assert refused.status_code == 403
    no_reason = api_as(boatman.user).post(path, {"in_service": False}, format="json")
    assert no_reason.status_code == 400
    assert "detail" in no_reason.json()
    # A form that does not say in_service is not read as "out of service" (DRF reads a
    # missing boolean in a form as False; Schemathesis found it).
    unsaid = api_as(boatman.user).post(path, {"reason": "发动机故障"})
    assert unsaid.status_code == 400
    assert "in_service" in unsaid.json()
    assert status_of(boat) == VehicleStatus.AVAILABLE

    done = api_as(boatman.user).post(
        path, {"in_service": False, "reason": "发动机故障"}, format="json"
    )
    assert done.status_code == 200
    assert done.json()["status"] == VehicleStatus.OUT_OF_SERVICE
    assert status_of(boat) == VehicleStatus.OUT_OF_SERVICE
