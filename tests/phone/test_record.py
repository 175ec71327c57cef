"""A volunteer's own record of service on the phone (/phone/record/) and in the REST API
(/api/me/hours/): their own tasks and hours only, in both languages."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.dispatch.test_reports import build_scene, frozen_clock

pytestmark = [pytest.mark.usefixtures("live_index"), pytest.mark.django_db]


@pytest.fixture
def scene(coordinator, make_volunteer):
    return build_scene(coordinator=coordinator, make_volunteer=make_volunteer)


def signed_in(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def test_it_shows_a_volunteer_their_own_record(scene):
    with frozen_clock("2021-07-31 12:00:00"):
        response = signed_in(scene.people["r1"].user).get(reverse("phone:record"))

    page = response.content.decode()
    assert response.status_code == 200
    record = response.context["record"]
    assert (record.month.person_times, str(record.month.hours)) == (1, "2.0")  # 7140 s
    assert 'id="record-month"' in page and "<b>2.0</b>" in page
    assert "龙湖镇 泰山村 群众被困" in page
    # Only their own: the samplers' testing site is not theirs.
    assert "核酸采样点" not in page


def test_it_shows_a_crew_member_the_boat_they_took(scene):
    with frozen_clock("2021-07-31 12:00:00"):
        response = signed_in(scene.people["b1"].user).get(reverse("phone:record"))

    (task,) = response.context["last"]
    assert task["served"].vehicle.startswith("蓝天-01")
    assert str(task["served"].hours) == "1.6"  # 5910 s


def test_it_shows_someone_who_never_went_an_empty_record(scene):
    response = signed_in(scene.people["r2"].user).get(reverse("phone:record"))

    assert response.context["record"].year.person_times == 0
    assert "No tasks served yet." in response.content.decode()


def test_it_is_linked_from_the_phone_page(scene):
    page = signed_in(scene.people["r1"].user).get(reverse("phone:home")).content.decode()

    assert f'href="{reverse("phone:record")}"' in page


def test_it_is_for_volunteers_only(scene, commander):
    assert signed_in(commander).get(reverse("phone:record")).status_code == 403
    response = Client().get(reverse("phone:record"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("phone:login"))


def test_it_speaks_chinese(scene):
    with frozen_clock("2021-07-31 12:00:00"):
        page = signed_in(scene.people["r1"].user, "zh-hans").get(reverse("phone:record"))

    text = page.content.decode()
    assert "我的服务记录" in text
    assert "本月" in text and "2021年" in text


# --- REST ---------------------------------------------------------------------------------


def test_the_api_gives_a_volunteer_their_hours(scene, api):
    response = api(scene.people["s1"].user).get("/api/me/hours/")

    body = response.json()
    assert response.status_code == 200
    assert (body["person_times"], body["hours"], body["ongoing"]) == (1, "4.0", 0)
    (task,) = body["tasks"]
    assert task["incident"] == scene.testing.pk
    assert task["started_at"].startswith("2021-07-22T08:00:00")


def test_the_api_narrows_to_days(scene, api):
    client = api(scene.people["s1"].user)

    booking_day = client.get("/api/me/hours/?from=2021-07-21&to=2021-07-21").json()
    shift_day = client.get("/api/me/hours/?from=2021-07-22&to=2021-07-22").json()

    assert booking_day["person_times"] == 0
    assert shift_day["person_times"] == 1


@pytest.mark.parametrize("query", ["from=nope", "to=2021-13-01", "from=2021-07-22&to=2021-07-21"])
def test_the_api_refuses_bad_days(scene, api, query):
    response = api(scene.people["s1"].user).get(f"/api/me/hours/?{query}")

    assert response.status_code == 400


def test_the_api_is_for_volunteers_only(scene, api, commander):
    assert api(commander).get("/api/me/hours/").status_code == 403
    assert api(None).get("/api/me/hours/").status_code == 403
