"""The coordinators' dashboard (issue 5): the page, and the small JSON views it needs
beside the REST API — the geocoder, the resource board's counts, the map's markers,
an incident's offers (the API's, with the page's offer state), and the candidates for
a manual assignment. Writes go through the REST API (and so through the services)."""

from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import get_language, pgettext
from django.views.decorators.http import require_GET

from dashboard.unmet import unmet_strings
from dispatch import rota as rotas
from dispatch import selectors, status_board
from dispatch.api import AssignmentSerializer, assignments_for_display
from dispatch.labels import (
    PRIORITY_LABELS,
    labels_as_json,
    language_is_chinese,
    skill_name,
    township_name,
)
from dispatch.models import Assignment, AssignmentStatus
from incidents import geocoding
from incidents.models import Incident, IncidentKind, Need
from volunteers.models import Skill, Township
from volunteers.roles import Role, user_has_role, user_may_watch
from volunteers.selectors import township_areas, township_nearest

# Markers beyond this many on-duty volunteers are left off the map (the counts are not).
MAP_VOLUNTEERS_MAX = 5000
CANDIDATES_MAX = 30
# Kinds whose needs are shifts: the form asks for a window.
STAFFING_KINDS = [IncidentKind.TESTING_SITE, IncidentKind.SHELTER, IncidentKind.DISTRIBUTION]


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
                else user_may_watch(request.user)
            )
            if not allowed:
                return _json_error(
                    pgettext("dashboard", "Only coordinators and commanders may see this."), 403
                )
            return view(request, *args, **kwargs)

        return require_GET(guarded)

    return decorate


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
        # How precise a place is (issue 12): the form's words, and short labels.
        "located_street": pgettext(
            "dashboard",
            "Street only: %(name)s. The pin is on the street, not at the door: check it on "
            "the map.",
        ),
        "located_township": pgettext(
            "dashboard",
            "Township centre only: %(name)s. The pin is at its centre, not at this address. "
            "Drag the pin or click the map where help is needed, or confirm below.",
        ),
        "located_city": pgettext(
            "dashboard",
            "City centre only: %(name)s. The pin is at the city's centre, not at this "
            "address. Drag the pin or click the map where help is needed.",
        ),
        "confirmed_on_map": pgettext("dashboard", "Confirmed on the map: %(name)s"),
        "confirm_first": pgettext(
            "dashboard",
            "This place is only an area's centre: drag the pin to the place, or confirm it "
            "on the map, before opening the incident.",
        ),
        "precision_pin": pgettext("dashboard", "placed on the map"),
        "precision_point": pgettext("dashboard", "coordinates"),
        "precision_address": pgettext("dashboard", "exact address"),
        "precision_street": pgettext("dashboard", "street only"),
        "precision_township": pgettext("dashboard", "township centre: approximate place"),
        "precision_city": pgettext("dashboard", "city centre: approximate place"),
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
        "off_duty": pgettext("dashboard", "off duty"),
        # Why someone cannot be assigned by hand (need_manual_candidates' "unavailable").
        "unavailable_on_this_need": pgettext("dashboard", "already on this need (%(state)s)"),
        "unavailable_busy": pgettext("dashboard", "on another task"),
        "unavailable_busy_on": pgettext("dashboard", "on another task: %(incident)s"),
        "unavailable_out_of_service": pgettext("dashboard", "out of service"),
        "unavailable_no_crew": pgettext("dashboard", "no free crew on duty"),
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
        "layer_township_areas": pgettext("dashboard", "Township areas (by nearest seat)"),
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
        # A staffed site's rota (issue 13): who holds which shift, the gaps, the hours.
        "fact_rota": pgettext("dashboard", "Rota"),
        "rota_link": pgettext("dashboard", "Shifts, gaps and hours"),
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
        # A board for hundreds of incidents (issue 12): filters, the closing warning, the
        # activity feed, the map's people and the status board.
        "shown_of": pgettext("dashboard", "%(shown)s of %(total)s shown"),
        "none_match": pgettext("dashboard", "No open incident matches the filter."),
        "unfilled_warning": pgettext(
            "dashboard", "Places still unfilled — nobody will be sent to them once it is closed:"
        ),
        "unfilled_line": pgettext("dashboard", "%(need)s: %(filled)s of %(places)s filled"),
        "unfilled_vehicle": pgettext("dashboard", "%(need)s: no vehicle yet"),
        "show_more": pgettext("dashboard", "Show more"),
        "show_less": pgettext("dashboard", "Show less"),
        "call": pgettext("dashboard", "Call %(name)s"),
        "volunteers_here": pgettext("dashboard", "%(count)s volunteers here: zoom in"),
        "since": pgettext("dashboard", "since %(time)s"),
        "units_shown": pgettext("dashboard", "%(shown)s of %(total)s"),
        "units_first": pgettext(
            "dashboard", "the first %(shown)s of %(total)s: narrow the filter to see the rest"
        ),
        "no_units": pgettext("dashboard", "Nobody matches."),
        "vehicle": pgettext("dashboard", "vehicle"),
        # Changing a live incident (issue 13).
        "need_change": pgettext("dashboard", "Change…"),
        "need_change_title": pgettext("dashboard", "Change need %(number)s"),
        "need_change_text": pgettext(
            "dashboard",
            "More places are offered at once. Fewer stand down those no longer needed, "
            "the latest to accept first, and tell them why.",
        ),
        "need_size_people": pgettext("dashboard", "People or vehicles needed"),
        "need_size_capability": pgettext("dashboard", "People to move"),
        "need_stand_down_warning": pgettext(
            "dashboard", "%(count)s already on it will be stood down."
        ),
        "need_save": pgettext("dashboard", "Save"),
        "need_cancel": pgettext("dashboard", "Cancel need…"),
        "need_cancel_title": pgettext("dashboard", "Cancel need %(number)s"),
        "need_cancel_text": pgettext(
            "dashboard",
            "Its offers are withdrawn and everyone on it stood down, told your reason.",
        ),
        "need_cancelled": pgettext("dashboard", "cancelled"),
        "need_add_title": pgettext("dashboard", "Add a need to “%(title)s”"),
        "need_add_text": pgettext("dashboard", "It is offered at once."),
        "need_add_what": pgettext("dashboard", "What"),
        "need_add_count": pgettext("dashboard", "How many"),
        "need_add": pgettext("dashboard", "Add"),
        "amount_required": pgettext("dashboard", "Give a number from 1 to 500."),
        **{f"unit_{value}": label for value, label in _unit_states()},
        **unmet_strings(),
    }


def _unit_states() -> list[tuple[str, str]]:
    """The status board's states (dispatch.status_board.UNIT_STATES) in words, and "busy"
    (any of the first three), for its filter."""
    return [
        ("busy", pgettext("unit state", "On a task")),
        ("on_scene", pgettext("unit state", "On scene")),
        ("en_route", pgettext("unit state", "En route")),
        ("accepted", pgettext("unit state", "Accepted")),
        ("offered", pgettext("unit state", "Offered")),
        ("free", pgettext("unit state", "Free, on duty")),
        ("off_duty", pgettext("unit state", "Off duty")),
    ]


def _reference() -> dict:
    return {
        "skills": [
            {"code": skill.code, "name": skill_name(skill)} for skill in Skill.objects.all()
        ],
        "townships": [
            {
                "id": township.pk,
                "name": township_name(township),
                "latitude": township.latitude,
                "longitude": township.longitude,
            }
            for township in Township.objects.all()
        ],
        "staffing_kinds": [str(kind) for kind in STAFFING_KINDS],
    }


def _url_pattern(name: str, *placeholders: str) -> str:
    """A URL with its id left as {id} for the script to fill in; with `placeholders`,
    its ids, in order, left as those ({incident}, {need})."""
    placeholders = placeholders or ("id",)
    ids = [999990 + n for n in range(len(placeholders))]
    url = reverse(name, args=ids)
    for pk, placeholder in zip(ids, placeholders, strict=True):
        url = url.replace(str(pk), f"{{{placeholder}}}")
    return url


@login_required
def dashboard(request):
    """The coordinators' dashboard; commanders see it read-only."""
    if not user_may_watch(request.user):
        raise PermissionDenied("Only coordinators and commanders use the dashboard.")
    can_edit = user_has_role(request.user, Role.COORDINATOR)
    config = {
        "language": get_language(),
        "time_zone": settings.TIME_ZONE,
        "can_edit": can_edit,
        "tiles": {"url": settings.MAP_TILES_URL, "attribution": settings.MAP_TILES_ATTRIBUTION},
        # With no tiles, the map's base: which township each place counts in.
        "township_areas": [] if settings.MAP_TILES_URL else township_areas(),
        "urls": {
            "socket": "/ws/dashboard/",
            "incidents": reverse("api:incidents"),
            "incident": _url_pattern("api:incident"),
            "assignments": _url_pattern("api:incident-assignments"),
            "resolve": _url_pattern("api:incident-resolve"),
            "cancel": _url_pattern("api:incident-cancel"),
            "assign": _url_pattern("api:need-assign"),
            "widen": _url_pattern("api:need-widen"),
            "needs": _url_pattern("api:incident-needs"),
            "need": _url_pattern("api:incident-need", "incident", "need"),
            "need_cancel": _url_pattern("api:incident-need-cancel", "incident", "need"),
            "unassign": _url_pattern("api:assignment-unassign"),
            "offers": _url_pattern("dashboard:offers"),
            "candidates": _url_pattern("dashboard:candidates"),
            "log": reverse("api:log"),
            "geocode": reverse("dashboard:geocode"),
            "resources": reverse("dashboard:resources"),
            "markers": reverse("dashboard:markers"),
            "units": reverse("dashboard:units"),
            "rota": _url_pattern("dashboard:rota"),
        },
        "labels": labels_as_json(),
        "strings": _strings(),
        **_reference(),
    }
    context = {
        "config": config,
        "can_edit": can_edit,
        "labels": config["labels"],
        "skills": config["skills"],
        "townships": config["townships"],
        # Most urgent first; values as numbers, for the template's default (high).
        "priorities": [(value, str(label)) for value, label in reversed(PRIORITY_LABELS.items())],
        "unit_states": _unit_states(),
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
    place, service_failed = geocoding.geocode(
        query, language="zh" if language_is_chinese() else "en"
    )
    if place is None:
        message = pgettext("dashboard", "No place called “%(query)s” was found.") % {"query": query}
        if service_failed:
            message += " " + pgettext("dashboard", "The geocoding service did not answer.")
        return JsonResponse({"detail": message, "query": query}, status=404)
    found = place.as_json(english=not language_is_chinese())
    if found["township"] is None:
        township = township_nearest(latitude=place.latitude, longitude=place.longitude)
        found["township"] = township.pk if township else None
    return JsonResponse({"query": query, **found})


# --- the resource board and the map ---------------------------------------------------


@_dashboard_json()
def resources(request):
    """Counts for the resource board: volunteers on duty (and busy) per township and
    per team, vehicles by status and kind."""
    return JsonResponse(selectors.resources_board())


@_dashboard_json()
def markers(request):
    """Where the on-duty volunteers and the vehicles are, for the map: volunteers as
    [id, latitude, longitude, busy] rows (at most MAP_VOLUNTEERS_MAX). Live positions
    are for the coordinators who send people: a commander's read-only map gets the
    count and the vehicles, not where each volunteer is (DESIGN.md §6)."""
    found = selectors.map_markers(most_volunteers=MAP_VOLUNTEERS_MAX)
    if not user_has_role(request.user, Role.COORDINATOR):
        found["volunteers"] = []
    return JsonResponse(found)


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
    the volunteer's phone number to call (coordinators'), and the vehicle's capacity (a capability
    need's progress is the people the vehicles carry)."""
    incident = get_object_or_404(Incident, pk=pk)
    # The phone is for whoever calls people in: coordinators (least data, issue 10).
    shows_phones = user_has_role(request.user, Role.COORDINATOR)
    assignments = list(
        assignments_for_display(Assignment.objects.filter(need__incident=incident)).order_by(
            "need_id", "offered_at", "id"
        )
    )
    rows = [
        {
            **row,
            "state": offer_state(assignment),
            "volunteer_phone": (
                assignment.volunteer.phone if assignment.volunteer and shows_phones else None
            ),
            "vehicle_capacity": assignment.vehicle.capacity if assignment.vehicle else None,
        }
        for assignment, row in zip(
            assignments, AssignmentSerializer(assignments, many=True).data, strict=True
        )
    ]
    return JsonResponse({"incident": incident.pk, "assignments": rows})


@_dashboard_json(coordinators_only=True)
def candidates(request, pk: int):
    """Whom a coordinator may assign to a need by hand, nearest first
    (dispatch.selectors.need_manual_candidates)."""
    need = get_object_or_404(Need.objects.select_related("incident"), pk=pk)
    found = selectors.need_manual_candidates(need=need, most=CANDIDATES_MAX)
    return JsonResponse({"need": need.pk, "candidates": found})


# --- the status board ---------------------------------------------------------------------

UNITS_ASKED_MAX = 500


def _ids(request, name: str) -> list[int] | None:
    """?<name>=1,2,3 as ids (None when absent); ValueError when not ids or too many."""
    if name not in request.GET:
        return None
    text = request.GET[name].strip()
    ids = [int(part) for part in text.split(",") if part.strip()] if text else []
    if len(ids) > UNITS_ASKED_MAX or any(pk < 1 for pk in ids):
        raise ValueError(name)
    return ids


@login_required
@require_GET
def rota(request, pk: int):
    """The rota of a staffed site for a day (?day=YYYY-MM-DD, today by default): each
    shift window with who holds it and the places still open, and the spread of shift
    hours booked that week (dispatch.rota). Coordinators and commanders."""
    if not user_may_watch(request.user):
        raise PermissionDenied("Only coordinators and commanders see the rota.")
    incident = get_object_or_404(Incident, pk=pk)
    if not rotas.is_staffed_site(incident):
        return HttpResponseBadRequest(
            pgettext("rota", "This incident is not a staffed site: it has no shifts.")
        )
    try:
        day = rotas.rota_day(request.GET.get("day"))
    except ValueError:
        return HttpResponseBadRequest(pgettext("rota", "Give the day as YYYY-MM-DD."))
    context = {
        "rota": rotas.site_rota(incident=incident, day=day),
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
    }
    return render(request, "dashboard/rota.html", context)


@_dashboard_json()
def units(request):
    """Who is where doing what, since when: every volunteer on duty or on a task and
    every vehicle, with their state, the incident of their work and its title
    (dispatch.status_board.units_status_board). ?volunteers=1,2&vehicles=3 gives only
    those (the page asks for the ones a live event named). Commanders read it without
    the volunteers' phone numbers and live positions, as their map has none (DESIGN.md
    §6); vehicles keep theirs, as on the map."""
    try:
        volunteer_ids, vehicle_ids = _ids(request, "volunteers"), _ids(request, "vehicles")
    except ValueError:
        return _json_error(
            pgettext("dashboard", "Give at most %(most)s ids, separated by commas.")
            % {"most": UNITS_ASKED_MAX},
            400,
        )
    board = status_board.units_status_board(volunteer_ids=volunteer_ids, vehicle_ids=vehicle_ids)
    if not user_has_role(request.user, Role.COORDINATOR):
        for row in board["volunteers"]:
            row.update(phone=None, latitude=None, longitude=None, located_at=None)
    return JsonResponse(board)
