import pytest

from dispatch import services
from dispatch.models import Assignment, AssignmentStatus
from dispatch.selectors import VOLUNTEER_COLUMNS, _volunteer_rows, need_ids_wanting_offers
from incidents.models import Need
from incidents.services import NeedSpec, incident_cancel
from tests.dispatch.test_services import open_rescue
from volunteers.models import Vehicle, VehicleKind, Volunteer


@pytest.mark.django_db
def test_it_reads_the_same_volunteer_rows_as_the_orm(make_volunteer):
    on_duty = make_volunteer(
        "13600000001",
        skills=("rescue", "first_aid"),
        on_duty=True,
        last_latitude=34.61,
        last_longitude=113.68,
        home_latitude=34.6,
        home_longitude=113.7,
    )
    no_skills = make_volunteer("13600000002", skills=(), on_duty=True)
    off_duty = make_volunteer("13600000003", on_duty=False)
    ids = [on_duty.pk, no_skills.pk, off_duty.pk]

    rows = _volunteer_rows(ids)

    orm = Volunteer.objects.filter(pk__in=ids, on_duty=True).values_list(*VOLUNTEER_COLUMNS)
    assert sorted(rows, key=repr) == sorted(orm, key=repr)
    assert {row[0] for row in rows} == {on_duty.pk, no_skills.pk}
    assert sorted(row[-1] for row in rows if row[0] == on_duty.pk) == ["first_aid", "rescue"]


@pytest.mark.django_db
def test_it_leaves_out_volunteers_busy_however_the_index_lags(
    coordinator, make_volunteer, township
):
    own_task, aboard, free = (
        make_volunteer(f"1360000001{n}", on_duty=True, home_latitude=34.6, home_longitude=113.7)
        for n in range(3)
    )
    boat = Vehicle.objects.create(
        call_sign="舟-1",
        kind=VehicleKind.BOAT,
        township=township,
        capacity=6,
        max_water_depth_m=2,
        latitude=34.6,
        longitude=113.7,
    )
    boat.crew.add(aboard)
    rescue = open_rescue(coordinator, count=1).needs.get()
    mine = Assignment.objects.create(need=rescue, volunteer=own_task)
    services.assignment_accept(assignment_id=mine.pk, volunteer=own_task)
    boat_need = open_rescue(
        coordinator, needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT)]
    ).needs.get()
    boat_offer = Assignment.objects.create(need=boat_need, vehicle=boat)
    services.assignment_accept(assignment_id=boat_offer.pk, volunteer=aboard)

    rows = _volunteer_rows([own_task.pk, aboard.pk, free.pk])

    assert {row[0] for row in rows} == {free.pk}


@pytest.mark.django_db
def test_it_finds_the_needs_that_want_offers_and_no_others(coordinator, rescuers):
    def need_of(incident):
        return incident.needs.get()

    filled = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=filled.pk)
    winner = Assignment.objects.filter(need__incident=filled).first()
    services.assignment_accept(assignment_id=winner.pk, volunteer=winner.volunteer)
    covered = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=covered.pk)
    declined = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=declined.pk)
    refusal = Assignment.objects.filter(need__incident=declined).first()
    services.assignment_decline(assignment_id=refusal.pk, volunteer=refusal.volunteer)
    never_offered = open_rescue(coordinator, count=2)
    closed = open_rescue(coordinator, count=1)
    incident_cancel(incident=closed, actor=coordinator, note="false alarm")

    wanting = need_ids_wanting_offers()

    assert wanting == [need_of(declined).pk, need_of(never_offered).pk]
    assert need_of(filled).pk not in wanting
    assert need_of(covered).pk not in wanting  # its offers are still out


@pytest.mark.django_db
def test_it_counts_a_capability_need_by_the_capacity_that_went(
    coordinator, make_volunteer, township
):
    crew = make_volunteer("13600000011", on_duty=True)
    boat = Vehicle.objects.create(
        call_sign="冲锋舟 1",
        kind=VehicleKind.BOAT,
        township=township,
        capacity=8,
        max_water_depth_m=3,
    )
    boat.crew.add(crew)
    incident = open_rescue(
        coordinator,
        needs=[NeedSpec(kind=Need.Kind.CAPABILITY, people_to_move=20, water_depth_m=1.5)],
    )
    need = incident.needs.get()
    Assignment.objects.create(need=need, vehicle=boat, status=AssignmentStatus.ACCEPTED)

    assert need_ids_wanting_offers() == [need.pk]  # 8 of 20 people can go

    need.people_to_move = 8
    need.save()
    assert need_ids_wanting_offers() == []
