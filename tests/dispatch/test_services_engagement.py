"""One person, one piece of work (DESIGN.md §4 rule 4), whichever way it reaches them:
their own offer, a vehicle they crew, a coordinator's hand — held by the database
(dispatch.models.Engagement and the assignment constraints), on PostgreSQL, with real
threads where two paths race."""

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from dispatch import services
from dispatch.availability import index_rebuild, volunteer_busy_ids
from dispatch.location_index import volunteer_key
from dispatch.models import Assignment, AssignmentStatus, Engagement
from incidents.models import Need
from tests.dispatch.scenes import SITE, make_boat, open_boat_rescue, open_rescue
from tests.dispatch.test_services import race

pytestmark = pytest.mark.postgres


def offer(need: Need, **resource) -> Assignment:
    return Assignment.objects.create(need=need, status=AssignmentStatus.OFFERED, **resource)


def accepting(assignment: Assignment, volunteer):
    return lambda: services.assignment_accept(assignment_id=assignment.pk, volunteer=volunteer)


def rescuers_near_the_site(index) -> list[int]:
    hits = index.search(
        volunteer_key("rescue"), latitude=SITE[0], longitude=SITE[1], radius_km=5, count=5
    )
    return [hit.member for hit in hits]


def accept_over_the_api(volunteer, assignment: Assignment):
    client = APIClient()
    client.force_authenticate(volunteer.user)
    return client.post(f"/api/assignments/{assignment.pk}/accept/", {}, format="json")


@pytest.fixture
def crew_member(make_volunteer):
    return make_volunteer(
        "13600000001", on_duty=True, last_latitude=SITE[0], last_longitude=SITE[1]
    )


@pytest.mark.django_db
def test_it_refuses_a_personal_offer_to_someone_aboard_a_vehicle_on_a_task(
    coordinator, township, crew_member
):
    boat = make_boat(township, "舟-1", crew_member)
    boat_offer = offer(open_boat_rescue(coordinator).needs.get(), vehicle=boat)
    personal_offer = offer(open_rescue(coordinator, count=1).needs.get(), volunteer=crew_member)

    assert accept_over_the_api(crew_member, boat_offer).status_code == 200
    refused = accept_over_the_api(crew_member, personal_offer)

    assert refused.status_code == 409
    personal_offer.refresh_from_db()
    assert personal_offer.status == AssignmentStatus.OFFERED
    assert Engagement.objects.get(volunteer=crew_member).assignment_id == boat_offer.pk


@pytest.mark.django_db
def test_it_refuses_a_vehicle_offer_to_someone_on_their_own_task(
    coordinator, township, crew_member
):
    boat = make_boat(township, "舟-1", crew_member)
    personal_offer = offer(open_rescue(coordinator, count=1).needs.get(), volunteer=crew_member)
    boat_offer = offer(open_boat_rescue(coordinator).needs.get(), vehicle=boat)
    services.assignment_accept(assignment_id=personal_offer.pk, volunteer=crew_member)

    with translation.override("en"), pytest.raises(services.ResourceBusy, match="^You are"):
        services.assignment_accept(assignment_id=boat_offer.pk, volunteer=crew_member)

    boat_offer.refresh_from_db()
    assert boat_offer.status == AssignmentStatus.OFFERED


@pytest.mark.django_db
def test_it_refuses_one_crew_member_two_vehicles(coordinator, township, crew_member):
    first = make_boat(township, "舟-1", crew_member)
    second = make_boat(township, "舟-2", crew_member)
    first_offer = offer(open_boat_rescue(coordinator).needs.get(), vehicle=first)
    second_offer = offer(open_boat_rescue(coordinator).needs.get(), vehicle=second)
    services.assignment_accept(assignment_id=first_offer.pk, volunteer=crew_member)

    with pytest.raises(services.ResourceBusy):
        services.assignment_accept(assignment_id=second_offer.pk, volunteer=crew_member)

    assert Assignment.objects.filter(vehicle=second, status=AssignmentStatus.ACCEPTED).count() == 0


@pytest.mark.django_db
def test_it_lets_another_crew_member_take_a_second_vehicle(
    coordinator, township, crew_member, make_volunteer
):
    other = make_volunteer("13600000002", on_duty=True)
    first = make_boat(township, "舟-1", crew_member, other)
    second = make_boat(township, "舟-2", crew_member, other)
    first_offer = offer(open_boat_rescue(coordinator).needs.get(), vehicle=first)
    second_offer = offer(open_boat_rescue(coordinator).needs.get(), vehicle=second)

    services.assignment_accept(assignment_id=first_offer.pk, volunteer=crew_member)
    services.assignment_accept(assignment_id=second_offer.pk, volunteer=other)

    assert dict(Engagement.objects.values_list("volunteer_id", "assignment_id")) == {
        crew_member.pk: first_offer.pk,
        other.pk: second_offer.pk,
    }


@pytest.mark.django_db
def test_it_refuses_a_coordinator_one_person_in_two_places_of_a_need(coordinator, crew_member):
    need = open_rescue(coordinator, count=2).needs.get()
    mine = offer(need, volunteer=crew_member)
    services.assignment_accept(assignment_id=mine.pk, volunteer=crew_member)
    services.assignment_progress(
        assignment_id=mine.pk, volunteer=crew_member, status=AssignmentStatus.COMPLETED
    )

    with translation.override("en"), pytest.raises(services.ResourceBusy, match="already has a"):
        services.assignment_assign_manually(
            need_id=need.pk,
            target=services.ManualTarget(volunteer=crew_member),
            actor=coordinator,
            reason="电话确认",
        )

    assert need.assignments.filter(volunteer=crew_member).count() == 1


@pytest.mark.django_db
def test_it_frees_the_crew_member_when_the_vehicle_s_work_ends(
    coordinator, township, crew_member, live_index
):
    boat = make_boat(township, "舟-1", crew_member)
    boat_offer = offer(open_boat_rescue(coordinator).needs.get(), vehicle=boat)
    personal_offer = offer(open_rescue(coordinator, count=1).needs.get(), volunteer=crew_member)
    services.assignment_accept(assignment_id=boat_offer.pk, volunteer=crew_member)
    index_rebuild()
    assert crew_member.pk in volunteer_busy_ids()
    assert rescuers_near_the_site(live_index) == []

    services.assignment_progress(
        assignment_id=boat_offer.pk, volunteer=crew_member, status=AssignmentStatus.COMPLETED
    )

    assert not Engagement.objects.exists()
    assert crew_member.pk not in volunteer_busy_ids()
    index_rebuild()
    assert rescuers_near_the_site(live_index) == [crew_member.pk]
    accepted = services.assignment_accept(assignment_id=personal_offer.pk, volunteer=crew_member)
    assert accepted.status == AssignmentStatus.ACCEPTED


@pytest.mark.django_db
def test_it_frees_whoever_a_cancelled_assignment_engaged(coordinator, township, crew_member):
    boat = make_boat(township, "舟-1", crew_member)
    boat_offer = offer(open_boat_rescue(coordinator).needs.get(), vehicle=boat)
    services.assignment_accept(assignment_id=boat_offer.pk, volunteer=crew_member)

    services.assignment_unassign(assignment_id=boat_offer.pk, actor=coordinator, reason="换船")

    assert not Engagement.objects.filter(volunteer=crew_member).exists()


@pytest.mark.django_db
def test_it_withdraws_the_personal_offers_of_someone_who_went_with_a_vehicle(
    coordinator, township, crew_member
):
    boat = make_boat(township, "舟-1", crew_member)
    boat_offer = offer(open_boat_rescue(coordinator).needs.get(), vehicle=boat)
    personal_offer = offer(open_rescue(coordinator, count=1).needs.get(), volunteer=crew_member)
    services.assignment_accept(assignment_id=boat_offer.pk, volunteer=crew_member)

    withdrawn = services.offers_withdraw_from_busy(volunteer_id=crew_member.pk)

    personal_offer.refresh_from_db()
    assert personal_offer.status == AssignmentStatus.WITHDRAWN
    assert withdrawn == [personal_offer.need_id]


@pytest.mark.django_db(transaction=True)
def test_it_lets_one_of_two_paths_racing_for_one_person_win(coordinator, township, crew_member):
    """The same person accepts their own offer and, on another phone, a boat's: the
    two touch different needs and different rows, so only the database can refuse one."""
    for attempt in range(5):
        boat = make_boat(township, f"舟-{attempt}", crew_member)
        boat_offer = offer(open_boat_rescue(coordinator).needs.get(), vehicle=boat)
        personal_offer = offer(open_rescue(coordinator, count=1).needs.get(), volunteer=crew_member)

        outcomes = race(*(accepting(one, crew_member) for one in (boat_offer, personal_offer)))

        winners = [o for o in outcomes if isinstance(o, Assignment)]
        assert len(winners) == 1, outcomes
        assert all(isinstance(o, services.ResourceBusy) for o in outcomes if o not in winners)
        assert Engagement.objects.get(volunteer=crew_member).assignment_id == winners[0].pk
        services.assignment_unassign(assignment_id=winners[0].pk, actor=coordinator, reason="重来")
