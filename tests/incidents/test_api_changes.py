"""The API of changing a live incident (issue 13): PATCH /api/incidents/<id>/, and its
needs under /api/incidents/<id>/needs/."""

import pytest

from dispatch import services
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent
from incidents.services import incident_resolve
from tests.dispatch.scenes import SITE, open_rescue

pytestmark = pytest.mark.django_db


def kinds(incident) -> list[str]:
    return list(
        DeploymentEvent.objects.filter(incident=incident)
        .order_by("seq")
        .values_list("kind", flat=True)
    )


def need_url(incident, need=None, tail="") -> str:
    need = need or incident.needs.get()
    return f"/api/incidents/{incident.pk}/needs/{need.pk}/{tail}"


# --- the incident -----------------------------------------------------------------------


def test_a_coordinator_changes_the_priority_and_words(api, coordinator):
    incident = open_rescue(coordinator)

    response = api(coordinator).patch(
        f"/api/incidents/{incident.pk}/",
        {"priority": 3, "description": "二楼有老人"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["priority"], response.json()["description"]) == (3, "二楼有老人")
    assert kinds(incident)[-1] == "incident.changed"


def test_a_new_place_needs_both_coordinates(api, coordinator):
    incident = open_rescue(coordinator)

    response = api(coordinator).patch(
        f"/api/incidents/{incident.pk}/", {"latitude": SITE[0] + 0.01}, format="json"
    )

    assert response.status_code == 400
    assert "longitude" in response.json()
    assert kinds(incident) == ["incident.opened"]


def test_a_new_place_is_recorded_with_its_precision(api, coordinator):
    incident = open_rescue(coordinator)

    response = api(coordinator).patch(
        f"/api/incidents/{incident.pk}/",
        {"latitude": SITE[0] + 0.01, "longitude": SITE[1], "address": "107国道 K12"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["address"], body["location_precision"]) == ("107国道 K12", "point")
    assert body["latitude"] == pytest.approx(SITE[0] + 0.01)


@pytest.mark.parametrize("body", [{}, {"priority": 7}, {"people_affected": -1}, {"title": ""}])
def test_bad_changes_are_refused_and_change_nothing(api, coordinator, body):
    incident = open_rescue(coordinator)

    response = api(coordinator).patch(f"/api/incidents/{incident.pk}/", body, format="json")

    assert response.status_code == 400
    assert response.json()
    assert kinds(incident) == ["incident.opened"]


def test_only_coordinators_change_an_incident(api, coordinator, commander):
    incident = open_rescue(coordinator)

    response = api(commander).patch(
        f"/api/incidents/{incident.pk}/", {"priority": 1}, format="json"
    )

    assert response.status_code == 403
    assert api(commander).get(f"/api/incidents/{incident.pk}/").status_code == 200


def test_a_closed_incident_is_a_conflict(api, coordinator):
    incident = open_rescue(coordinator)
    incident_resolve(incident=incident, actor=coordinator)

    response = api(coordinator).patch(
        f"/api/incidents/{incident.pk}/", {"priority": 1}, format="json"
    )

    assert response.status_code == 409
    assert "detail" in response.json()


# --- needs ------------------------------------------------------------------------------


def test_a_coordinator_adds_a_need(api, coordinator):
    incident = open_rescue(coordinator)

    response = api(coordinator).post(
        f"/api/incidents/{incident.pk}/needs/",
        {"kind": "vehicle", "vehicle_kind": "boat", "count": 2},
        format="json",
    )

    assert response.status_code == 201, response.json()
    needs = response.json()["needs"]
    assert [(need["kind"], need["count"]) for need in needs] == [("people", 1), ("vehicle", 2)]
    assert kinds(incident)[-1] == "need.added"


def test_an_added_need_of_the_wrong_shape_names_the_field(api, coordinator):
    incident = open_rescue(coordinator)

    response = api(coordinator).post(
        f"/api/incidents/{incident.pk}/needs/", {"kind": "people", "count": 2}, format="json"
    )

    assert response.status_code == 400
    assert "skill" in response.json()
    assert incident.needs.count() == 1


def test_a_retried_add_with_the_same_key_adds_one_need(api, coordinator):
    incident = open_rescue(coordinator)
    client = api(coordinator)
    body = {"kind": "vehicle", "vehicle_kind": "truck"}

    answers = [
        client.post(
            f"/api/incidents/{incident.pk}/needs/",
            body,
            format="json",
            headers={"idempotency-key": "add-truck-1"},
        )
        for _ in range(2)
    ]

    assert [answer.status_code for answer in answers] == [201, 201]
    assert incident.needs.count() == 2


def test_a_coordinator_enlarges_and_reduces_a_need(api, coordinator, rescuers):
    incident = open_rescue(coordinator, count=2)
    client = api(coordinator)

    enlarged = client.patch(need_url(incident), {"count": 4}, format="json")
    reduced = client.patch(need_url(incident), {"count": 1}, format="json")

    assert enlarged.status_code == reduced.status_code == 200
    assert reduced.json()["needs"][0]["count"] == 1
    assert kinds(incident)[-2:] == ["need.changed", "need.changed"]


def test_a_need_is_resized_by_its_own_measure(api, coordinator):
    incident = open_rescue(coordinator)

    response = api(coordinator).patch(need_url(incident), {"people_to_move": 30}, format="json")

    assert response.status_code == 400
    assert "people_to_move" in response.json()


@pytest.mark.parametrize("body", [{}, {"count": 0}, {"count": 501}, {"count": "many"}])
def test_a_bad_size_is_refused(api, coordinator, body):
    incident = open_rescue(coordinator)

    response = api(coordinator).patch(need_url(incident), body, format="json")

    assert response.status_code == 400
    assert incident.needs.get().count == 1


def test_a_need_of_another_incident_is_not_found(api, coordinator):
    one, other = open_rescue(coordinator), open_rescue(coordinator)

    response = api(coordinator).patch(
        f"/api/incidents/{one.pk}/needs/{other.needs.get().pk}/", {"count": 2}, format="json"
    )

    assert response.status_code == 404


def test_a_coordinator_cancels_a_need_with_a_reason(api, coordinator, rescuers):
    incident = open_rescue(coordinator)
    client = api(coordinator)
    client.post(
        f"/api/incidents/{incident.pk}/needs/",
        {"kind": "people", "skill": "rescue"},
        format="json",
    )
    first = incident.needs.order_by("pk").first()
    services.incident_dispatch(incident_id=incident.pk)

    no_reason = client.post(need_url(incident, first, "cancel/"), {}, format="json")
    cancelled = client.post(
        need_url(incident, first, "cancel/"), {"reason": "已找到"}, format="json"
    )
    again = client.post(need_url(incident, first, "cancel/"), {"reason": "已找到"}, format="json")

    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    assert cancelled.status_code == 200, cancelled.json()
    assert cancelled.json()["needs"][0]["cancelled_at"]
    assert not Assignment.objects.filter(need=first, status=AssignmentStatus.OFFERED).exists()
    assert again.status_code == 409


def test_the_last_need_is_not_cancelled(api, coordinator):
    incident = open_rescue(coordinator)

    response = api(coordinator).post(
        need_url(incident, tail="cancel/"), {"reason": "误报"}, format="json"
    )

    assert response.status_code == 400
    assert "need" in response.json()


def test_volunteers_change_no_need(api, coordinator, volunteer):
    incident = open_rescue(coordinator)

    response = api(volunteer.user).patch(need_url(incident), {"count": 3}, format="json")

    assert response.status_code == 403
    assert incident.needs.get().count == 1
