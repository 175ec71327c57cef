from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from dispatch.models import DeploymentEvent, EventKind
from tests.conftest import DEMO_PASSWORD
from volunteers.models import Skill, Team, Township, Vehicle, VehicleKind, Volunteer
from volunteers.roles import Role

ME = "/api/me/"
MY_PROFILE = "/api/me/volunteer/"
VOLUNTEERS = "/api/volunteers/"
VEHICLES = "/api/vehicles/"


def profile_row(volunteer) -> tuple:
    """What a volunteer can change about themselves, as stored."""
    return tuple(
        Volunteer.objects.filter(pk=volunteer.pk).values_list(
            "on_duty",
            "travel_mode",
            "travel_range_km",
            "last_latitude",
            "last_longitude",
            "last_located_at",
        )[0]
    )


def ids(response) -> list[int]:
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return sorted(row["id"] for row in rows)


@pytest.fixture
def boat(township):
    return Vehicle.objects.create(
        call_sign="蓝天-舟01",
        kind=VehicleKind.BOAT,
        township=township,
        capacity=8,
        max_water_depth_m=Decimal("2.5"),
    )


# --- a volunteer's own profile ------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_a_volunteer_their_own_profile(api, volunteer, make_volunteer):
    make_volunteer("13800000002")

    response = api(volunteer.user).get(MY_PROFILE)

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["phone"], body["skills"]) == (volunteer.pk, "13800000001", ["rescue"])
    assert (body["on_duty"], body["travel_mode"], body["travel_range_km"]) == (False, "car", 15)


@pytest.mark.django_db
def test_it_puts_a_volunteer_on_duty_and_logs_it(api, volunteer):
    response = api(volunteer.user).patch(MY_PROFILE, {"on_duty": True}, format="json")

    assert response.status_code == 200
    assert response.json()["on_duty"] is True
    assert Volunteer.objects.get(pk=volunteer.pk).on_duty is True
    event = DeploymentEvent.objects.get()
    assert (event.kind, event.volunteer_id, event.actor_id) == (
        EventKind.VOLUNTEER_ON_DUTY,
        volunteer.pk,
        volunteer.user_id,
    )


@pytest.mark.django_db
def test_it_takes_a_volunteer_off_duty_and_logs_it(api, make_volunteer):
    volunteer = make_volunteer("13800000002", on_duty=True)

    response = api(volunteer.user).patch(MY_PROFILE, {"on_duty": False}, format="json")

    assert response.status_code == 200
    assert Volunteer.objects.get(pk=volunteer.pk).on_duty is False
    assert list(DeploymentEvent.objects.values_list("kind", flat=True)) == [
        EventKind.VOLUNTEER_OFF_DUTY
    ]


@pytest.mark.django_db
def test_it_logs_nothing_when_a_volunteer_repeats_their_duty_state(api, volunteer):
    client = api(volunteer.user)

    client.patch(MY_PROFILE, {"on_duty": True}, format="json")
    response = client.patch(MY_PROFILE, {"on_duty": True}, format="json")

    assert response.status_code == 200
    assert DeploymentEvent.objects.count() == 1


@pytest.mark.django_db
def test_it_stores_where_a_volunteer_is(api, volunteer):
    response = api(volunteer.user).patch(
        MY_PROFILE, {"latitude": 34.61, "longitude": 113.68}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["last_latitude"], body["last_longitude"]) == (34.61, 113.68)
    assert body["last_located_at"] is not None
    on_duty, _, _, latitude, longitude, located_at = profile_row(volunteer)
    assert (on_duty, latitude, longitude) == (False, 34.61, 113.68)
    assert located_at is not None
    assert not DeploymentEvent.objects.exists()


@pytest.mark.django_db
def test_it_stores_how_and_how_far_a_volunteer_travels(api, volunteer):
    response = api(volunteer.user).patch(
        MY_PROFILE, {"travel_mode": "boat", "travel_range_km": 40}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["travel_mode"], response.json()["travel_range_km"]) == ("boat", 40)
    assert profile_row(volunteer)[:3] == (False, "boat", 40)


@pytest.mark.django_db
def test_it_updates_everything_a_volunteer_sends_together(api, volunteer):
    response = api(volunteer.user).patch(
        MY_PROFILE,
        {
            "on_duty": True,
            "latitude": 34.40,
            "longitude": 113.74,
            "travel_mode": "foot",
            "travel_range_km": 3.5,
        },
        format="json",
    )

    assert response.status_code == 200
    assert profile_row(volunteer)[:5] == (True, "foot", 3.5, 34.40, 113.74)
    assert DeploymentEvent.objects.get().kind == EventKind.VOLUNTEER_ON_DUTY


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"latitude": 91, "longitude": 113.68}, "latitude"),
        ({"latitude": 34.61, "longitude": -180.5}, "longitude"),
        ({"latitude": 34.61}, "location"),
        ({"longitude": 113.68}, "location"),
        ({"travel_range_km": 0}, "travel_range_km"),
        ({"travel_range_km": -3}, "travel_range_km"),
        ({"travel_range_km": 501}, "travel_range_km"),
        ({"travel_range_km": "far"}, "travel_range_km"),
        ({"travel_mode": "rocket"}, "travel_mode"),
        ({"on_duty": "maybe"}, "on_duty"),
        ({}, "detail"),
        ([{"on_duty": True}], "non_field_errors"),
    ],
    ids=[
        "latitude-91",
        "longitude-out-of-range",
        "latitude-alone",
        "longitude-alone",
        "range-0",
        "range-negative",
        "range-too-far",
        "range-not-a-number",
        "mode-rocket",
        "duty-maybe",
        "empty",
        "not-an-object",
    ],
)
def test_it_refuses_bad_input_and_changes_nothing(api, volunteer, body, field):
    before = profile_row(volunteer)
    # Valid parts sent along with the bad one must not be stored either.
    if isinstance(body, dict) and body and "on_duty" not in body:
        body = {**body, "on_duty": True}

    response = api(volunteer.user).patch(MY_PROFILE, body, format="json")

    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field]
    assert errors[field] and all(message for message in errors[field])
    assert profile_row(volunteer) == before
    assert not DeploymentEvent.objects.exists()


@pytest.mark.django_db
def test_it_names_both_coordinates_when_one_is_missing(api, volunteer):
    client = api(volunteer.user)
    client.credentials(HTTP_ACCEPT_LANGUAGE="en")

    response = client.patch(MY_PROFILE, {"latitude": 34.61}, format="json")

    assert response.status_code == 400
    message = response.json()["location"][0]
    assert "latitude" in message
    assert "longitude" in message


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ['{"on_duty": tru', "on_duty=true", "NaN"])
def test_it_refuses_a_body_that_is_not_json(api, volunteer, raw):
    before = profile_row(volunteer)

    response = api(volunteer.user).generic(
        "PATCH", MY_PROFILE, raw, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["detail"]
    assert profile_row(volunteer) == before


@pytest.mark.django_db
def test_it_answers_in_english_when_asked(api, volunteer):
    client = api(volunteer.user)
    client.credentials(HTTP_ACCEPT_LANGUAGE="en")

    response = client.patch(MY_PROFILE, {"travel_range_km": 0}, format="json")

    assert response.json() == {
        "travel_range_km": ["Ensure this value is greater than or equal to 0.1."]
    }


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["coordinator", "commander"])
def test_it_refuses_the_volunteer_profile_to_staff_without_one(api, request, role):
    user = request.getfixturevalue(role)
    client = api(user)

    assert client.get(MY_PROFILE).status_code == 403
    assert client.patch(MY_PROFILE, {"on_duty": True}, format="json").status_code == 403
    assert not DeploymentEvent.objects.exists()


# --- who sees whom -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", [VOLUNTEERS, VEHICLES, "/api/teams/", "/api/volunteers/{id}/"], ids=str
)
def test_it_refuses_a_volunteer_the_lists_of_people_and_vehicles(api, volunteer, boat, url):
    response = api(volunteer.user).get(url.format(id=volunteer.pk))

    assert response.status_code == 403
    assert response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        ME,
        MY_PROFILE,
        VOLUNTEERS,
        "/api/volunteers/1/",
        VEHICLES,
        "/api/teams/",
        "/api/skills/",
        "/api/townships/",
    ],
)
def test_it_refuses_anonymous_requests(api, url):
    # Session authentication comes first and sends no WWW-Authenticate challenge, so
    # DRF answers 403 rather than 401.
    response = api().get(url)

    assert response.status_code == 403
    assert response.json()["detail"]


@pytest.mark.django_db
def test_it_refuses_an_anonymous_profile_update(api, volunteer):
    response = api().patch(MY_PROFILE, {"on_duty": True}, format="json")

    assert response.status_code == 403
    assert Volunteer.objects.get(pk=volunteer.pk).on_duty is False


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["coordinator", "commander"])
def test_it_lists_volunteers_for_coordinators_and_commanders(api, request, make_volunteer, role):
    volunteers = [make_volunteer(f"1380000000{n}") for n in range(1, 4)]

    response = api(request.getfixturevalue(role)).get(VOLUNTEERS)

    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert ids(response) == sorted(v.pk for v in volunteers)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["coordinator", "commander"])
def test_it_filters_volunteers_by_duty(api, request, make_volunteer, role):
    on = make_volunteer("13800000001", on_duty=True)
    off = make_volunteer("13800000002", on_duty=False)
    client = api(request.getfixturevalue(role))

    assert ids(client.get(VOLUNTEERS, {"on_duty": "true"})) == [on.pk]
    assert ids(client.get(VOLUNTEERS, {"on_duty": "false"})) == [off.pk]


@pytest.mark.django_db
def test_it_filters_volunteers_by_township(api, commander, make_volunteer):
    longhu = Township.objects.get(name="龙湖镇")
    downtown = make_volunteer("13800000001")
    north = make_volunteer("13800000002", township=longhu)

    client = api(commander)

    assert ids(client.get(VOLUNTEERS, {"township": longhu.pk})) == [north.pk]
    assert ids(client.get(VOLUNTEERS, {"township": downtown.township_id})) == [downtown.pk]


@pytest.mark.django_db
def test_it_filters_volunteers_by_skill(api, coordinator, make_volunteer):
    swimmer = make_volunteer("13800000001", skills=("water_rescue", "first_aid"))
    make_volunteer("13800000002", skills=("first_aid",))
    make_volunteer("13800000003", skills=())

    response = api(coordinator).get(VOLUNTEERS, {"skills__code": "water_rescue"})

    assert ids(response) == [swimmer.pk]
    assert response.json()["results"][0]["skills"] == ["first_aid", "water_rescue"]


@pytest.mark.django_db
def test_it_combines_volunteer_filters(api, coordinator, make_volunteer):
    wanted = make_volunteer("13800000001", skills=("water_rescue",), on_duty=True)
    make_volunteer("13800000002", skills=("water_rescue",), on_duty=False)
    make_volunteer("13800000003", skills=("first_aid",), on_duty=True)

    response = api(coordinator).get(VOLUNTEERS, {"on_duty": "1", "skills__code": "water_rescue"})

    assert ids(response) == [wanted.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", [f"{VOLUNTEERS}?township=abc", f"{VOLUNTEERS}?teams=abc", f"{VEHICLES}?township=abc"]
)
def test_it_answers_a_malformed_filter_with_a_400(api, coordinator, url):
    client = api(coordinator)
    client.raise_request_exception = False

    response = client.get(url)

    assert response.status_code == 400
    assert response.json()


@pytest.mark.django_db
def test_it_shows_one_volunteer_to_coordinators(api, coordinator, volunteer):
    response = api(coordinator).get(f"{VOLUNTEERS}{volunteer.pk}/")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["name"]) == (volunteer.pk, volunteer.name)


@pytest.mark.django_db
def test_it_answers_404_for_a_volunteer_that_does_not_exist(api, commander):
    response = api(commander).get(f"{VOLUNTEERS}99999/")

    assert response.status_code == 404
    assert response.json()["detail"]


@pytest.mark.django_db
def test_it_lists_vehicles_for_coordinators(api, coordinator, township, boat):
    truck = Vehicle.objects.create(
        call_sign="蓝天-卡01",
        kind=VehicleKind.TRUCK,
        township=township,
        capacity=20,
        max_water_depth_m=Decimal("0.8"),
    )
    client = api(coordinator)

    assert ids(client.get(VEHICLES)) == sorted([boat.pk, truck.pk])
    boats = client.get(VEHICLES, {"kind": "boat"}).json()["results"]
    assert [(v["call_sign"], v["max_water_depth_m"]) for v in boats] == [("蓝天-舟01", "2.50")]


@pytest.mark.django_db
def test_it_lists_teams_for_commanders(api, commander, township):
    team = Team.objects.create(name="蓝天救援队", kind=Team.Kind.RESCUE, township=township)

    response = api(commander).get("/api/teams/")

    assert response.status_code == 200
    assert response.json() == [
        {"id": team.pk, "name": "蓝天救援队", "kind": "rescue", "township": township.pk}
    ]


@pytest.mark.django_db
def test_it_lists_skills_and_townships_for_everyone_signed_in(api, volunteer):
    client = api(volunteer.user)

    skills = client.get("/api/skills/")
    townships = client.get("/api/townships/")

    assert skills.status_code == townships.status_code == 200
    assert {"code": "water_rescue", "name_zh": "水域救援", "name_en": "Water rescue"} in (
        skills.json()
    )
    assert len(skills.json()) == Skill.objects.count()
    names = [township["name"] for township in townships.json()]
    assert len(names) == 15
    assert "龙湖镇" in names


# --- who am I, and tokens --------------------------------------------------------------------


@pytest.mark.django_db
def test_it_tells_a_volunteer_their_roles_and_profile(api, volunteer):
    response = api(volunteer.user).get(ME)

    assert response.status_code == 200
    body = response.json()
    assert (body["username"], body["roles"]) == ("13800000001", ["volunteer"])
    assert body["volunteer"]["id"] == volunteer.pk


@pytest.mark.django_db
def test_it_tells_a_coordinator_their_roles_and_no_profile(api, coordinator):
    assert api(coordinator).get(ME).json() == {
        "username": "coordinator",
        "roles": ["coordinator"],
        "volunteer": None,
    }


@pytest.mark.django_db
def test_it_lists_every_role_a_user_holds(api, make_user):
    user = make_user("duty-officer", Role.COORDINATOR, Role.COMMANDER)

    assert api(user).get(ME).json()["roles"] == ["commander", "coordinator"]


@pytest.mark.django_db
def test_it_gives_a_superuser_every_role(api):
    admin = User.objects.create_superuser("admin", password=DEMO_PASSWORD)

    assert api(admin).get(ME).json()["roles"] == ["admin", "commander", "coordinator", "volunteer"]


@pytest.mark.django_db
def test_it_authenticates_with_a_token_from_username_and_password(volunteer):
    client = APIClient()
    response = client.post(
        "/api/auth/token/",
        {"username": "13800000001", "password": DEMO_PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    token = response.json()["token"]

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = client.get(ME)
    update = client.patch(MY_PROFILE, {"on_duty": True}, format="json")

    assert me.status_code == 200
    assert me.json()["username"] == "13800000001"
    assert update.status_code == 200
    assert Volunteer.objects.get(pk=volunteer.pk).on_duty is True


@pytest.mark.django_db
def test_it_gives_the_same_token_twice(volunteer):
    credentials = {"username": "13800000001", "password": DEMO_PASSWORD}

    first = APIClient().post("/api/auth/token/", credentials, format="json").json()["token"]
    second = APIClient().post("/api/auth/token/", credentials, format="json").json()["token"]

    assert first == second


@pytest.mark.django_db
def test_it_refuses_a_token_for_a_wrong_password(volunteer):
    client = APIClient()
    client.credentials(HTTP_ACCEPT_LANGUAGE="en")

    response = client.post(
        "/api/auth/token/", {"username": "13800000001", "password": "wrong"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert "token" not in response.json()


@pytest.mark.django_db
def test_it_refuses_a_made_up_token(volunteer):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")

    response = client.get(ME)

    # A bad token is an authentication failure; with SessionAuthentication listed first
    # DRF answers it with 403 as well.
    assert response.status_code == 403
    assert response.json()["detail"]


# --- least data (issue 10) ------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_commanders_no_phone_and_no_position(api, commander, make_volunteer):
    on_duty = make_volunteer("13800000007", on_duty=True, last_latitude=34.6, last_longitude=113.7)

    listed = api(commander).get(VOLUNTEERS).json()["results"][0]
    one = api(commander).get(f"{VOLUNTEERS}{on_duty.pk}/").json()

    for body in (listed, one):
        assert body["name"] == on_duty.name
        assert not {"phone", "home_latitude", "last_latitude", "last_located_at"} & set(body)


@pytest.mark.django_db
def test_it_shows_coordinators_where_volunteers_are_only_while_on_duty(
    api, coordinator, make_volunteer
):
    at = {"last_latitude": 34.6, "last_longitude": 113.7, "home_latitude": 34.4}
    working = make_volunteer("13800000007", on_duty=True, home_longitude=113.7, **at)
    resting = make_volunteer("13800000008", on_duty=False, home_longitude=113.7, **at)

    rows = {row["id"]: row for row in api(coordinator).get(VOLUNTEERS).json()["results"]}

    assert rows[working.pk]["phone"] == "13800000007"
    assert (rows[working.pk]["last_latitude"], rows[working.pk]["last_longitude"]) == (34.6, 113.7)
    assert (rows[resting.pk]["last_latitude"], rows[resting.pk]["last_longitude"]) == (None, None)
    assert rows[resting.pk]["phone"] == "13800000008"  # to call them in
    assert "home_latitude" not in rows[working.pk]


@pytest.mark.django_db
def test_it_never_gives_more_than_a_page_of_rows(api, coordinator, make_volunteer):
    for n in range(7):
        make_volunteer(f"1380000010{n}")
    with mock.patch("config.pagination.CappedLimitOffsetPagination.max_limit", 5):
        page = api(coordinator).get(VOLUNTEERS, {"limit": 100000}).json()

    assert len(page["results"]) == 5
    assert page["count"] == 7
    assert page["next"] is not None
