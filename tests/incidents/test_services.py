import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import translation

from dispatch.models import DeploymentEvent, EventKind
from incidents.models import Incident, LocationPrecision, Need
from incidents.services import (
    IncidentClosed,
    NeedSpec,
    incident_cancel,
    incident_open,
    incident_resolve,
)
from volunteers.models import Skill


def open_flood_rescue(reporter, **fields) -> Incident:
    defaults = {
        "kind": Incident.Kind.FLOOD_RESCUE,
        "title": "龙湖镇 积水 群众被困",
        "latitude": 34.61,
        "longitude": 113.68,
        "priority": Incident.Priority.CRITICAL,
        "needs": [
            NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=4),
            NeedSpec(kind=Need.Kind.CAPABILITY, people_to_move=40, water_depth_m=Decimal("1.2")),
        ],
    }
    return incident_open(reporter=reporter, **{**defaults, **fields})


@pytest.mark.django_db
def test_it_opens_an_incident_with_its_needs_and_one_log_event(coordinator):
    incident = open_flood_rescue(coordinator)

    assert incident.status == Incident.Status.OPEN
    assert [str(need) for need in incident.needs.all()] == [
        "4 × 救援 (rescue)",
        "move 40 people through 1.20 m water",
    ]
    event = DeploymentEvent.objects.get()
    assert event.kind == EventKind.INCIDENT_OPENED
    assert event.incident == incident
    assert event.actor == coordinator
    assert event.data["needs"] == list(incident.needs.values_list("pk", flat=True))


@pytest.mark.django_db
def test_the_log_says_how_precise_the_place_of_an_opened_incident_is(coordinator):
    """A board that hears of the incident live, or a review read later, can tell a
    township's centre from a pinned place without asking for the incident."""
    open_flood_rescue(coordinator, location_precision=LocationPrecision.TOWNSHIP)

    event = DeploymentEvent.objects.get(kind=EventKind.INCIDENT_OPENED)
    assert event.data["location_precision"] == "township"


@pytest.mark.django_db
def test_it_places_the_incident_in_the_nearest_township(coordinator):
    incident = open_flood_rescue(coordinator, latitude=34.612, longitude=113.679)

    assert incident.township.name == "龙湖镇"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "needs",
    [
        [],
        [NeedSpec(kind=Need.Kind.PEOPLE, count=2)],  # no skill
        [NeedSpec(kind=Need.Kind.VEHICLE, count=2)],  # no vehicle kind
        [NeedSpec(kind=Need.Kind.CAPABILITY, people_to_move=10)],  # no water depth
    ],
)
def test_it_writes_nothing_when_a_need_is_invalid(coordinator, needs):
    with pytest.raises(ValidationError):
        open_flood_rescue(coordinator, needs=needs)

    assert not Incident.objects.exists()
    assert not Need.objects.exists()
    assert not DeploymentEvent.objects.exists()


@pytest.mark.django_db
def test_it_writes_nothing_when_the_location_is_off_the_map(coordinator):
    with pytest.raises(ValidationError) as error:
        open_flood_rescue(coordinator, latitude=134.61)

    assert "latitude" in error.value.message_dict
    assert not Incident.objects.exists()
    assert not DeploymentEvent.objects.exists()


@pytest.mark.django_db
def test_it_resolves_once_and_tells_the_second_coordinator(coordinator, make_user):
    incident = open_flood_rescue(coordinator)
    incident_resolve(incident=incident, actor=coordinator, note="全部转移")

    with translation.override("en"), pytest.raises(IncidentClosed, match="already resolved"):
        incident_cancel(incident=Incident.objects.get(pk=incident.pk), actor=coordinator)

    incident.refresh_from_db()
    assert incident.status == Incident.Status.RESOLVED
    assert incident.close_note == "全部转移"
    assert incident.closed_at is not None
    assert list(DeploymentEvent.objects.values_list("kind", flat=True)) == [
        EventKind.INCIDENT_OPENED,
        EventKind.INCIDENT_RESOLVED,
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_one_of_many_racing_coordinators_close_an_incident(coordinator):
    incident = open_flood_rescue(coordinator)
    start = threading.Barrier(6)
    outcomes = []

    def close(close_function):
        try:
            start.wait()
            close_function(incident=Incident.objects.get(pk=incident.pk), actor=coordinator)
            outcomes.append("closed")
        except IncidentClosed:
            outcomes.append("already closed")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=close, args=(incident_resolve if i % 2 else incident_cancel,))
        for i in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["already closed"] * 5 + ["closed"]
    closing_events = DeploymentEvent.objects.exclude(kind=EventKind.INCIDENT_OPENED)
    assert closing_events.count() == 1
