"""Who is available, and the location index kept in step, on the configured backend."""

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from dispatch import availability
from dispatch.availability import (
    availability_sync_on_commit,
    availability_sync_vehicle,
    availability_sync_volunteer,
    index_contents,
    index_rebuild,
    volunteer_busy_ids,
    volunteer_is_available,
    volunteer_position,
)
from dispatch.location_index import vehicle_key, volunteer_key
from dispatch.models import Assignment, AssignmentStatus, Engagement
from incidents.models import Incident, Need
from volunteers.models import Skill, Township, Vehicle, VehicleKind, VehicleStatus, Volunteer

CITY_SEAT = (34.40, 113.74)
NEAR = {"last_latitude": 34.401, "last_longitude": 113.741}


def members(live_index, key):
    """The members of `key`, nearest the city seat first."""
    hits = live_index.search(
        key, latitude=CITY_SEAT[0], longitude=CITY_SEAT[1], radius_km=500, count=100_000
    )
    return [hit.member for hit in hits]


def snapshot(live_index):
    """Everything the index holds: key -> [(member, distance from the seat)]."""
    return {
        key: [
            (hit.member, hit.distance_km)
            for hit in live_index.search(
                key, latitude=CITY_SEAT[0], longitude=CITY_SEAT[1], radius_km=500, count=100_000
            )
        ]
        for key in sorted(live_index.keys())
    }


@pytest.fixture
def need(coordinator):
    incident = Incident.objects.create(
        kind=Incident.Kind.FLOOD_RESCUE,
        title="郭店镇 积水",
        latitude=34.566,
        longitude=113.721,
        reporter=coordinator,
    )
    return Need.objects.create(
        incident=incident, kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue")
    )


def crew_member(phone: str, *, on_duty: bool = True) -> Volunteer:
    """A crew member with no position and no skill: never in a volunteer key himself."""
    user = User.objects.create_user(phone)
    return Volunteer.objects.create(
        user=user,
        name=f"船员{phone[-4:]}",
        phone=phone,
        township=Township.objects.get(name="新建路街道"),
        on_duty=on_duty,
    )


def make_vehicle(
    call_sign, *, kind=VehicleKind.BOAT, status=VehicleStatus.AVAILABLE, crew_on_duty=True, **fields
):
    """A vehicle with one crew member, on duty unless `crew_on_duty` is False."""
    defaults = {"latitude": 34.402, "longitude": 113.742}
    vehicle = Vehicle.objects.create(
        call_sign=call_sign,
        kind=kind,
        status=status,
        township=Township.objects.get(name="新建路街道"),
        capacity=8,
        max_water_depth_m="1.50",
        **{**defaults, **fields},
    )
    vehicle.crew.add(crew_member(f"139{Vehicle.objects.count():08d}", on_duty=crew_on_duty))
    return vehicle


# --- who is available -------------------------------------------------------------------


def test_it_takes_the_last_position_then_home_then_none():
    volunteer = Volunteer(
        last_latitude=34.5, last_longitude=113.6, home_latitude=34.3, home_longitude=113.8
    )
    assert volunteer_position(volunteer) == (34.5, 113.6)
    volunteer.last_latitude = volunteer.last_longitude = None
    assert volunteer_position(volunteer) == (34.3, 113.8)
    volunteer.home_longitude = None
    assert volunteer_position(volunteer) is None


def test_it_counts_on_duty_placed_and_free_volunteers_as_available():
    volunteer = Volunteer(on_duty=True, **NEAR)
    assert volunteer_is_available(volunteer, busy=False)
    assert not volunteer_is_available(volunteer, busy=True)
    assert not volunteer_is_available(Volunteer(on_duty=False, **NEAR), busy=False)
    assert not volunteer_is_available(Volunteer(on_duty=True), busy=False)


# --- volunteers -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_puts_an_on_duty_volunteer_in_the_keys_of_their_skills(live_index, make_volunteer):
    volunteer = make_volunteer("13800000001", skills=("rescue", "first_aid"), on_duty=True, **NEAR)

    availability_sync_volunteer(volunteer_id=volunteer.pk)

    assert live_index.keys() == {"volunteer:rescue", "volunteer:first_aid"}
    assert members(live_index, "volunteer:rescue") == [volunteer.pk]
    hit = live_index.search(
        "volunteer:first_aid", latitude=34.401, longitude=113.741, radius_km=1, count=1
    )[0]
    assert hit.member == volunteer.pk
    assert hit.distance_km < 0.001


@pytest.mark.django_db
def test_it_leaves_out_a_volunteer_who_is_off_duty(live_index, make_volunteer):
    volunteer = make_volunteer("13800000001", on_duty=False, **NEAR)

    availability_sync_volunteer(volunteer_id=volunteer.pk)

    assert live_index.keys() == set()


@pytest.mark.django_db
def test_it_leaves_out_a_volunteer_without_a_position(live_index, make_volunteer):
    volunteer = make_volunteer("13800000001", on_duty=True)

    availability_sync_volunteer(volunteer_id=volunteer.pk)

    assert live_index.keys() == set()


@pytest.mark.django_db
def test_it_places_a_volunteer_at_home_until_they_report_a_position(live_index, make_volunteer):
    volunteer = make_volunteer(
        "13800000001", on_duty=True, home_latitude=34.61, home_longitude=113.68
    )
    availability_sync_volunteer(volunteer_id=volunteer.pk)
    at_home = live_index.search(
        "volunteer:rescue", latitude=34.61, longitude=113.68, radius_km=0.01, count=1
    )

    Volunteer.objects.filter(pk=volunteer.pk).update(**NEAR)
    availability_sync_volunteer(volunteer_id=volunteer.pk)
    reported = live_index.search(
        "volunteer:rescue", latitude=34.401, longitude=113.741, radius_km=0.01, count=1
    )

    assert [hit.member for hit in at_home] == [volunteer.pk]
    assert [hit.member for hit in reported] == [volunteer.pk]
    assert live_index.size("volunteer:rescue") == 1


@pytest.mark.django_db
def test_it_leaves_out_a_busy_volunteer(live_index, make_volunteer, need):
    volunteer = make_volunteer("13800000001", on_duty=True, **NEAR)
    Assignment.objects.create(need=need, volunteer=volunteer, status=AssignmentStatus.ACCEPTED)

    availability_sync_volunteer(volunteer_id=volunteer.pk)

    assert live_index.keys() == set()


@pytest.mark.django_db
def test_it_leaves_out_a_crew_member_who_went_with_their_vehicle(live_index, make_volunteer, need):
    """A volunteer who answered for their vehicle's task is aboard it: busy, though no
    assignment names them (dispatch.models.Engagement)."""
    driver = make_volunteer("13800000001", on_duty=True, **NEAR)
    free = make_volunteer("13800000002", on_duty=True, **NEAR)
    truck = make_vehicle("抢险车 1", kind=VehicleKind.TRUCK)
    truck.crew.add(driver, free)
    vehicle_need = Need.objects.create(
        incident=need.incident, kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.TRUCK
    )
    task = Assignment.objects.create(
        need=vehicle_need, vehicle=truck, status=AssignmentStatus.ACCEPTED
    )
    Engagement.objects.create(volunteer=driver, assignment=task)

    availability_sync_volunteer(volunteer_id=driver.pk)
    availability_sync_volunteer(volunteer_id=free.pk)

    assert members(live_index, "volunteer:rescue") == [free.pk]
    assert driver.pk in volunteer_busy_ids()
    assert index_contents()["volunteer:rescue"] == {free.pk: (34.401, 113.741)}


@pytest.mark.django_db
def test_it_keeps_a_volunteer_with_an_open_offer_or_past_work_available(
    live_index, make_volunteer, need
):
    volunteer = make_volunteer("13800000001", on_duty=True, **NEAR)
    Assignment.objects.create(need=need, volunteer=volunteer, status=AssignmentStatus.OFFERED)
    Assignment.objects.create(need=need, volunteer=volunteer, status=AssignmentStatus.COMPLETED)

    availability_sync_volunteer(volunteer_id=volunteer.pk)

    assert members(live_index, "volunteer:rescue") == [volunteer.pk]


@pytest.mark.django_db
def test_it_drops_a_volunteer_who_goes_off_duty_or_is_busy(live_index, make_volunteer, need):
    volunteer = make_volunteer("13800000001", skills=("rescue", "driver"), on_duty=True, **NEAR)
    availability_sync_volunteer(volunteer_id=volunteer.pk)
    assert live_index.keys() == {"volunteer:rescue", "volunteer:driver"}

    Volunteer.objects.filter(pk=volunteer.pk).update(on_duty=False)
    availability_sync_volunteer(volunteer_id=volunteer.pk)
    assert live_index.keys() == set()

    Volunteer.objects.filter(pk=volunteer.pk).update(on_duty=True)
    availability_sync_volunteer(volunteer_id=volunteer.pk)
    assignment = Assignment.objects.create(
        need=need, volunteer=volunteer, status=AssignmentStatus.EN_ROUTE
    )
    availability_sync_volunteer(volunteer_id=volunteer.pk)
    assert live_index.keys() == set()

    assignment.status = AssignmentStatus.COMPLETED
    assignment.save()
    availability_sync_volunteer(volunteer_id=volunteer.pk)
    assert live_index.keys() == {"volunteer:rescue", "volunteer:driver"}


@pytest.mark.django_db
def test_it_drops_a_volunteer_from_a_skill_taken_away(live_index, make_volunteer):
    volunteer = make_volunteer("13800000001", skills=("rescue", "driver"), on_duty=True, **NEAR)
    other = make_volunteer("13800000002", skills=("driver",), on_duty=True, **NEAR)
    for pk in (volunteer.pk, other.pk):
        availability_sync_volunteer(volunteer_id=pk)

    volunteer.skills.set(Skill.objects.filter(code="medical"))
    availability_sync_volunteer(volunteer_id=volunteer.pk)

    assert live_index.keys() == {"volunteer:medical", "volunteer:driver"}
    assert members(live_index, "volunteer:driver") == [other.pk]
    assert members(live_index, "volunteer:medical") == [volunteer.pk]


@pytest.mark.django_db
def test_it_drops_a_volunteer_who_no_longer_exists(live_index, make_volunteer):
    volunteer = make_volunteer("13800000001", on_duty=True, **NEAR)
    availability_sync_volunteer(volunteer_id=volunteer.pk)

    volunteer.user.delete()
    availability_sync_volunteer(volunteer_id=volunteer.pk)

    assert live_index.keys() == set()


# --- vehicles ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_puts_an_available_vehicle_in_the_key_of_its_kind(live_index):
    boat = make_vehicle("蓝天-冲锋舟-01")
    truck = make_vehicle("蓝天-卡车-01", kind=VehicleKind.TRUCK, latitude=34.45)

    for vehicle in (boat, truck):
        availability_sync_vehicle(vehicle_id=vehicle.pk)

    assert live_index.keys() == {"vehicle:boat", "vehicle:truck"}
    assert members(live_index, "vehicle:boat") == [boat.pk]
    assert members(live_index, "vehicle:truck") == [truck.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"status": VehicleStatus.OUT_OF_SERVICE},
        {"status": VehicleStatus.ASSIGNED},
        {"latitude": None, "longitude": None},
    ],
    ids=["out-of-service", "status-assigned", "no-position"],
)
def test_it_leaves_out_a_vehicle_that_cannot_be_sent(live_index, fields):
    boat = make_vehicle("蓝天-冲锋舟-01", **fields)

    availability_sync_vehicle(vehicle_id=boat.pk)

    assert live_index.keys() == set()


@pytest.mark.django_db
def test_it_leaves_out_a_vehicle_none_of_whose_crew_can_go(live_index, need, make_volunteer):
    """An offer to a boat whose crew is off duty or on other work would wait out its
    whole time-out: it is offered only while someone of its crew can take it."""
    off_duty = make_vehicle("蓝天-冲锋舟-01", crew_on_duty=False)
    no_crew = make_vehicle("蓝天-冲锋舟-02")
    no_crew.crew.clear()
    crew_busy = make_vehicle("蓝天-冲锋舟-03")
    Assignment.objects.create(
        need=need,
        volunteer=crew_busy.crew.get(),
        status=AssignmentStatus.ACCEPTED,
    )

    for boat in (off_duty, no_crew, crew_busy):
        availability_sync_vehicle(vehicle_id=boat.pk)

    assert live_index.keys() == set()
    assert index_contents() == {}


@pytest.mark.django_db
def test_a_crew_member_coming_on_duty_brings_the_vehicle_in(
    live_index, django_capture_on_commit_callbacks
):
    # A truck with a second crew member first: the crew links' ids run ahead of the
    # vehicles' ids, so that one cannot pass for the other.
    make_vehicle("蓝天-卡车-09", kind=VehicleKind.TRUCK).crew.add(crew_member("13900000990"))
    boat = make_vehicle("蓝天-冲锋舟-01", crew_on_duty=False)
    availability_sync_vehicle(vehicle_id=boat.pk)
    assert live_index.keys() == set()

    with django_capture_on_commit_callbacks(execute=True):
        Volunteer.objects.filter(crewed_vehicles=boat).update(on_duty=True)
        # What volunteers.services.volunteer_set_duty asks for: the volunteer synced.
        availability_sync_on_commit(volunteer_ids=[boat.crew.get().pk])

    assert members(live_index, "vehicle:boat") == [boat.pk]
    assert Vehicle.crew.through.objects.get(vehicle=boat).pk != boat.pk


@pytest.mark.django_db
def test_it_drops_a_vehicle_on_an_assignment_and_brings_it_back_after(live_index, need):
    boat = make_vehicle("蓝天-冲锋舟-01")
    vehicle_need = Need.objects.create(
        incident=need.incident, kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT
    )
    availability_sync_vehicle(vehicle_id=boat.pk)
    assignment = Assignment.objects.create(
        need=vehicle_need, vehicle=boat, status=AssignmentStatus.ON_SCENE
    )

    availability_sync_vehicle(vehicle_id=boat.pk)
    assert live_index.keys() == set()

    assignment.status = AssignmentStatus.COMPLETED
    assignment.people_moved = 12
    assignment.save()
    availability_sync_vehicle(vehicle_id=boat.pk)
    assert members(live_index, "vehicle:boat") == [boat.pk]


@pytest.mark.django_db
def test_it_moves_a_vehicle_whose_kind_changed(live_index):
    vehicle = make_vehicle("蓝天-01", kind=VehicleKind.VAN)
    availability_sync_vehicle(vehicle_id=vehicle.pk)

    Vehicle.objects.filter(pk=vehicle.pk).update(kind=VehicleKind.AMBULANCE)
    availability_sync_vehicle(vehicle_id=vehicle.pk)

    assert live_index.keys() == {"vehicle:ambulance"}


@pytest.mark.django_db
def test_it_drops_a_vehicle_that_no_longer_exists(live_index):
    boat = make_vehicle("蓝天-冲锋舟-01")
    availability_sync_vehicle(vehicle_id=boat.pk)

    pk = boat.pk
    boat.delete()
    availability_sync_vehicle(vehicle_id=pk)

    assert live_index.keys() == set()


# --- the whole index from the database -----------------------------------------------------------


@pytest.fixture
def small_city(make_volunteer, need):
    """A few volunteers and vehicles in every state that matters."""
    make_volunteer("13800000001", skills=("rescue", "first_aid"), on_duty=True, **NEAR)
    make_volunteer(
        "13800000002", skills=("rescue",), on_duty=True, home_latitude=34.45, home_longitude=113.7
    )
    make_volunteer("13800000003", skills=("medical",), on_duty=True, last_latitude=34.3,
                   last_longitude=113.8, home_latitude=34.5, home_longitude=113.6)  # fmt: skip
    make_volunteer("13800000004", skills=("rescue",), on_duty=False, **NEAR)
    make_volunteer("13800000005", skills=("rescue",), on_duty=True)  # nowhere
    busy = make_volunteer("13800000006", skills=("rescue",), on_duty=True, **NEAR)
    Assignment.objects.create(need=need, volunteer=busy, status=AssignmentStatus.ACCEPTED)
    make_volunteer("13800000007", skills=(), on_duty=True, **NEAR)
    make_vehicle("蓝天-冲锋舟-01")
    make_vehicle("蓝天-冲锋舟-02", latitude=34.5, longitude=113.8)
    make_vehicle("蓝天-卡车-01", kind=VehicleKind.TRUCK)
    make_vehicle("蓝天-卡车-02", kind=VehicleKind.TRUCK, status=VehicleStatus.OUT_OF_SERVICE)
    busy_boat = make_vehicle("蓝天-冲锋舟-03")
    boat_need = Need.objects.create(
        incident=need.incident, kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT
    )
    Assignment.objects.create(need=boat_need, vehicle=busy_boat, status=AssignmentStatus.EN_ROUTE)


@pytest.mark.django_db
def test_it_computes_the_whole_index_from_the_database(small_city):
    phone = dict(Volunteer.objects.values_list("phone", "pk"))
    first, second, third = phone["13800000001"], phone["13800000002"], phone["13800000003"]
    call_sign = dict(Vehicle.objects.values_list("call_sign", "pk"))
    boat1, boat2 = call_sign["蓝天-冲锋舟-01"], call_sign["蓝天-冲锋舟-02"]

    contents = index_contents()

    assert contents == {
        "volunteer:rescue": {first: (34.401, 113.741), second: (34.45, 113.7)},
        "volunteer:first_aid": {first: (34.401, 113.741)},
        "volunteer:medical": {third: (34.3, 113.8)},  # last position, not home
        "vehicle:boat": {boat1: (34.402, 113.742), boat2: (34.5, 113.8)},
        "vehicle:truck": {call_sign["蓝天-卡车-01"]: (34.402, 113.742)},
    }


@pytest.mark.django_db
def test_it_rebuilds_past_a_busy_volunteer_and_with_a_vehicle_whose_task_ended(
    make_volunteer, need
):
    # Read first (the rows come as stored): everyone after them must be read too.
    busy = make_volunteer("13800000001", on_duty=True, **NEAR)
    Assignment.objects.create(need=need, volunteer=busy, status=AssignmentStatus.ACCEPTED)
    free = make_volunteer("13800000002", on_duty=True, **NEAR)
    back = make_vehicle("蓝天-冲锋舟-01")
    boat_need = Need.objects.create(
        incident=need.incident, kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT
    )
    Assignment.objects.create(
        need=boat_need, vehicle=back, status=AssignmentStatus.COMPLETED, people_moved=3
    )

    contents = index_contents()

    assert contents["volunteer:rescue"] == {free.pk: (34.401, 113.741)}
    assert contents["vehicle:boat"] == {back.pk: (34.402, 113.742)}


@pytest.mark.django_db
def test_it_adds_a_key_that_appeared_while_the_rebuild_read_the_database(
    live_index, make_volunteer, monkeypatch
):
    """The first volunteer with a skill comes on duty between the rebuild's two readings:
    their skill's key exists only in the second."""
    from dispatch import availability

    make_volunteer("13800000001", on_duty=True, **NEAR)
    driver = make_volunteer("13800000002", skills=("driver",), on_duty=False, **NEAR)
    real_contents = availability.index_contents
    readings = []

    def contents_then_change():
        contents = real_contents()
        if not readings:
            Volunteer.objects.filter(pk=driver.pk).update(on_duty=True)
        readings.append(contents)
        return contents

    monkeypatch.setattr(availability, "index_contents", contents_then_change)

    index_rebuild()

    assert "volunteer:driver" not in readings[0]
    assert members(live_index, "volunteer:driver") == [driver.pk]


@pytest.mark.django_db
def test_it_rebuilds_the_index_as_the_per_resource_syncs_leave_it(live_index, small_city):
    for pk in Volunteer.objects.values_list("pk", flat=True):
        availability_sync_volunteer(volunteer_id=pk)
    for pk in Vehicle.objects.values_list("pk", flat=True):
        availability_sync_vehicle(vehicle_id=pk)
    synced = snapshot(live_index)

    live_index.replace_all({})
    sizes = index_rebuild()

    assert snapshot(live_index) == synced
    assert {key: len(found) for key, found in synced.items()} == sizes
    assert sizes == {
        "vehicle:boat": 2,
        "vehicle:truck": 1,
        "volunteer:first_aid": 1,
        "volunteer:medical": 1,
        "volunteer:rescue": 2,
    }
    assert {key: sorted(found) for key, found in index_contents().items()} == {
        key: sorted(member for member, _ in found) for key, found in synced.items()
    }


@pytest.mark.django_db
def test_it_repairs_what_the_index_got_wrong_on_rebuild(live_index, small_city):
    volunteer = Volunteer.objects.get(phone="13800000001")
    live_index.put("volunteer:rescue", 999_999, latitude=34.4, longitude=113.74)  # nobody
    live_index.put("volunteer:translation", volunteer.pk, latitude=34.4, longitude=113.74)
    live_index.put("vehicle:bus", 999_999, latitude=34.4, longitude=113.74)
    live_index.drop("volunteer:rescue", volunteer.pk)

    index_rebuild()

    keys = live_index.keys()
    assert "volunteer:translation" not in keys
    assert "vehicle:bus" not in keys
    assert volunteer.pk in members(live_index, "volunteer:rescue")
    assert 999_999 not in members(live_index, "volunteer:rescue")


@pytest.mark.django_db
def test_it_applies_changes_committed_while_the_rebuild_read_the_database(
    live_index, small_city, monkeypatch
):
    """A change whose own sync ran before the swap would be overwritten by it: the
    rebuild reads the database again after the swap and applies the difference."""
    from dispatch import availability

    latecomer = Volunteer.objects.get(phone="13800000004")  # off duty
    first = Volunteer.objects.get(phone="13800000001")
    real_contents = availability.index_contents
    readings = []

    def contents_then_change():
        contents = real_contents()
        if not readings:
            Volunteer.objects.filter(pk=latecomer.pk).update(on_duty=True)
            Volunteer.objects.filter(pk=first.pk).update(on_duty=False)
            availability_sync_volunteer(volunteer_id=latecomer.pk)
            availability_sync_volunteer(volunteer_id=first.pk)
        readings.append(contents)
        return contents

    monkeypatch.setattr(availability, "index_contents", contents_then_change)

    sizes = index_rebuild()

    assert len(readings) == 2
    assert latecomer.pk in members(live_index, "volunteer:rescue")
    assert first.pk not in members(live_index, "volunteer:rescue")
    assert "volunteer:first_aid" in readings[0]  # before the change
    assert "volunteer:first_aid" not in set(live_index.keys())
    assert sizes["volunteer:rescue"] == live_index.size("volunteer:rescue") == 2


# --- after commit -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_syncs_only_after_the_transaction_commits(live_index, make_volunteer):
    volunteer = make_volunteer("13800000001", on_duty=False, **NEAR)
    boat = make_vehicle("蓝天-冲锋舟-01", status=VehicleStatus.OUT_OF_SERVICE)

    with transaction.atomic():
        Volunteer.objects.filter(pk=volunteer.pk).update(on_duty=True)
        Vehicle.objects.filter(pk=boat.pk).update(status=VehicleStatus.AVAILABLE)
        availability_sync_on_commit(volunteer_ids=[volunteer.pk], vehicle_ids=[boat.pk])
        assert live_index.keys() == set()

    assert members(live_index, "volunteer:rescue") == [volunteer.pk]
    assert members(live_index, "vehicle:boat") == [boat.pk]


@pytest.mark.django_db(transaction=True)
def test_it_syncs_a_vehicle_alone_after_the_commit(live_index):
    boat = make_vehicle("蓝天-冲锋舟-01", status=VehicleStatus.OUT_OF_SERVICE)

    with transaction.atomic():
        Vehicle.objects.filter(pk=boat.pk).update(status=VehicleStatus.AVAILABLE)
        availability_sync_on_commit(vehicle_ids=[boat.pk])

    assert members(live_index, "vehicle:boat") == [boat.pk]


@pytest.mark.django_db(transaction=True)
def test_it_never_syncs_a_change_that_rolled_back(live_index, make_volunteer):
    volunteer = make_volunteer("13800000001", on_duty=False, **NEAR)
    boat = make_vehicle("蓝天-冲锋舟-01", status=VehicleStatus.OUT_OF_SERVICE)

    with pytest.raises(RuntimeError, match="after the change"), transaction.atomic():
        Volunteer.objects.filter(pk=volunteer.pk).update(on_duty=True)
        Vehicle.objects.filter(pk=boat.pk).update(status=VehicleStatus.AVAILABLE)
        # Even a sync that ran early (a bug) would find the database's old state.
        availability_sync_on_commit(volunteer_ids=[volunteer.pk], vehicle_ids=[boat.pk])
        raise RuntimeError("something failed after the change")

    assert live_index.keys() == set()


@pytest.mark.django_db(transaction=True)
def test_it_syncs_at_once_outside_a_transaction(live_index, make_volunteer):
    volunteer = make_volunteer("13800000001", on_duty=True, **NEAR)

    availability_sync_on_commit(volunteer_ids=[volunteer.pk])

    assert members(live_index, "volunteer:rescue") == [volunteer.pk]


@pytest.mark.django_db
def test_it_logs_a_failed_sync_and_goes_on_with_the_others(
    live_index, make_volunteer, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from dispatch import availability

    first = make_volunteer("13800000001", on_duty=True, **NEAR)
    second = make_volunteer("13800000002", on_duty=True, **NEAR)
    real_sync = availability.availability_sync_volunteer

    def sync(*, volunteer_id):
        if volunteer_id == first.pk:
            raise ConnectionError("the index is unreachable")
        real_sync(volunteer_id=volunteer_id)

    monkeypatch.setattr(availability, "availability_sync_volunteer", sync)

    with django_capture_on_commit_callbacks(execute=True):
        availability_sync_on_commit(volunteer_ids=[first.pk, second.pk])

    assert members(live_index, "volunteer:rescue") == [second.pk]
    assert f"index sync of volunteer {first.pk} failed" in caplog.text


# --- "is someone owed this key?" (the index's repair of a key found empty) ------------
# A key found empty is rebuilt only when the database has someone who belongs in it
# (availability._database_has_available): the same rules as index_contents, asked of
# one key. Each scene has exactly one candidate, who belongs in the key or not.


def _rescuer(make_volunteer, need, *, busy=False, **fields):
    rescuer = make_volunteer("13800000011", skills=("rescue",), **fields)
    if busy:
        Assignment.objects.create(need=need, volunteer=rescuer, status=AssignmentStatus.ACCEPTED)


VOLUNTEER_SCENES = {
    "on-duty-placed": ({"on_duty": True, **NEAR}, True),
    "on-duty-at-home": ({"on_duty": True, "home_latitude": 34.45, "home_longitude": 113.7}, True),
    "off-duty": ({"on_duty": False, **NEAR}, False),
    "nowhere": ({"on_duty": True}, False),
    "busy": ({"on_duty": True, "busy": True, **NEAR}, False),
    "other-skill": ({"on_duty": True, "skills": ("medical",), **NEAR}, False),
}


@pytest.mark.django_db
@pytest.mark.parametrize("scene", VOLUNTEER_SCENES, ids=list(VOLUNTEER_SCENES))
def test_it_says_a_volunteer_key_is_owed_someone_as_the_index_would(make_volunteer, need, scene):
    fields, belongs = VOLUNTEER_SCENES[scene]
    if "skills" in fields:
        make_volunteer("13800000011", **fields)
    else:
        _rescuer(make_volunteer, need, **fields)

    owed = availability._database_has_available([volunteer_key("rescue")])

    assert owed is belongs
    assert owed == bool(index_contents().get(volunteer_key("rescue")))


def _boat_on_a_task(need):
    boat = make_vehicle("蓝天-冲锋舟-01")
    boat_need = Need.objects.create(
        incident=need.incident, kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT
    )
    Assignment.objects.create(need=boat_need, vehicle=boat, status=AssignmentStatus.EN_ROUTE)


VEHICLE_SCENES = {
    "manned-placed": (lambda need: make_vehicle("蓝天-冲锋舟-01"), True),
    "out-of-service": (
        lambda need: make_vehicle("蓝天-冲锋舟-01", status=VehicleStatus.OUT_OF_SERVICE),
        False,
    ),
    "status-assigned": (
        lambda need: make_vehicle("蓝天-冲锋舟-01", status=VehicleStatus.ASSIGNED),
        False,
    ),
    "on-a-task": (_boat_on_a_task, False),
    "no-position": (
        lambda need: make_vehicle("蓝天-冲锋舟-01", latitude=None, longitude=None),
        False,
    ),
    "crew-off-duty": (lambda need: make_vehicle("蓝天-冲锋舟-01", crew_on_duty=False), False),
    "other-kind": (lambda need: make_vehicle("蓝天-卡车-01", kind=VehicleKind.TRUCK), False),
}


@pytest.mark.django_db
@pytest.mark.parametrize("scene", VEHICLE_SCENES, ids=list(VEHICLE_SCENES))
def test_it_says_a_vehicle_key_is_owed_someone_as_the_index_would(need, scene):
    make, belongs = VEHICLE_SCENES[scene]
    make(need)

    owed = availability._database_has_available([vehicle_key(VehicleKind.BOAT)])

    assert owed is belongs
    assert owed == bool(index_contents().get(vehicle_key(VehicleKind.BOAT)))


# --- the index's repair: when it rebuilds, and what it tells the search ------------------


@pytest.fixture
def rebuilds(monkeypatch):
    """The threads that rebuilt the index, in order (the rebuild still happens)."""
    done, real_rebuild = [], availability._rebuild

    def rebuild(index):
        done.append(threading.current_thread().name)
        return real_rebuild(index)

    monkeypatch.setattr(availability, "_rebuild", rebuild)
    return done


@pytest.fixture
def placed_rescuer(make_volunteer):
    return make_volunteer("13800000011", skills=("rescue",), on_duty=True, **NEAR)


@pytest.mark.django_db
def test_it_does_not_rebuild_an_index_that_was_built(live_index, placed_rescuer, rebuilds):
    index_rebuild()
    rebuilds.clear()

    assert availability.index_ensure_built() is False  # the search goes on as it is
    assert rebuilds == []


@pytest.mark.django_db
def test_it_leaves_a_key_alone_that_holds_someone(live_index, placed_rescuer, rebuilds):
    index_rebuild()
    rebuilds.clear()

    assert availability.index_repair_if_empty([volunteer_key("rescue")]) is False
    assert rebuilds == []


@pytest.mark.django_db
def test_it_does_not_rebuild_for_an_empty_key_moments_after_a_build(
    live_index, placed_rescuer, rebuilds
):
    """Should the database and the index disagree, every search must not turn into a
    rebuild: within EMPTY_KEY_REBUILD_AFTER_SECONDS of a build the key is taken as it is."""
    index_rebuild()
    live_index.drop(volunteer_key("rescue"), placed_rescuer.pk)
    rebuilds.clear()

    assert availability.index_repair_if_empty([volunteer_key("rescue")]) is False
    assert rebuilds == []
    assert members(live_index, volunteer_key("rescue")) == []


@pytest.mark.django_db
def test_it_rebuilds_an_empty_key_owed_someone_once_the_last_build_is_old(
    live_index, placed_rescuer, rebuilds, monkeypatch
):
    index_rebuild()
    live_index.drop(volunteer_key("rescue"), placed_rescuer.pk)
    rebuilds.clear()
    monkeypatch.setattr(availability, "EMPTY_KEY_REBUILD_AFTER_SECONDS", 0)

    assert availability.index_repair_if_empty([volunteer_key("rescue")]) is True
    assert rebuilds == [threading.current_thread().name]
    assert members(live_index, volunteer_key("rescue")) == [placed_rescuer.pk]


def _hold_the_rebuild_lock(live_index, *, until: threading.Event, held: threading.Event):
    """Another process's rebuild that hangs: it holds the lock until `until` (or a
    half a minute, so that a test of a mutant that waits forever ends)."""

    def hold():
        with live_index.rebuild_lock(wait_seconds=5) as got:
            assert got
            held.set()
            until.wait(30)
            released_while_waited.append(until.is_set())

    released_while_waited = []
    thread = threading.Thread(target=hold, name="hung-rebuild")
    thread.start()
    assert held.wait(10)
    return thread, released_while_waited


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "repair",
    [
        pytest.param(lambda live_index, rescuer: availability.index_rebuild(), id="rebuild"),
        pytest.param(
            lambda live_index, rescuer: (live_index.clear(), availability.index_ensure_built()),
            id="ensure-built",
        ),
        pytest.param(
            lambda live_index, rescuer: (
                live_index.drop(volunteer_key("rescue"), rescuer.pk),
                availability.index_repair_if_empty([volunteer_key("rescue")]),
            ),
            id="repair-if-empty",
        ),
    ],
)
def test_a_rebuild_that_hangs_elsewhere_does_not_stop_this_one(
    live_index, placed_rescuer, monkeypatch, repair
):
    """A rebuild is idempotent: past REBUILD_WAIT_SECONDS this one goes ahead without the
    lock rather than leave the search waiting on a process that may never finish."""
    index_rebuild()
    monkeypatch.setattr(availability, "EMPTY_KEY_REBUILD_AFTER_SECONDS", 0)
    monkeypatch.setattr(availability, "REBUILD_WAIT_SECONDS", 0.2)
    this_one_returned, held = threading.Event(), threading.Event()
    holder, released = _hold_the_rebuild_lock(live_index, until=this_one_returned, held=held)

    try:
        repair(live_index, placed_rescuer)
    finally:
        this_one_returned.set()
        holder.join()

    # The hung rebuild still held the lock when this one returned: it did not wait for it.
    assert released == [True]
    assert members(live_index, volunteer_key("rescue")) == [placed_rescuer.pk]


@pytest.mark.django_db(transaction=True)
def test_it_searches_again_without_rebuilding_when_another_rebuilt_while_it_waited(
    live_index, placed_rescuer, rebuilds, monkeypatch
):
    index_rebuild()
    live_index.drop(volunteer_key("rescue"), placed_rescuer.pk)
    rebuilds.clear()
    monkeypatch.setattr(availability, "EMPTY_KEY_REBUILD_AFTER_SECONDS", 0)
    waiting, other_done = threading.Event(), threading.Event()
    real_lock = live_index.rebuild_lock

    def lock_after_the_other(*, wait_seconds):
        # The search has found the key empty and the last build old; it now waits while
        # another worker rebuilds.
        waiting.set()
        assert other_done.wait(10)
        return real_lock(wait_seconds=wait_seconds)

    def other_worker():
        try:
            assert waiting.wait(10)
            with real_lock(wait_seconds=5):
                availability._rebuild(live_index)
            other_done.set()
        finally:
            connection.close()

    monkeypatch.setattr(live_index, "rebuild_lock", lock_after_the_other)
    other = threading.Thread(target=other_worker, name="other-worker")
    other.start()
    try:
        searched_again = availability.index_repair_if_empty([volunteer_key("rescue")])
    finally:
        other.join(30)

    assert searched_again is True
    assert rebuilds == ["other-worker"]
    assert members(live_index, volunteer_key("rescue")) == [placed_rescuer.pk]
