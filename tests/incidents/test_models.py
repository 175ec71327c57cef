"""The database itself refuses impossible incidents and needs, whatever code writes
them: these writes skip full_clean() on purpose."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.models import Incident, Need
from volunteers.models import Skill, VehicleKind


def make_incident(reporter, **fields) -> Incident:
    defaults = {
        "kind": Incident.Kind.FLOOD_RESCUE,
        "title": "龙湖镇 积水 群众被困",
        "latitude": 34.61,
        "longitude": 113.68,
        "reporter": reporter,
    }
    return Incident.objects.create(**{**defaults, **fields})


@pytest.fixture
def incident(coordinator):
    return make_incident(coordinator)


@pytest.fixture
def rescue():
    return Skill.objects.get(code="rescue")


def make_need(incident, **fields) -> Need:
    return Need.objects.create(incident=incident, **fields)


# --- incidents ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("latitude", "longitude"), [(90.5, 113.68), (-91, 113.68), (34.61, 181), (34.61, -180.5)]
)
def test_it_refuses_an_incident_out_of_range(coordinator, latitude, longitude):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_incident(coordinator, latitude=latitude, longitude=longitude)

    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_it_refuses_to_move_an_incident_out_of_range(incident):
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(longitude=213.68)

    incident.refresh_from_db()
    assert incident.longitude == 113.68


@pytest.mark.django_db
@pytest.mark.parametrize("missing", ["latitude", "longitude"])
def test_it_refuses_an_incident_with_one_coordinate(coordinator, missing):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_incident(coordinator, **{missing: None})

    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_it_stores_closed_incidents_with_their_closing_time(coordinator):
    now = timezone.now()
    make_incident(coordinator, status=Incident.Status.RESOLVED, closed_at=now)
    make_incident(coordinator, status=Incident.Status.CANCELLED, closed_at=now)

    assert Incident.objects.filter(closed_at=now).count() == 2


@pytest.mark.django_db
def test_it_refuses_an_open_incident_with_a_closing_time(coordinator):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_incident(coordinator, status=Incident.Status.OPEN, closed_at=timezone.now())

    assert not Incident.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Incident.Status.RESOLVED, Incident.Status.CANCELLED])
def test_it_refuses_a_closed_incident_without_a_closing_time(coordinator, status):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_incident(coordinator, status=status)

    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_it_refuses_to_close_an_incident_without_setting_the_closing_time(incident):
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(status=Incident.Status.RESOLVED)

    incident.refresh_from_db()
    assert incident.status == Incident.Status.OPEN


@pytest.mark.django_db
def test_it_refuses_to_reopen_an_incident_keeping_its_closing_time(coordinator):
    closed = make_incident(coordinator, status=Incident.Status.RESOLVED, closed_at=timezone.now())

    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.filter(pk=closed.pk).update(status=Incident.Status.OPEN)

    closed.refresh_from_db()
    assert closed.status == Incident.Status.RESOLVED


# --- needs: the three shapes -----------------------------------------------------------


@pytest.mark.django_db
def test_it_stores_each_of_the_three_need_shapes(incident, rescue):
    make_need(incident, kind=Need.Kind.PEOPLE, skill=rescue, count=4)
    make_need(incident, kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=2)
    make_need(incident, kind=Need.Kind.CAPABILITY, people_to_move=40, water_depth_m=Decimal("1.2"))

    assert sorted(incident.needs.values_list("kind", flat=True)) == [
        "capability",
        "people",
        "vehicle",
    ]


@pytest.mark.django_db
def test_it_refuses_a_people_need_without_a_skill(incident):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(incident, kind=Need.Kind.PEOPLE, count=4)

    assert not Need.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_people_need_with_a_vehicle_kind(incident, rescue):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(incident, kind=Need.Kind.PEOPLE, skill=rescue, vehicle_kind=VehicleKind.BOAT)

    assert not Need.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_people_need_with_people_to_move(incident, rescue):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(incident, kind=Need.Kind.PEOPLE, skill=rescue, people_to_move=40)

    assert not Need.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_vehicle_need_without_a_vehicle_kind(incident):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(incident, kind=Need.Kind.VEHICLE, count=2)

    assert not Need.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_vehicle_need_with_a_skill(incident, rescue):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(incident, kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, skill=rescue)

    assert not Need.objects.exists()


@pytest.mark.django_db
def test_it_refuses_to_turn_a_people_need_into_a_vehicle_need(incident, rescue):
    need = make_need(incident, kind=Need.Kind.PEOPLE, skill=rescue)

    with pytest.raises(IntegrityError), transaction.atomic():
        Need.objects.filter(pk=need.pk).update(kind=Need.Kind.VEHICLE)

    need.refresh_from_db()
    assert need.kind == Need.Kind.PEOPLE


@pytest.mark.django_db
def test_it_refuses_a_capability_need_without_a_water_depth(incident):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(incident, kind=Need.Kind.CAPABILITY, people_to_move=40)

    assert not Need.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_capability_need_to_move_nobody(incident):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(
            incident, kind=Need.Kind.CAPABILITY, people_to_move=0, water_depth_m=Decimal("1.2")
        )

    assert not Need.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_capability_need_without_people_to_move(incident):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(incident, kind=Need.Kind.CAPABILITY, water_depth_m=Decimal("1.2"))


@pytest.mark.django_db
def test_it_refuses_a_need_for_nobody(incident, rescue):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(incident, kind=Need.Kind.PEOPLE, skill=rescue, count=0)

    assert not Need.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_negative_water_depth_for_a_need(incident):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(
            incident, kind=Need.Kind.CAPABILITY, people_to_move=40, water_depth_m=Decimal("-1")
        )

    assert not Need.objects.exists()


# --- needs: shift windows -------------------------------------------------------------


@pytest.mark.django_db
def test_it_stores_a_shift_window_with_its_end_after_its_start(incident, rescue):
    start = timezone.now()

    need = make_need(
        incident,
        kind=Need.Kind.PEOPLE,
        skill=rescue,
        shift_start=start,
        shift_end=start + timedelta(hours=4),
    )

    need.refresh_from_db()
    assert need.shift_end - need.shift_start == timedelta(hours=4)


@pytest.mark.django_db
@pytest.mark.parametrize("length", [timedelta(hours=-4), timedelta(0)], ids=["before", "equal"])
def test_it_refuses_a_shift_that_does_not_end_after_it_starts(incident, rescue, length):
    start = timezone.now()

    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(
            incident,
            kind=Need.Kind.PEOPLE,
            skill=rescue,
            shift_start=start,
            shift_end=start + length,
        )

    assert not Need.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_shift_with_an_end_and_no_start(incident, rescue):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(incident, kind=Need.Kind.PEOPLE, skill=rescue, shift_end=timezone.now())

    assert not Need.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_shift_with_a_start_and_no_end(incident, rescue):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_need(incident, kind=Need.Kind.PEOPLE, skill=rescue, shift_start=timezone.now())


@pytest.mark.django_db
def test_it_refuses_to_move_a_shift_end_before_its_start(incident, rescue):
    start = timezone.now()
    need = make_need(
        incident,
        kind=Need.Kind.PEOPLE,
        skill=rescue,
        shift_start=start,
        shift_end=start + timedelta(hours=4),
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Need.objects.filter(pk=need.pk).update(shift_end=start - timedelta(hours=1))

    need.refresh_from_db()
    assert need.shift_end == start + timedelta(hours=4)
