"""The volunteer's phone page (/phone/): one screen for going on duty, sharing where
they are, answering offers and reporting progress on the current task.

The page is server-rendered with its state embedded, so it is usable before the live
socket is up, and refreshes that state from /phone/state/ whenever the socket says
something changed (docs/websockets.md). It is installable: a manifest and a service
worker that keeps the shell for weak connections, both served from the /phone/ scope.
"""

import hashlib
import json
from functools import cache, wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.db.models import Count, Max
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from briefings.selectors import broadcasts_unread
from dispatch.api import AssignmentSerializer, assignments_for_display
from dispatch.labels import (
    INCIDENT_KIND_LABELS,
    PRIORITY_LABELS,
    VEHICLE_KIND_LABELS,
    VEHICLE_STATUS_LABELS,
    label_of,
    need_label,
    township_name,
    vehicle_label,
)
from dispatch.live import last_seq
from dispatch.models import ACTIVE_STATUSES, OPEN_STATUSES, Assignment
from dispatch.push import push_public_key
from dispatch.reasons import stand_down_reason
from dispatch.selectors import stand_downs_of, vehicles_crewed_by, volunteers_own
from incidents.models import Incident, Need
from signin.client import client_address, number_locked_out
from signin.services import (
    InvitationRefused,
    SignInRateLimited,
    invitation_find,
    invitation_state,
    invitation_use,
    phone_or_error,
    sign_ins_revoke,
    signin_code_request,
)
from volunteers.models import VehicleStatus, Volunteer

# The shell the service worker keeps, so the page opens on a weak connection or none.
# Every module phone.js imports, as phone.html's modulepreload tags list them: a module
# missing here fails the page's import when it opens offline.
SHELL_STATIC = [
    "tongxin/base.css",
    "tongxin/live.js",
    "tongxin/api.js",
    "tongxin/dom.js",
    "tongxin/controls.js",
    "phone/phone.css",
    "phone/phone.js",
    "phone/actions.js",
    "phone/alerts.js",
    "phone/cards.js",
    "phone/connection.js",
    "phone/format.js",
    "phone/location.js",
    "phone/messages.js",
    "phone/notice.js",
    "phone/outbox.js",
    "phone/page.js",
    "phone/push.js",
    "phone/queue.js",
    "phone/sketch.js",
    "phone/socket.js",
    "phone/standdown.js",
    "phone/state.js",
    "phone/icon.svg",
    "phone/icon-192.png",
]
# A rescue's end asks how many people were moved (the figure commanders total).
MOVES_PEOPLE = {Incident.Kind.FLOOD_RESCUE, Incident.Kind.EVACUATION}
THEME_COLOR = "#b71c1c"


def _when(value):
    return value.isoformat() if value else None


def _assignment_row(assignment: Assignment, row: dict, situation: dict) -> dict:
    """An assignment as the REST API gives it (`row`, AssignmentSerializer: the same
    fields as the socket's snapshot), with the words the page shows for it in the
    active language, and the situation the volunteer decides on before accepting
    (`situation`, from _situations)."""
    need = assignment.need
    incident = need.incident
    seen = situation.get(incident.pk, {})
    depth = seen.get("water_depth_m")
    return {
        **row,
        "kind_label": label_of(INCIDENT_KIND_LABELS, incident.kind),
        "priority_label": label_of(PRIORITY_LABELS, incident.priority),
        "description": incident.description[:300],
        "township": township_name(incident.township),
        "need_label": need_label(need, with_shift=False),
        "note": need.note,
        "vehicle_label": vehicle_label(assignment.vehicle) or None,
        "asks_people_moved": incident.kind in MOVES_PEOPLE or need.kind == Need.Kind.CAPABILITY,
        # The situation, shown on the offer before accepting (issue 12).
        "people_affected": incident.people_affected,
        "people_to_move": need.people_to_move,
        "water_depth_m": float(depth) if depth is not None else None,
        "need_count": need.count,
        "need_filled": seen.get("filled", {}).get(need.pk, 0),
        "others_going": seen.get("going", 0),
    }


def _situations(assignments: list[Assignment], volunteer) -> dict:
    """For each incident of `assignments`: the deepest water any of its needs reports,
    how many people and vehicles are on their way or there now (`going`, this volunteer's
    own work left out) and, per need, how many places are taken (`filled`). Two queries
    whatever the number of rows."""
    incident_ids = {assignment.need.incident_id for assignment in assignments}
    if not incident_ids:
        return {}
    found = {incident_id: {"filled": {}, "going": 0} for incident_id in incident_ids}
    for incident_id, depth in (
        Need.objects.filter(incident_id__in=incident_ids)
        .values_list("incident_id")
        .annotate(depth=Max("water_depth_m"))
    ):
        found[incident_id]["water_depth_m"] = depth
    active = (
        Assignment.objects.filter(need__incident_id__in=incident_ids, status__in=ACTIVE_STATUSES)
        .exclude(volunteer=volunteer)
        .exclude(vehicle__crew=volunteer)
        .values_list("need__incident_id", "need_id")
        .annotate(taken=Count("id", distinct=True))
    )
    for incident_id, need_id, taken in active:
        found[incident_id]["filled"][need_id] = taken
        found[incident_id]["going"] += taken
    return found


def _vehicle_row(vehicle) -> dict:
    """A vehicle the volunteer crews: its status as a value (`available`, `assigned`,
    `out_of_service`); the page says it with its words for each (`vehicle_<status>`)."""
    return {
        "id": vehicle.pk,
        "call_sign": vehicle.call_sign,
        "kind": vehicle.kind,
        "kind_label": label_of(VEHICLE_KIND_LABELS, vehicle.kind),
        "status": vehicle.status,
    }


def phone_state(volunteer) -> dict:
    """Everything the page shows: the volunteer, their open offers and assignments
    (their own and their vehicles'), newest first, with what the page needs to show
    them in the active language, and the vehicles they crew (which they may put out of
    service and back); and `last_seq`, the log position the state reflects.

    The position is read first and the rows after it, as the socket's hello and
    snapshot are (docs/websockets.md): events commit in seq order, so the rows show
    every event up to `last_seq` (and perhaps later ones), never less. The page drops
    a reply whose position is below the one it shows. The volunteer is read again for
    the same reason: the caller's copy was loaded before the position was."""
    position = last_seq()
    volunteer = Volunteer.objects.select_related("township").get(pk=volunteer.pk)
    assignments = list(
        assignments_for_display(
            Assignment.objects.filter(status__in=OPEN_STATUSES).filter(volunteers_own(volunteer))
        )
        .select_related("need__incident__township")
        .distinct()
        .order_by("-offered_at", "-id")
    )
    rows = AssignmentSerializer(assignments, many=True).data
    situation = _situations(assignments, volunteer)
    vehicles = vehicles_crewed_by(volunteer_id=volunteer.pk)
    return {
        "now": timezone.now().isoformat(),
        "last_seq": position,
        "volunteer": {
            "id": volunteer.pk,
            "name": volunteer.name,
            "township": township_name(volunteer.township),
            "on_duty": volunteer.on_duty,
            "last_located_at": _when(volunteer.last_located_at),
            # Their own last known position: the offer's sketch shows where the incident
            # lies from it until the phone has a fresh fix.
            "latitude": volunteer.last_latitude,
            "longitude": volunteer.last_longitude,
        },
        "assignments": [
            _assignment_row(assignment, row, situation)
            for assignment, row in zip(assignments, rows, strict=True)
        ],
        "vehicles": [_vehicle_row(vehicle) for vehicle in vehicles],
        "stood_down": _stand_downs(volunteer),
        # Unread messages to those on duty (briefings, issue 13; phone/static/phone/messages.js).
        "messages": broadcasts_unread(volunteer.pk),
    }


STAND_DOWNS_SHOWN = 5


def _stand_downs(volunteer) -> list[dict]:
    """Their recent stand-downs (dispatch.selectors.stand_downs_of), each with why
    (dispatch.reasons.stand_down_reason)."""
    closed = stand_downs_of(volunteer, most=STAND_DOWNS_SHOWN)
    return [
        {
            "id": assignment.pk,
            "status": assignment.status,
            "incident_title": assignment.need.incident.title,
            "need_label": need_label(assignment.need, with_shift=False),
            "vehicle": assignment.vehicle.call_sign if assignment.vehicle_id else None,
            "why": stand_down_reason(assignment),
            "at": _when(assignment.finished_at or assignment.answered_at),
        }
        for assignment in closed
    ]


def _strings() -> dict:
    """The words the page's script shows, in the active language."""
    return {
        "live": _("Live"),
        "connecting": _("Connecting…"),
        "offline": _("Offline"),
        "offline_banner": _(
            "No connection. Reconnecting… New offers will reach you when you are back."
        ),
        "polling_banner": _("Live updates are interrupted. Checking for offers every 30 seconds…"),
        "back_online": _("Back online. Up to date."),
        "on_duty": _("On duty"),
        "off_duty": _("Off duty"),
        "on_duty_hint": _("You receive task offers. Tap to go off duty."),
        "off_duty_hint": _("Tap to go on duty and receive task offers."),
        "share_location": _("Share my location"),
        "location_last": _("Last shared at %(time)s"),
        "location_never": _("Not shared yet"),
        "location_finding": _("Finding your position…"),
        "location_denied": _("Location is blocked. Allow it in the browser's site settings."),
        "location_unavailable": _("This browser cannot share its location here."),
        "offer_heading": _("New task offer"),
        "answer_within": _("Answer within"),
        "expired": _("Expired"),
        "accept": _("Accept"),
        "decline": _("Decline"),
        "sending": _("Sending…"),
        "what": _("Needed"),
        "where": _("Where"),
        "approximate_township": _(
            "Approximate: the township's centre. Ask the coordinator for the exact place."
        ),
        "approximate_city": _(
            "Approximate: the city's centre. Ask the coordinator for the exact place."
        ),
        "approximate_street": _("Street only: check the house number when you get there."),
        "distance": _("Distance"),
        "eta": _("Travel time"),
        "vehicle": _("Vehicle"),
        "shift": _("Shift"),
        "priority": _("Priority: %(level)s"),
        "task_heading": _("Current task"),
        "accepted": _("Accepted"),
        "en_route": _("En route"),
        "on_scene": _("On scene"),
        "done": _("Done"),
        "people_moved_question": _("How many people did you move?"),
        "finish_question": _("Finish this task?"),
        "confirm_done": _("Confirm done"),
        "back": _("Back"),
        "open_map": _("Navigate"),
        "amap": _("Gaode map"),
        "shifts_heading": _("Upcoming shifts"),
        # Shifts booked ahead (issue 13): they hold the place, not the volunteer.
        "booked": _("Booked: %(window)s"),
        "give_up": _("Give up"),
        "give_up_question": _("Give up this shift? It will be offered to someone else."),
        "give_up_confirm": _("Give up the shift"),
        "given_up_notice": _("Shift given up. It is offered to someone else."),
        "shift_clash": _(
            "Your booked shift starts soon, but you are still on another task. Finish it "
            "in time, or give the shift up."
        ),
        "idle_on": _("Standing by. New offers appear here."),
        "idle_off": _("You are off duty. Go on duty to receive task offers."),
        "no_answer": _("No answer from the server. Check your connection, then try again."),
        "accepted_notice": _("Accepted. The coordinators can see you are coming."),
        "declined_notice": _("Declined. Thank you for answering."),
        "done_notice": _("Task done. Thank you!"),
        "install": _("Install on this phone"),
        **{
            f"vehicle_{status}": label_of(VEHICLE_STATUS_LABELS, status)
            for status in VehicleStatus.values
        },
        "out_of_service_ask": _("Out of service…"),
        "out_of_service_question": _("Why is it out of service?"),
        "out_of_service_placeholder": _("e.g. engine trouble, no fuel"),
        "out_of_service_confirm": _("Put out of service"),
        "back_in_service": _("Back in service"),
        "out_of_service_notice": _("%(call_sign)s is out of service. It gets no offers now."),
        "in_service_notice": _("%(call_sign)s is back in service."),
        "dismiss": _("Close"),
        # Alerts: a tone, a notification, the screen kept on (alerts.js).
        "alerts_enable": _("Turn on alerts"),
        "alerts_enable_hint": _(
            "A new offer rings and shows a notification, even on a locked screen."
        ),
        "alerts_sound_again": _("Turn the sound back on"),
        "alerts_on": _("Alerts on"),
        "alerts_push": _("Alerts on, also with this page closed"),
        # Stand-downs (standdown.js).
        "stood_down_offer": _("Offer withdrawn"),
        "stood_down_task": _("Stood down: no need to go"),
        "stood_down_ok": _("OK"),
        # Messages to those on duty and briefings (issue 13).
        "message_heading": _("Message to those on duty"),
        "briefing_heading": _("Briefing: please confirm"),
        "briefing_where": _("Where and when:"),
        "briefing_confirm": _("I'll be there"),
        "message_read": _("OK, read"),
        "message_not_sent": _("Not sent: no connection. Try again in a moment."),
        # The incident of a task moved (assignment.rerouted, issue 13).
        "place_changed": _("The place changed: %(address)s. Go there instead."),
        "place_changed_map": _("see the new place on the map"),
        "alerts_blocked": _(
            "Notifications are blocked: offers ring only while this page is open. "
            "Allow notifications in the browser's site settings."
        ),
        "alerts_no_notifications": _(
            "This browser shows no notifications: offers ring on this page."
        ),
        "wake_on": _("Screen stays on"),
        "wake_off": _("Screen may sleep"),
        "wake_unsupported": _("This browser cannot keep the screen on"),
        "notification_open": _("Tap to open the offer"),
        # The situation before accepting (cards.js, sketch.js).
        "arrived": _("Arrived %(time)s"),
        "situation": _("Situation"),
        "people_affected": _("People affected"),
        "people_to_move": _("People to move"),
        "water_depth": _("Water depth"),
        "places": _("Places taken"),
        "places_value": _("%(filled)s of %(count)s"),
        "others_going": _("Others going"),
        "nobody_yet": _("Nobody yet"),
        "from_you": _("%(distance)s %(direction)s of you"),
        "position_unknown": _("Your position is not known yet."),
        "sketch_label": _("Sketch: where the incident lies from you"),
        "you": _("You"),
        "north_letter": _("N"),
        "dir_n": _("north"),
        "dir_ne": _("north-east"),
        "dir_e": _("east"),
        "dir_se": _("south-east"),
        "dir_s": _("south"),
        "dir_sw": _("south-west"),
        "dir_w": _("west"),
        "dir_nw": _("north-west"),
        # Answers and reports tapped offline (queue.js, outbox.js).
        "waiting_heading": _("Waiting to send"),
        "waiting_hint": _("Sent by itself, in this order, when the connection is back."),
        "waiting_item": _("Waiting to send: %(action)s · %(title)s"),
        "waiting_short": _("waiting to send"),
        "waiting_answer": _("Your answer is waiting to send. It counts once the server has it."),
        "cancel": _("Cancel"),
        "sent_notice": _("Sent: %(action)s · %(title)s"),
        "refused_notice": _("Not sent: %(action)s · %(title)s. %(reason)s"),
    }


def _api_urls() -> dict:
    def with_id(name: str) -> str:
        return reverse(name, args=[0]).replace("/0/", "/{id}/")

    return {
        "state": reverse("phone:state"),
        "login": reverse("phone:login"),
        "volunteer": reverse("api:my-volunteer"),
        "accept": with_id("api:assignment-accept"),
        "decline": with_id("api:assignment-decline"),
        "give_up": with_id("api:assignment-give-up"),
        "status": with_id("api:assignment-status"),
        "vehicle_service": with_id("api:vehicle-service"),
        "service_worker": reverse("phone:service-worker"),
        "assignment": with_id("phone:assignment"),
        "push_subscriptions": reverse("api:my-push-subscriptions"),
        "broadcast_delivered": with_id("api:my-broadcast-delivered"),
        "broadcast_read": with_id("api:my-broadcast-read"),
        "broadcast_confirm": with_id("api:my-broadcast-confirm"),
    }


class PhoneLoginView(LoginView):
    """The sign-in for volunteers, on a phone-sized page inside the installed app's
    scope: first their mobile number, for a code by SMS (sign_in_sms, sign_in_code);
    or, folded away, their number and a password (this view's POST, the same
    authentication as /accounts/login/), for the accounts that have one."""

    template_name = "phone/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return reverse("phone:home")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "theme_color": THEME_COLOR}


# The number a code was asked for, kept in the (anonymous) session between the two
# steps: not in the URL, which proxies and servers log.
SIGN_IN_PHONE = "phone:sign_in_phone"


def _next_path(request) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("phone:home")


def _login_page(request, *, sms_error: str = "", phone: str = "", status: int = 200):
    context = {
        "form": None,
        "next": request.POST.get("next", ""),
        "sms_error": sms_error,
        "phone": phone,
        "theme_color": THEME_COLOR,
    }
    return render(request, "phone/login.html", context, status=status)


@require_POST
@never_cache
def sign_in_sms(request):
    """Step 1 of a sign-in by SMS: the number. Whatever the number, a member's or not,
    the next step is the same page: only members get a text."""
    phone = request.POST.get("phone", "")
    try:
        number = phone_or_error(phone)
    except ValidationError as error:
        return _login_page(request, sms_error=error.message_dict["phone"][0], phone=phone)
    if number_locked_out(request, number):
        return HttpResponse(status=429)  # django-axes' middleware answers (pages/lockout.py)
    try:
        signin_code_request(phone=number, client_address=client_address(request))
    except SignInRateLimited as error:
        return _login_page(request, sms_error=error.message, phone=phone, status=429)
    request.session[SIGN_IN_PHONE] = number
    code_page = reverse("phone:sign-in-code")
    next_path = request.POST.get("next")
    return redirect(f"{code_page}?{urlencode({'next': next_path})}" if next_path else code_page)


@require_http_methods(["GET", "POST"])
@never_cache
def sign_in_code(request):
    """Step 2: the code texted. Wrong codes are failed sign-ins (django-axes): after
    SIGN_IN_FAILURE_LIMIT of them the number is refused for a while (429)."""
    number = request.session.get(SIGN_IN_PHONE)
    if not number:
        return redirect("phone:login")
    error = ""
    if request.method == "POST":
        user = authenticate(request, username=number, sign_in_code=request.POST.get("code", ""))
        if user is not None:
            login(request, user)
            request.session.pop(SIGN_IN_PHONE, None)
            return redirect(_next_path(request))
        error = _("Wrong or expired code. Check the SMS, or ask for a new code.")
    context = {
        "phone": number,
        "minutes": settings.SIGN_IN_CODE_MINUTES,
        "error": error,
        "next": _next_path(request),
        "theme_color": THEME_COLOR,
    }
    return render(request, "phone/login_code.html", context)


def _invitation_refused(request, reason: str):
    messages = {
        "used": _("This invitation was used already. Each one signs in once."),
        "expired": _("This invitation has expired."),
        "withdrawn": _("This invitation was replaced by a newer one, or withdrawn."),
        "unknown": _("This is no valid invitation."),
    }
    context = {"message": messages.get(reason, messages["unknown"]), "theme_color": THEME_COLOR}
    return render(request, "phone/invitation_refused.html", context, status=410)


@require_http_methods(["GET", "POST"])
@never_cache
def invitation(request, secret: str):
    """A sign-in invitation (a QR code a coordinator printed). Opening it shows whose
    it is and a button; only the button's POST uses it: link previews and scanners that
    fetch the address must not spend it."""
    if request.method == "POST":
        try:
            user = invitation_use(
                secret=secret,
                client_address=client_address(request),
                user_agent=request.headers.get("user-agent", ""),
            )
        except InvitationRefused as refused:
            return _invitation_refused(request, refused.reason)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("phone:home")
    found = invitation_find(secret=secret)
    state = invitation_state(found)
    if state != "usable":
        return _invitation_refused(request, state)
    volunteer = getattr(found.user, "volunteer", None)
    context = {
        "name": volunteer.name if volunteer else found.user.get_username(),
        "theme_color": THEME_COLOR,
    }
    return render(request, "phone/invitation.html", context)


@require_POST
@login_required(login_url="phone:login")
def sign_out_everywhere(request):
    """The member signs out on every phone and app: their token is deleted and their
    sessions end, this one too."""
    sign_ins_revoke(users=[request.user])
    logout(request)
    return redirect("phone:login")


@never_cache
@login_required(login_url="phone:login")
def phone(request):
    volunteer = getattr(request.user, "volunteer", None)
    if volunteer is None:
        return render(request, "phone/not_volunteer.html", status=403)
    context = {
        "volunteer": volunteer,
        "state": phone_state(volunteer),
        "strings": _strings(),
        "urls": _api_urls(),
        "time_zone": settings.TIME_ZONE,
        "theme_color": THEME_COLOR,
        # Empty while Web Push is off: the page then does not subscribe.
        "push_key": push_public_key(),
    }
    return render(request, "phone/phone.html", context)


def _volunteer_json(view):
    """A GET the phone page makes for its volunteer: JSON, never cached; 401 signed out,
    403 for a login that is no volunteer. The view gets the volunteer."""

    @require_GET
    @never_cache
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"detail": _("Sign in first.")}, status=401)
        volunteer = getattr(request.user, "volunteer", None)
        if volunteer is None:
            return JsonResponse({"detail": _("Only volunteers have this page.")}, status=403)
        return view(request, volunteer, *args, **kwargs)

    return wrapped


@_volunteer_json
def state(request, volunteer):
    """The page's state as JSON: fetched when the socket reports a change (its event
    frames are small) and after a reconnect."""
    return JsonResponse(phone_state(volunteer))


@_volunteer_json
def assignment_status(request, volunteer, pk: int):
    """Where one of the volunteer's own assignments (or their vehicle's) stands now:
    `{"id", "status"}`. The page asks after the server refused an answer or a report it
    had queued: a refusal because it is already done (the first try got through, its
    reply did not) counts as sent (queue.js, settled)."""
    found = (
        Assignment.objects.filter(pk=pk)
        .filter(volunteers_own(volunteer))
        .values_list("status", flat=True)
        .first()
    )
    if found is None:
        return JsonResponse({"detail": _("No such assignment of yours.")}, status=404)
    return JsonResponse({"id": pk, "status": found})


@require_GET
def manifest(request):
    """The web app manifest, in the page's language (?lang=, else the request's)."""
    language = request.GET.get("lang", "")
    if language not in dict(settings.LANGUAGES):
        language = translation.get_language()
    with translation.override(language):
        body = {
            "name": _("Tongxin volunteer"),
            "short_name": _("Tongxin"),
            "description": _("Task offers and reports for Tongxin's emergency volunteers."),
            "lang": language,
            "start_url": reverse("phone:home"),
            "scope": reverse("phone:home"),
            "display": "standalone",
            "orientation": "portrait",
            "background_color": "#f4f6f8",
            "theme_color": THEME_COLOR,
            "icons": [
                {"src": static("phone/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
                {"src": static("phone/icon-192.png"), "sizes": "192x192", "type": "image/png"},
                {"src": static("phone/icon-512.png"), "sizes": "512x512", "type": "image/png"},
                {
                    "src": static("phone/icon-maskable-512.png"),
                    "sizes": "512x512",
                    "type": "image/png",
                    "purpose": "maskable",
                },
            ],
        }
    return HttpResponse(
        json.dumps(body, ensure_ascii=False),
        content_type="application/manifest+json; charset=utf-8",
    )


def _shell_version() -> str:
    digest = hashlib.sha256()
    for path in SHELL_STATIC:
        found = finders.find(path)
        if found:
            with open(found, "rb") as file:
                digest.update(file.read())
    return digest.hexdigest()[:12]


_shell_version_cached = cache(_shell_version)


@require_GET
def service_worker(request):
    """The service worker, from the /phone/ scope. Its cache is named after the shell
    files' contents, so a changed file means a new worker and a fresh cache."""
    version = _shell_version() if settings.DEBUG else _shell_version_cached()
    response = render(
        request,
        "phone/sw.js",
        {
            "version": version,
            "shell": json.dumps([static(path) for path in SHELL_STATIC]),
            "page": json.dumps(reverse("phone:home")),
            "icon": json.dumps(static("phone/icon-192.png")),
        },
        content_type="text/javascript; charset=utf-8",
    )
    # Browsers check for a new worker on navigation; never let a cache answer that.
    response["Cache-Control"] = "no-cache"
    return response
