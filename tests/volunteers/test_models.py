"""The database itself refuses impossible volunteers, vehicles and townships, whatever
code writes them: these writes skip full_clean() on purpose."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from volunteers.models import Township, Vehicle, VehicleKind, Volunteer

OUT_OF_RANGE = [(90.5, 113.7), (-91, 113.7), (34.4, 180.5), (34.4, -181)]


def make_vehicle(township, **fields) -> Vehicle:
    defaults = {
        "call_sign": "蓝天-01",
        "kind": VehicleKind.BOAT,
        "township": township,
        "capacity": 8,
        "max_water_depth_m": Decimal("2.50"),
    }
    return Vehicle.objects.create(**{**defaults, **fields})


# --- volunteers -----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_stores_positions_given_together_or_not_at_all(volunteer):
    Volunteer.objects.filter(pk=volunteer.pk).update(
        home_latitude=34.397, home_longitude=113.739, last_latitude=-90, last_longitude=180
    )

    volunteer.refresh_from_db()
    assert (volunteer.home_latitude, volunteer.home_longitude) == (34.397, 113.739)
    assert (volunteer.last_latitude, volunteer.last_longitude) == (-90, 180)


@pytest.mark.django_db
@pytest.mark.parametrize(("latitude", "longitude"), OUT_OF_RANGE)
def test_it_refuses_a_home_position_out_of_range(make_volunteer, latitude, longitude):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_volunteer("13800000002", home_latitude=latitude, home_longitude=longitude)

    assert not Volunteer.objects.filter(phone="13800000002").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("latitude", "longitude"), OUT_OF_RANGE)
def test_it_refuses_a_last_position_out_of_range(volunteer, latitude, longitude):
    with pytest.raises(IntegrityError), transaction.atomic():
        Volunteer.objects.filter(pk=volunteer.pk).update(
            last_latitude=latitude, last_longitude=longitude
        )

    volunteer.refresh_from_db()
    assert (volunteer.last_latitude, volunteer.last_longitude) == (None, None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "position", [{"home_latitude": 34.4}, {"home_longitude": 113.7}], ids=["lat", "lng"]
)
def test_it_refuses_half_a_home_position(make_volunteer, position):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_volunteer("13800000002", **position)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "position", [{"last_latitude": 34.4}, {"last_longitude": 113.7}], ids=["lat", "lng"]
)
def test_it_refuses_half_a_last_position(volunteer, position):
    with pytest.raises(IntegrityError), transaction.atomic():
        Volunteer.objects.filter(pk=volunteer.pk).update(**position)


@pytest.mark.django_db
@pytest.mark.parametrize("travel_range_km", [0, -5])
def test_it_refuses_a_travel_range_that_is_not_positive(volunteer, travel_range_km):
    with pytest.raises(IntegrityError), transaction.atomic():
        Volunteer.objects.filter(pk=volunteer.pk).update(travel_range_km=travel_range_km)

    volunteer.refresh_from_db()
    assert volunteer.travel_range_km == 15


@pytest.mark.django_db
def test_it_refuses_to_create_a_volunteer_with_no_travel_range(make_volunteer):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_volunteer("13800000002", travel_range_km=0)

    assert not Volunteer.objects.filter(phone="13800000002").exists()


# --- vehicles -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_stores_a_vehicle_with_or_without_a_position(township):
    make_vehicle(township, call_sign="蓝天-01")
    make_vehicle(township, call_sign="蓝天-02", latitude=34.61, longitude=113.68)

    assert Vehicle.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("latitude", "longitude"), OUT_OF_RANGE)
def test_it_refuses_a_vehicle_position_out_of_range(township, latitude, longitude):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_vehicle(township, latitude=latitude, longitude=longitude)

    assert not Vehicle.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("latitude", "longitude"), OUT_OF_RANGE)
def test_it_refuses_to_move_a_vehicle_out_of_range(township, latitude, longitude):
    vehicle = make_vehicle(township, latitude=34.61, longitude=113.68)

    with pytest.raises(IntegrityError), transaction.atomic():
        Vehicle.objects.filter(pk=vehicle.pk).update(latitude=latitude, longitude=longitude)

    vehicle.refresh_from_db()
    assert (vehicle.latitude, vehicle.longitude) == (34.61, 113.68)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "position", [{"latitude": 34.61}, {"longitude": 113.68}], ids=["lat", "lng"]
)
def test_it_refuses_half_a_vehicle_position(township, position):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_vehicle(township, **position)


@pytest.mark.django_db
def test_it_refuses_a_negative_water_depth_for_a_vehicle(township):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_vehicle(township, max_water_depth_m=Decimal("-0.10"))

    assert not Vehicle.objects.exists()


@pytest.mark.django_db
def test_it_refuses_to_lower_a_vehicle_water_depth_below_zero(township):
    vehicle = make_vehicle(township, max_water_depth_m=Decimal("0"))

    with pytest.raises(IntegrityError), transaction.atomic():
        Vehicle.objects.filter(pk=vehicle.pk).update(max_water_depth_m=Decimal("-1"))

    vehicle.refresh_from_db()
    assert vehicle.max_water_depth_m == 0


# --- townships ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("latitude", "longitude"), OUT_OF_RANGE)
def test_it_refuses_a_township_seat_out_of_range(latitude, longitude):
    with pytest.raises(IntegrityError), transaction.atomic():
        Township.objects.create(
            name="测试镇", kind=Township.Kind.TOWN, latitude=latitude, longitude=longitude
        )

    assert not Township.objects.filter(name="测试镇").exists()


@pytest.mark.django_db
def test_it_refuses_to_move_a_township_seat_out_of_range(township):
    with pytest.raises(IntegrityError), transaction.atomic():
        Township.objects.filter(pk=township.pk).update(latitude=134.397)

    township.refresh_from_db()
    assert township.latitude == 34.397


@pytest.mark.django_db
@pytest.mark.parametrize("missing", ["latitude", "longitude"])
def test_it_refuses_a_township_seat_with_one_coordinate(missing):
    seat = {"latitude": 34.5, "longitude": 113.7, missing: None}

    with pytest.raises(IntegrityError), transaction.atomic():
        Township.objects.create(name="测试镇", kind=Township.Kind.TOWN, **seat)

    assert not Township.objects.filter(name="测试镇").exists()
