"""Where the dispatch tests' scenes happen, and the incident most of them open."""

from datetime import timedelta
from decimal import Decimal

from dispatch.models import Assignment, AssignmentStatus
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open
from volunteers.models import Skill, Vehicle, VehicleKind

SITE = (34.610, 113.680)  # 龙湖镇, the north of the city
KM = 1 / 111  # a kilometre of latitude, near enough
RESCUE_TITLE = "龙湖镇 泰山村 群众被困"


def open_rescue(reporter, *, count: int = 1, **fields) -> Incident:
    """A critical flood rescue at SITE asking for `count` rescuers, opened through the
    service (so it is logged and dispatched after commit). Any other argument of
    incident_open (title, address, kind, priority, needs, …) replaces the default."""
    needs = fields.pop("needs", None) or [
        NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=count)
    ]
    incident = {
        "kind": Incident.Kind.FLOOD_RESCUE,
        "title": RESCUE_TITLE,
        "latitude": SITE[0],
        "longitude": SITE[1],
        "priority": Incident.Priority.CRITICAL,
    }
    return incident_open(reporter=reporter, needs=needs, **(incident | fields))


def offers_on_two_rescues(coordinator, volunteers) -> tuple[Need, Need, dict]:
    """Two one-place rescues, each offered to every one of `volunteers`: the first need,
    the second, and the offers by (need id, volunteer id)."""
    first = open_rescue(coordinator, count=1).needs.get()
    second = open_rescue(coordinator, count=1).needs.get()
    offers = {
        (need.pk, volunteer.pk): Assignment.objects.create(
            need=need, volunteer=volunteer, status=AssignmentStatus.OFFERED
        )
        for need in (first, second)
        for volunteer in volunteers
    }
    return first, second, offers


def open_boat_rescue(coordinator):
    return open_rescue(
        coordinator,
        title="泰山村 需要冲锋舟",
        needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=1)],
    )


def make_boat(township, call_sign: str, *crew) -> Vehicle:
    """A boat at SITE, with these crew members."""
    return make_vehicle(township, call_sign, *crew, kind=VehicleKind.BOAT)


# What each kind of vehicle works in: a boat in deep water, a truck up to its axles.
MAX_WATER_DEPTH_M = {VehicleKind.BOAT: Decimal("1.5"), VehicleKind.TRUCK: Decimal("0.60")}


def make_vehicle(township, call_sign: str, *crew, kind: str, at=SITE) -> Vehicle:
    """A vehicle of this kind for six, at `at` (SITE), with these crew members."""
    vehicle = Vehicle.objects.create(
        call_sign=call_sign,
        kind=kind,
        township=township,
        capacity=6,
        max_water_depth_m=MAX_WATER_DEPTH_M[kind],
        latitude=at[0],
        longitude=at[1],
    )
    vehicle.crew.add(*crew)
    return vehicle


def open_testing_site(reporter, *, starts: list, hours: int = 4, count: int = 1) -> list[Need]:
    """A testing site at SITE staffed in shifts of `hours` beginning at each of `starts`
    (aware datetimes), each asking `count` samplers: its needs, in that order."""
    shifts = [
        NeedSpec(
            kind=Need.Kind.PEOPLE,
            skill=Skill.objects.get(code="sampling"),
            count=count,
            shift_start=start,
            shift_end=start + timedelta(hours=hours),
        )
        for start in starts
    ]
    incident = incident_open(
        reporter=reporter,
        needs=shifts,
        kind=Incident.Kind.TESTING_SITE,
        title="龙湖镇 核酸采样点",
        latitude=SITE[0],
        longitude=SITE[1],
        priority=Incident.Priority.NORMAL,
    )
    return list(incident.needs.order_by("shift_start"))
