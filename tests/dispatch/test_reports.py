"""The commanders' review figures, on a scene played through the services with a
clock the test sets: the night of the 2021 flood and a testing site two days later."""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from dispatch import services
from dispatch.availability import index_rebuild
from dispatch.models import Assignment, AssignmentStatus, EventKind
from dispatch.reports import (
    DAY,
    HOUR,
    LogFilter,
    incident_ics214,
    incident_timeline,
    log_filtered,
    report_series,
    report_totals,
)
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open, incident_resolve
from volunteers.models import Skill, Team, Township, Vehicle, VehicleKind
from volunteers.services import volunteer_set_duty

CITY = ZoneInfo("Asia/Shanghai")
KM = 1 / 111  # a kilometre of latitude, near enough
FLOOD_SITE = (34.610, 113.680)  # 龙湖镇 泰山村
EVACUATION_SITE = (34.455, 113.645)  # 新村镇
TESTING_SITE = (34.397, 113.739)  # 新建路街道


class Clock:
    """What django.utils.timezone.now answers while a scene is played."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def at(self, text: str) -> datetime:
        """Move to a local time, "2021-07-20 18:00:05"; never backwards."""
        moment = datetime.fromisoformat(text).replace(tzinfo=CITY)
        assert moment >= self.moment, f"the clock goes forward only: {text}"
        self.moment = moment
        return moment


@contextmanager
def frozen_clock(text: str):
    clock = Clock(datetime.fromisoformat(text).replace(tzinfo=CITY))
    with mock.patch("django.utils.timezone.now", clock):
        yield clock


@dataclass
class Scene:
    flood: Incident
    evacuation: Incident
    testing: Incident
    people: dict  # short name -> Volunteer
    boats: list
    trucks: list
    blue_sky: Team
    association: Team


def _offer(need: Need, *, volunteer=None, vehicle=None) -> Assignment:
    return Assignment.objects.get(need=need, volunteer=volunteer, vehicle=vehicle)


def build_scene(*, coordinator, make_volunteer) -> Scene:
    """The scene, through the services only (and index_rebuild before each dispatch, as
    a worker would have it by then):

    Flood rescue at 龙湖镇, 20 July 18:00, high priority: 2 rescuers and 2 boats. Three
    rescuers and three boats are offered. 张伟 accepts in 60 s, 李娜 declines, 王强 lets it
    expire; 刘洋 comes on duty, is offered next and accepts in 60 s. Boats 01 and 02
    accept in 90 and 120 s, 03 is withdrawn. They arrive 1110 (boat 01), 1200 (张伟),
    1380 (boat 02) and 1555 s (刘洋) after accepting; the boats move 18 + 12 people,
    张伟 5. Resolved 20:30.

    Evacuation at 新村镇, 21:00: one truck; T01 accepts in 120 s (T02 withdrawn),
    arrives after 1680 s, moves 25. Resolved 23:10.

    Testing site at 新建路街道, opened 21 July 20:00 with two shifts on 22 July 08:00–12:00:
    2 samplers (both accept: staffed) and 1 registrar (declines: not staffed).
    Resolved 22 July 12:10.
    """
    rescue, boat_operator, driver, sampling, registration = (
        Skill.objects.get(code=code)
        for code in ("rescue", "boat_operator", "driver", "sampling", "registration")
    )
    longhu = Township.objects.get(name="龙湖镇")
    xincun = Township.objects.get(name="新村镇")
    xinjian = Township.objects.get(name="新建路街道")

    with frozen_clock("2021-07-20 17:30:00") as clock:
        blue_sky = Team.objects.create(name="蓝天救援队", kind=Team.Kind.RESCUE)
        association = Team.objects.create(name="新郑市新联会", kind=Team.Kind.ASSOCIATION)

        def person(phone, name, skill, township, team, site, km, on_duty=True):
            volunteer = make_volunteer(
                phone,
                name=name,
                skills=(skill.code,),
                on_duty=on_duty,
                township=township,
                last_latitude=site[0] + km * KM,
                last_longitude=site[1],
            )
            volunteer.teams.add(team)
            return volunteer

        people = {
            "r1": person("13900000001", "张伟", rescue, longhu, blue_sky, FLOOD_SITE, 1),
            "r2": person("13900000002", "李娜", rescue, longhu, blue_sky, FLOOD_SITE, 2),
            "r3": person("13900000003", "王强", rescue, longhu, blue_sky, FLOOD_SITE, 3),
            "r4": person("13900000004", "刘洋", rescue, longhu, blue_sky, FLOOD_SITE, 4, False),
            "b1": person("13900000011", "陈刚", boat_operator, longhu, blue_sky, FLOOD_SITE, 9),
            "b2": person("13900000012", "杨帆", boat_operator, longhu, blue_sky, FLOOD_SITE, 9),
            "b3": person("13900000013", "赵磊", boat_operator, longhu, blue_sky, FLOOD_SITE, 9),
            "d1": person("13900000021", "黄勇", driver, xincun, association, EVACUATION_SITE, 9),
            "d2": person("13900000022", "周杰", driver, xincun, association, EVACUATION_SITE, 9),
            "s1": person("13900000031", "吴芳", sampling, xinjian, association, TESTING_SITE, 0.5),
            "s2": person("13900000032", "徐静", sampling, xinjian, association, TESTING_SITE, 1),
            "g1": person(
                "13900000041", "孙丽", registration, xinjian, association, TESTING_SITE, 1
            ),
        }

        def vehicle(call_sign, kind, township, team, site, km, crew, capacity, depth):
            made = Vehicle.objects.create(
                call_sign=call_sign,
                kind=kind,
                township=township,
                team=team,
                capacity=capacity,
                max_water_depth_m=Decimal(depth),
                latitude=site[0] + km * KM,
                longitude=site[1],
            )
            made.crew.add(crew)
            return made

        boats = [
            vehicle(
                f"蓝天-0{n}",
                VehicleKind.BOAT,
                longhu,
                blue_sky,
                FLOOD_SITE,
                n,
                people[f"b{n}"],
                10,
                "3.00",
            )
            for n in (1, 2, 3)
        ]
        trucks = [
            vehicle(
                f"豫A·T0{n}",
                VehicleKind.TRUCK,
                xincun,
                association,
                EVACUATION_SITE,
                n,
                people[f"d{n}"],
                20,
                "0.80",
            )
            for n in (1, 2)
        ]
        r1, r2, r3, r4 = (people[f"r{n}"] for n in (1, 2, 3, 4))
        b1, b2, b3 = (people[f"b{n}"] for n in (1, 2, 3))

        def deliver(assignment, volunteer):
            services.offer_mark_delivered(assignment_id=assignment.pk, volunteer=volunteer)

        def see(assignment, volunteer):
            services.offer_mark_seen(assignment_id=assignment.pk, volunteer=volunteer)

        def accept(assignment, volunteer):
            return services.assignment_accept(assignment_id=assignment.pk, volunteer=volunteer)

        def progress(assignment, volunteer, status, people_moved=None):
            services.assignment_progress(
                assignment_id=assignment.pk,
                volunteer=volunteer,
                status=status,
                people_moved=people_moved,
            )

        # --- the flood -----------------------------------------------------------------
        index_rebuild()
        clock.at("2021-07-20 18:00:00")
        flood = incident_open(
            reporter=coordinator,
            kind=Incident.Kind.FLOOD_RESCUE,
            title="龙湖镇 泰山村 群众被困",
            address="龙湖镇泰山村",
            latitude=FLOOD_SITE[0],
            longitude=FLOOD_SITE[1],
            priority=Incident.Priority.HIGH,
            people_affected=40,
            needs=[
                NeedSpec(kind=Need.Kind.PEOPLE, skill=rescue, count=2),
                NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=2),
            ],
        )
        services.incident_dispatch(incident_id=flood.pk)
        rescue_need, boat_need = flood.needs.order_by("pk")
        offers = {key: _offer(rescue_need, volunteer=people[key]) for key in ("r1", "r2", "r3")}
        offers |= {f"boat{n}": _offer(boat_need, vehicle=boats[n - 1]) for n in (1, 2, 3)}

        clock.at("2021-07-20 18:00:05")
        for key, volunteer in (("r1", r1), ("r2", r2), ("r3", r3)):
            deliver(offers[key], volunteer)
        for n, crew in ((1, b1), (2, b2), (3, b3)):
            deliver(offers[f"boat{n}"], crew)
        clock.at("2021-07-20 18:00:20")
        see(offers["r1"], r1)
        see(offers["boat1"], b1)
        clock.at("2021-07-20 18:00:40")
        see(offers["r2"], r2)
        see(offers["boat2"], b2)
        clock.at("2021-07-20 18:01:00")
        accept(offers["r1"], r1)
        clock.at("2021-07-20 18:01:30")
        services.assignment_decline(assignment_id=offers["r2"].pk, volunteer=r2, reason="车坏了")
        accept(offers["boat1"], b1)
        clock.at("2021-07-20 18:02:00")
        accept(offers["boat2"], b2)  # the third boat is told it is not needed
        clock.at("2021-07-20 18:02:50")
        volunteer_set_duty(volunteer=r4, on_duty=True)
        index_rebuild()
        clock.at("2021-07-20 18:03:05")
        services.needs_dispatch(need_ids=services.offers_expire())  # 王强's offer expired
        offers["r4"] = _offer(rescue_need, volunteer=r4)
        clock.at("2021-07-20 18:03:10")
        deliver(offers["r4"], r4)
        clock.at("2021-07-20 18:03:20")
        see(offers["r4"], r4)
        clock.at("2021-07-20 18:04:00")
        progress(offers["boat1"], b1, "en_route")
        clock.at("2021-07-20 18:04:05")
        accept(offers["r4"], r4)
        clock.at("2021-07-20 18:05:00")
        progress(offers["r1"], r1, "en_route")
        progress(offers["boat2"], b2, "en_route")
        clock.at("2021-07-20 18:06:00")
        progress(offers["r4"], r4, "en_route")
        clock.at("2021-07-20 18:20:00")
        progress(offers["boat1"], b1, "on_scene")
        clock.at("2021-07-20 18:21:00")
        progress(offers["r1"], r1, "on_scene")
        clock.at("2021-07-20 18:25:00")
        progress(offers["boat2"], b2, "on_scene")
        clock.at("2021-07-20 18:30:00")
        progress(offers["r4"], r4, "on_scene")
        clock.at("2021-07-20 19:40:00")
        progress(offers["boat1"], b1, "completed", 18)
        clock.at("2021-07-20 19:50:00")
        progress(offers["boat2"], b2, "completed", 12)
        clock.at("2021-07-20 20:00:00")
        progress(offers["r1"], r1, "completed", 5)
        clock.at("2021-07-20 20:10:00")
        progress(offers["r4"], r4, "completed")
        clock.at("2021-07-20 20:30:00")
        incident_resolve(incident=flood, actor=coordinator, note="群众全部转移")

        # --- the evacuation ------------------------------------------------------------
        index_rebuild()
        clock.at("2021-07-20 21:00:00")
        evacuation = incident_open(
            reporter=coordinator,
            kind=Incident.Kind.EVACUATION,
            title="新村镇 敬老院 转移",
            latitude=EVACUATION_SITE[0],
            longitude=EVACUATION_SITE[1],
            priority=Incident.Priority.HIGH,
            people_affected=25,
            needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.TRUCK, count=1)],
        )
        services.incident_dispatch(incident_id=evacuation.pk)
        truck_need = evacuation.needs.get()
        truck = _offer(truck_need, vehicle=trucks[0])
        _offer(truck_need, vehicle=trucks[1])  # offered too (urgent: one more than needed)
        clock.at("2021-07-20 21:00:10")
        deliver(truck, people["d1"])
        clock.at("2021-07-20 21:00:30")
        see(truck, people["d1"])
        clock.at("2021-07-20 21:02:00")
        accept(truck, people["d1"])
        clock.at("2021-07-20 21:05:00")
        progress(truck, people["d1"], "en_route")
        clock.at("2021-07-20 21:30:00")
        progress(truck, people["d1"], "on_scene")
        clock.at("2021-07-20 23:00:00")
        progress(truck, people["d1"], "completed", 25)
        clock.at("2021-07-20 23:10:00")
        incident_resolve(incident=evacuation, actor=coordinator)

        # --- the testing site ----------------------------------------------------------
        index_rebuild()
        clock.at("2021-07-21 20:00:00")
        shift = {
            "shift_start": datetime(2021, 7, 22, 8, tzinfo=CITY),
            "shift_end": datetime(2021, 7, 22, 12, tzinfo=CITY),
        }
        testing = incident_open(
            reporter=coordinator,
            kind=Incident.Kind.TESTING_SITE,
            title="新建路街道 核酸采样点 3号",
            latitude=TESTING_SITE[0],
            longitude=TESTING_SITE[1],
            needs=[
                NeedSpec(kind=Need.Kind.PEOPLE, skill=sampling, count=2, **shift),
                NeedSpec(kind=Need.Kind.PEOPLE, skill=registration, count=1, **shift),
            ],
        )
        services.incident_dispatch(incident_id=testing.pk)
        sampling_need, registration_need = testing.needs.order_by("pk")
        s1, s2, g1 = people["s1"], people["s2"], people["g1"]
        sample1 = _offer(sampling_need, volunteer=s1)
        sample2 = _offer(sampling_need, volunteer=s2)
        register = _offer(registration_need, volunteer=g1)
        clock.at("2021-07-21 20:01:00")
        for assignment, volunteer in ((sample1, s1), (sample2, s2), (register, g1)):
            deliver(assignment, volunteer)
        clock.at("2021-07-21 20:05:00")
        see(sample1, s1)
        clock.at("2021-07-21 20:06:00")
        accept(sample1, s1)
        clock.at("2021-07-21 20:08:00")
        accept(sample2, s2)
        clock.at("2021-07-21 20:09:00")
        services.assignment_decline(assignment_id=register.pk, volunteer=g1, reason="家中有事")
        clock.at("2021-07-22 08:00:00")
        progress(sample1, s1, "on_scene")
        clock.at("2021-07-22 08:02:00")
        progress(sample2, s2, "on_scene")
        clock.at("2021-07-22 12:00:00")
        progress(sample1, s1, "completed")
        clock.at("2021-07-22 12:05:00")
        progress(sample2, s2, "completed")
        clock.at("2021-07-22 12:10:00")
        incident_resolve(incident=testing, actor=coordinator)

    return Scene(
        flood=flood,
        evacuation=evacuation,
        testing=testing,
        people=people,
        boats=boats,
        trucks=trucks,
        blue_sky=blue_sky,
        association=association,
    )


pytestmark = pytest.mark.usefixtures("live_index")


@pytest.fixture
def scene(coordinator, make_volunteer) -> Scene:
    return build_scene(coordinator=coordinator, make_volunteer=make_volunteer)


# --- totals -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_counts_the_totals_in_the_operations_terms(scene):
    totals = report_totals(filters=LogFilter())

    assert totals.incidents == 3
    assert totals.vehicle_dispatches == 3  # two boats and a truck
    assert (totals.boats, totals.boat_dispatches) == (2, 2)
    assert totals.person_times == 4  # 张伟 and 刘洋 at the flood, two samplers
    assert totals.people_moved == 18 + 12 + 5 + 25
    assert (totals.shifts, totals.shifts_staffed, totals.sites_staffed) == (2, 1, 1)


@pytest.mark.django_db
def test_it_takes_the_medians_of_urgent_response_only(scene):
    totals = report_totals(filters=LogFilter())

    # Accepted after 60, 60, 90, 120, 120 s; the samplers' 360 and 480 s are staffing.
    assert totals.median_accept_seconds == 90
    # On scene 1110, 1200, 1380, 1555, 1680 s after accepting.
    assert totals.median_arrive_seconds == 1380


@pytest.mark.django_db
def test_it_leaves_manual_assignments_out_of_the_time_to_accept(scene, coordinator):
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

    totals = report_totals(filters=LogFilter())

    assert totals.vehicle_dispatches == 4
    assert totals.median_accept_seconds == 90  # not pulled down by a 0 s "answer"


@pytest.mark.django_db
def test_it_ranges_by_offer_opening_and_shift_start(scene):
    def on(day):
        return report_totals(filters=LogFilter(start=day, end=day))

    flood_night, site_opened, shift_day = (
        on(date(2021, 7, 20)),
        on(date(2021, 7, 21)),
        on(date(2021, 7, 22)),
    )

    assert (flood_night.incidents, flood_night.vehicle_dispatches, flood_night.person_times) == (
        2,
        3,
        2,
    )
    assert flood_night.people_moved == 60
    assert (site_opened.incidents, site_opened.person_times, site_opened.shifts) == (1, 2, 0)
    assert (shift_day.incidents, shift_day.person_times) == (0, 0)
    assert (shift_day.shifts, shift_day.shifts_staffed) == (2, 1)
    assert shift_day.median_accept_seconds is None


@pytest.mark.django_db
def test_it_narrows_the_totals_to_a_team_township_or_volunteer(scene):
    blue_sky = report_totals(filters=LogFilter(team=scene.blue_sky.pk))
    xincun = report_totals(filters=LogFilter(township=Township.objects.get(name="新村镇").pk))
    boatman = report_totals(filters=LogFilter(volunteer=scene.people["b1"].pk))

    assert (blue_sky.incidents, blue_sky.vehicle_dispatches, blue_sky.person_times) == (1, 2, 2)
    assert (xincun.incidents, xincun.vehicle_dispatches, xincun.people_moved) == (1, 1, 25)
    assert (boatman.vehicle_dispatches, boatman.boats, boatman.people_moved) == (1, 1, 18)
    assert boatman.person_times == 0


@pytest.mark.django_db
def test_it_counts_nothing_on_an_empty_log():
    totals = report_totals(filters=LogFilter())

    assert totals.incidents == totals.person_times == totals.people_moved == 0
    assert totals.median_accept_seconds is None
    assert report_series(filters=LogFilter()).buckets == []


# --- over time ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_draws_a_short_range_per_hour_and_the_bars_add_up(scene):
    series = report_series(filters=LogFilter(start=date(2021, 7, 20), end=date(2021, 7, 20)))
    totals = report_totals(filters=LogFilter(start=date(2021, 7, 20), end=date(2021, 7, 20)))

    assert series.unit == HOUR
    assert len(series.buckets) == 24
    assert series.buckets[18] == datetime(2021, 7, 20, 18)
    assert series.incidents[18] == 1 and series.incidents[21] == 1
    assert sum(series.vehicle_dispatches) == totals.vehicle_dispatches
    assert sum(series.person_times) == totals.person_times
    assert sum(series.people_moved) == totals.people_moved
    assert series.median_accept_seconds[18] == 75  # 60, 60, 90, 120 at the flood
    assert series.median_accept_seconds[21] == 120
    assert series.median_accept_seconds[0] is None


@pytest.mark.django_db
def test_it_draws_a_longer_range_per_day(scene):
    series = report_series(filters=LogFilter(start=date(2021, 7, 19), end=date(2021, 7, 23)))

    assert series.unit == DAY
    assert [bucket.day for bucket in series.buckets] == [19, 20, 21, 22, 23]
    assert series.incidents == [0, 2, 1, 0, 0]
    assert series.person_times == [0, 2, 2, 0, 0]
    assert series.shifts_staffed == [0, 0, 0, 1, 0]
    assert series.boat_dispatches == [0, 2, 0, 0, 0]


# --- one incident -------------------------------------------------------------------------


def _name(line) -> str:
    assignment = line.assignment
    return assignment.volunteer.name if assignment.volunteer else assignment.vehicle.call_sign


@pytest.mark.django_db
def test_it_lays_out_the_timeline_in_the_order_things_happened(scene):
    timeline = incident_timeline(incident=scene.flood)

    offered = [line.offered_at for line in timeline.lines]
    assert offered == sorted(offered)
    assert _name(timeline.lines[-1]) == "刘洋"  # offered last, after 王强's expired
    answers = {_name(line): line.answer for line in timeline.lines}
    assert answers == {
        "张伟": "accepted",
        "李娜": "declined",
        "王强": "expired",
        "刘洋": "accepted",
        "蓝天-01": "accepted",
        "蓝天-02": "accepted",
        "蓝天-03": "withdrawn",
    }
    seqs = [event.seq for event in timeline.events]
    assert seqs == sorted(seqs)
    times = [event.occurred_at for event in timeline.events]
    assert times == sorted(times)
    assert timeline.events[0].kind == EventKind.INCIDENT_OPENED
    assert timeline.events[-1].kind == EventKind.INCIDENT_RESOLVED


@pytest.mark.django_db
def test_it_shows_each_offers_delivery_sight_answer_arrival_and_completion(scene):
    timeline = incident_timeline(incident=scene.flood)
    zhang = next(line for line in timeline.lines if line.resource == "张伟")
    wang = next(line for line in timeline.lines if line.resource == "王强")

    assert zhang.delivered_at < zhang.seen_at < zhang.answered_at
    assert zhang.seconds_to_answer == 60
    assert zhang.en_route_at < zhang.on_scene_at < zhang.finished_at
    assert zhang.seconds_to_arrive == 1200
    assert (zhang.status, zhang.people_moved) == (AssignmentStatus.COMPLETED, 5)
    assert wang.delivered_at is not None and wang.seen_at is None
    assert (wang.answer, wang.on_scene_at) == ("expired", None)


@pytest.mark.django_db
def test_it_fills_the_ics214_form_with_resources_and_activities(scene):
    form = incident_ics214(incident=scene.flood)

    assert form.period_from == scene.flood.opened_at
    assert form.period_to == Incident.objects.get(pk=scene.flood.pk).closed_at
    assert sorted(r.name.split(" ")[0] for r in form.resources) == sorted(
        ["张伟", "刘洋", "蓝天-01", "蓝天-02"]
    )
    assert all(r.agency == "蓝天救援队" for r in form.resources)
    activity_times = [activity.at for activity in form.activities]
    assert activity_times == sorted(activity_times)
    # Receipts are left to the timeline: every other event is an activity.
    kinds = list(
        log_filtered(filters=LogFilter(incident=scene.flood.pk)).values_list("kind", flat=True)
    )
    notable = [k for k in kinds if k not in (EventKind.OFFER_DELIVERED, EventKind.OFFER_SEEN)]
    assert len(form.activities) == len(notable)
    assert any("车坏了" in activity.text for activity in form.activities)


# --- the log ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_filters_the_log_by_incident_kind_and_date(scene):
    flood = log_filtered(filters=LogFilter(incident=scene.flood.pk))
    declines = log_filtered(filters=LogFilter(kind="offer.declined"))
    offers = log_filtered(filters=LogFilter(kind="offer"))
    shift_day = log_filtered(filters=LogFilter(start=date(2021, 7, 22), end=date(2021, 7, 22)))
    testing = log_filtered(filters=LogFilter(incident_kind=Incident.Kind.TESTING_SITE))

    assert {event.incident_id for event in flood} == {scene.flood.pk}
    assert [event.volunteer.name for event in declines] == ["李娜", "孙丽"]
    assert {event.kind.split(".")[0] for event in offers} == {"offer"}
    assert [event.kind for event in shift_day] == [
        "assignment.on_scene",
        "assignment.on_scene",
        "assignment.completed",
        "assignment.completed",
        "incident.resolved",
    ]
    assert {event.incident_id for event in testing} == {scene.testing.pk}


@pytest.mark.django_db
def test_it_puts_an_event_without_incident_in_its_volunteers_township(scene):
    longhu = log_filtered(filters=LogFilter(township=Township.objects.get(name="龙湖镇").pk))
    xincun = log_filtered(filters=LogFilter(township=Township.objects.get(name="新村镇").pk))

    assert EventKind.VOLUNTEER_ON_DUTY in {event.kind for event in longhu}
    assert {event.incident_id for event in longhu} == {scene.flood.pk, None}
    assert {event.incident_id for event in xincun} == {scene.evacuation.pk}


@pytest.mark.django_db
def test_it_gives_a_volunteer_their_own_events_and_their_vehicles(scene):
    boatman = list(log_filtered(filters=LogFilter(volunteer=scene.people["b1"].pk)))
    team = log_filtered(filters=LogFilter(team=scene.association.pk))

    assert {event.vehicle_id for event in boatman} == {scene.boats[0].pk}
    assert [event.kind for event in boatman] == [
        "offer.made",
        "offer.delivered",
        "offer.seen",
        "offer.accepted",
        "vehicle.status",  # on a task
        "assignment.en_route",
        "assignment.on_scene",
        "vehicle.status",  # available again, in the transaction that completes its task
        "assignment.completed",
    ]
    assert {event.incident_id for event in team} == {scene.evacuation.pk, scene.testing.pk}
