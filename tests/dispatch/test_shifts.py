"""Shifts hold a place, not the person (issue 13, item 5): a shift accepted ahead is
reserved, and its volunteer stays free for urgent work and other shifts until it comes
due; on PostgreSQL with the real location index."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from dispatch import services
from dispatch.availability import index_rebuild, volunteer_busy_ids
from dispatch.errors import InvalidTransition, NotYours, OfferClosed, ResourceBusy
from dispatch.hours import served_assignments
from dispatch.location_index import volunteer_key
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, Engagement, EventKind
from dispatch.status_board import units_status_board
from incidents.services import incident_cancel, need_change
from tests.dispatch.scenes import KM, SITE, open_rescue, open_testing_site
from tests.dispatch.test_services import race

pytestmark = pytest.mark.postgres

HOUR = timedelta(hours=1)


def in_hours(hours: float):
    return timezone.now() + timedelta(hours=hours)


@pytest.fixture
def make_sampler(make_volunteer):
    """An on-duty sampler who is also a rescuer, `km` north of the site."""

    def make(phone: str, km: float = 1):
        return make_volunteer(
            phone,
            skills=("sampling", "rescue"),
            on_duty=True,
            last_latitude=SITE[0] + km * KM,
            last_longitude=SITE[1],
        )

    return make


@pytest.fixture
def sampler(make_sampler):
    return make_sampler("13500000001")


def offer(need, volunteer) -> Assignment:
    return Assignment.objects.create(
        need=need,
        volunteer=volunteer,
        status=AssignmentStatus.OFFERED,
        expires_at=timezone.now() + timedelta(minutes=10),
    )


def take(need, volunteer) -> Assignment:
    """Offer the need to the volunteer, and they accept it."""
    return services.assignment_accept(assignment_id=offer(need, volunteer).pk, volunteer=volunteer)


def in_index(index, volunteer, skill="rescue") -> bool:
    hits = index.search(
        volunteer_key(skill), latitude=SITE[0], longitude=SITE[1], radius_km=20, count=50
    )
    return volunteer.pk in {hit.member for hit in hits}


def kinds_of(assignment) -> list[str]:
    return list(
        DeploymentEvent.objects.filter(assignment=assignment).values_list("kind", flat=True)
    )


# --- reserving ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_shift_next_week_is_reserved_and_a_rescue_today_is_still_offered_and_taken(
    coordinator, sampler, live_index
):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(24 * 7)])

    booked = take(shift, sampler)

    assert booked.status == AssignmentStatus.RESERVED
    assert not Engagement.objects.filter(volunteer=sampler).exists()
    assert sampler.pk not in volunteer_busy_ids()
    index_rebuild()
    assert in_index(live_index, sampler)
    accepted = DeploymentEvent.objects.get(assignment=booked, kind=EventKind.OFFER_ACCEPTED)
    assert accepted.data == {"status": "reserved", "reserved": True}

    rescue = open_rescue(coordinator, count=1)
    offers = services.incident_dispatch(incident_id=rescue.pk)
    assert [o.volunteer_id for o in offers] == [sampler.pk]
    task = services.assignment_accept(assignment_id=offers[0].pk, volunteer=sampler)

    assert task.status == AssignmentStatus.ACCEPTED
    assert Engagement.objects.get(volunteer=sampler).assignment == task
    booked.refresh_from_db()
    assert booked.status == AssignmentStatus.RESERVED  # the shift is still theirs


@pytest.mark.django_db
def test_the_reserved_shift_fills_its_place(coordinator, sampler, make_sampler):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(48)])
    other = make_sampler("13500000002")
    late = offer(shift, other)

    take(shift, sampler)

    late.refresh_from_db()
    assert late.status == AssignmentStatus.WITHDRAWN  # the one place is taken
    assert services.needs_dispatch(need_ids=[shift.pk]) == []


@pytest.mark.django_db
def test_a_shift_starting_within_the_lead_time_is_accepted_as_work_now(coordinator, sampler):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(0.5)])

    now = take(shift, sampler)

    assert now.status == AssignmentStatus.ACCEPTED
    assert Engagement.objects.get(volunteer=sampler).assignment == now


@pytest.mark.django_db
def test_two_shifts_that_do_not_overlap_are_both_held(coordinator, sampler):
    monday, tuesday = open_testing_site(coordinator, starts=[in_hours(48), in_hours(72)])

    assert take(monday, sampler).status == AssignmentStatus.RESERVED
    assert take(tuesday, sampler).status == AssignmentStatus.RESERVED


@pytest.mark.django_db
def test_an_overlapping_shift_is_refused_with_the_shift_it_overlaps(coordinator, sampler):
    morning, overlapping = open_testing_site(coordinator, starts=[in_hours(48), in_hours(50)])
    take(morning, sampler)
    second = offer(overlapping, sampler)

    with (
        translation.override("en"),
        pytest.raises(ResourceBusy, match=r"overlaps your shift \d\d-\d\d \d\d:\d\d–\d\d:\d\d"),
    ):
        services.assignment_accept(assignment_id=second.pk, volunteer=sampler)

    second.refresh_from_db()
    assert second.status == AssignmentStatus.OFFERED  # nothing changed


@pytest.mark.django_db
def test_a_shift_without_the_rest_between_is_refused(coordinator, sampler):
    # 4-hour shifts: the second begins 2 hours after the first ends (8 are due).
    first, crowded = open_testing_site(coordinator, starts=[in_hours(48), in_hours(54)])
    take(first, sampler)

    with translation.override("en"), pytest.raises(ResourceBusy, match="less than 8 hours of rest"):
        take(crowded, sampler)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_shifts_accepted_at_once_reserve_one(coordinator, sampler):
    first, second = open_testing_site(coordinator, starts=[in_hours(48), in_hours(49)])
    offers = [offer(first, sampler), offer(second, sampler)]

    outcomes = race(
        *[
            lambda o=o: services.assignment_accept(assignment_id=o.pk, volunteer=sampler)
            for o in offers
        ]
    )

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Assignment", "ResourceBusy"]
    assert Assignment.objects.filter(status=AssignmentStatus.RESERVED).count() == 1


@pytest.mark.django_db
def test_a_coordinator_assigning_a_future_shift_by_hand_reserves_it(coordinator, sampler):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(48)])

    booked = services.assignment_assign_manually(
        need_id=shift.pk,
        target=services.ManualTarget(volunteer=sampler),
        actor=coordinator,
        reason="电话确认",
    )

    assert booked.status == AssignmentStatus.RESERVED
    assert sampler.pk not in volunteer_busy_ids()


# --- urgent work and a reserved shift -------------------------------------------------------


@pytest.mark.django_db
def test_urgent_work_that_would_run_into_a_reserved_shift_is_not_offered(
    coordinator, make_sampler, live_index
):
    # URGENT_TASK_HOURS is 3: a shift in 2 hours is too close, one in 5 hours is not.
    soon, later = make_sampler("13500000001", km=1), make_sampler("13500000002", km=2)
    close_shift, far_shift = open_testing_site(coordinator, starts=[in_hours(2), in_hours(5)])
    take(close_shift, soon)
    take(far_shift, later)
    index_rebuild()

    rescue = open_rescue(coordinator, count=1)
    offers = services.incident_dispatch(incident_id=rescue.pk)

    assert [o.volunteer_id for o in offers] == [later.pk]


# --- the take-up sweep ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_reservation_coming_due_becomes_active_work_once(coordinator, sampler, live_index):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(48)])
    booked = take(shift, sampler)
    due = shift.shift_start - timedelta(minutes=30)

    assert services.shifts_take_up(now=due - HOUR) == []  # not yet due
    booked.refresh_from_db()
    assert booked.status == AssignmentStatus.RESERVED

    services.shifts_take_up(now=due)
    services.shifts_take_up(now=due)  # twice: changes nothing more

    booked.refresh_from_db()
    assert booked.status == AssignmentStatus.ACCEPTED
    assert Engagement.objects.get(volunteer=sampler).assignment == booked
    assert kinds_of(booked).count(EventKind.ASSIGNMENT_TAKEN_UP) == 1


@pytest.mark.django_db(transaction=True)
def test_a_taken_up_shift_leaves_the_location_index(coordinator, sampler, live_index):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(48)])
    take(shift, sampler)
    index_rebuild()
    assert in_index(live_index, sampler, "sampling")

    services.shifts_take_up(now=shift.shift_start - timedelta(minutes=30))

    assert not in_index(live_index, sampler, "sampling")


@pytest.mark.django_db
def test_a_volunteer_still_on_a_rescue_when_their_shift_comes_due_is_not_double_booked(
    coordinator, sampler, make_sampler
):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(48)])
    booked = take(shift, sampler)
    take(open_rescue(coordinator, count=1).needs.get(), sampler)
    due = shift.shift_start - timedelta(minutes=30)

    # Due while busy: the coordinators are told once, and the shift waits for them.
    services.shifts_take_up(now=due)
    services.shifts_take_up(now=due + timedelta(minutes=1))
    booked.refresh_from_db()
    assert booked.status == AssignmentStatus.RESERVED
    clash = DeploymentEvent.objects.get(assignment=booked, kind=EventKind.ASSIGNMENT_SHIFT_CLASH)
    rescue = Engagement.objects.get(volunteer=sampler).assignment
    assert clash.data["busy_on"] == rescue.need.incident_id

    # Still busy when it begins: released, and offered to someone else.
    stand_in = make_sampler("13500000002")
    index_rebuild()
    released = services.shifts_take_up(now=shift.shift_start)

    booked.refresh_from_db()
    assert booked.status == AssignmentStatus.CANCELLED
    assert released == [shift.pk]
    assert Engagement.objects.get(volunteer=sampler).assignment == rescue  # unchanged
    offers = services.needs_dispatch(need_ids=released)
    assert [o.volunteer_id for o in offers] == [stand_in.pk]


@pytest.mark.django_db
def test_a_volunteer_free_again_before_the_shift_begins_takes_it_up(coordinator, sampler):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(48)])
    booked = take(shift, sampler)
    rescue = take(open_rescue(coordinator, count=1).needs.get(), sampler)
    services.shifts_take_up(now=shift.shift_start - timedelta(minutes=30))

    services.assignment_progress(assignment_id=rescue.pk, volunteer=sampler, status="completed")
    services.shifts_take_up(now=shift.shift_start - timedelta(minutes=10))

    booked.refresh_from_db()
    assert booked.status == AssignmentStatus.ACCEPTED


# --- giving up ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_shift_given_up_is_offered_to_someone_else(
    coordinator, sampler, make_sampler, live_index
):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(48)])
    booked = take(shift, sampler)
    stand_in = make_sampler("13500000002", km=3)
    index_rebuild()

    services.assignment_give_up(assignment_id=booked.pk, volunteer=sampler)

    booked.refresh_from_db()
    assert booked.status == AssignmentStatus.CANCELLED
    cancelled = DeploymentEvent.objects.get(assignment=booked, kind=EventKind.ASSIGNMENT_CANCELLED)
    assert cancelled.data == {"status": "cancelled", "reason": "shift given up"}
    assert cancelled.actor == sampler.user
    offers = services.needs_dispatch(need_ids=[shift.pk])
    assert [o.volunteer_id for o in offers] == [stand_in.pk]  # not the one who gave it up


@pytest.mark.django_db
def test_only_a_booked_shift_of_ones_own_can_be_given_up(coordinator, sampler, make_sampler):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(48)])
    booked = take(shift, sampler)

    with pytest.raises(NotYours):
        services.assignment_give_up(assignment_id=booked.pk, volunteer=make_sampler("135009"))
    services.assignment_give_up(assignment_id=booked.pk, volunteer=sampler)
    with translation.override("en"), pytest.raises(OfferClosed, match="Only a booked shift"):
        services.assignment_give_up(assignment_id=booked.pk, volunteer=sampler)


@pytest.mark.django_db
def test_giving_up_over_the_api(coordinator, sampler, api):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(48)])
    booked = take(shift, sampler)
    url = f"/api/assignments/{booked.pk}/give-up/"

    assert api(coordinator).post(url, {}, format="json").status_code == 403
    answer = api(sampler.user).post(url, {}, format="json")
    assert answer.status_code == 200
    assert answer.json()["status"] == "cancelled"
    again = api(sampler.user).post(url, {}, format="json")
    assert again.status_code == 409
    assert "已预约的班次" in again.json()["detail"]  # in the volunteer's language


@pytest.mark.django_db
def test_a_coordinator_takes_a_volunteer_off_a_reserved_shift(coordinator, sampler):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(48)])
    booked = take(shift, sampler)

    services.assignment_unassign(assignment_id=booked.pk, actor=coordinator, reason="换人")

    booked.refresh_from_db()
    assert booked.status == AssignmentStatus.CANCELLED
    assert booked.reason == "换人"


# --- what reads statuses ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_reservation_is_no_hours_served_and_shows_free_on_the_board(coordinator, sampler):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(48)])
    take(shift, sampler)

    assert served_assignments(volunteer_ids=[sampler.pk]) == []
    (row,) = units_status_board(volunteer_ids=[sampler.pk])["volunteers"]
    assert row["state"] == "free"


@pytest.mark.django_db
def test_a_due_shift_the_sweep_missed_is_taken_up_by_arriving(coordinator, sampler):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(0.5)])
    booked = offer(shift, sampler)
    Assignment.objects.filter(pk=booked.pk).update(status=AssignmentStatus.RESERVED)

    services.assignment_progress(assignment_id=booked.pk, volunteer=sampler, status="on_scene")

    booked.refresh_from_db()
    assert booked.status == AssignmentStatus.ON_SCENE
    assert Engagement.objects.get(volunteer=sampler).assignment == booked


@pytest.mark.django_db
def test_a_shift_next_week_cannot_be_reported_on_scene_yet(coordinator, sampler):
    (shift,) = open_testing_site(coordinator, starts=[in_hours(48)])
    booked = take(shift, sampler)

    with pytest.raises(InvalidTransition):
        services.assignment_progress(assignment_id=booked.pk, volunteer=sampler, status="on_scene")


@pytest.mark.django_db
def test_closing_the_site_or_shrinking_a_shift_stands_reservations_down(
    coordinator, sampler, make_sampler
):
    morning, evening = open_testing_site(coordinator, starts=[in_hours(48), in_hours(72)], count=2)
    early = take(morning, sampler)
    late = take(morning, make_sampler("13500000002"))
    evening_booking = take(evening, sampler)

    need_change(need_id=morning.pk, actor=coordinator, count=1)

    early.refresh_from_db()
    late.refresh_from_db()
    assert (early.status, late.status) == (AssignmentStatus.RESERVED, AssignmentStatus.CANCELLED)

    incident_cancel(incident=morning.incident, actor=coordinator, note="取消")

    evening_booking.refresh_from_db()
    assert evening_booking.status == AssignmentStatus.CANCELLED
    assert evening_booking.reason == "incident cancelled"
