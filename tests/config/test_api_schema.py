"""The REST API against the OpenAPI schema it serves (issue 10, the proof suite):
Schemathesis generates requests for every operation of `/api/schema/`, as each role,
and every answer must be no 5xx and what the schema promises — a documented status
code and content type, a body that matches its schema — with schema-invalid input
refused and auth enforced where the schema says it is.

How it runs:

- In-process, on the test database: the requests go through Django's test-client
  handler (as `django.test.Client` does, keeping the test's connection and
  transaction), wrapped as the WSGI application Schemathesis calls. Each generated
  request runs in a savepoint rolled back after it: every example meets the same
  scene, and what a request creates does not outlive it. on_commit hooks never fire
  (no dispatch task runs).
- The scene (`scene`): the volunteer holds a place on an open rescue, and an offer
  on a second incident that was also sent by SMS; another volunteer has an open offer
  (by SMS too) on the rescue; a boat the volunteer crews is offered an evacuation; one
  incident is resolved. In some examples the volunteer is first taken off the rescue
  (drawn per example, like the data), so accepting an offer can succeed as well as be
  refused as busy.
- Ids: most of the time a path's `{id}` is one of the scene's rows of that kind and
  the operation reaches its object; otherwise it is Schemathesis' own (mostly ids that
  do not exist: the documented 404). In schema-valid requests, fields naming objects
  (`volunteer`, `vehicle`, `skill`, `township`, `incident`, …; the SMS `from` and
  `text`) are sometimes replaced with the scene's, so lists filter to real rows,
  assigning by hand and the SMS replies get past "no such …" to the work itself.
- Roles: `anonymous` sends whatever credentials Schemathesis makes up from the
  schema's security schemes (none, or a random `Authorization` header or session
  cookie), never valid ones. The others send `Authorization: Token …` of a volunteer,
  a commander, a coordinator or a superuser (admin), through a Schemathesis auth
  provider (so no made-up credentials ride along). The SMS webhook has no users:
  the signed-in roles send it the gateway's `X-Tongxin-Sms-Secret`, `anonymous` the
  made-up one.
- Reproducible: Hypothesis is derandomized (the seed comes from the test, not the
  clock) and keeps no example database, so CI and a laptop send the same requests.
  EXAMPLES schema-valid and EXAMPLES schema-invalid requests per operation and role.

The checks (Schemathesis' own, CHECKS): `not_a_server_error`,
`status_code_conformance`, `content_type_conformance`, `response_schema_conformance`,
`response_headers_conformance`, `negative_data_rejection` (schema-invalid input is a
4xx; except input DRF reads as valid on purpose, negative_data_rejection_as_read:
`"count": "2"`, a text too long only by the blanks around it) and `ignored_auth` (a
2xx as a role is sent again without credentials and with wrong ones, which must be
refused). Left out, as unsound here or not applicable:

- `positive_data_acceptance`: a schema-valid request may rightly be refused — a role
  without the permission (403), an id that does not exist (404), an offer already
  taken or a volunteer already busy (409), rules across fields the schema cannot state
  (a shift's end after its start, latitude with longitude, a need's kind and the
  fields it needs, a known skill code: 400).
- `max_response_time`: timings on a shared two-core machine prove nothing.
- `use_after_free`, `ensure_resource_availability`, `object_level_authorization`:
  stateful checks, for Schemathesis' stateful phase and identities it manages itself;
  who may do what to whose objects is tests/config/test_authorization.py's.
- `unsupported_method`, `missing_required_header`, `allow_header_conformance`: they
  judge the coverage phase's probes (undocumented methods, a required header left
  out), which this property-based run does not send.

What it found (some only in deeper runs, TONGXIN_SCHEMA_EXAMPLES=250) is pinned by
plain tests at the end of this file, so it stays fixed whatever EXAMPLES is.
"""

import os
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from unittest.mock import ANY

import pytest
import schemathesis
from django.db import transaction
from django.test.client import ClientHandler
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.auths import AuthStorage
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.parameters import ParameterLocation

from briefings.models import Audience
from briefings.services import broadcast_send
from dispatch import services as dispatch_services
from dispatch.matching import Pick
from dispatch.models import OfferSmsCode
from dispatch.sms.webhook import SECRET_HEADER
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_resolve
from tests.dispatch.scenes import KM, SITE, open_rescue
from volunteers.models import Skill, Team, Township, Vehicle, VehicleKind, Volunteer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("live_index")]

SCHEMA_PATH = "/api/schema/?format=json"
# Schema-valid requests, and as many schema-invalid ones, per operation and role; more
# for a deeper hunt, e.g. TONGXIN_SCHEMA_EXAMPLES=200 (still the same requests each run).
EXAMPLES = int(os.environ.get("TONGXIN_SCHEMA_EXAMPLES", "25"))
ROLES = ("anonymous", "volunteer", "commander", "coordinator", "admin")
SMS_SECRET = "schemathesis-gateway-secret"

# Every operation the schema has. A new endpoint fails test_every_operation_is_fuzzed
# until it is added here, and so fuzzed.
OPERATIONS = (
    ("POST", "/api/auth/token/"),
    ("GET", "/api/me/"),
    ("GET", "/api/me/volunteer/"),
    ("PATCH", "/api/me/volunteer/"),
    ("GET", "/api/volunteers/"),
    ("GET", "/api/volunteers/{id}/"),
    ("GET", "/api/vehicles/"),
    ("GET", "/api/teams/"),
    ("GET", "/api/skills/"),
    ("GET", "/api/townships/"),
    ("GET", "/api/incidents/"),
    ("POST", "/api/incidents/"),
    ("GET", "/api/incidents/{id}/"),
    ("POST", "/api/incidents/{id}/resolve/"),
    ("POST", "/api/incidents/{id}/cancel/"),
    ("PATCH", "/api/incidents/{id}/"),
    ("POST", "/api/incidents/{id}/needs/"),
    ("PATCH", "/api/incidents/{id}/needs/{need_pk}/"),
    ("POST", "/api/incidents/{id}/needs/{need_pk}/cancel/"),
    ("GET", "/api/incidents/{id}/assignments/"),
    ("GET", "/api/log/"),
    ("GET", "/api/me/assignments/"),
    ("GET", "/api/me/hours/"),
    ("POST", "/api/me/push-subscriptions/"),
    ("DELETE", "/api/me/push-subscriptions/"),
    ("POST", "/api/needs/{id}/assign/"),
    ("POST", "/api/needs/{id}/widen/"),
    ("POST", "/api/assignments/{id}/accept/"),
    ("POST", "/api/assignments/{id}/decline/"),
    ("POST", "/api/assignments/{id}/status/"),
    ("POST", "/api/assignments/{id}/unassign/"),
    ("POST", "/api/assignments/{id}/give-up/"),
    ("GET", "/api/incidents/{id}/rota/"),
    ("POST", "/api/vehicles/{id}/service/"),
    ("POST", "/api/sms/inbound/"),
    ("POST", "/api/auth/sms/"),
    ("POST", "/api/auth/sms/verify/"),
    ("POST", "/api/me/tokens/revoke/"),
    ("GET", "/api/broadcasts/"),
    ("POST", "/api/broadcasts/"),
    ("GET", "/api/broadcasts/{id}/"),
    ("GET", "/api/me/broadcasts/"),
    ("POST", "/api/me/broadcasts/{id}/delivered/"),
    ("POST", "/api/me/broadcasts/{id}/read/"),
    ("POST", "/api/me/broadcasts/{id}/confirm/"),
    ("GET", "/api/activities/"),
    ("POST", "/api/activities/"),
)

# A JSON scalar where another is documented that DRF reads on purpose: a number where a
# text is (`"from": 13800138000` is the text "13800138000"), a text or another number
# where a number is (`"count": "2"`), 1, 0 or "true" where a boolean is. (It refuses
# true and false where a text or a number is, so a boolean is never one of these.)
COERCED = {"string", "integer", "number", "boolean"}
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def negative_data_rejection_as_read(ctx, response, case):
    """`negative_data_rejection`, except where the body is valid as DRF reads it: its
    only violations are scalars of another type that DRF's fields coerce (COERCED);
    or texts too long only by the whitespace around them, which DRF trims before it
    measures; or, sent as a form, a body that is no object at all (`-741` sent as
    multipart/form-data is, on the wire, a form without fields: fine wherever every
    field is optional)."""
    mutations = case.meta.phase.data.mutations if case.meta is not None else ()
    if mutations and all(_read_as_valid(mutation, case) for mutation in mutations):
        return None
    return negative_data_rejection(ctx, response, case)


def _read_as_valid(mutation, case) -> bool:
    if mutation.parameter_location is not ParameterLocation.BODY:
        return False
    if mutation.keywords == ("maxLength",):
        value = _at(case.body, mutation.path)
        return isinstance(value, str) and value != value.strip()
    if mutation.keywords != ("type",):
        return False
    if mutation.path == () and mutation.original_value == "object":
        return case.media_type in FORMS
    return mutation.original_value in COERCED and mutation.new_value in COERCED - {"boolean"}


def _at(body, path):
    for step in path:
        try:
            body = body[step]
        except (KeyError, IndexError, TypeError):
            return None
    return body


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection_as_read,
    ignored_auth,
]


class InProcessApp:
    """Django's test-client handler as a WSGI application: the request runs in this
    thread, on the test's database connection and inside its transaction (Django's
    WSGIHandler would close that connection after each request)."""

    def __init__(self):
        self.handler = ClientHandler(enforce_csrf_checks=True)

    def __call__(self, environ, start_response):
        response = self.handler(environ)
        cookies = [("Set-Cookie", c.output(header="").strip()) for c in response.cookies.values()]
        start_response(
            f"{response.status_code} {response.reason_phrase}", [*response.items(), *cookies]
        )
        return [response.content]


@pytest.fixture(scope="module")
def app():
    return InProcessApp()


@pytest.fixture(scope="module")
def api_schema(app):
    """The schema as the app serves it, fetched (in-process) over HTTP."""
    return schemathesis.openapi.from_wsgi(SCHEMA_PATH, app)


class RoleToken:
    """A Schemathesis auth provider: the role's token, instead of the credentials
    Schemathesis would make up from the schema's security schemes."""

    def __init__(self, key: str):
        self.key = key

    def get(self, case, context):
        return self.key

    def set(self, case, key, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Token {key}"}


@pytest.fixture
def scene(coordinator, commander, volunteer, make_volunteer, make_user, settings):
    """What the generated requests meet: the ids path parameters are drawn from, the
    values fields naming objects may get, and each role's credentials."""
    settings.SMS_INBOUND_SECRET = SMS_SECRET
    admin = make_user("admin", is_superuser=True, is_staff=True)
    other = make_volunteer(
        "13800000002", on_duty=True, last_latitude=SITE[0] + KM, last_longitude=SITE[1]
    )
    team = Team.objects.create(name="蓝天救援队", kind=Team.Kind.RESCUE)
    volunteer.teams.add(team)
    longhu = Township.objects.get(name="龙湖镇")

    def offer(need, *, volunteer=None, vehicle=None):
        pick = Pick(
            need_id=need.pk,
            resource_id=vehicle or volunteer,
            is_vehicle=vehicle is not None,
            distance_m=1000,
            eta_seconds=300,
            cost=1.0,
        )
        (made,) = dispatch_services.offers_make(need=need, picks=[pick])
        return made

    rescue = open_rescue(coordinator, count=3, township=longhu)
    rescue_need = rescue.needs.get()
    place = offer(rescue_need, volunteer=volunteer.pk)
    dispatch_services.assignment_accept(assignment_id=place.pk, volunteer=volunteer)
    others_offer = offer(rescue_need, volunteer=other.pk)
    OfferSmsCode.objects.create(assignment=others_offer, code="4822")

    second = open_rescue(coordinator, title="新村镇 泰山村 群众被困")
    second_need = second.needs.get()
    volunteers_offer = offer(second_need, volunteer=volunteer.pk)
    OfferSmsCode.objects.create(assignment=volunteers_offer, code="4821")

    boat = Vehicle.objects.create(
        call_sign="蓝天-01",
        kind=VehicleKind.BOAT,
        team=team,
        township=longhu,
        capacity=10,
        max_water_depth_m=Decimal("3.00"),
        latitude=SITE[0] + 2 * KM,
        longitude=SITE[1],
    )
    boat.crew.add(volunteer)
    evacuation = open_rescue(
        coordinator,
        kind=Incident.Kind.EVACUATION,
        title="新村镇 撤离",
        needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=1)],
    )
    evacuation_need = evacuation.needs.get()
    boat_offer = offer(evacuation_need, vehicle=boat.pk)

    resolved = open_rescue(coordinator, title="已解决")
    incident_resolve(incident=resolved, actor=coordinator, note="")

    # A briefing to the team, the volunteer on duty for the moment it is sent, and a
    # plain message to everyone on duty (the other volunteer): what the volunteer's
    # receipts reach, and what confirming a plain message is refused for.
    Volunteer.objects.filter(pk=volunteer.pk).update(on_duty=True)
    briefing = broadcast_send(
        author=coordinator,
        text="防汛安全会",
        audience=Audience.TEAM,
        team=team,
        briefing_place="龙湖镇政府",
        briefing_starts_at=timezone.now() + timedelta(hours=1),
    )
    Volunteer.objects.filter(pk=volunteer.pk).update(on_duty=False)
    message = broadcast_send(author=coordinator, text="注意安全", audience=Audience.ALL_ON_DUTY)

    incidents = [rescue.pk, second.pk, evacuation.pk, resolved.pk]
    volunteers = [volunteer.pk, other.pk]
    users = {
        "volunteer": volunteer.user,
        "commander": commander,
        "coordinator": coordinator,
        "admin": admin,
    }
    return {
        "path_ids": {
            "assignments": [place.pk, others_offer.pk, volunteers_offer.pk, boat_offer.pk],
            "incidents": incidents,
            "needs": [rescue_need.pk, second_need.pk, evacuation_need.pk, resolved.needs.get().pk],
            "volunteers": volunteers,
            "vehicles": [boat.pk],
            "broadcasts": [briefing.pk, message.pk],
            # /api/me/broadcasts/{id}/…: the only paths under /api/me/ with an id.
            "me": [briefing.pk, message.pk],
        },
        "fields": {
            "incident": incidents,
            "volunteer": volunteers,
            "vehicle": [boat.pk],
            "teams": [team.pk],
            "team": [team.pk],
            "township": [longhu.pk, volunteer.township_id],
            "skill": list(Skill.objects.values_list("code", flat=True)[:3]),
            "skills__code": ["rescue"],
            "from": [volunteer.phone, f"+86 {other.phone}", "+86 139 0000 9999"],
            "text": ["Y 4821", "N 4821", "是4822", "ｎ　４８２２", "Y 0000", "收到"],
        },
        "incident_needs": [
            {"id": incident.pk, "need_pk": need.pk}
            for incident, need in (
                (rescue, rescue_need),
                (second, second_need),
                (evacuation, evacuation_need),
            )
        ],
        "tokens": {role: Token.objects.create(user=user).key for role, user in users.items()},
        "free_the_volunteer": lambda: dispatch_services.assignment_unassign(
            assignment_id=place.pk, actor=coordinator, reason="scene: free again"
        ),
    }


def test_every_operation_is_fuzzed(api_schema):
    served = {
        (method.upper(), path)
        for path, methods in api_schema.raw_schema["paths"].items()
        for method in methods
    }
    assert served == set(OPERATIONS)


def _cases(operation, mode: GenerationMode, *, path_ids: list | None, **fixed):
    """Cases for the operation; when its path has an `{id}`, one of the scene's ids
    most of the time (a dict of the path's parameters where it has more than one), else
    Schemathesis' own."""
    if not path_ids:
        return operation.as_strategy(mode, **fixed)
    chosen = [ids if isinstance(ids, dict) else {"id": ids} for ids in path_ids]
    return st.one_of(
        *(operation.as_strategy(mode, path_parameters=ids, **fixed) for ids in chosen),
        operation.as_strategy(mode, **fixed),
    )


def _steer(value, fields: dict, draw) -> None:
    """Give some of the fields naming objects, anywhere in `value`, the scene's values
    (each a draw: Hypothesis shrinks towards leaving what was generated)."""
    if isinstance(value, dict):
        for name, item in value.items():
            if name in fields and draw(st.booleans()):
                value[name] = draw(st.sampled_from(fields[name]))
            else:
                _steer(item, fields, draw)
    elif isinstance(value, list):
        for item in value:
            _steer(item, fields, draw)


@contextmanager
def _rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_keeps_to_its_schema(api_schema, app, scene, method, path, role):
    operation = api_schema[path][method]
    fixed = {"path_ids": scene["path_ids"].get(path.split("/")[2]) if "{id}" in path else None}
    if "{need_pk}" in path:  # an incident's own need: /api/incidents/{id}/needs/{need_pk}/
        fixed["path_ids"] = scene["incident_needs"]
    if role != "anonymous":
        fixed["auth_storage"] = AuthStorage(providers=[RoleToken(scene["tokens"][role])])
        if path == "/api/sms/inbound/":
            fixed["headers"] = {SECRET_HEADER: SMS_SECRET}

    def request_and_check(case, data):
        with _rolled_back():
            if case.meta.generation.mode.is_positive:
                _steer(case.query, scene["fields"], data.draw)
                _steer(case.body, scene["fields"], data.draw)
            if data.draw(st.booleans()):
                scene["free_the_volunteer"]()
            response = case.call()
            case.validate_response(response, checks=CHECKS, transport_kwargs={"app": app})

    definition = api_schema.raw_schema["paths"][path][method.lower()]
    # Nothing to make invalid without parameters or a body (credentials are not).
    modes = [GenerationMode.POSITIVE]
    if definition.get("parameters") or definition.get("requestBody"):
        modes.append(GenerationMode.NEGATIVE)
    for mode in modes:
        run = settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )(given(case=_cases(operation, mode, **fixed), data=st.data())(request_and_check))
        run()


# --- what the fuzzing found, pinned (each of these failed before its fix) ---------------


def test_a_skill_code_with_a_nul_is_refused_not_looked_up(api, coordinator):
    rescue = {"kind": "flood_rescue", "title": "积水", "latitude": SITE[0], "longitude": SITE[1]}
    needs = [{"kind": "people", "skill": "res\x00cue", "count": 1}]

    response = api(coordinator).post("/api/incidents/", rescue | {"needs": needs}, format="json")

    assert response.status_code == 400
    assert response.json() == {"needs": {"0": {"skill": [ANY]}}}


def test_a_username_longer_than_any_is_refused_before_axes_records_it(api):
    response = api().post(
        "/api/auth/token/", {"username": "x" * 300, "password": "y"}, format="json"
    )

    assert response.status_code == 400
    assert "username" in response.json()


def test_a_form_that_leaves_out_on_duty_leaves_the_volunteer_on_duty(api, make_volunteer):
    volunteer = make_volunteer("13800000003", on_duty=True)

    response = api(volunteer.user).patch(
        "/api/me/volunteer/", {"travel_mode": "foot"}, format="multipart"
    )

    assert response.status_code == 200
    assert response.json()["on_duty"] is True
    assert response.json()["travel_mode"] == "foot"


def test_a_post_to_a_malformed_api_path_is_a_json_404_not_a_csrf_page(coordinator):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(coordinator)

    response = client.post("/api/needs/x/assign/", {"reason": "r"}, format="json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_a_post_to_the_api_root_is_a_json_405_not_a_csrf_page(coordinator):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(coordinator)

    response = client.post("/api/", {}, format="json")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("limit=abc", 400),
        ("limit=0", 400),
        ("offset=-1", 400),
        ("limit=", 200),
        ("limit=9999", 200),
    ],
)
def test_malformed_pages_are_a_400(api, commander, query, status):
    response = api(commander).get(f"/api/log/?{query}")

    assert response.status_code == status
    if status == 400:
        assert set(response.json()) <= {"limit", "offset"}


@pytest.mark.parametrize(
    ("query", "status"), [("open=1", 200), ("open=", 200), ("open=maybe", 400)]
)
def test_my_assignments_open_filter_is_validated(api, volunteer, query, status):
    assert api(volunteer.user).get(f"/api/me/assignments/?{query}").status_code == status
