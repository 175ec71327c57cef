"""Hours and person-times, on the review's scene (tests/dispatch/test_reports.py
build_scene: played through the services with known times), and a few tasks more."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from dispatch import services
from dispatch.hours import hours_report, served_assignments, volunteer_record
from dispatch.models import Assignment
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open
from tests.dispatch.test_reports import (
    CITY,
    EVACUATION_SITE,
    FLOOD_SITE,
    TESTING_SITE,
    build_scene,
    frozen_clock,
)
from volunteers.models import Skill, Team, VehicleKind, Volunteer

pytestmark = [pytest.mark.usefixtures("live_index"), pytest.mark.django_db]


@pytest.fixture
def scene(coordinator, make_volunteer):
    return build_scene(coordinator=coordinator, make_volunteer=make_volunteer)


def by_name(served) -> dict[str, float]:
    return {one_name(one): one.seconds for one in served}


def one_name(one) -> str:
    return Volunteer.objects.get(pk=one.volunteer_id).name


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CITY)


# --- one assignment ---------------------------------------------------------------------


def test_it_counts_a_rescue_from_accepted_to_completed(scene):
    served = by_name(served_assignments())

    assert served["张伟"] == 7140  # accepted 18:01:00, completed 20:00:00
    assert served["刘洋"] == 7555  # accepted 18:04:05, completed 20:10:00


def test_it_credits_vehicle_work_to_the_crew_member_who_accepted_it(scene):
    served = {one_name(one): one for one in served_assignments()}

    assert served["陈刚"].seconds == 5910  # boat 01: 18:01:30 → 19:40
    assert served["陈刚"].vehicle.startswith("蓝天-01")
    assert served["杨帆"].seconds == 6480  # boat 02: 18:02:00 → 19:50
    assert served["黄勇"].seconds == 7080  # truck T01: 21:02 → 23:00
    # The third boat was withdrawn and the second truck never went: its crew served nothing.
    assert "赵磊" not in served and "周杰" not in served


def test_it_counts_a_shift_window_not_the_booking(scene):
    served = {one_name(one): one for one in served_assignments()}

    # Booked the evening before; on scene 08:00, done 12:00 (and 12:05: the shift ended).
    assert served["吴芳"].seconds == 4 * 3600
    assert served["徐静"].seconds == 4 * 3600
    assert served["吴芳"].shift
    assert served["吴芳"].accepted_at.astimezone(CITY).day == 21
    assert served["吴芳"].started_at.astimezone(CITY).hour == 8


def test_it_counts_nothing_for_declined_expired_or_withdrawn_offers(scene):
    names = {one_name(one) for one in served_assignments()}

    assert names == {"张伟", "刘洋", "陈刚", "杨帆", "黄勇", "吴芳", "徐静"}
    assert not {"李娜", "王强", "孙丽"} & names  # declined, expired, declined


def test_it_counts_the_time_served_of_a_cancelled_task(scene, coordinator):
    rescuer = scene.people["r2"]
    with frozen_clock("2021-07-24 10:00:00") as clock:
        incident = incident_open(
            reporter=coordinator,
            kind=Incident.Kind.FLOOD_RESCUE,
            title="梨河镇 被困",
            latitude=FLOOD_SITE[0],
            longitude=FLOOD_SITE[1],
            needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"))],
        )
        assignment = services.assignment_assign_manually(
            need_id=incident.needs.get().pk,
            target=services.ManualTarget(volunteer=rescuer),
            actor=coordinator,
            reason="电话确认",
        )
        clock.at("2021-07-24 10:45:00")
        services.assignment_unassign(assignment_id=assignment.pk, actor=coordinator, reason="改派")

    (served,) = served_assignments(start=date(2021, 7, 24), volunteer_ids=[rescuer.pk])
    assert served.status == "cancelled"
    assert served.seconds == 45 * 60
    assert not served.ongoing


def test_it_counts_active_work_up_to_now_as_ongoing(scene, coordinator):
    rescuer = scene.people["r3"]
    with frozen_clock("2021-07-25 09:00:00") as clock:
        incident = incident_open(
            reporter=coordinator,
            kind=Incident.Kind.FLOOD_RESCUE,
            title="辛店镇 被困",
            latitude=FLOOD_SITE[0],
            longitude=FLOOD_SITE[1],
            needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"))],
        )
        services.assignment_assign_manually(
            need_id=incident.needs.get().pk,
            target=services.ManualTarget(volunteer=rescuer),
            actor=coordinator,
            reason="电话确认",
        )
        clock.at("2021-07-25 10:30:00")
        (served,) = served_assignments(start=date(2021, 7, 25))

    assert served.ongoing
    assert served.seconds == 90 * 60


def test_it_leaves_a_shift_not_begun_out(scene, coordinator):
    sampler = scene.people["s1"]
    with frozen_clock("2021-07-26 20:00:00"):
        incident = incident_open(
            reporter=coordinator,
            kind=Incident.Kind.TESTING_SITE,
            title="新建路街道 核酸采样点 5号",
            latitude=TESTING_SITE[0],
            longitude=TESTING_SITE[1],
            needs=[
                NeedSpec(
                    kind=Need.Kind.PEOPLE,
                    skill=Skill.objects.get(code="sampling"),
                    count=1,
                    shift_start=local("2021-07-27 08:00"),
                    shift_end=local("2021-07-27 12:00"),
                )
            ],
        )
        services.assignment_assign_manually(
            need_id=incident.needs.get().pk,
            target=services.ManualTarget(volunteer=sampler),
            actor=coordinator,
            reason="电话确认",
        )
        assert served_assignments(start=date(2021, 7, 26)) == []


def test_it_leaves_a_vehicle_assigned_by_hand_to_no_one(scene, coordinator):
    with frozen_clock("2021-07-21 09:00:00") as clock:
        incident = incident_open(
            reporter=coordinator,
            kind=Incident.Kind.EVACUATION,
            title="新村镇 第二批转移",
            latitude=EVACUATION_SITE[0],
            longitude=EVACUATION_SITE[1],
            needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.TRUCK, count=1)],
        )
        clock.at("2021-07-21 09:10:00")
        services.assignment_assign_manually(
            need_id=incident.needs.get().pk,
            target=services.ManualTarget(vehicle=scene.trucks[1]),
            actor=coordinator,
            reason="电话确认",
        )

    assert Assignment.objects.filter(vehicle=scene.trucks[1], status="accepted").exists()
    assert served_assignments(start=date(2021, 7, 21), end=date(2021, 7, 21)) == []


# --- totals -----------------------------------------------------------------------------


def test_it_totals_per_volunteer_team_and_kind(scene):
    report = hours_report()

    assert report.total.person_times == 7
    assert report.total_volunteers == 7
    assert report.total.seconds == 7140 + 7555 + 5910 + 6480 + 7080 + 2 * 4 * 3600
    teams = {row.name: row for row in report.teams}
    blue_sky, association = teams["蓝天救援队"], teams["新郑市新联会"]
    assert (blue_sky.kind, blue_sky.volunteers, blue_sky.tally.person_times) == ("rescue", 4, 4)
    assert blue_sky.tally.seconds == 7140 + 7555 + 5910 + 6480
    assert (association.kind, association.volunteers, association.tally.person_times) == (
        "association",
        3,
        3,
    )
    assert association.tally.hours == Decimal("10.0")  # 7080 s + 8 h = 9.97 h
    assert [row.name for row in report.teams] == ["新郑市新联会", "蓝天救援队"]  # kind order
    assert report.kinds["rescue"].tally.person_times == 4
    assert report.kinds["association"].tally.person_times == 3
    first = report.volunteers[0]
    assert (first.name, first.tally.person_times, first.tally.hours) == ("吴芳", 1, Decimal("4.0"))


def test_it_counts_a_member_of_two_teams_in_each_and_once_in_the_total(scene):
    branch = Team.objects.create(name="电力行业分会", kind=Team.Kind.BRANCH)
    scene.people["r1"].teams.add(branch)

    report = hours_report()

    teams = {row.name: row for row in report.teams}
    assert teams["电力行业分会"].tally.seconds == 7140
    assert teams["蓝天救援队"].tally.person_times == 4
    assert report.total.person_times == 7
    assert report.kinds["branch"].tally.person_times == 1


def test_it_narrows_to_a_date_range_by_the_day_service_began(scene):
    flood_night = hours_report(start=date(2021, 7, 20), end=date(2021, 7, 20))
    # The samplers booked on the 21st and served on the 22nd.
    booking_day = hours_report(start=date(2021, 7, 21), end=date(2021, 7, 21))
    shift_day = hours_report(start=date(2021, 7, 22))

    assert flood_night.total.person_times == 5  # two rescuers, two boats, a truck
    assert booking_day.total.person_times == 0
    assert shift_day.total.person_times == 2
    assert {row.name for row in shift_day.volunteers} == {"吴芳", "徐静"}


def test_it_narrows_to_a_team(scene):
    report = hours_report(team=scene.blue_sky)

    assert {row.name for row in report.volunteers} == {"张伟", "刘洋", "陈刚", "杨帆"}
    assert [row.name for row in report.teams] == ["蓝天救援队"]
    assert report.total.person_times == 4


# --- a member's own record --------------------------------------------------------------


def test_it_gives_a_member_their_month_year_and_last_tasks(scene):
    with frozen_clock("2021-08-03 12:00:00"):
        record = volunteer_record(volunteer=scene.people["r1"])

    assert record.month.person_times == 0  # August
    assert (record.year.person_times, record.year.seconds) == (1, 7140)
    assert [one.incident_title for one in record.last] == ["龙湖镇 泰山村 群众被困"]


def test_it_gives_a_crew_member_their_vehicle_work(scene):
    with frozen_clock("2021-07-31 12:00:00"):
        record = volunteer_record(volunteer=scene.people["b1"])

    assert (record.month.person_times, record.month.seconds) == (1, 5910)
