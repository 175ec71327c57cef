"""The coordinators' dashboard (issue 5): the page, and the small JSON views it needs
beside the REST API — the geocoder, the resource board's counts, the map's markers,
an incident's offers (the API's, with the page's offer state), and the candidates for
a manual assignment. Writes go through the REST API (and so through the services)."""

import math
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import get_language, pgettext
from django.views.decorators.http import require_GET

from dispatch.api import AssignmentSerializer, assignments_for_display
from dispatch.models import ACTIVE_STATUSES, Assignment, AssignmentStatus, EventKind
from incidents import geocoding
from incidents.models import Incident, IncidentKind, IncidentStatus, Need
from volunteers.models import (
    Skill,
    Team,
    TeamKind,
    Township,
    Vehicle,
    VehicleKind,
    VehicleStatus,
    Volunteer,
)
from volunteers.roles import Role, user_has_role
from volunteers.selectors import township_nearest

# Markers beyond this many on-duty volunteers are left off the map (the counts are not).
MAP_VOLUNTEERS_MAX = 5000
CANDIDATES_MAX = 30
# Kinds whose needs are shifts: the form asks for a window.
STAFFING_KINDS = [IncidentKind.TESTING_SITE, IncidentKind.SHELTER, IncidentKind.DISTRIBUTION]


def _may_watch(user) -> bool:
    return user_has_role(user, Role.COORDINATOR) or user_has_role(user, Role.COMMANDER)


def _json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _dashboard_json(*, coordinators_only: bool = False):
    """A JSON view for the dashboard's users: 401 / 403 as JSON, never a login page."""

    def decorate(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return _json_error(pgettext("dashboard", "Sign in first."), 401)
            allowed = (
                user_has_role(request.user, Role.COORDINATOR)
                if coordinators_only
                else _may_watch(request.user)
            )
            if not allowed:
                return _json_error(
                    pgettext("dashboard", "Only coordinators and commanders may see this."), 403
                )
            return view(request, *args, **kwargs)

        return require_GET(guarded)

    return decorate


def _in_chinese() -> bool:
    return (get_language() or "").startswith("zh")


# --- labels: the models' choices carry both languages in one string; the page shows one


def _labels() -> dict:
    return {
        "incident_kind": {
            IncidentKind.FLOOD_RESCUE: pgettext("dashboard", "Flood rescue"),
            IncidentKind.EVACUATION: pgettext("dashboard", "Evacuation"),
            IncidentKind.MEDICAL: pgettext("dashboard", "Medical"),
            IncidentKind.SEARCH: pgettext("dashboard", "Search"),
            IncidentKind.TESTING_SITE: pgettext("dashboard", "Testing site"),
            IncidentKind.SHELTER: pgettext("dashboard", "Shelter"),
            IncidentKind.DISTRIBUTION: pgettext("dashboard", "Distribution point"),
        },
        "incident_status": {
            IncidentStatus.OPEN: pgettext("dashboard", "Open"),
            IncidentStatus.RESOLVED: pgettext("dashboard", "Resolved"),
            IncidentStatus.CANCELLED: pgettext("dashboard", "Cancelled"),
        },
        "priority": {
            Incident.Priority.LOW: pgettext("dashboard", "Low"),
            Incident.Priority.NORMAL: pgettext("dashboard", "Normal"),
            Incident.Priority.HIGH: pgettext("dashboard", "High"),
            Incident.Priority.CRITICAL: pgettext("dashboard", "Critical"),
        },
        "need_kind": {
            Need.Kind.PEOPLE: pgettext("dashboard", "People"),
            Need.Kind.VEHICLE: pgettext("dashboard", "Vehicles"),
            Need.Kind.CAPABILITY: pgettext("dashboard", "Capability"),
        },
        "vehicle_kind": {
            VehicleKind.BOAT: pgettext("dashboard", "Assault boat"),
            VehicleKind.TRUCK: pgettext("dashboard", "Truck"),
            VehicleKind.AMBULANCE: pgettext("dashboard", "Ambulance"),
            VehicleKind.VAN: pgettext("dashboard", "Van"),
            VehicleKind.CAR: pgettext("dashboard", "Car"),
            VehicleKind.BUS: pgettext("dashboard", "Bus"),
        },
        "vehicle_status": {
            VehicleStatus.AVAILABLE: pgettext("dashboard", "Available"),
            VehicleStatus.ASSIGNED: pgettext("dashboard", "On a task"),
            VehicleStatus.OUT_OF_SERVICE: pgettext("dashboard", "Out of service"),
        },
        "team_kind": {
            TeamKind.ASSOCIATION: pgettext("dashboard", "Association"),
            TeamKind.BRANCH: pgettext("dashboard", "Trade branch"),
            TeamKind.RESCUE: pgettext("dashboard", "Rescue team"),
        },
        # An offer's state as the coordinator follows it: sent, then delivered to the
        # phone, then seen by the volunteer, then answered.
        "offer_state": {
            "sent": pgettext("dashboard", "Sent"),
            "delivered": pgettext("dashboard", "Delivered"),
            "seen": pgettext("dashboard", "Seen"),
            AssignmentStatus.ACCEPTED: pgettext("dashboard", "Accepted"),
            AssignmentStatus.EN_ROUTE: pgettext("dashboard", "En route"),
            AssignmentStatus.ON_SCENE: pgettext("dashboard", "On scene"),
            AssignmentStatus.COMPLETED: pgettext("dashboard", "Completed"),
            AssignmentStatus.DECLINED: pgettext("dashboard", "Declined"),
            AssignmentStatus.EXPIRED: pgettext("dashboard", "Expired"),
            AssignmentStatus.WITHDRAWN: pgettext("dashboard", "Withdrawn"),
            AssignmentStatus.CANCELLED: pgettext("dashboard", "Cancelled"),
        },
        "event": {
            EventKind.INCIDENT_OPENED: pgettext("dashboard", "Incident opened"),
            EventKind.INCIDENT_RESOLVED: pgettext("dashboard", "Incident resolved"),
            EventKind.INCIDENT_CANCELLED: pgettext("dashboard", "Incident cancelled"),
            EventKind.VOLUNTEER_ON_DUTY: pgettext("dashboard", "Volunteer on duty"),
            EventKind.VOLUNTEER_OFF_DUTY: pgettext("dashboard", "Volunteer off duty"),
            EventKind.VEHICLE_STATUS: pgettext("dashboard", "Vehicle status changed"),
            EventKind.OFFER_MADE: pgettext("dashboard", "Offer sent"),
            EventKind.OFFER_DELIVERED: pgettext("dashboard", "Offer delivered"),
            EventKind.OFFER_SEEN: pgettext("dashboard", "Offer seen"),
            EventKind.OFFER_ACCEPTED: pgettext("dashboard", "Offer accepted"),
            EventKind.OFFER_DECLINED: pgettext("dashboard", "Offer declined"),
            EventKind.OFFER_EXPIRED: pgettext("dashboard", "Offer expired"),
            EventKind.OFFER_WITHDRAWN: pgettext("dashboard", "Offer withdrawn"),
            EventKind.ASSIGNMENT_EN_ROUTE: pgettext("dashboard", "En route"),
            EventKind.ASSIGNMENT_ON_SCENE: pgettext("dashboard", "On scene"),
            EventKind.ASSIGNMENT_COMPLETED: pgettext("dashboard", "Completed"),
            EventKind.ASSIGNMENT_CANCELLED: pgettext("dashboard", "Assignment cancelled"),
        },
    }


def _strings() -> dict:
    """Every sentence the page's scripts show, in the page's language."""
    return {
        "live": pgettext("dashboard", "Live"),
        "connecting": pgettext("dashboard", "Connecting…"),
        "offline": pgettext("dashboard", "Offline — reconnecting"),
        "signed_out": pgettext("dashboard", "Signed out — reload the page"),
        "no_incidents": pgettext("dashboard", "No open incidents."),
        "filled": pgettext("dashboard", "filled"),
        "waiting": pgettext("dashboard", "awaiting answer"),
        "people_count": pgettext("dashboard", "%(count)s × %(skill)s"),
        "vehicle_count": pgettext("dashboard", "%(count)s × %(kind)s"),
        "capability": pgettext("dashboard", "Move %(people)s people through %(depth)s of water"),
        "shift": pgettext("dashboard", "Shift %(start)s – %(end)s"),
        "geocode_empty": pgettext("dashboard", "Type an address or a place name first."),
        "geocode_searching": pgettext("dashboard", "Looking up…"),
        "geocode_failed": pgettext("dashboard", "The address lookup did not answer."),
        "located": pgettext("dashboard", "Located: %(name)s"),
        "picked_on_map": pgettext("dashboard", "Point picked on the map"),
        "no_location": pgettext(
            "dashboard", "Locate an address or click the map to place the incident."
        ),
        "need_one": pgettext("dashboard", "Add at least one need."),
        "saving": pgettext("dashboard", "Opening…"),
        "save_failed": pgettext("dashboard", "The incident could not be opened:"),
        "request_failed": pgettext("dashboard", "The request failed: %(reason)s"),
        "reason_required": pgettext("dashboard", "Give a reason."),
        "choose_candidate": pgettext("dashboard", "Choose who to assign."),
        "no_candidates": pgettext("dashboard", "Nobody suitable was found."),
        "busy": pgettext("dashboard", "busy"),
        "off_duty": pgettext("dashboard", "off duty"),
        "manual": pgettext("dashboard", "assigned by hand"),
        "open_here": pgettext("dashboard", "Open an incident here"),
        "loading": pgettext("dashboard", "Loading…"),
        "none": pgettext("dashboard", "None yet."),
        "untitled": pgettext("dashboard", "%(kind)s at %(place)s"),
        "need": pgettext("dashboard", "Need %(number)s"),
        "incident_n": pgettext("dashboard", "Incident #%(id)s"),
        "vehicles_n": pgettext("dashboard", "%(count)s veh."),
        "capability_short": pgettext("dashboard", "Move %(people)s · %(depth)s water"),
        "reason_not_needed": pgettext("dashboard", "no longer needed"),
        "reason_accepted_another": pgettext("dashboard", "took another task"),
        "reason_incident_resolved": pgettext("dashboard", "the incident was resolved"),
        "reason_incident_cancelled": pgettext("dashboard", "the incident was cancelled"),
        "layer_incidents": pgettext("dashboard", "Incidents"),
        "layer_volunteers": pgettext("dashboard", "Volunteers on duty"),
        "layer_vehicles": pgettext("dashboard", "Vehicles"),
        "layer_townships": pgettext("dashboard", "Township seats"),
        "legend_volunteer": pgettext("dashboard", "Volunteer on duty"),
        "legend_volunteer_busy": pgettext("dashboard", "on a task"),
        "legend_vehicle": pgettext("dashboard", "Vehicle"),
        "on_duty_of": pgettext("dashboard", "on duty of %(total)s registered"),
        "busy_now": pgettext("dashboard", "on a task now"),
        "more_teams": pgettext("dashboard", "and %(count)s more teams"),
        "fact_kind": pgettext("dashboard", "Kind"),
        "fact_status": pgettext("dashboard", "Status"),
        "fact_where": pgettext("dashboard", "Where"),
        "fact_affected": pgettext("dashboard", "People affected"),
        "fact_opened": pgettext("dashboard", "Opened"),
        "fact_description": pgettext("dashboard", "Description"),
        "fact_closed": pgettext("dashboard", "Closed"),
        "carried": pgettext(
            "dashboard", "%(vehicles)s vehicles, carrying %(people)s of %(of)s people"
        ),
        "assign_by_hand": pgettext("dashboard", "Assign…"),
        "assign_title": pgettext("dashboard", "Assign to need %(number)s by hand"),
        "assign_confirm": pgettext("dashboard", "Assign"),
        "unassign": pgettext("dashboard", "Unassign"),
        "unassign_title": pgettext("dashboard", "Take %(name)s off"),
        "unassign_text": pgettext(
            "dashboard",
            "The offer is withdrawn or the assignment cancelled, and the need is offered again.",
        ),
        "resolve": pgettext("dashboard", "Resolve"),
        "resolve_title": pgettext("dashboard", "Resolve “%(title)s”"),
        "resolve_text": pgettext(
            "dashboard", "Everyone still on it is stood down. A note is optional."
        ),
        "cancel_incident": pgettext("dashboard", "Cancel incident"),
        "cancel_title": pgettext("dashboard", "Cancel “%(title)s”"),
        "cancel_text": pgettext(
            "dashboard", "Open offers are withdrawn and assignments cancelled. Say why."
        ),
    }


def _reference() -> dict:
    chinese = _in_chinese()
    return {
        "skills": [
            {"code": skill.code, "name": skill.name_zh if chinese else skill.name_en}
            for skill in Skill.objects.all()
        ],
        "townships": [
            {
                "id": township.pk,
                "name": township.name if chinese else (township.name_en or township.name),
                "latitude": township.latitude,
                "longitude": township.longitude,
            }
            for township in Township.objects.all()
        ],
        "staffing_kinds": [str(kind) for kind in STAFFING_KINDS],
    }


def _url_pattern(name: str) -> str:
    """A URL with its id left as {id} for the script to fill in."""
    return reverse(name, args=[999999]).replace("999999", "{id}")


@login_required
def dashboard(request):
    """The coordinators' dashboard; commanders see it read-only."""
    if not _may_watch(request.user):
        raise PermissionDenied("Only coordinators and commanders use the dashboard.")
    can_edit = user_has_role(request.user, Role.COORDINATOR)
    config = {
        "language": get_language(),
        "time_zone": settings.TIME_ZONE,
        "can_edit": can_edit,
        "tiles": {"url": settings.MAP_TILES_URL, "attribution": settings.MAP_TILES_ATTRIBUTION},
        "urls": {
            "socket": "/ws/dashboard/",
            "incidents": reverse("api:incidents"),
            "incident": _url_pattern("api:incident"),
            "assignments": _url_pattern("api:incident-assignments"),
            "resolve": _url_pattern("api:incident-resolve"),
            "cancel": _url_pattern("api:incident-cancel"),
            "assign": _url_pattern("api:need-assign"),
            "unassign": _url_pattern("api:assignment-unassign"),
            "offers": _url_pattern("dashboard:offers"),
            "candidates": _url_pattern("dashboard:candidates"),
            "log": reverse("api:log"),
            "geocode": reverse("dashboard:geocode"),
            "resources": reverse("dashboard:resources"),
            "markers": reverse("dashboard:markers"),
        },
        "labels": _labels(),
        "strings": _strings(),
        **_reference(),
    }
    context = {
        "config": config,
        "can_edit": can_edit,
        "labels": config["labels"],
        "skills": config["skills"],
        "townships": config["townships"],
        "priorities": [
            (value, label) for value, label in reversed(config["labels"]["priority"].items())
        ],
    }
    return render(request, "dashboard/dashboard.html", context)


# --- geocoding ------------------------------------------------------------------------


@_dashboard_json()
def geocode(request):
    """GET ?q=<address>: its coordinates (and township), or 404 with a message."""
    query = request.GET.get("q", "").strip()
    if not query:
        return _json_error(pgettext("dashboard", "Type an address or a place name."), 400)
    if len(query) > 200:
        return _json_error(pgettext("dashboard", "That address is too long."), 400)
    place, service_failed = geocoding.geocode(query, language="zh" if _in_chinese() else "en")
    if place is None:
        message = pgettext("dashboard", "No place called “%(query)s” was found.") % {"query": query}
        if service_failed:
            message += " " + pgettext("dashboard", "The geocoding service did not answer.")
        return JsonResponse({"detail": message, "query": query}, status=404)
    found = place.as_json(english=not _in_chinese())
    if found["township"] is None:
        township = township_nearest(latitude=place.latitude, longitude=place.longitude)
        found["township"] = township.pk if township else None
    return JsonResponse({"query": query, **found})


# --- the resource board and the map ---------------------------------------------------


def _busy_volunteer_ids():
    return Assignment.objects.filter(
        status__in=ACTIVE_STATUSES, volunteer__isnull=False
    ).values_list("volunteer_id", flat=True)


@_dashboard_json()
def resources(request):
    """Counts for the resource board: volunteers on duty (and busy) per township and
    per team, vehicles by status and kind."""
    chinese = _in_chinese()
    busy = Q(id__in=_busy_volunteer_ids())
    totals = Volunteer.objects.aggregate(
        total=Count("id"),
        on_duty=Count("id", filter=Q(on_duty=True)),
        busy=Count("id", filter=busy),
    )
    per_township = {
        row["township"]: row
        for row in Volunteer.objects.values("township").annotate(
            total=Count("id"),
            on_duty=Count("id", filter=Q(on_duty=True)),
            busy=Count("id", filter=busy),
        )
    }
    townships = [
        {
            "id": township.pk,
            "name": township.name if chinese else (township.name_en or township.name),
            "total": per_township.get(township.pk, {}).get("total", 0),
            "on_duty": per_township.get(township.pk, {}).get("on_duty", 0),
            "busy": per_township.get(township.pk, {}).get("busy", 0),
        }
        for township in Township.objects.all()
    ]
    # Where the people are first; the quiet townships after, by name.
    townships.sort(key=lambda row: (-row["on_duty"], -row["total"], row["name"]))
    teams = [
        {
            "id": team.pk,
            "name": team.name,
            "kind": team.kind,
            "total": team.total,
            "on_duty": team.n,
        }
        for team in Team.objects.annotate(
            total=Count("members", distinct=True),
            n=Count("members", filter=Q(members__on_duty=True), distinct=True),
        ).order_by("-n", "name")
    ]
    statuses = [str(status) for status in VehicleStatus]
    by_kind = {str(kind): dict.fromkeys(statuses, 0) for kind in VehicleKind}
    for row in Vehicle.objects.values("kind", "status").annotate(n=Count("id")):
        by_kind.setdefault(row["kind"], dict.fromkeys(statuses, 0))[row["status"]] = row["n"]
    by_status = {status: sum(kinds[status] for kinds in by_kind.values()) for status in statuses}
    return JsonResponse(
        {
            "volunteers": totals,
            "townships": townships,
            "teams": teams,
            "vehicles": {
                "total": sum(by_status.values()),
                "by_status": by_status,
                "by_kind": [
                    {"kind": kind, **counts, "total": sum(counts.values())}
                    for kind, counts in by_kind.items()
                    if sum(counts.values())
                ],
            },
        }
    )


def _position(volunteer: dict):
    if volunteer["last_latitude"] is not None and volunteer["last_longitude"] is not None:
        return volunteer["last_latitude"], volunteer["last_longitude"]
    if volunteer["home_latitude"] is not None and volunteer["home_longitude"] is not None:
        return volunteer["home_latitude"], volunteer["home_longitude"]
    return None


def _vehicle_position(vehicle: Vehicle) -> tuple[float, float]:
    """Where it was last reported; its township's seat before any report."""
    if vehicle.latitude is not None and vehicle.longitude is not None:
        return vehicle.latitude, vehicle.longitude
    return vehicle.township.latitude, vehicle.township.longitude


@_dashboard_json()
def markers(request):
    """Where the on-duty volunteers and the vehicles are, for the map: volunteers as
    [id, latitude, longitude, busy] rows (at most MAP_VOLUNTEERS_MAX)."""
    busy = set(_busy_volunteer_ids())
    rows = Volunteer.objects.filter(on_duty=True).values(
        "id", "last_latitude", "last_longitude", "home_latitude", "home_longitude"
    )
    volunteers, on_duty = [], 0
    for row in rows.iterator(chunk_size=2000):
        on_duty += 1
        position = _position(row)
        if position is None or len(volunteers) >= MAP_VOLUNTEERS_MAX:
            continue
        volunteers.append([row["id"], *position, 1 if row["id"] in busy else 0])
    vehicles = [
        {
            "id": vehicle.pk,
            "call_sign": vehicle.call_sign,
            "kind": vehicle.kind,
            "status": vehicle.status,
            **dict(zip(("latitude", "longitude"), _vehicle_position(vehicle), strict=True)),
        }
        for vehicle in Vehicle.objects.select_related("township")
    ]
    return JsonResponse({"volunteers": volunteers, "on_duty": on_duty, "vehicles": vehicles})


# --- an incident's offers, and candidates for a manual assignment ---------------------


def offer_state(assignment: Assignment) -> str:
    """sent → delivered → seen while an offer waits; afterwards its status."""
    if assignment.status != AssignmentStatus.OFFERED:
        return assignment.status
    if assignment.seen_at:
        return "seen"
    if assignment.delivered_at:
        return "delivered"
    return "sent"


@_dashboard_json()
def offers(request, pk: int):
    """Every offer and assignment of an incident as the REST API gives them
    (GET /api/incidents/<id>/assignments/), all at once and by need, with what only the
    page shows beside them: the offer's state (sent, delivered, seen, then its status),
    the volunteer's phone number to call, and the vehicle's capacity (a capability
    need's progress is the people the vehicles carry)."""
    incident = get_object_or_404(Incident, pk=pk)
    assignments = list(
        assignments_for_display(Assignment.objects.filter(need__incident=incident)).order_by(
            "need_id", "offered_at", "id"
        )
    )
    rows = [
        {
            **row,
            "state": offer_state(assignment),
            "volunteer_phone": assignment.volunteer.phone if assignment.volunteer else None,
            "vehicle_capacity": assignment.vehicle.capacity if assignment.vehicle else None,
        }
        for assignment, row in zip(
            assignments, AssignmentSerializer(assignments, many=True).data, strict=True
        )
    ]
    return JsonResponse({"incident": incident.pk, "assignments": rows})


def _km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance, for ordering a short list (the engine uses geodesics)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


@_dashboard_json(coordinators_only=True)
def candidates(request, pk: int):
    """Whom a coordinator may assign to a need by hand, nearest first: volunteers with
    the skill (on duty first) for a people need, vehicles of the kind (or deep enough
    for a capability need) otherwise. Busy ones are listed, marked."""
    need = get_object_or_404(Need.objects.select_related("incident"), pk=pk)
    here = (need.incident.latitude, need.incident.longitude)
    taken = Assignment.objects.filter(
        need=need, status__in=[AssignmentStatus.OFFERED, *ACTIVE_STATUSES]
    )
    if need.kind == Need.Kind.PEOPLE:
        busy = set(_busy_volunteer_ids())
        already = set(taken.filter(status__in=ACTIVE_STATUSES).values_list("volunteer", flat=True))
        rows = (
            Volunteer.objects.filter(skills=need.skill)
            .exclude(pk__in=already)
            .values(
                "id",
                "name",
                "phone",
                "on_duty",
                "last_latitude",
                "last_longitude",
                "home_latitude",
                "home_longitude",
            )
        )
        found = []
        for row in rows:
            position = _position(row)
            found.append(
                {
                    "volunteer": row["id"],
                    "name": row["name"],
                    "phone": row["phone"],
                    "on_duty": row["on_duty"],
                    "busy": row["id"] in busy,
                    "distance_km": round(_km(*here, *position), 1) if position else None,
                }
            )
    else:
        vehicles = Vehicle.objects.select_related("township").exclude(
            pk__in=taken.filter(status__in=ACTIVE_STATUSES).values("vehicle")
        )
        if need.kind == Need.Kind.VEHICLE:
            vehicles = vehicles.filter(kind=need.vehicle_kind)
        else:
            vehicles = vehicles.filter(max_water_depth_m__gte=need.water_depth_m)
        found = [
            {
                "vehicle": vehicle.pk,
                "name": vehicle.call_sign,
                "kind": vehicle.kind,
                "capacity": vehicle.capacity,
                "on_duty": vehicle.status == VehicleStatus.AVAILABLE,
                "busy": vehicle.status == VehicleStatus.ASSIGNED,
                "distance_km": round(_km(*here, *_vehicle_position(vehicle)), 1),
            }
            for vehicle in vehicles
            if vehicle.status != VehicleStatus.OUT_OF_SERVICE
        ]

    def order(candidate):
        distance = candidate["distance_km"]
        return (candidate["busy"], not candidate["on_duty"], distance is None, distance or 0)

    found.sort(key=order)
    return JsonResponse({"need": need.pk, "candidates": found[:CANDIDATES_MAX]})
