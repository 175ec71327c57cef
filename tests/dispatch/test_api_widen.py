"""POST /api/needs/<id>/widen/ (issue 13): a coordinator widens a need nobody within
reach can take, and the incident's needs say when one is raised."""

import json

import pytest

from dispatch import queue, services
from dispatch.availability import index_rebuild
from dispatch.live import dashboard_snapshot
from dispatch.models import DeploymentEvent, EventKind
from incidents.models import Need
from incidents.services import incident_cancel
from tests.dispatch import scenes
from tests.dispatch.scenes import KM, SITE
from volunteers.roles import Role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("live_index")]


@pytest.fixture(autouse=True)
def _steps(settings):
    settings.ESCALATION_STEPS_KM = [20, 30]
    settings.ESCALATION_MAX_KM = 50


@pytest.fixture
def queued(monkeypatch):
    """The tasks queued once a transaction commits, as (name, args)."""
    sent = []
    monkeypatch.setattr(
        queue, "_send", lambda name, args=(), kwargs=None, **options: sent.append((name, args))
    )
    return sent


@pytest.fixture
def client(api, coordinator):
    made = api(coordinator)
    made.credentials(HTTP_ACCEPT_LANGUAGE="en")
    return made


@pytest.fixture
def unmet(coordinator, make_volunteer) -> Need:
    """A rescue whose only rescuer is 70 km away: dispatched, widened to the last step
    and raised."""
    make_volunteer(
        "13912000001",
        on_duty=True,
        last_latitude=SITE[0] + 70 * KM,
        last_longitude=SITE[1],
    )
    index_rebuild()
    need = scenes.open_rescue(coordinator, count=1).needs.get()
    services.needs_dispatch(need_ids=[need.pk])
    return need


def widen(client, need_id: int, body: dict):
    return client.post(f"/api/needs/{need_id}/widen/", body, format="json")


def widened_events() -> list[dict]:
    return list(
        DeploymentEvent.objects.filter(kind=EventKind.NEED_WIDENED, data__by="coordinator")
        .order_by("seq")
        .values_list("data", flat=True)
    )


def test_the_incident_says_its_need_is_raised_and_why(client, unmet):
    (need,) = client.get(f"/api/incidents/{unmet.incident_id}/").json()["needs"]

    assert need["reach_km"] == 50
    assert need["extra_skills"] == []
    assert need["unmet"]["reason"] == "out_of_reach"
    assert need["unmet"]["on_duty"] == 1
    assert need["unmet"]["at"]


def test_a_coordinator_widens_and_the_need_is_dispatched_again(
    client, unmet, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = widen(client, unmet.pk, {"reach_km": 80, "extra_skills": ["first_aid"]})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["reach_km"], body["extra_skills"], body["unmet"]) == (80, ["first_aid"], None)
    assert widened_events() == [
        {"by": "coordinator", "reach_km": 80, "extra_skills": ["first_aid"]}
    ]
    assert (queue.NEEDS_DISPATCH, [unmet.pk]) in [(name, args[0]) for name, args in queued]


@pytest.mark.parametrize(
    "body, complaint",
    [
        ({}, "Say how far"),
        ({"reach_km": 0}, "reach_km"),
        ({"reach_km": 501}, "reach_km"),
        ({"reach_km": "far"}, "reach_km"),
        ({"reach_km": 40}, "already reaches 50 km"),
        ({"extra_skills": ["juggling"]}, "extra_skills"),
        ({"extra_skills": "first_aid"}, "extra_skills"),
        ({"extra_skills": ["rescue"]}, "accepted already"),
    ],
)
def test_it_refuses_bad_input_with_a_message_and_changes_nothing(client, unmet, body, complaint):
    response = widen(client, unmet.pk, body)

    assert response.status_code == 400
    assert complaint in str(response.json())
    unmet.refresh_from_db()
    assert (unmet.reach_km, unmet.extra_skills.count()) == (50, 0)
    assert unmet.unmet_at is not None
    assert widened_events() == []


def test_it_refuses_a_vehicle_need(client, coordinator):
    boats = scenes.open_boat_rescue(coordinator).needs.get()

    response = widen(client, boats.pk, {"reach_km": 80})

    assert response.status_code == 400
    assert "Only a need for people" in response.json()["detail"]


def test_it_refuses_a_closed_incident_with_409(client, coordinator, unmet):
    incident_cancel(incident=unmet.incident, actor=coordinator, note="误报")

    response = widen(client, unmet.pk, {"reach_km": 80})

    assert response.status_code == 409
    assert "closed" in response.json()["detail"]
    assert widened_events() == []


def test_it_answers_404_for_an_unknown_need(client):
    assert widen(client, 999999, {"reach_km": 80}).status_code == 404


def test_only_coordinators_widen(api, make_user, volunteer, unmet):
    commander = make_user("commander2", Role.COMMANDER)
    for user in (None, volunteer.user, commander):
        response = widen(api(user), unmet.pk, {"reach_km": 80})
        assert response.status_code in (401, 403), user
    assert widened_events() == []


def test_it_is_in_the_api_schema(client):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]

    assert "post" in paths["/api/needs/{id}/widen/"]


def test_it_refuses_in_the_coordinators_language(api, coordinator, unmet):
    chinese = api(coordinator)
    chinese.credentials(HTTP_ACCEPT_LANGUAGE="zh-hans")

    response = widen(chinese, unmet.pk, {"reach_km": 40})

    assert response.status_code == 400
    assert response.json()["detail"] == "搜索范围已达 50 公里：请给出更远的距离。"


def test_the_dashboards_snapshot_carries_the_alarm(unmet):
    # What a dashboard opened (or reloaded) after the alarm gets on its socket.
    snapshot = dashboard_snapshot()

    (incident,) = [i for i in snapshot["incidents"] if i["id"] == unmet.incident_id]
    assert incident["needs"][0]["unmet"]["reason"] == "out_of_reach"
    json.dumps(snapshot)  # as the socket sends it
