import pytest

from dispatch import services
from dispatch.models import Assignment, AssignmentStatus
from dispatch.selectors import (
    VOLUNTEER_COLUMNS,
    _volunteer_rows,
    need_ids_wanting_offers,
    need_manual_candidates,
)
from incidents.models import Need
from incidents.services import NeedSpec, incident_cancel
from tests.dispatch.scenes import KM, SITE, make_boat, open_boat_rescue
from tests.dispatch.test_services import open_rescue
from volunteers.models import Vehicle, VehicleKind, VehicleStatus, Volunteer


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


# --- whom a coordinator may assign by hand -------------------------------------------------


def north_of_the_site(km: float) -> dict:
    return {"last_latitude": SITE[0] + km * KM, "last_longitude": SITE[1]}


def assign_by_hand(coordinator, need, **target) -> Assignment:
    return services.assignment_assign_manually(
        need_id=need.pk,
        target=services.ManualTarget(**target),
        actor=coordinator,
        reason="电话确认",
    )


@pytest.mark.django_db
def test_it_says_why_each_volunteer_cannot_be_assigned_by_hand(
    coordinator, make_volunteer, township
):
    placed, done, aboard, free = (
        make_volunteer(f"1360000002{n}", on_duty=True, name=name, **north_of_the_site(km))
        for n, (name, km) in enumerate([("在岗", 1), ("已完成", 3), ("在船上", 0.2), ("空闲", 2)])
    )
    off_duty = make_volunteer("13600000029", on_duty=False, name="下岗", **north_of_the_site(0.5))
    need = open_rescue(coordinator, count=3).needs.get()
    assign_by_hand(coordinator, need, volunteer=placed)
    finished = assign_by_hand(coordinator, need, volunteer=done)
    services.assignment_progress(
        assignment_id=finished.pk, volunteer=done, status=AssignmentStatus.COMPLETED
    )
    # Aboard a boat on another incident: busy through the vehicle, not an offer of theirs.
    boat = make_boat(township, "舟-1", aboard)
    other = open_boat_rescue(coordinator)
    boat_offer = Assignment.objects.create(need=other.needs.get(), vehicle=boat)
    services.assignment_accept(assignment_id=boat_offer.pk, volunteer=aboard)

    found = need_manual_candidates(need=need, most=10)

    reasons = [
        (c["name"], c["unavailable"], c["busy"], c["busy_on"], c["place_status"]) for c in found
    ]
    assert reasons == [
        ("空闲", None, False, None, None),
        ("下岗", None, False, None, None),  # off duty: choosable, after those on duty
        ("在船上", "busy", True, {"incident": other.pk, "title": other.title}, None),
        ("在岗", "on_this_need", True, None, "accepted"),
        ("已完成", "on_this_need", False, None, "completed"),
    ]
    assert off_duty.pk == found[1]["volunteer"] and free.pk == found[0]["volunteer"]


@pytest.mark.django_db
def test_it_keeps_those_on_the_need_in_a_short_list(coordinator, make_volunteer):
    near, far, placed = (
        make_volunteer(f"1360000003{n}", on_duty=True, **north_of_the_site(km))
        for n, km in enumerate([1, 2, 3])
    )
    need = open_rescue(coordinator, count=2).needs.get()
    assign_by_hand(coordinator, need, volunteer=placed)

    found = need_manual_candidates(need=need, most=1)

    # The nearest choosable one, and whoever is on the need, to say why they are not.
    assert [(c["volunteer"], c["unavailable"]) for c in found] == [
        (near.pk, None),
        (placed.pk, "on_this_need"),
    ]
    assert far.pk not in [c["volunteer"] for c in found]


@pytest.mark.django_db
def test_it_says_why_each_vehicle_cannot_be_assigned_by_hand(coordinator, make_volunteer, township):
    crew = [make_volunteer(f"1360000004{n}", on_duty=True) for n in range(3)]
    ready = make_boat(township, "舟-可出", crew[0])
    holding = make_boat(township, "舟-在此", crew[1])
    away = make_boat(township, "舟-别处", crew[2])
    broken = make_boat(township, "舟-停用", crew[0])
    broken.status = VehicleStatus.OUT_OF_SERVICE
    broken.save()
    unmanned = make_boat(township, "舟-无人")
    unmanned.crew.add(make_volunteer("13600000049", on_duty=False))
    need = open_rescue(
        coordinator,
        needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=2)],
    ).needs.get()
    assign_by_hand(coordinator, need, vehicle=holding)
    other = open_boat_rescue(coordinator)
    assign_by_hand(coordinator, other.needs.get(), vehicle=away)

    found = need_manual_candidates(need=need, most=10)

    reasons = [(c["name"], c["unavailable"], c["busy_on"], c["place_status"]) for c in found]
    assert reasons == [
        (ready.call_sign, None, None, None),
        (away.call_sign, "busy", {"incident": other.pk, "title": other.title}, None),
        (unmanned.call_sign, "no_crew", None, None),
        (broken.call_sign, "out_of_service", None, None),
        (holding.call_sign, "on_this_need", None, "accepted"),
    ]
    assert [c["on_duty"] for c in found] == [True, False, False, False, False]
