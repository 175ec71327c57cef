"""The database itself refuses double booking and impossible assignments, whatever code
writes them (DESIGN.md §4 rule 4): these writes skip every check in Python on purpose."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from dispatch.models import ACTIVE_STATUSES, Assignment, AssignmentStatus, EventSequence
from incidents.models import Incident, Need
from volunteers.models import Skill, Vehicle, VehicleKind

ACTIVE = [pytest.param(status, id=status.value) for status in ACTIVE_STATUSES]
# Statuses that leave a volunteer or vehicle free again.
FINISHED = [
    pytest.param(status, id=status.value)
    for status in (
        AssignmentStatus.COMPLETED,
        AssignmentStatus.DECLINED,
        AssignmentStatus.EXPIRED,
        AssignmentStatus.WITHDRAWN,
        AssignmentStatus.CANCELLED,
    )
]


@pytest.fixture
def incident(coordinator):
    return Incident.objects.create(
        kind=Incident.Kind.FLOOD_RESCUE,
        title="龙湖镇 积水 群众被困",
        latitude=34.61,
        longitude=113.68,
        reporter=coordinator,
    )


@pytest.fixture
def people_needs(incident):
    """Two needs for rescuers, as two incidents competing for the same people would."""
    rescue = Skill.objects.get(code="rescue")
    return [
        Need.objects.create(incident=incident, kind=Need.Kind.PEOPLE, skill=rescue, count=4),
        Need.objects.create(incident=incident, kind=Need.Kind.PEOPLE, skill=rescue, count=2),
    ]


@pytest.fixture
def boat_needs(incident):
    return [
        Need.objects.create(incident=incident, kind=Need.Kind.VEHICLE, vehicle_kind=kind)
        for kind in (VehicleKind.BOAT, VehicleKind.BOAT)
    ]


@pytest.fixture
def boat(township):
    return Vehicle.objects.create(
        call_sign="蓝天-舟01",
        kind=VehicleKind.BOAT,
        township=township,
        capacity=8,
        max_water_depth_m=Decimal("3"),
    )


# --- volunteer or vehicle -------------------------------------------------------------


@pytest.mark.django_db
def test_it_refuses_an_assignment_to_both_a_volunteer_and_a_vehicle(people_needs, volunteer, boat):
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(need=people_needs[0], volunteer=volunteer, vehicle=boat)

    assert not Assignment.objects.exists()


@pytest.mark.django_db
def test_it_refuses_an_assignment_to_nobody(people_needs):
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(need=people_needs[0])

    assert not Assignment.objects.exists()


@pytest.mark.django_db
def test_it_refuses_to_hand_a_volunteer_assignment_to_a_vehicle_too(people_needs, volunteer, boat):
    offer = Assignment.objects.create(need=people_needs[0], volunteer=volunteer)

    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.filter(pk=offer.pk).update(vehicle=boat)

    offer.refresh_from_db()
    assert offer.vehicle is None


# --- no double booking ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("first", ACTIVE)
@pytest.mark.parametrize("second", ACTIVE)
def test_it_refuses_a_second_active_assignment_for_a_volunteer(
    people_needs, volunteer, first, second
):
    Assignment.objects.create(need=people_needs[0], volunteer=volunteer, status=first)

    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(need=people_needs[1], volunteer=volunteer, status=second)

    assert Assignment.objects.filter(volunteer=volunteer).count() == 1


@pytest.mark.django_db
def test_it_refuses_to_accept_a_second_offer_while_a_volunteer_is_busy(people_needs, volunteer):
    Assignment.objects.create(
        need=people_needs[0], volunteer=volunteer, status=AssignmentStatus.ON_SCENE
    )
    offer = Assignment.objects.create(need=people_needs[1], volunteer=volunteer)

    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.filter(pk=offer.pk).update(status=AssignmentStatus.ACCEPTED)

    offer.refresh_from_db()
    assert offer.status == AssignmentStatus.OFFERED


@pytest.mark.django_db
def test_it_lets_only_one_of_two_offers_be_accepted(people_needs, volunteer):
    offers = [Assignment.objects.create(need=need, volunteer=volunteer) for need in people_needs]
    Assignment.objects.filter(pk=offers[0].pk).update(status=AssignmentStatus.ACCEPTED)

    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.filter(pk=offers[1].pk).update(status=AssignmentStatus.ACCEPTED)

    assert list(
        Assignment.objects.filter(volunteer=volunteer).values_list("status", flat=True)
    ) == [AssignmentStatus.ACCEPTED, AssignmentStatus.OFFERED]


@pytest.mark.django_db
def test_it_allows_several_offers_to_a_volunteer(people_needs, volunteer):
    for need in people_needs:
        Assignment.objects.create(need=need, volunteer=volunteer)

    assert Assignment.objects.filter(volunteer=volunteer).count() == 2


@pytest.mark.django_db
def test_it_allows_offers_to_a_volunteer_who_is_busy(people_needs, volunteer):
    Assignment.objects.create(
        need=people_needs[0], volunteer=volunteer, status=AssignmentStatus.EN_ROUTE
    )
    Assignment.objects.create(need=people_needs[1], volunteer=volunteer)

    assert Assignment.objects.filter(volunteer=volunteer).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("finished", FINISHED)
def test_it_frees_a_volunteer_whose_assignment_ended(people_needs, volunteer, finished):
    Assignment.objects.create(need=people_needs[0], volunteer=volunteer, status=finished)

    Assignment.objects.create(
        need=people_needs[1], volunteer=volunteer, status=AssignmentStatus.ACCEPTED
    )

    assert Assignment.objects.filter(volunteer=volunteer).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "taken", [*ACTIVE, pytest.param(AssignmentStatus.COMPLETED, id="completed")]
)
def test_it_refuses_one_volunteer_a_second_place_on_a_need(people_needs, volunteer, taken):
    Assignment.objects.create(need=people_needs[0], volunteer=volunteer, status=taken)

    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            need=people_needs[0], volunteer=volunteer, status=AssignmentStatus.COMPLETED
        )


@pytest.mark.django_db
def test_it_books_different_volunteers_at_once(people_needs, volunteer, make_volunteer):
    other = make_volunteer("13800000002")

    for person in (volunteer, other):
        Assignment.objects.create(
            need=people_needs[0], volunteer=person, status=AssignmentStatus.ACCEPTED
        )

    assert Assignment.objects.filter(status=AssignmentStatus.ACCEPTED).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("first", ACTIVE)
@pytest.mark.parametrize("second", ACTIVE)
def test_it_refuses_a_second_active_assignment_for_a_vehicle(boat_needs, boat, first, second):
    Assignment.objects.create(need=boat_needs[0], vehicle=boat, status=first)

    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(need=boat_needs[1], vehicle=boat, status=second)

    assert Assignment.objects.filter(vehicle=boat).count() == 1


@pytest.mark.django_db
def test_it_allows_several_offers_to_a_vehicle(boat_needs, boat):
    Assignment.objects.create(need=boat_needs[0], vehicle=boat, status=AssignmentStatus.ACCEPTED)
    Assignment.objects.create(need=boat_needs[1], vehicle=boat)

    assert Assignment.objects.filter(vehicle=boat).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("finished", FINISHED)
def test_it_frees_a_vehicle_whose_assignment_ended(boat_needs, boat, finished):
    Assignment.objects.create(need=boat_needs[0], vehicle=boat, status=finished)

    Assignment.objects.create(need=boat_needs[1], vehicle=boat, status=AssignmentStatus.ON_SCENE)

    assert Assignment.objects.filter(vehicle=boat).count() == 2


# --- one open offer per need and resource ----------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "first", [AssignmentStatus.OFFERED, *ACTIVE_STATUSES], ids=lambda status: status.value
)
def test_it_refuses_a_second_offer_of_a_need_to_the_same_volunteer(people_needs, volunteer, first):
    Assignment.objects.create(need=people_needs[0], volunteer=volunteer, status=first)

    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(need=people_needs[0], volunteer=volunteer)

    assert Assignment.objects.filter(volunteer=volunteer).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ended", [AssignmentStatus.DECLINED, AssignmentStatus.EXPIRED], ids=lambda s: s.value
)
def test_it_offers_a_need_again_after_a_volunteer_let_it_go(people_needs, volunteer, ended):
    Assignment.objects.create(need=people_needs[0], volunteer=volunteer, status=ended)

    Assignment.objects.create(need=people_needs[0], volunteer=volunteer)

    assert list(
        Assignment.objects.filter(volunteer=volunteer).values_list("status", flat=True)
    ) == [ended, AssignmentStatus.OFFERED]


@pytest.mark.django_db
def test_it_refuses_to_reopen_an_expired_offer_next_to_a_new_one(people_needs, volunteer):
    expired = Assignment.objects.create(
        need=people_needs[0], volunteer=volunteer, status=AssignmentStatus.EXPIRED
    )
    Assignment.objects.create(need=people_needs[0], volunteer=volunteer)

    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.filter(pk=expired.pk).update(status=AssignmentStatus.OFFERED)

    expired.refresh_from_db()
    assert expired.status == AssignmentStatus.EXPIRED


@pytest.mark.django_db
def test_it_offers_one_need_to_several_volunteers(people_needs, volunteer, make_volunteer):
    other = make_volunteer("13800000002")

    for person in (volunteer, other):
        Assignment.objects.create(need=people_needs[0], volunteer=person)

    assert people_needs[0].assignments.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "first", [AssignmentStatus.OFFERED, *ACTIVE_STATUSES], ids=lambda status: status.value
)
def test_it_refuses_a_second_offer_of_a_need_to_the_same_vehicle(boat_needs, boat, first):
    Assignment.objects.create(need=boat_needs[0], vehicle=boat, status=first)

    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(need=boat_needs[0], vehicle=boat)

    assert Assignment.objects.filter(vehicle=boat).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ended", [AssignmentStatus.DECLINED, AssignmentStatus.EXPIRED], ids=lambda s: s.value
)
def test_it_offers_a_need_to_a_vehicle_again_after_its_crew_let_it_go(boat_needs, boat, ended):
    Assignment.objects.create(need=boat_needs[0], vehicle=boat, status=ended)

    Assignment.objects.create(need=boat_needs[0], vehicle=boat)

    assert boat_needs[0].assignments.count() == 2


# --- people moved -----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_records_people_moved_on_a_completed_assignment(boat_needs, boat):
    done = Assignment.objects.create(
        need=boat_needs[0],
        vehicle=boat,
        status=AssignmentStatus.COMPLETED,
        finished_at=timezone.now(),
        people_moved=12,
    )

    done.refresh_from_db()
    assert done.people_moved == 12


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status",
    [s for s in AssignmentStatus if s != AssignmentStatus.COMPLETED],
    ids=lambda s: s.value,
)
def test_it_refuses_people_moved_before_completion(boat_needs, boat, status):
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(need=boat_needs[0], vehicle=boat, status=status, people_moved=3)

    assert not Assignment.objects.exists()


@pytest.mark.django_db
def test_it_refuses_to_reopen_a_completed_assignment_that_moved_people(boat_needs, boat):
    done = Assignment.objects.create(
        need=boat_needs[0], vehicle=boat, status=AssignmentStatus.COMPLETED, people_moved=12
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.filter(pk=done.pk).update(status=AssignmentStatus.ON_SCENE)

    done.refresh_from_db()
    assert done.status == AssignmentStatus.COMPLETED


# --- the event sequence -----------------------------------------------------------------


@pytest.mark.django_db
def test_it_keeps_the_event_sequence_in_its_single_row():
    assert list(EventSequence.objects.values_list("id", flat=True)) == [1]


@pytest.mark.django_db
@pytest.mark.parametrize("row_id", [0, 2])
def test_it_refuses_a_second_event_sequence_row(row_id):
    with pytest.raises(IntegrityError), transaction.atomic():
        EventSequence.objects.create(id=row_id, last_seq=0)

    assert EventSequence.objects.count() == 1


@pytest.mark.django_db
def test_it_refuses_to_renumber_the_event_sequence_row():
    with pytest.raises(IntegrityError), transaction.atomic():
        EventSequence.objects.filter(id=1).update(id=2)

    assert list(EventSequence.objects.values_list("id", flat=True)) == [1]
