"""What the web side says when a part is down or the input is bad (issue 10, defects 2
and 7): /healthz stays 200 while the database answers and names what is down; every
5xx from /api/ is JSON; a malformed filter is a 400, never a 500."""

import pytest
from django.db import OperationalError

from config import views
from tests.dispatch.scenes import open_rescue
from tests.redis_server import private_redis
from volunteers.models import Township, Volunteer
from volunteers.roles import Role


@pytest.fixture
def redis_down(settings):
    """Every Redis part of the settings (channel layer, broker, index) on a Redis that
    was started and then killed: a port where nothing answers any more."""
    with private_redis() as server:
        server.kill()
        settings.EMBEDDED = False
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [{"address": server.url(0)}], "prefix": "tongxin-down"},
            }
        }
        settings.CELERY_BROKER_URL = server.url(1)
        settings.LOCATION_INDEX_URL = server.url(2)
        yield server


@pytest.mark.django_db
def test_it_stays_healthy_while_redis_is_down_and_says_so(client, redis_down):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "down",
        "channel_layer": "down",
        "broker": "down",
        "location_index": "down",
        "channel_sends_dropped": None,
    }


@pytest.mark.redis
@pytest.mark.django_db
def test_it_reports_every_part_up(client):
    body = client.get("/healthz").json()

    assert {name: body[name] for name in ("status", "database", "redis")} == {
        "status": "ok",
        "database": "ok",
        "redis": "ok",
    }
    assert body["channel_layer"] == body["broker"] == body["location_index"] == "ok"
    assert isinstance(body["channel_sends_dropped"], int)


@pytest.mark.django_db
def test_it_answers_503_when_the_database_does_not(client, monkeypatch):
    def refuse():
        raise OperationalError("connection refused")

    monkeypatch.setattr(views, "connection", type("Down", (), {"cursor": staticmethod(refuse)}))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "down"
    assert response.json()["database"] == "down"


@pytest.mark.django_db
def test_it_answers_a_crash_in_an_api_view_with_json(api, coordinator, monkeypatch):
    from incidents import api as incidents_api

    def crash():
        raise RuntimeError("a bug")

    monkeypatch.setattr(incidents_api, "incidents_with_needs", crash)
    client = api(coordinator)
    client.raise_request_exception = False

    response = client.get("/api/incidents/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert "Server error" in response.json()["detail"]


@pytest.mark.django_db
def test_it_answers_a_crash_outside_drf_under_api_with_json(client, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "reverse", crash)  # api_root's: a plain Django view
    client.raise_request_exception = False

    response = client.get("/api/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.django_db
def test_it_leaves_the_pages_error_page_alone(client, monkeypatch):
    from pages import views as pages_views

    def crash(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(pages_views, "render", crash)
    client.raise_request_exception = False

    response = client.get("/")

    assert response.status_code == 500
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"township": "abc"}, "township"),
        ({"township": "0"}, "township"),
        ({"status": "burning"}, "status"),
        ({"kind": "alien_invasion"}, "kind"),
    ],
)
def test_it_refuses_a_malformed_incident_filter_with_a_400(api, commander, query, field):
    response = api(commander).get("/api/incidents/", query)

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.django_db
def test_it_still_filters_incidents_by_township(api, coordinator, commander, township):
    here = open_rescue(coordinator, township=township)
    open_rescue(coordinator)

    found = api(commander).get("/api/incidents/", {"township": township.pk, "status": ""})

    assert found.status_code == 200
    assert [incident["id"] for incident in found.json()["results"]] == [here.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/api/incidents/?township=abc&status=x&kind=y&limit=abc&offset=-1",
        "/api/volunteers/?township=abc&on_duty=maybe&teams=x&skills__code=%20",
        "/api/vehicles/?township=x&kind=y&status=z",
        "/api/log/?since=x&incident=y&after=yesterday&before=1e99",
        "/api/me/assignments/?open=maybe",
        "/api/incidents/999999/assignments/?limit=x",
        "/api/teams/?limit=-5",
        "/api/skills/?offset=x",
        "/api/townships/?limit=999999999999999999999",
    ],
)
def test_it_never_answers_bad_query_parameters_with_a_5xx(api, make_user, url):
    user = make_user("everyone", Role.COORDINATOR, Role.COMMANDER, Role.VOLUNTEER)
    Volunteer.objects.create(
        user=user, name="志愿者", phone="13800000009", township=Township.objects.first()
    )
    client = api(user)
    client.raise_request_exception = False

    response = client.get(url)

    assert response.status_code < 500, response.content[:300]
    assert response["Content-Type"] == "application/json"
