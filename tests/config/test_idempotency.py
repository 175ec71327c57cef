"""Idempotency keys (config/idempotency): a creating POST retried with the same key
gets its first answer and creates nothing more (issue 10, defect 2: clients that retried
after a 500 created up to three copies of one incident)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from config.idempotency.models import IdempotencyKey
from config.idempotency.services import idempotency_keys_expire
from dispatch.models import Assignment
from incidents.models import Incident
from tests.dispatch.scenes import KM, SITE, open_rescue
from tests.dispatch.test_services import backend_pid, blocked_by
from tests.processes import wait_until
from volunteers.roles import Role

RESCUE = {
    "kind": "flood_rescue",
    "title": "龙湖镇 积水 群众被困",
    "latitude": SITE[0],
    "longitude": SITE[1],
    "priority": 4,
    "needs": [{"kind": "people", "skill": "rescue", "count": 2}],
}


def post(client, url, body, key=None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(url, body, format="json", headers=headers)


@pytest.mark.django_db
def test_it_answers_a_retry_with_the_first_answer_and_creates_nothing(api, coordinator):
    client = api(coordinator)

    first = post(client, "/api/incidents/", RESCUE, key="3f6c1a52-retry")
    again = post(client, "/api/incidents/", RESCUE, key="3f6c1a52-retry")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_it_creates_again_without_a_key_or_with_a_new_one(api, coordinator):
    client = api(coordinator)

    post(client, "/api/incidents/", RESCUE)
    post(client, "/api/incidents/", RESCUE)
    post(client, "/api/incidents/", RESCUE, key="one")
    post(client, "/api/incidents/", RESCUE, key="two")

    assert Incident.objects.count() == 4


@pytest.mark.django_db
def test_it_refuses_the_same_key_with_another_body_with_a_json_422(api, coordinator):
    client = api(coordinator)
    post(client, "/api/incidents/", RESCUE, key="k1")

    other = post(client, "/api/incidents/", {**RESCUE, "title": "另一处"}, key="k1")

    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_it_keeps_keys_apart_by_user_and_path(api, coordinator, make_user):
    other_coordinator = make_user("coordinator-2", Role.COORDINATOR)

    post(api(coordinator), "/api/incidents/", RESCUE, key="same")
    theirs = post(api(other_coordinator), "/api/incidents/", RESCUE, key="same")

    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert Incident.objects.count() == 2


@pytest.mark.django_db
def test_it_stores_nothing_for_a_refused_request(api, coordinator):
    client = api(coordinator)

    refused = post(client, "/api/incidents/", {**RESCUE, "latitude": 91}, key="k")
    fixed = post(client, "/api/incidents/", {**RESCUE, "latitude": 91}, key="k")

    assert refused.status_code == fixed.status_code == 400
    assert IdempotencyKey.objects.count() == 0
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_it_rolls_the_key_back_with_a_failed_creation(api, coordinator, monkeypatch):
    """The key and the creation commit together: a crash between the two cannot leave a
    key whose incident does not exist (the retry would be answered with nothing made)."""
    from incidents import api as incidents_api

    def crash(**kwargs):
        raise RuntimeError("the server died mid-request")

    monkeypatch.setattr(incidents_api, "incident_open", crash)
    client = api(coordinator)
    client.raise_request_exception = False

    assert post(client, "/api/incidents/", RESCUE, key="k").status_code == 500
    assert IdempotencyKey.objects.count() == 0

    monkeypatch.undo()
    retried = post(client, "/api/incidents/", RESCUE, key="k")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert Incident.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", " ", "x" * 256, "ключ", "a\tb"])
def test_it_refuses_a_malformed_key_with_a_400(api, coordinator, key):
    response = post(api(coordinator), "/api/incidents/", RESCUE, key=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_it_answers_a_retried_manual_assignment_with_the_first(
    api, coordinator, make_volunteer, live_index
):
    rescuer = make_volunteer(
        "13900000001", on_duty=True, last_latitude=SITE[0] + KM, last_longitude=SITE[1]
    )
    need = open_rescue(coordinator, count=2).needs.get()
    client = api(coordinator)
    body = {"volunteer": rescuer.pk, "reason": "电话确认"}
    url = f"/api/needs/{need.pk}/assign/"

    first = post(client, url, body, key="assign-1")
    again = post(client, url, body, key="assign-1")
    other = post(client, url, {**body, "reason": "另一个"}, key="assign-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert other.status_code == 422
    assert Assignment.objects.filter(need=need).count() == 1


@pytest.mark.django_db
def test_it_forgets_keys_after_their_time(api, coordinator, settings):
    settings.IDEMPOTENCY_KEY_HOURS = 24
    client = api(coordinator)
    post(client, "/api/incidents/", RESCUE, key="old")
    post(client, "/api/incidents/", RESCUE, key="new")
    IdempotencyKey.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))

    assert idempotency_keys_expire() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_makes_a_retry_racing_the_first_request_wait_for_it_and_replay_it(
    coordinator, monkeypatch
):
    """The client gave up waiting and retried while the first request was still
    running: the retry waits on the first's key row and answers with its result."""
    from incidents import api as incidents_api

    started, release = threading.Event(), threading.Event()
    real_open = incidents_api.incident_open

    def slow_open(**kwargs):
        incident = real_open(**kwargs)
        started.set()
        release.wait(10)
        return incident

    monkeypatch.setattr(incidents_api, "incident_open", slow_open)
    answers = {}

    pids = {}

    def send(name):
        try:
            pids[name] = backend_pid()
            client = APIClient()
            client.force_authenticate(coordinator)
            answers[name] = post(client, "/api/incidents/", RESCUE, key="raced")
        finally:
            connection.close()

    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert started.wait(10)
    retry = threading.Thread(target=send, args=("retry",))
    retry.start()
    # The retry waits on the first's key row: PostgreSQL says so (a probe, not a pause).
    wait_until(
        lambda: "retry" in pids and pids["first"] in blocked_by(pids["retry"]),
        timeout=10,
        what="the retry to wait for the first request's key",
    )
    assert "retry" not in answers
    release.set()
    first.join(10)
    retry.join(10)

    assert answers["first"].status_code == answers["retry"].status_code == 201
    assert answers["retry"].json() == answers["first"].json()
    assert answers["retry"].headers["Idempotent-Replayed"] == "true"
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_it_documents_the_header_in_the_schema(api, coordinator):
    schema = api(coordinator).get("/api/schema/", {"format": "json"}).json()

    for path in ("/api/incidents/", "/api/needs/{id}/assign/"):
        parameters = schema["paths"][path]["post"]["parameters"]
        header = next(p for p in parameters if p["name"] == "Idempotency-Key")
        assert header["in"] == "header"
        assert not header.get("required", False)
        assert "422" in schema["paths"][path]["post"]["responses"]
