"""Where the dispatch tests' scenes happen, and the incident most of them open."""

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
    boat = Vehicle.objects.create(
        call_sign=call_sign,
        kind=VehicleKind.BOAT,
        township=township,
        capacity=6,
        max_water_depth_m=Decimal("1.5"),
        latitude=SITE[0],
        longitude=SITE[1],
    )
    boat.crew.add(*crew)
    return boat
