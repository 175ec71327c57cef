from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.volunteers.workbooks import xlsx_bytes
from volunteers import fleet
from volunteers.models import Team, Vehicle, VehicleKind, VehicleStatus
from volunteers.sheets import RawRow

pytestmark = pytest.mark.django_db

HEADER = "call_sign,kind,township,capacity,crew,max_water_depth_m"
BOAT = "蓝天-舟01,冲锋舟,龙湖镇,8,13800000001;13800000002,1.5"
TRUCK = "蓝天-车01,truck,新村镇,12,13800000003,0.8"


@pytest.fixture
def crew(make_volunteer):
    return {phone: make_volunteer(phone) for phone in ("13800000001", "13800000002", "13800000003")}


@pytest.fixture
def fleet_file(tmp_path):
    def write(*lines: str, header: str = HEADER) -> str:
        path = tmp_path / "fleet.csv"
        path.write_text("\n".join([header, *lines, ""]), encoding="utf-8")
        return str(path)

    return write


def import_vehicles(path: str, *args: str) -> str:
    out = StringIO()
    call_command("import_vehicles", path, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def import_rejected(path: str, *args: str) -> tuple[str, str]:
    out = StringIO()
    with pytest.raises(CommandError) as error:
        call_command("import_vehicles", path, *args, stdout=out, stderr=StringIO())
    return out.getvalue(), str(error.value)


def crew_phones(call_sign: str) -> set[str]:
    return set(Vehicle.objects.get(call_sign=call_sign).crew.values_list("phone", flat=True))


def test_it_creates_vehicles_with_their_crews(crew, fleet_file):
    output = import_vehicles(fleet_file(BOAT, TRUCK))

    assert "created 2, updated 0, unchanged 0" in output
    boat = Vehicle.objects.get(call_sign="蓝天-舟01")
    assert (boat.kind, boat.township.name, boat.capacity) == (VehicleKind.BOAT, "龙湖镇", 8)
    assert boat.max_water_depth_m == Decimal("1.50")
    assert boat.status == VehicleStatus.AVAILABLE
    assert (boat.latitude, boat.located_at) == (None, None)
    assert crew_phones("蓝天-舟01") == {"13800000001", "13800000002"}
    assert crew_phones("蓝天-车01") == {"13800000003"}


def test_it_imports_a_workbook_with_numbers_for_phones_and_a_position(crew, tmp_path):
    team = Team.objects.create(name="蓝天救援队", kind=Team.Kind.RESCUE)
    path = tmp_path / "车辆.xlsx"
    path.write_bytes(
        xlsx_bytes(
            ["Call sign", "Kind", "Township", "Seats", "Crew", "Team", "Latitude", "Longitude"],
            ["蓝天-车02", "卡车 truck", "xincun town", 12.0, 13800000003, "蓝天救援队"]
            + [34.45, 113.6],
            [],
        )
    )

    output = import_vehicles(str(path))

    assert "created 1" in output
    truck = Vehicle.objects.get()
    assert (truck.kind, truck.capacity, truck.team) == (VehicleKind.TRUCK, 12, team)
    assert truck.max_water_depth_m == 0
    assert (truck.latitude, truck.longitude) == (34.45, 113.6)
    assert truck.located_at is not None
    assert crew_phones("蓝天-车02") == {"13800000003"}


@pytest.mark.parametrize(
    "word", ["boat", "BOAT", "冲锋舟", "assault boat", "冲锋舟 assault boat", "舟艇"]
)
def test_it_accepts_the_kinds_in_chinese_and_english(crew, fleet_file, word):
    import_vehicles(fleet_file(BOAT.replace("冲锋舟", word)))

    assert Vehicle.objects.get().kind == VehicleKind.BOAT


def test_it_refuses_a_crew_phone_nobody_has_and_imports_nothing(crew, fleet_file):
    stranger = TRUCK.replace("13800000003", "13800000003、13900009999")

    output, error = import_rejected(fleet_file(BOAT, stranger))

    assert output.splitlines() == [
        'line 3: crew "13800000003、13900009999": no volunteer has the phone 13900009999 '
        "(import them with the roster first)"
    ]
    assert "1 of 2 rows rejected; nothing imported" in error
    assert not Vehicle.objects.exists()


@pytest.mark.parametrize(
    ("row", "report"),
    [
        (BOAT.replace("冲锋舟", "submarine"), 'kind "submarine": not one of boat/冲锋舟'),
        (BOAT.replace(",8,", ",8.5,"), 'capacity "8.5": not a whole number of people'),
        (BOAT.replace(",8,", ",,"), 'capacity "": missing'),
        (BOAT.replace(",1.5", ","), 'max_water_depth_m "": missing: a boat is sent by'),
        (BOAT.replace(",1.5", ",1.255"), 'max_water_depth_m "1.255": more precise than'),
        (BOAT.replace(",1.5", ",-1"), 'max_water_depth_m "-1": not between 0 and 99.99 m'),
        (BOAT.replace("龙湖镇", "火星"), 'township "火星": not one of the city\'s townships'),
        (BOAT.replace("13800000002", "12345"), 'crew "13800000001;12345": not an 11-digit'),
        (BOAT.replace("蓝天-舟01", ""), 'call_sign "": missing'),
    ],
)
def test_it_reports_each_rejected_value(crew, fleet_file, row, report):
    output, _ = import_rejected(fleet_file(TRUCK, row))

    assert f"line 3: {report}" in output


def test_it_refuses_a_team_that_does_not_exist(crew, fleet_file):
    output, _ = import_rejected(fleet_file(BOAT + ",无名队", header=HEADER + ",team"))

    assert 'line 2: team "无名队": no team of this name' in output


def test_it_rejects_every_row_sharing_a_call_sign(crew, fleet_file):
    output, _ = import_rejected(fleet_file(BOAT, TRUCK.replace("蓝天-车01", "蓝天-舟01")))

    assert 'line 2: call_sign "蓝天-舟01": the same call sign is also on line 3' in output
    assert 'line 3: call_sign "蓝天-舟01": the same call sign is also on line 2' in output


def test_it_updates_on_a_second_import_by_call_sign(crew, fleet_file):
    import_vehicles(fleet_file(BOAT, TRUCK))
    boat = Vehicle.objects.get(call_sign="蓝天-舟01")
    Vehicle.objects.filter(pk=boat.pk).update(status=VehicleStatus.OUT_OF_SERVICE)

    changed = "蓝天-舟01,boat,龙湖镇,6,13800000003,2"
    output = import_vehicles(fleet_file(changed, TRUCK))

    assert "created 0, updated 1, unchanged 1" in output
    boat.refresh_from_db()
    assert (boat.capacity, boat.max_water_depth_m) == (6, Decimal("2.00"))
    assert crew_phones("蓝天-舟01") == {"13800000003"}
    # The status is the dispatch's, not the sheet's.
    assert boat.status == VehicleStatus.OUT_OF_SERVICE
    assert Vehicle.objects.count() == 2


def test_it_counts_a_change_of_crew_alone_as_an_update(crew, fleet_file):
    import_vehicles(fleet_file(BOAT))

    output = import_vehicles(fleet_file(BOAT.replace(";13800000002", "")))

    assert "created 0, updated 1, unchanged 0" in output
    assert crew_phones("蓝天-舟01") == {"13800000001"}


def test_it_changes_nothing_when_the_same_file_is_imported_again(crew, fleet_file):
    path = fleet_file(BOAT, TRUCK)
    import_vehicles(path)
    before = list(Vehicle.objects.values())

    output = import_vehicles(path)

    assert "created 0, updated 0, unchanged 2" in output
    assert list(Vehicle.objects.values()) == before


def test_it_changes_nothing_in_a_dry_run_and_counts_what_would_change(crew, fleet_file):
    import_vehicles(fleet_file(BOAT))
    before = list(Vehicle.objects.values())

    output = import_vehicles(fleet_file(BOAT.replace(",8,", ",9,"), TRUCK), "--dry-run")

    assert "dry run, nothing written: would have created 1, updated 1, unchanged 0" in output
    assert list(Vehicle.objects.values()) == before
    assert crew_phones("蓝天-舟01") == {"13800000001", "13800000002"}


def test_it_keeps_a_vehicles_position_when_the_sheet_gives_none(crew, fleet_file):
    header = HEADER + ",latitude,longitude"
    import_vehicles(fleet_file(BOAT + ",34.6,113.7", header=header))
    located_at = Vehicle.objects.get().located_at

    import_vehicles(fleet_file(BOAT + ",,", header=header))

    boat = Vehicle.objects.get()
    assert (boat.latitude, boat.longitude, boat.located_at) == (34.6, 113.7, located_at)


def test_it_validates_without_the_database_given_a_reference():
    reference = fleet.FleetReference(
        townships={"龙湖镇": 1}, teams={}, volunteers={"13800000001": 7}
    )
    raw = RawRow(
        line=2,
        values={
            "call_sign": " 舟  01 ",
            "kind": "boat",
            "township": "龙湖镇",
            "capacity": "8",
            "crew": "138 0000 0001\n13800000001",
            "max_water_depth_m": "1.2",
        },
        unit="row",
    )

    validation = fleet.fleet_validate(raw_rows=[raw], reference=reference)

    assert validation.rejections == []
    (row,) = validation.rows
    assert (row.call_sign, row.crew_ids, row.max_water_depth_m) == ("舟 01", {7}, Decimal("1.2"))
