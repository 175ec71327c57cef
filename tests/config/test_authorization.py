"""Who may call what: every route of the URL configuration × six callers, with the
status each must get (issue 10, item 8: the authorization matrix).

EXPECTED is the table, one row per route and method; CALLS says how each row is
called (path, body, the state a refused write must leave as it was). A route that
exists with no row fails `test_it_has_a_row_for_every_route`, so a new route cannot be
added without deciding who may call it; a row whose route is gone fails
`test_it_has_no_row_for_a_route_that_is_gone`.

The callers, made with the make_user / make_volunteer fixtures: nobody signed in, a
volunteer (offered the scene's assignment), another volunteer, a commander, a
coordinator and a superuser. The coordinator and the commander are staff, as the demo
city makes them (volunteers.demo.DEMO_LOGINS), so the admin row says what their model
permissions let them see there. Each test builds its scene with the services (an open
rescue, its need, an offer to the volunteer) and rolls it back; nothing reaches Celery
(after-commit hooks never run here). A refused write must leave the state it touches
as it was; an allowed one must change it.

The matrix holds statuses. What an allowed caller is shown is checked at the end, where
writing the matrix found it wrong (and it was fixed): commanders get no phone numbers
and no live positions, and staff no home positions in the admin.

The WebSocket routes (dispatch/routing.py) are not in the URL configuration; their
checks are in tests/dispatch/test_consumers*.py.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from briefings.models import Activity, Audience, Broadcast, BroadcastReceipt
from briefings.services import broadcast_send
from dispatch import push, services
from dispatch.matching import Pick
from dispatch.models import Assignment, AssignmentStatus, PushSubscription, SmsMessage
from dispatch.sms.webhook import SECRET_HEADER
from incidents.models import Incident, Need
from incidents.services import NeedSpec, need_add
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE, open_rescue, open_testing_site
from volunteers.models import Vehicle, VehicleKind, Volunteer
from volunteers.roles import Role

ANON, VOL, OTHER, CMDR, COORD, ADMIN = CALLERS = (
    "anonymous",
    "volunteer",
    "other_volunteer",
    "commander",
    "coordinator",
    "admin",
)
SMS_SECRET = "gateway-shared-secret"


class Redirect(int):
    """A 302 whose Location starts with `to` (a sign-in page, most often)."""

    def __new__(cls, to: str):
        redirect = super().__new__(cls, 302)
        redirect.to = to
        return redirect

    def __repr__(self) -> str:
        return f"302→{self.to}"


LOGIN = Redirect("/accounts/login/?next=")
PHONE_LOGIN = Redirect("/phone/login/?next=")
ADMIN_LOGIN = Redirect("/admin/login/?next=")
PHONE = Redirect("/phone/")
SIGN_IN_AGAIN = Redirect("/phone/login/")


def row(*statuses: int) -> dict[str, int]:
    """The statuses of one row, in the order of CALLERS (the table's header)."""
    return dict(zip(CALLERS, statuses, strict=True))


# fmt: off
EXPECTED = {
    # "METHOD route":                 anon         vol    other  cmdr   coord  admin
    # --- the front door, signing in and out, the language ------------------------------
    "GET home":                       row(200,         200,   200,   200,   200,   200),
    "GET login":                      row(200,         200,   200,   200,   200,   200),
    "POST logout":                    row(200,         200,   200,   200,   200,   200),
    "GET logout":                     row(405,         405,   405,   405,   405,   405),
    "GET password_change":            row(LOGIN,       200,   200,   200,   200,   200),
    "GET password_change_done":       row(LOGIN,       200,   200,   200,   200,   200),
    "GET password_reset":             row(200,         200,   200,   200,   200,   200),
    "GET password_reset_done":        row(200,         200,   200,   200,   200,   200),
    "GET password_reset_confirm":     row(200,         200,   200,   200,   200,   200),
    "GET password_reset_complete":    row(200,         200,   200,   200,   200,   200),
    "POST set_language":              row(302,         302,   302,   302,   302,   302),
    "GET rest_framework:login":       row(200,         200,   200,   200,   200,   200),
    "POST rest_framework:logout":     row(200,         200,   200,   200,   200,   200),
    "GET healthz":                    row(200,         200,   200,   200,   200,   200),
    "GET favicon":                    row(302,         302,   302,   302,   302,   302),
    # --- the coordinators' dashboard (commanders read it) -------------------------------
    "GET dashboard:index":            row(LOGIN,       403,   403,   200,   200,   200),
    "GET dashboard:geocode":          row(401,         403,   403,   200,   200,   200),
    "GET dashboard:resources":        row(401,         403,   403,   200,   200,   200),
    "GET dashboard:markers":          row(401,         403,   403,   200,   200,   200),
    "POST dashboard:markers":         row(405,         405,   405,   405,   405,   405),
    "GET dashboard:offers":           row(401,         403,   403,   200,   200,   200),
    "GET dashboard:candidates":       row(401,         403,   403,   403,   200,   200),
    "GET dashboard:units":            row(401,         403,   403,   200,   200,   200),
    "GET dashboard:rota":             row(LOGIN,       403,   403,   200,   200,   200),
    # --- the volunteer's phone page ---------------------------------------------------
    "GET phone:home":                 row(PHONE_LOGIN, 200,   200,   403,   403,   403),
    "GET phone:login":                row(200,         PHONE, PHONE, PHONE, PHONE, PHONE),
    "GET phone:state":                row(401,         200,   200,   403,   403,   403),
    "GET phone:record":               row(PHONE_LOGIN, 200,   200,   403,   403,   403),
    "POST phone:state":               row(405,         405,   405,   405,   405,   405),
    "GET phone:assignment":           row(401,         200,   404,   403,   403,   403),
    "GET phone:manifest":             row(200,         200,   200,   200,   200,   200),
    "GET phone:service-worker":       row(200,         200,   200,   200,   200,   200),
    # Signing in without a password (issue 11): anyone may ask; the answers say nothing
    # of who is a member. A POST without a number gets the form again, with the reason.
    "POST phone:sign-in-sms":         row(200,         200,   200,   200,   200,   200),
    "GET phone:sign-in-sms":          row(405,         405,   405,   405,   405,   405),
    "GET phone:sign-in-code":         row(SIGN_IN_AGAIN, SIGN_IN_AGAIN, SIGN_IN_AGAIN,
                                          SIGN_IN_AGAIN, SIGN_IN_AGAIN, SIGN_IN_AGAIN),
    "GET phone:invitation":           row(410,         410,   410,   410,   410,   410),
    "POST phone:sign-out-everywhere": row(PHONE_LOGIN, SIGN_IN_AGAIN, SIGN_IN_AGAIN,
                                          SIGN_IN_AGAIN, SIGN_IN_AGAIN, SIGN_IN_AGAIN),
    # --- the commanders' review -------------------------------------------------------
    "GET review:index":               row(LOGIN,       403,   403,   200,   200,   200),
    "GET review:log-csv":             row(LOGIN,       403,   403,   200,   200,   200),
    "GET review:log-xlsx":            row(LOGIN,       403,   403,   200,   200,   200),
    "GET review:timeline":            row(LOGIN,       403,   403,   200,   200,   200),
    "GET review:ics214":              row(LOGIN,       403,   403,   200,   200,   200),
    "GET review:ics214-csv":          row(LOGIN,       403,   403,   200,   200,   200),
    "GET review:hours":               row(LOGIN,       403,   403,   200,   200,   200),
    "GET review:hours-csv":           row(LOGIN,       403,   403,   200,   200,   200),
    "GET review:hours-xlsx":          row(LOGIN,       403,   403,   200,   200,   200),
    "POST review:index":              row(405,         405,   405,   405,   405,   405),
    # --- the REST API: people and reference data --------------------------------------
    # DRF answers the signed-out 403, not 401: session authentication comes first and
    # sends no WWW-Authenticate challenge.
    "POST api:token":                 row(200,         200,   200,   200,   200,   200),
    "GET api:me":                     row(403,         200,   200,   200,   200,   200),
    "GET api:my-volunteer":           row(403,         200,   200,   403,   403,   403),
    "PATCH api:my-volunteer":         row(403,         200,   200,   403,   403,   403),
    "GET api:volunteers":             row(403,         403,   403,   200,   200,   200),
    "GET api:volunteer":              row(403,         403,   403,   200,   200,   200),
    "GET api:vehicles":               row(403,         403,   403,   200,   200,   200),
    "GET api:teams":                  row(403,         403,   403,   200,   200,   200),
    "GET api:skills":                 row(403,         200,   200,   200,   200,   200),
    "GET api:townships":              row(403,         200,   200,   200,   200,   200),
    # Sign-in by SMS code: no credentials read (a number that is no member's is answered
    # alike); signing out everywhere is one's own.
    "POST api:sign-in-sms":           row(202,         202,   202,   202,   202,   202),
    "POST api:sign-in-sms-verify":    row(400,         400,   400,   400,   400,   400),
    "POST api:my-tokens-revoke":      row(403,         200,   200,   200,   200,   200),
    # --- the REST API: incidents ------------------------------------------------------
    "GET api:incidents":              row(403,         403,   403,   200,   200,   200),
    "POST api:incidents":             row(403,         403,   403,   403,   201,   201),
    "GET api:incident":               row(403,         403,   403,   200,   200,   200),
    "DELETE api:incident":            row(403,         403,   403,   405,   405,   405),
    "POST api:incident-resolve":      row(403,         403,   403,   403,   200,   200),
    "POST api:incident-cancel":       row(403,         403,   403,   403,   200,   200),
    # Changing a live incident and its needs (issue 13): coordinators only.
    "PATCH api:incident":             row(403,         403,   403,   403,   200,   200),
    "POST api:incident-needs":        row(403,         403,   403,   403,   201,   201),
    "PATCH api:incident-need":        row(403,         403,   403,   403,   200,   200),
    "POST api:incident-need-cancel":  row(403,         403,   403,   403,   200,   200),
    "POST api:need-widen":            row(403,         403,   403,   403,   200,   200),
    # --- the REST API: the log, offers and assignments --------------------------------
    "GET api:log":                    row(403,         403,   403,   200,   200,   200),
    "POST api:log":                   row(403,         403,   403,   405,   405,   405),
    "GET api:my-assignments":         row(403,         200,   200,   403,   403,   403),
    "GET api:my-hours":               row(403,         200,   200,   403,   403,   403),
    "POST api:my-push-subscriptions": row(403,         201,   201,   403,   403,   403),
    "DELETE api:my-push-subscriptions": row(403,       204,   204,   403,   403,   403),
    "GET api:incident-assignments":   row(403,         403,   403,   200,   200,   200),
    "POST api:need-assign":           row(403,         403,   403,   403,   201,   201),
    "POST api:assignment-accept":     row(403,         200,   403,   403,   403,   403),
    "GET api:assignment-accept":      row(403,         405,   405,   403,   403,   403),
    "POST api:assignment-decline":    row(403,         200,   403,   403,   403,   403),
    "POST api:assignment-status":     row(403,         200,   403,   403,   403,   403),
    "POST api:assignment-unassign":   row(403,         403,   403,   403,   200,   200),
    # A shift booked ahead: only the volunteer holding it gives it up (issue 13).
    "POST api:assignment-give-up":    row(403,         200,   403,   403,   403,   403),
    "GET api:incident-rota":          row(403,         403,   403,   200,   200,   200),
    # Out of service and back: coordinators, and the vehicle's own crew (none here).
    "POST api:vehicle-service":       row(403,         403,   403,   403,   200,   200),
    # The gateway, not a user: a session opens nothing (the secret: SMS_SECRET_CASES).
    "POST api:sms-inbound":           row(403,         403,   403,   403,   403,   403),
    "GET api:sms-inbound":            row(403,         403,   403,   403,   403,   403),
    # --- the REST API: messages to those on duty and activities (issue 13) ------------
    "GET api:broadcasts":             row(403,         403,   403,   200,   200,   200),
    "POST api:broadcasts":            row(403,         403,   403,   403,   201,   201),
    "GET api:broadcast":              row(403,         403,   403,   200,   200,   200),
    "GET api:my-broadcasts":          row(403,         200,   200,   403,   403,   403),
    "POST api:my-broadcast-delivered": row(403,        200,   404,   403,   403,   403),
    "POST api:my-broadcast-read":     row(403,         200,   404,   403,   403,   403),
    "POST api:my-broadcast-confirm":  row(403,         200,   404,   403,   403,   403),
    "GET api:activities":             row(403,         403,   403,   200,   200,   200),
    "POST api:activities":            row(403,         403,   403,   403,   201,   201),
    # --- the REST API: its description, root and unknown paths ------------------------
    "GET api:schema":                 row(200,         200,   200,   200,   200,   200),
    "GET api:docs":                   row(200,         200,   200,   200,   200,   200),
    "GET api:root":                   row(200,         200,   200,   200,   200,   200),
    "GET api:<path:rest>":            row(404,         404,   404,   404,   404,   404),
    # --- the admin site: its index and the volunteers' changelist ---------------------
    "GET admin":                      row(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200, 200, 200),
    # The roster and fleet imports (upload, preview, confirm): coordinators only.
    "POST admin":                     row(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403, 200, 200),
}
# fmt: on

# The SMS webhook with the gateway's secret, whoever else calls.
SMS_SECRET_CASES = {
    "right secret": 200,
    "wrong secret": 403,
    "no secret header": 403,
    "secret unset": 404,
}


# --- the scene --------------------------------------------------------------------------


@dataclass
class Scene:
    volunteer: Volunteer
    coordinator: User
    incident: Incident
    assignment: Assignment
    make_user: Callable
    make_volunteer: Callable

    @property
    def need(self):
        return self.assignment.need

    def user(self, caller: str) -> User | None:
        """The caller's user; those the scene itself does not need are made on demand
        (a test has one caller)."""
        if caller == ANON:
            return None
        if caller == VOL:
            return self.volunteer.user
        if caller == OTHER:
            return self.make_volunteer("13800000002").user
        if caller == COORD:
            return self.coordinator
        if caller == CMDR:
            return self.make_user("commander", Role.COMMANDER, is_staff=True)
        return self.make_user("admin", is_staff=True, is_superuser=True)


@pytest.fixture
def scene(make_user, make_volunteer, settings) -> Scene:
    """An open rescue whose need is offered to the volunteer, opened by the coordinator
    (staff, as the demo city makes coordinators and commanders: DEMO_LOGINS)."""
    settings.SMS_INBOUND_SECRET = SMS_SECRET
    settings.WEB_PUSH_VAPID_PRIVATE_KEY = push.vapid_keys_new()[0]
    volunteer = make_volunteer("13800000001")
    coordinator = make_user("coordinator", Role.COORDINATOR, is_staff=True)
    incident = open_rescue(coordinator)
    need = incident.needs.select_related("incident").get()
    pick = Pick(
        need_id=need.pk,
        resource_id=volunteer.pk,
        is_vehicle=False,
        distance_m=1000,
        eta_seconds=300,
        cost=1.0,
    )
    with transaction.atomic():
        (offer,) = services.offers_make(need=need, picks=[pick])
    return Scene(volunteer, coordinator, incident, offer, make_user, make_volunteer)


# A subscription as Chrome gives it (the keys are well-formed; nothing is pushed here).
PUSH_ENDPOINT = "https://fcm.googleapis.com/fcm/send/matrix"
PUSH_SUBSCRIPTION = {
    "endpoint": PUSH_ENDPOINT,
    "keys": {
        "p256dh": (
            "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
        ),
        "auth": "tBHItJI5svbpez7KI4CCXg",
    },
}


def _volunteer_subscribed(scene: Scene) -> None:
    keys = PUSH_SUBSCRIPTION["keys"]
    push.push_subscribe(
        volunteer=scene.volunteer,
        endpoint=PUSH_SUBSCRIPTION["endpoint"],
        p256dh=keys["p256dh"],
        auth=keys["auth"],
    )


def _volunteer_on_duty_nearby(scene: Scene) -> None:
    Volunteer.objects.filter(pk=scene.volunteer.pk).update(
        on_duty=True, last_latitude=SITE[0], last_longitude=SITE[1]
    )


def _no_phones_for_commanders(response, caller: str, volunteers: list[dict]) -> None:
    """Commanders read the status board without phones or live positions (DESIGN.md §6)."""
    assert volunteers, "the board shows the scene's volunteer"
    if caller == CMDR:
        assert {(v["phone"], v["latitude"], v["longitude"]) for v in volunteers} == {
            (None, None, None)
        }
    else:
        assert any(v["phone"] for v in volunteers)


def _accepted(scene: Scene) -> None:
    services.assignment_accept(assignment_id=scene.assignment.pk, volunteer=scene.volunteer)


def _assignment_status(scene: Scene) -> str:
    return Assignment.objects.values_list("status", flat=True).get(pk=scene.assignment.pk)


def _incident_status(scene: Scene) -> str:
    return Incident.objects.values_list("status", flat=True).get(pk=scene.incident.pk)


def _not_the_first_volunteers(response, scene: Scene, caller: str, rows: list[dict]) -> None:
    """Another volunteer's list is their own: the first volunteer's offer is not in it."""
    ids = [found["id"] for found in rows]
    if caller == VOL:
        assert ids == [scene.assignment.pk]
    elif caller == OTHER:
        assert ids == []


# --- how each row is called -------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """How a row is called: the route reversed (with `pk`, the scene object's id), or
    `paths` given; `body` (JSON) for writes; `prepare` the scene first; `state`: what a
    refused call leaves as it was and an allowed one changes; `check` the answer."""

    pk: Callable[[Scene], int] | None = None
    paths: tuple[str, ...] = ()
    query: dict = field(default_factory=dict)
    body: Callable[[Scene], dict] | None = None
    headers: dict = field(default_factory=dict)
    prepare: Callable[[Scene], None] | None = None
    state: Callable[[Scene], object] | None = None
    check: Callable | None = None


def INCIDENT(scene):  # noqa: N802
    return scene.incident.pk


def NEED(scene):  # noqa: N802
    return scene.need.pk


def INCIDENT_NEED(scene):  # noqa: N802 - /api/incidents/<id>/needs/<need>/
    return (scene.incident.pk, scene.need.pk)


def _second_need(scene) -> None:
    need_add(
        incident=scene.incident,
        actor=scene.coordinator,
        spec=NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT),
    )


def ASSIGNMENT(scene):  # noqa: N802
    return scene.assignment.pk


def STAFFED_SITE(scene):  # noqa: N802 - a testing site, with a shift next week
    if not Incident.objects.filter(kind=Incident.Kind.TESTING_SITE).exists():
        open_testing_site(scene.coordinator, starts=[timezone.now() + timedelta(days=7)])
    return Incident.objects.get(kind=Incident.Kind.TESTING_SITE).pk


def _reserved(scene: Scene) -> None:
    """The scene's offer, as if it were a shift the volunteer booked ahead."""
    Assignment.objects.filter(pk=scene.assignment.pk).update(status=AssignmentStatus.RESERVED)


def VOLUNTEER(scene):  # noqa: N802
    return scene.volunteer.pk


def VEHICLE(scene):  # noqa: N802
    boat, _ = Vehicle.objects.get_or_create(
        call_sign="蓝天-01",
        defaults={
            "kind": VehicleKind.BOAT,
            "township": scene.volunteer.township,
            "capacity": 6,
            "max_water_depth_m": 1.5,
        },
    )
    return boat.pk


def BROADCAST(scene):  # noqa: N802
    """A briefing to everyone on duty: the volunteer, put on duty for it."""
    if not Broadcast.objects.exists():
        _volunteer_on_duty_nearby(scene)
        broadcast_send(
            author=scene.coordinator,
            text="防汛安全会",
            audience=Audience.ALL_ON_DUTY,
            briefing_place="龙湖镇政府",
            briefing_starts_at=timezone.now() + timedelta(hours=1),
        )
    return Broadcast.objects.get().pk


def _receipt_of_the_volunteer(scene: Scene) -> tuple:
    BROADCAST(scene)
    return BroadcastReceipt.objects.values_list("delivered_at", "read_at", "confirmed_at").get(
        volunteer=scene.volunteer
    )


def _vehicle_status(scene: Scene) -> str:
    return Vehicle.objects.values_list("status", flat=True).get(pk=VEHICLE(scene))


NEW_INCIDENT = {
    "kind": "flood_rescue",
    "title": "龙湖镇 积水 群众被困",
    "latitude": SITE[0],
    "longitude": SITE[1],
    "priority": 4,
    "needs": [{"kind": "people", "skill": "rescue", "count": 1}],
}

CALLS = {
    "GET home": Call(),
    "GET login": Call(),
    "POST logout": Call(),
    "GET logout": Call(),
    "GET password_change": Call(),
    "GET password_change_done": Call(),
    "GET password_reset": Call(),
    "GET password_reset_done": Call(),
    "GET password_reset_confirm": Call(paths=("/accounts/reset/MQ/set-password/",)),
    "GET password_reset_complete": Call(),
    "POST set_language": Call(body=lambda s: {"language": "en", "next": "/"}),
    "GET rest_framework:login": Call(),
    "POST rest_framework:logout": Call(),
    "GET healthz": Call(),
    "GET favicon": Call(),
    "GET dashboard:index": Call(),
    "GET dashboard:geocode": Call(query={"q": "龙湖镇"}),
    "GET dashboard:resources": Call(),
    "GET dashboard:markers": Call(),
    "POST dashboard:markers": Call(),
    "GET dashboard:offers": Call(pk=INCIDENT),
    "GET dashboard:candidates": Call(pk=NEED),
    "GET dashboard:units": Call(
        prepare=_volunteer_on_duty_nearby,
        check=lambda response, scene, caller: _no_phones_for_commanders(
            response, caller, response.json()["volunteers"]
        ),
    ),
    "GET phone:home": Call(),
    "GET phone:login": Call(),
    "GET phone:state": Call(
        check=lambda response, scene, caller: _not_the_first_volunteers(
            response, scene, caller, response.json()["assignments"]
        )
    ),
    "POST phone:state": Call(),
    "GET phone:assignment": Call(pk=ASSIGNMENT),
    "GET phone:record": Call(),
    "GET phone:manifest": Call(),
    "GET phone:service-worker": Call(),
    "POST phone:sign-in-sms": Call(),
    "GET phone:sign-in-sms": Call(),
    "GET phone:sign-in-code": Call(),
    "GET phone:invitation": Call(paths=("/phone/invitation/no-such-invitation/",)),
    "POST phone:sign-out-everywhere": Call(),
    "GET review:index": Call(),
    "GET review:log-csv": Call(),
    "GET review:log-xlsx": Call(),
    "GET review:timeline": Call(pk=INCIDENT),
    "GET review:ics214": Call(pk=INCIDENT),
    "GET review:ics214-csv": Call(pk=INCIDENT),
    "GET review:hours": Call(),
    "GET review:hours-csv": Call(),
    "GET review:hours-xlsx": Call(),
    "POST review:index": Call(),
    "POST api:token": Call(body=lambda s: {"username": "13800000001", "password": DEMO_PASSWORD}),
    "GET api:me": Call(),
    "GET api:my-volunteer": Call(),
    "PATCH api:my-volunteer": Call(
        body=lambda s: {"on_duty": True},
        state=lambda s: Volunteer.objects.filter(on_duty=True).count(),
    ),
    "GET api:volunteers": Call(),
    "GET api:volunteer": Call(pk=VOLUNTEER),
    "GET api:vehicles": Call(),
    "GET api:teams": Call(),
    "GET api:skills": Call(),
    "GET api:townships": Call(),
    "POST api:sign-in-sms": Call(body=lambda s: {"phone": "13800000001"}),
    "POST api:sign-in-sms-verify": Call(body=lambda s: {"phone": "13800000001", "code": "000000"}),
    "POST api:my-tokens-revoke": Call(),
    "GET api:incidents": Call(),
    "POST api:incidents": Call(
        body=lambda s: NEW_INCIDENT, state=lambda s: Incident.objects.count()
    ),
    "GET api:incident": Call(pk=INCIDENT),
    "DELETE api:incident": Call(pk=INCIDENT, state=lambda s: Incident.objects.count()),
    "POST api:incident-resolve": Call(
        pk=INCIDENT, body=lambda s: {"note": "all safe"}, state=_incident_status
    ),
    "POST api:incident-cancel": Call(
        pk=INCIDENT, body=lambda s: {"note": "false alarm"}, state=_incident_status
    ),
    "PATCH api:incident": Call(
        pk=INCIDENT,
        body=lambda s: {"priority": 1},
        state=lambda s: Incident.objects.values_list("priority", flat=True).get(pk=s.incident.pk),
    ),
    "POST api:incident-needs": Call(
        pk=INCIDENT,
        body=lambda s: {"kind": "vehicle", "vehicle_kind": "boat"},
        state=lambda s: s.incident.needs.count(),
    ),
    "PATCH api:incident-need": Call(
        pk=INCIDENT_NEED,
        body=lambda s: {"count": 5},
        state=lambda s: Need.objects.values_list("count", flat=True).get(pk=s.need.pk),
    ),
    # A second need first: the last live need is not cancelled alone.
    "POST api:incident-need-cancel": Call(
        pk=INCIDENT_NEED,
        prepare=_second_need,
        body=lambda s: {"reason": "found safe"},
        state=lambda s: Need.objects.values_list("cancelled_at", flat=True).get(pk=s.need.pk),
    ),
    "POST api:need-widen": Call(
        pk=NEED,
        body=lambda s: {"reach_km": 40},
        state=lambda s: Need.objects.values_list("reach_km", flat=True).get(pk=s.need.pk),
    ),
    "GET api:log": Call(),
    "POST api:log": Call(body=lambda s: {}),
    "GET api:my-assignments": Call(
        check=lambda response, scene, caller: _not_the_first_volunteers(
            response, scene, caller, response.json()["results"]
        )
    ),
    "GET api:my-hours": Call(),
    "POST api:my-push-subscriptions": Call(
        body=lambda s: PUSH_SUBSCRIPTION, state=lambda s: PushSubscription.objects.count()
    ),
    # Only one's own subscription goes: the other volunteer's DELETE finds none of theirs.
    "DELETE api:my-push-subscriptions": Call(
        prepare=_volunteer_subscribed,
        paths=("/api/me/push-subscriptions/?" + urlencode({"endpoint": PUSH_ENDPOINT}),),
    ),
    "GET api:incident-assignments": Call(pk=INCIDENT),
    "POST api:need-assign": Call(
        pk=NEED,
        body=lambda s: {"volunteer": s.volunteer.pk, "reason": "agreed on the phone"},
        state=_assignment_status,
    ),
    "POST api:assignment-accept": Call(pk=ASSIGNMENT, state=_assignment_status),
    "GET api:assignment-accept": Call(pk=ASSIGNMENT, state=_assignment_status),
    "POST api:assignment-decline": Call(
        pk=ASSIGNMENT, body=lambda s: {"reason": "too far"}, state=_assignment_status
    ),
    "POST api:assignment-status": Call(
        pk=ASSIGNMENT,
        prepare=_accepted,
        body=lambda s: {"status": AssignmentStatus.EN_ROUTE},
        state=_assignment_status,
    ),
    "POST api:assignment-unassign": Call(
        pk=ASSIGNMENT, body=lambda s: {"reason": "not needed"}, state=_assignment_status
    ),
    "POST api:assignment-give-up": Call(pk=ASSIGNMENT, prepare=_reserved, state=_assignment_status),
    "GET api:incident-rota": Call(pk=STAFFED_SITE),
    "GET dashboard:rota": Call(pk=STAFFED_SITE),
    "POST api:vehicle-service": Call(
        pk=VEHICLE,
        body=lambda s: {"in_service": False, "reason": "engine failure"},
        state=_vehicle_status,
    ),
    "POST api:sms-inbound": Call(
        body=lambda s: {"from": "+86 138 0000 0001", "text": "Y 1234"},
        state=lambda s: SmsMessage.objects.count(),
    ),
    "GET api:sms-inbound": Call(),
    "GET api:broadcasts": Call(),
    "POST api:broadcasts": Call(
        prepare=_volunteer_on_duty_nearby,
        body=lambda s: {"text": "水位上涨", "audience": "all_on_duty"},
        state=lambda s: Broadcast.objects.count(),
    ),
    "GET api:broadcast": Call(pk=BROADCAST),
    "GET api:my-broadcasts": Call(prepare=BROADCAST),
    "POST api:my-broadcast-delivered": Call(pk=BROADCAST, state=_receipt_of_the_volunteer),
    "POST api:my-broadcast-read": Call(pk=BROADCAST, state=_receipt_of_the_volunteer),
    "POST api:my-broadcast-confirm": Call(pk=BROADCAST, state=_receipt_of_the_volunteer),
    "GET api:activities": Call(),
    "POST api:activities": Call(
        body=lambda s: {"title": "防汛安全宣讲", "starts_at": "2021-07-20T10:00:00+08:00"},
        state=lambda s: Activity.objects.count(),
    ),
    "GET api:schema": Call(),
    "GET api:docs": Call(),
    "GET api:root": Call(),
    "GET api:<path:rest>": Call(paths=("/api/no-such-endpoint/",)),
    "GET admin": Call(paths=("/admin/", "/admin/volunteers/volunteer/")),
    # No file: an allowed caller gets the upload form back with its error.
    "POST admin": Call(
        paths=("/admin/volunteers/volunteer/import/", "/admin/volunteers/vehicle/import/"),
        body=lambda s: {},
    ),
}


# --- the routes of the URL configuration ------------------------------------------------


def url_routes(resolver: URLResolver | None = None, namespace: tuple[str, ...] = ()) -> set[str]:
    """Every route, named as `reverse` names it (namespace:name), or by its pattern when
    it has no name; the admin site counts as one route, `admin`."""
    resolver = resolver or get_resolver()
    found = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                found.add("admin")
                continue
            inner = (*namespace, pattern.namespace) if pattern.namespace else namespace
            found |= url_routes(pattern, inner)
        else:
            found.add(":".join((*namespace, pattern.name or str(pattern.pattern))))
    return found


def _route(row_name: str) -> str:
    return row_name.split(" ", 1)[1]


def test_it_has_a_row_for_every_route():
    missing = url_routes() - {_route(name) for name in EXPECTED}
    assert not missing, f"routes nobody decided who may call (add rows to EXPECTED): {missing}"


def test_it_has_no_row_for_a_route_that_is_gone():
    gone = {_route(name) for name in EXPECTED} - url_routes()
    assert not gone, f"rows for routes no longer in the URL configuration: {gone}"


def test_it_says_how_to_call_every_row_and_every_caller():
    assert set(CALLS) == set(EXPECTED)
    assert all(set(statuses) == set(CALLERS) for statuses in EXPECTED.values())


# --- the matrix -------------------------------------------------------------------------


# One request handler for every client: a new one loads the middleware again, and
# WhiteNoise's scans the static files each time (most of a test's time).
_HANDLER = APIClient().handler


def _client(user: User | None) -> APIClient:
    """A client signed in as `user` (a session, as the pages have; the API takes it)."""
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.handler = _HANDLER
    if user is not None:
        client.force_login(user)
    return client


def _paths(row_name: str, call: Call, scene: Scene) -> tuple[str, ...]:
    if call.paths:
        return call.paths
    ids = call.pk(scene) if call.pk else ()
    args = list(ids) if isinstance(ids, tuple) else [ids]
    return (reverse(_route(row_name), args=args),)


def _send(client: APIClient, method: str, path: str, call: Call, scene: Scene):
    body = call.body(scene) if call.body else None
    if method == "GET":
        return client.get(path, call.query, headers=call.headers)
    send = getattr(client, method.lower())
    return send(path, body, format="json", headers=call.headers)


def _assert_status(response, expected: int, where: str) -> None:
    # A download streams (asynchronously): its status is enough.
    shown = "" if response.streaming else response.content[:300].decode(errors="replace")
    assert response.status_code == expected, f"{where}: {response.status_code} {shown}"
    if isinstance(expected, Redirect):
        assert response["Location"].startswith(expected.to), f"{where}: {response['Location']}"
    if response.status_code in (401, 403, 404, 405) and where.split()[1].startswith("/api/"):
        # The API's refusals are JSON, whatever refuses.
        assert response["Content-Type"].startswith("application/json"), f"{where}: {shown}"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "row_name, caller",
    [
        pytest.param(name, caller, id=f"{name.replace(' ', '_')}-{caller}")
        for name in EXPECTED
        for caller in CALLERS
    ],
)
def test_it_answers_each_caller_as_the_matrix_says(scene, row_name, caller):
    call = CALLS[row_name]
    expected = EXPECTED[row_name][caller]
    method = row_name.split(" ", 1)[0]
    client = _client(scene.user(caller))
    if call.prepare:
        call.prepare(scene)
    before = call.state(scene) if call.state else None

    for path in _paths(row_name, call, scene):
        response = _send(client, method, path, call, scene)
        _assert_status(response, expected, f"{method} {path} as {caller}")

    if call.state:
        after = call.state(scene)
        if expected >= 400:
            assert after == before, f"a refused {row_name} changed {before!r} to {after!r}"
        elif method != "GET":
            assert after != before, f"{row_name} answered {expected} but changed nothing"
    if call.check and expected < 300:
        call.check(response, scene, caller)


# --- the SMS webhook: its secret, not the caller ----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(SMS_SECRET_CASES))
def test_it_opens_the_sms_webhook_to_the_gateways_secret_only(scene, settings, case):
    headers = {
        "right secret": {SECRET_HEADER: SMS_SECRET},
        "wrong secret": {SECRET_HEADER: "not-the-secret"},
        "no secret header": {},
        "secret unset": {SECRET_HEADER: ""},
    }[case]
    if case == "secret unset":
        settings.SMS_INBOUND_SECRET = ""
    before = SmsMessage.objects.count()

    response = _client(None).post(
        reverse("api:sms-inbound"),
        {"from": "+86 138 0000 0009", "text": "hello"},
        format="json",
        headers=headers,
    )

    expected = SMS_SECRET_CASES[case]
    assert response.status_code == expected, response.content
    assert response["Content-Type"].startswith("application/json")
    assert (SmsMessage.objects.count() > before) == (expected == 200)


# --- what an allowed caller is shown (holes found while writing the matrix, closed) ------


@pytest.mark.django_db
def test_it_keeps_volunteers_phone_numbers_from_commanders_on_the_dashboard(scene):
    path = reverse("dashboard:offers", args=[scene.incident.pk])
    rows = _client(scene.user(CMDR)).get(path).json()["assignments"]
    assert [row["volunteer_phone"] for row in rows] == [None]


@pytest.mark.django_db
def test_it_keeps_volunteers_live_positions_from_commanders_on_the_dashboard(scene):
    Volunteer.objects.filter(pk=scene.volunteer.pk).update(
        on_duty=True, last_latitude=SITE[0], last_longitude=SITE[1]
    )
    markers = _client(scene.user(CMDR)).get(reverse("dashboard:markers")).json()
    assert markers["volunteers"] == []


@pytest.mark.django_db
def test_it_keeps_volunteers_phone_numbers_from_commanders_in_the_admin(scene):
    page = _client(scene.user(CMDR)).get("/admin/volunteers/volunteer/")
    assert scene.volunteer.phone not in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("caller", [CMDR, COORD])
def test_it_keeps_volunteers_home_positions_from_staff_in_the_admin(scene, caller):
    Volunteer.objects.filter(pk=scene.volunteer.pk).update(
        home_latitude=34.123456, home_longitude=113.654321
    )
    path = reverse("admin:volunteers_volunteer_change", args=[scene.volunteer.pk])
    page = _client(scene.user(caller)).get(path)
    assert page.status_code == 200
    assert "34.123456" not in page.content.decode()
