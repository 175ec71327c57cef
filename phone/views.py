"""The volunteer's phone page (/phone/): one screen for going on duty, sharing where
they are, answering offers and reporting progress on the current task.

The page is server-rendered with its state embedded, so it is usable before the live
socket is up, and refreshes that state from /phone/state/ whenever the socket says
something changed (docs/websockets.md). It is installable: a manifest and a service
worker that keeps the shell for weak connections, both served from the /phone/ scope.
"""

import hashlib
import json
from functools import cache

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.contrib.staticfiles import finders
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dispatch.api import AssignmentSerializer, assignments_for_display
from dispatch.labels import (
    INCIDENT_KIND_LABELS,
    PRIORITY_LABELS,
    label_of,
    need_label,
    township_name,
    vehicle_label,
)
from dispatch.live import last_seq
from dispatch.models import OPEN_STATUSES, Assignment
from incidents.models import Incident, Need
from volunteers.models import Volunteer

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
    "phone/cards.js",
    "phone/connection.js",
    "phone/format.js",
    "phone/location.js",
    "phone/notice.js",
    "phone/page.js",
    "phone/socket.js",
    "phone/state.js",
    "phone/icon.svg",
    "phone/icon-192.png",
]
# A rescue's end asks how many people were moved (the figure commanders total).
MOVES_PEOPLE = {Incident.Kind.FLOOD_RESCUE, Incident.Kind.EVACUATION}
THEME_COLOR = "#b71c1c"


def _when(value):
    return value.isoformat() if value else None


def _assignment_row(assignment: Assignment, row: dict) -> dict:
    """An assignment as the REST API gives it (`row`, AssignmentSerializer: the same
    fields as the socket's snapshot), with the words the page shows for it in the
    active language."""
    need = assignment.need
    incident = need.incident
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
    }


def phone_state(volunteer) -> dict:
    """Everything the page shows: the volunteer, and their open offers and assignments
    (their own and their vehicles'), newest first, with what the page needs to show
    them in the active language; and `last_seq`, the log position the state reflects.

    The position is read first and the rows after it, as the socket's hello and
    snapshot are (docs/websockets.md): events commit in seq order, so the rows show
    every event up to `last_seq` (and perhaps later ones), never less. The page drops
    a reply whose position is below the one it shows. The volunteer is read again for
    the same reason: the caller's copy was loaded before the position was."""
    position = last_seq()
    volunteer = Volunteer.objects.select_related("township").get(pk=volunteer.pk)
    assignments = list(
        assignments_for_display(
            Assignment.objects.filter(status__in=OPEN_STATUSES).filter(
                Q(volunteer=volunteer) | Q(vehicle__crew=volunteer)
            )
        )
        .select_related("need__incident__township")
        .distinct()
        .order_by("-offered_at", "-id")
    )
    rows = AssignmentSerializer(assignments, many=True).data
    return {
        "now": timezone.now().isoformat(),
        "last_seq": position,
        "volunteer": {
            "id": volunteer.pk,
            "name": volunteer.name,
            "township": township_name(volunteer.township),
            "on_duty": volunteer.on_duty,
            "last_located_at": _when(volunteer.last_located_at),
        },
        "assignments": [
            _assignment_row(assignment, row)
            for assignment, row in zip(assignments, rows, strict=True)
        ],
    }


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
        "idle_on": _("Standing by. New offers appear here; keep this page open."),
        "idle_off": _("You are off duty. Go on duty to receive task offers."),
        "no_answer": _("No answer from the server. Check your connection, then try again."),
        "accepted_notice": _("Accepted. The coordinators can see you are coming."),
        "declined_notice": _("Declined. Thank you for answering."),
        "done_notice": _("Task done. Thank you!"),
        "install": _("Install on this phone"),
        "dismiss": _("Close"),
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
        "status": with_id("api:assignment-status"),
        "service_worker": reverse("phone:service-worker"),
    }


class PhoneLoginView(LoginView):
    """The sign-in for volunteers: their phone number and password, on a phone-sized
    page inside the installed app's scope. Same authentication as /accounts/login/."""

    template_name = "phone/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return reverse("phone:home")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "theme_color": THEME_COLOR}


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
    }
    return render(request, "phone/phone.html", context)


@require_GET
@never_cache
def state(request):
    """The page's state as JSON: fetched when the socket reports a change (its event
    frames are small) and after a reconnect."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": _("Sign in first.")}, status=401)
    volunteer = getattr(request.user, "volunteer", None)
    if volunteer is None:
        return JsonResponse({"detail": _("Only volunteers have this page.")}, status=403)
    return JsonResponse(phone_state(volunteer))


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
        },
        content_type="text/javascript; charset=utf-8",
    )
    # Browsers check for a new worker on navigation; never let a cache answer that.
    response["Cache-Control"] = "no-cache"
    return response
