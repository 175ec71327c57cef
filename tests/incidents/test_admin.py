import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dispatch.models import DeploymentEvent, EventKind
from incidents.models import Incident
from incidents.services import NeedSpec, incident_cancel, incident_open, incident_resolve
from volunteers.models import Skill

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:incidents_incident_changelist"


@pytest.fixture
def open_incident(admin_user):
    def make(title: str = "西湖路积水被困群众") -> Incident:
        return incident_open(
            reporter=admin_user,
            kind="flood_rescue",
            title=title,
            latitude=34.4,
            longitude=113.74,
            needs=[NeedSpec(kind="people", skill=Skill.objects.get(code="rescue"), count=2)],
        )

    return make


@pytest.fixture
def incident(open_incident):
    return open_incident()


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _act(client, action: str, *incidents):
    return client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [i.pk for i in incidents]}
    )


def _events(incident, kind) -> int:
    return DeploymentEvent.objects.filter(incident=incident, kind=kind).count()


def test_it_shows_the_changelist(admin_client, incident):
    response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [incident]


def test_it_shows_the_change_page_with_the_needs(admin_client, incident):
    response = admin_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert response.status_code == 200
    assert "rescue" in response.content.decode()


def test_it_finds_incidents_by_title(admin_client, incident, open_incident):
    open_incident("新村镇转移群众")
    response = admin_client.get(reverse(CHANGELIST), {"q": "西湖路"})
    assert list(response.context["cl"].result_list) == [incident]


def test_it_filters_incidents_by_status(admin_client, admin_user, incident, open_incident):
    incident_resolve(incident=open_incident("已处理"), actor=admin_user)
    response = admin_client.get(reverse(CHANGELIST), {"status__exact": "open"})
    assert list(response.context["cl"].result_list) == [incident]


def test_it_lists_incidents_in_a_fixed_number_of_queries(admin_client, open_incident):
    open_incident()
    with CaptureQueriesContext(connection) as one:
        admin_client.get(reverse(CHANGELIST))
    for _ in range(4):
        open_incident()
    with CaptureQueriesContext(connection) as five:
        admin_client.get(reverse(CHANGELIST))
    assert len(five) == len(one)


def test_it_does_not_open_incidents_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:incidents_incident_add")).status_code == 403


def test_it_does_not_delete_incidents(admin_client, incident):
    url = reverse("admin:incidents_incident_delete", args=[incident.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_it_keeps_status_and_closed_at_out_of_the_form(admin_client, incident):
    response = admin_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    fields = response.context["adminform"].form.fields
    assert "status" not in fields
    assert "closed_at" not in fields


def test_it_changes_an_incidents_place_and_priority_only_through_the_services(
    admin_client, incident
):
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    fields = admin_client.get(url).context["adminform"].form.fields
    assert {"kind", "priority", "latitude", "longitude", "address", "township"}.isdisjoint(fields)

    response = admin_client.post(
        url,
        {
            "title": "西湖路积水被困群众（已核实）",
            "description": "",
            "people_affected": 12,
            "priority": 1,
            "latitude": 34.6,
            "longitude": 113.6,
            "needs-TOTAL_FORMS": 0,
            "needs-INITIAL_FORMS": 0,
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    incident.refresh_from_db()
    assert incident.title == "西湖路积水被困群众（已核实）"
    assert (incident.priority, incident.latitude, incident.longitude) != (1, 34.6, 113.6)
    assert (incident.latitude, incident.longitude) == (34.4, 113.74)
    # The words changed are logged, as any change of a live incident (issue 13).
    (changed,) = DeploymentEvent.objects.filter(incident=incident, kind=EventKind.INCIDENT_CHANGED)
    assert changed.data == {
        "title": ["西湖路积水被困群众", "西湖路积水被困群众（已核实）"],
        "people_affected": [0, 12],
    }


def test_it_changes_nothing_of_a_closed_incident(admin_client, admin_user, incident):
    incident_resolve(incident=incident, actor=admin_user)
    url = reverse("admin:incidents_incident_change", args=[incident.pk])

    fields = admin_client.get(url).context["adminform"].form.fields
    response = admin_client.post(
        url, {"title": "改了", "needs-TOTAL_FORMS": 0, "needs-INITIAL_FORMS": 0}
    )

    assert {"title", "description", "people_affected"}.isdisjoint(fields)
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.title == "西湖路积水被困群众"
    assert not _events(incident, EventKind.INCIDENT_CHANGED)


def test_it_resolves_incidents_and_logs_it(admin_client, admin_user, incident):
    before = DeploymentEvent.objects.count()

    response = _act(admin_client, "resolve", incident)

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED
    assert incident.closed_at is not None
    assert DeploymentEvent.objects.count() == before + 1
    event = DeploymentEvent.objects.latest("seq")
    assert (event.kind, event.incident, event.actor) == (
        EventKind.INCIDENT_RESOLVED,
        incident,
        admin_user,
    )
    assert _messages(response) == [f"{incident}: resolved."]


def test_it_cancels_incidents_and_logs_it(admin_client, incident):
    before = DeploymentEvent.objects.count()

    _act(admin_client, "cancel", incident)

    incident.refresh_from_db()
    assert incident.status == Incident.Status.CANCELLED
    assert incident.closed_at is not None
    assert DeploymentEvent.objects.count() == before + 1
    assert _events(incident, EventKind.INCIDENT_CANCELLED) == 1


def test_it_reports_an_incident_already_closed_and_logs_nothing(admin_client, admin_user, incident):
    incident_resolve(incident=incident, actor=admin_user)
    before = DeploymentEvent.objects.count()

    response = _act(admin_client, "resolve", incident)

    assert DeploymentEvent.objects.count() == before
    assert _messages(response) == [f"{incident}: already resolved, nothing changed."]


def test_it_reports_each_incident_of_a_mixed_selection(
    admin_client, admin_user, incident, open_incident
):
    cancelled = incident_cancel(incident=open_incident("已取消"), actor=admin_user)

    response = _act(admin_client, "resolve", incident, cancelled)

    assert sorted(_messages(response)) == sorted(
        [f"{incident}: resolved.", f"{cancelled}: already cancelled, nothing changed."]
    )
    assert _events(incident, EventKind.INCIDENT_RESOLVED) == 1
    assert _events(cancelled, EventKind.INCIDENT_RESOLVED) == 0
