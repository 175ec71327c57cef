import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dispatch.models import (
    Assignment,
    DeploymentEvent,
    EventKind,
    SmsDirection,
    SmsMessage,
    SmsOutcome,
)
from incidents.services import NeedSpec, incident_open
from volunteers.models import Skill

pytestmark = pytest.mark.django_db


def _open(reporter, title="西湖路积水被困群众"):
    return incident_open(
        reporter=reporter,
        kind="flood_rescue",
        title=title,
        latitude=34.4,
        longitude=113.74,
        needs=[NeedSpec(kind="people", skill=Skill.objects.get(code="rescue"), count=2)],
    )


@pytest.fixture
def incident(admin_user):
    return _open(admin_user)


@pytest.fixture
def event(incident):
    return DeploymentEvent.objects.get(incident=incident, kind=EventKind.INCIDENT_OPENED)


@pytest.fixture
def assignment(incident, volunteer):
    return Assignment.objects.create(need=incident.needs.get(), volunteer=volunteer)


def test_it_shows_the_log(admin_client, event):
    response = admin_client.get(reverse("admin:dispatch_deploymentevent_changelist"))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [event]


def test_it_lists_the_newest_events_first(admin_client, admin_user, event):
    _open(admin_user, "第二起")
    response = admin_client.get(reverse("admin:dispatch_deploymentevent_changelist"))
    seqs = [e.seq for e in response.context["cl"].result_list]
    assert seqs == sorted(seqs, reverse=True)


def test_it_filters_the_log_by_kind_and_day(admin_client, event, volunteer):
    url = reverse("admin:dispatch_deploymentevent_changelist")
    day = event.occurred_at
    response = admin_client.get(
        url,
        {
            "kind__exact": EventKind.INCIDENT_OPENED,
            "occurred_at__year": day.year,
            "occurred_at__month": day.month,
        },
    )
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [event]
    response = admin_client.get(url, {"kind__exact": EventKind.OFFER_MADE})
    assert list(response.context["cl"].result_list) == []


def test_it_lists_the_log_in_a_fixed_number_of_queries(admin_client, admin_user, incident):
    url = reverse("admin:dispatch_deploymentevent_changelist")
    with CaptureQueriesContext(connection) as one:
        admin_client.get(url)
    for n in range(4):
        _open(admin_user, f"第{n}起")
    with CaptureQueriesContext(connection) as five:
        admin_client.get(url)
    assert len(five) == len(one)


def test_it_shows_an_event(admin_client, event):
    response = admin_client.get(reverse("admin:dispatch_deploymentevent_change", args=[event.seq]))
    assert response.status_code == 200


def test_it_does_not_add_events(admin_client):
    assert admin_client.get(reverse("admin:dispatch_deploymentevent_add")).status_code == 403


def test_it_does_not_change_events(admin_client, event):
    url = reverse("admin:dispatch_deploymentevent_change", args=[event.seq])
    response = admin_client.post(url, {"kind": EventKind.INCIDENT_CANCELLED, "data": "{}"})
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.kind == EventKind.INCIDENT_OPENED


def test_it_does_not_delete_events(admin_client, event):
    url = reverse("admin:dispatch_deploymentevent_delete", args=[event.seq])
    assert admin_client.get(url).status_code == 403
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert DeploymentEvent.objects.filter(seq=event.seq).exists()


def test_it_offers_no_bulk_delete_of_events(admin_client, event):
    response = admin_client.post(
        reverse("admin:dispatch_deploymentevent_changelist"),
        {"action": "delete_selected", "_selected_action": [event.seq], "post": "yes"},
    )
    assert DeploymentEvent.objects.filter(seq=event.seq).exists()
    # Without delete permission the log has no actions at all, so no action form.
    assert response.context["action_form"] is None


def test_it_hides_the_event_sequence(admin_client):
    assert admin_client.get("/admin/dispatch/eventsequence/").status_code == 404


def test_it_shows_assignments(admin_client, assignment):
    response = admin_client.get(reverse("admin:dispatch_assignment_changelist"))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [assignment]


def test_it_shows_an_assignment(admin_client, assignment):
    response = admin_client.get(reverse("admin:dispatch_assignment_change", args=[assignment.pk]))
    assert response.status_code == 200


def test_it_finds_assignments_by_volunteer_phone(admin_client, assignment):
    response = admin_client.get(
        reverse("admin:dispatch_assignment_changelist"), {"q": "13800000001"}
    )
    assert list(response.context["cl"].result_list) == [assignment]


def test_it_does_not_change_assignments(admin_client, assignment):
    url = reverse("admin:dispatch_assignment_change", args=[assignment.pk])
    assert admin_client.post(url, {"status": "accepted"}).status_code == 403
    assignment.refresh_from_db()
    assert assignment.status == "offered"
    assert admin_client.get(reverse("admin:dispatch_assignment_add")).status_code == 403


@pytest.mark.django_db
def test_it_lists_sms_messages_read_only(admin_client):
    message = SmsMessage.objects.create(
        direction=SmsDirection.IN, phone="13800138000", text="我在路上", outcome=SmsOutcome.KEPT
    )

    listing = admin_client.get("/admin/dispatch/smsmessage/")
    change = admin_client.post(f"/admin/dispatch/smsmessage/{message.pk}/change/", {"text": "x"})

    assert listing.status_code == 200
    assert "我在路上" in listing.content.decode()
    assert change.status_code == 403
    assert SmsMessage.objects.get(pk=message.pk).text == "我在路上"
