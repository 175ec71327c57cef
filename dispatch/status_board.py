"""The coordinators' status board (dashboard "Who is where"): every volunteer on duty or
on a task and every vehicle, with what they are doing and since when."""

from collections import defaultdict

from django.db.models import OuterRef, Q, Subquery

from dispatch.availability import volunteer_position_of
from dispatch.models import OPEN_STATUSES, Assignment, AssignmentStatus, DeploymentEvent, EventKind
from volunteers.models import Team, Vehicle, VehicleStatus, Volunteer

# A unit's state on the status board (dashboard "Who is where"): on a task (its
# assignment's status), offered one, free on duty (a vehicle: available), off duty (a
# vehicle: out of service).
UNIT_FREE = "free"
UNIT_OFFERED = "offered"
UNIT_OFF_DUTY = "off_duty"
UNIT_STATES = (
    AssignmentStatus.ON_SCENE,
    AssignmentStatus.EN_ROUTE,
    AssignmentStatus.ACCEPTED,
    UNIT_OFFERED,
    UNIT_FREE,
    UNIT_OFF_DUTY,
)
_WORK_COLUMNS = ("status", "need__incident_id", "need__incident__title", "offered_at")
_WORK_TIMES = ("answered_at", "en_route_at", "on_scene_at")


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _work_since(row: dict, prefix: str = "") -> str | None:
    """When a piece of work reached its present status: arrived, set off, accepted, or
    (an offer) was sent."""
    status = row[f"{prefix}status"]
    if status == AssignmentStatus.ON_SCENE and row[f"{prefix}on_scene_at"]:
        return _iso(row[f"{prefix}on_scene_at"])
    if (
        status in (AssignmentStatus.ON_SCENE, AssignmentStatus.EN_ROUTE)
        and row[f"{prefix}en_route_at"]
    ):
        return _iso(row[f"{prefix}en_route_at"])
    return _iso(row[f"{prefix}answered_at"] or row[f"{prefix}offered_at"])


def _pick_work(rows: list[dict]) -> dict | None:
    """Of a unit's open assignments, the one the board shows: active work first (there
    is at most one), else the newest offer."""
    active = [row for row in rows if row["status"] != AssignmentStatus.OFFERED]
    if active:
        return active[0]
    return max(rows, key=lambda row: row["offered_at"]) if rows else None


def units_status_board(
    *, volunteer_ids: list[int] | None = None, vehicle_ids: list[int] | None = None
) -> dict:
    """The status board's rows: every volunteer on duty or on a task, and every vehicle
    (or only those of `volunteer_ids` / `vehicle_ids`, whatever their state: the page
    asks for the ones a live event named). Each row says who (name, phone, township,
    teams), their state (UNIT_STATES), the incident of their work (id and title) and
    since when. A fixed number of queries whatever the number of rows: the units, their
    open assignments, their teams, the teams' names, and the same for vehicles."""
    only = volunteer_ids is not None or vehicle_ids is not None
    people = Volunteer.objects.all()
    if only:
        people = people.filter(pk__in=volunteer_ids or [])
    else:
        people = people.filter(Q(on_duty=True) | Q(engagement__isnull=False))
    duty_changed = DeploymentEvent.objects.filter(
        volunteer=OuterRef("pk"),
        kind__in=[EventKind.VOLUNTEER_ON_DUTY, EventKind.VOLUNTEER_OFF_DUTY],
    ).order_by("-seq")
    engaged = "engagement__assignment__"
    rows = list(
        people.annotate(duty_since=Subquery(duty_changed.values("occurred_at")[:1])).values(
            "id",
            "name",
            "phone",
            "township_id",
            "on_duty",
            "duty_since",
            "last_latitude",
            "last_longitude",
            "last_located_at",
            "home_latitude",
            "home_longitude",
            "engagement__since",
            *(engaged + column for column in (*_WORK_COLUMNS, *_WORK_TIMES)),
        )
    )
    work = defaultdict(list)
    # A shift reserved ahead holds a place, not the person: they show as free (or
    # offered) until it is taken up (issue 13).
    for row in (
        Assignment.objects.filter(volunteer__in=people.values("pk"), status__in=OPEN_STATUSES)
        .exclude(status=AssignmentStatus.RESERVED)
        .values("volunteer_id", *_WORK_COLUMNS, *_WORK_TIMES)
    ):
        work[row["volunteer_id"]].append(row)
    teams = defaultdict(list)
    for volunteer_id, team_id in Volunteer.teams.through.objects.filter(
        volunteer__in=people.values("pk")
    ).values_list("volunteer_id", "team_id"):
        teams[volunteer_id].append(team_id)

    volunteers = []
    for row in rows:
        if row[engaged + "status"]:
            # On a task, their own or a vehicle's they went with.
            state, incident = row[engaged + "status"], row[engaged + "need__incident_id"]
            title, since = row[engaged + "need__incident__title"], _work_since(row, engaged)
        elif found := _pick_work(work[row["id"]]):
            state = UNIT_OFFERED if found["status"] == AssignmentStatus.OFFERED else found["status"]
            incident, title = found["need__incident_id"], found["need__incident__title"]
            since = _work_since(found)
        else:
            state = UNIT_FREE if row["on_duty"] else UNIT_OFF_DUTY
            incident, title, since = None, None, _iso(row["duty_since"])
        position = volunteer_position_of(
            row["last_latitude"], row["last_longitude"], row["home_latitude"], row["home_longitude"]
        )
        volunteers.append(
            {
                "id": row["id"],
                "name": row["name"],
                "phone": row["phone"],
                "township": row["township_id"],
                "teams": sorted(teams[row["id"]]),
                "state": str(state),
                "incident": incident,
                "incident_title": title,
                "since": since,
                "latitude": position[0] if position else None,
                "longitude": position[1] if position else None,
                "located_at": _iso(row["last_located_at"]),
            }
        )
    vehicles = _vehicle_units(vehicle_ids or [] if only else None)
    named = {team for row in volunteers for team in row["teams"]}
    named |= {team for row in vehicles for team in row["teams"]}
    return {
        "volunteers": volunteers,
        "vehicles": vehicles,
        "teams": [
            {"id": pk, "name": name}
            for pk, name in Team.objects.filter(pk__in=named).values_list("id", "name")
        ],
    }


def _vehicle_units(vehicle_ids: list[int] | None) -> list[dict]:
    fleet = Vehicle.objects.all()
    if vehicle_ids is not None:
        fleet = fleet.filter(pk__in=vehicle_ids)
    status_changed = DeploymentEvent.objects.filter(
        vehicle=OuterRef("pk"), kind=EventKind.VEHICLE_STATUS
    ).order_by("-seq")
    work = defaultdict(list)
    for row in Assignment.objects.filter(
        vehicle__in=fleet.values("pk"), status__in=OPEN_STATUSES
    ).values("vehicle_id", *_WORK_COLUMNS, *_WORK_TIMES):
        work[row["vehicle_id"]].append(row)
    units = []
    for row in fleet.annotate(
        status_since=Subquery(status_changed.values("occurred_at")[:1])
    ).values(
        "id",
        "call_sign",
        "kind",
        "status",
        "team_id",
        "township_id",
        "latitude",
        "longitude",
        "located_at",
        "status_since",
    ):
        if found := _pick_work(work[row["id"]]):
            state = UNIT_OFFERED if found["status"] == AssignmentStatus.OFFERED else found["status"]
            incident, title = found["need__incident_id"], found["need__incident__title"]
            since = _work_since(found)
        else:
            state = UNIT_OFF_DUTY if row["status"] == VehicleStatus.OUT_OF_SERVICE else UNIT_FREE
            incident, title, since = None, None, _iso(row["status_since"])
        units.append(
            {
                "id": row["id"],
                "name": row["call_sign"],
                "vehicle_kind": row["kind"],
                "phone": None,
                "township": row["township_id"],
                "teams": [row["team_id"]] if row["team_id"] else [],
                "state": str(state),
                "incident": incident,
                "incident_title": title,
                "since": since,
                "latitude": row["latitude"],
                "longitude": row["longitude"],
                "located_at": _iso(row["located_at"]),
            }
        )
    return units
