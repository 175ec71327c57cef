"""Changing a live incident (issue 13): its priority, words and place, and its needs
added, enlarged, reduced and cancelled. Each change is logged; enlarging or adding
dispatches again; reducing and cancelling stand people down and say why."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from dispatch import queue, services
from dispatch.availability import volunteer_is_busy
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from dispatch.reasons import stand_down_reason
from dispatch.selectors import need_ids_wanting_offers
from incidents.models import Incident, Need
from incidents.services import (
    IncidentClosed,
    NeedCancelled,
    NeedSpec,
    incident_change,
    incident_resolve,
    need_add,
    need_cancel,
    need_change,
)
from tests.dispatch.scenes import RESCUE_TITLE, SITE, open_rescue
from volunteers.models import Skill

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("live_index", "in_english")]


@pytest.fixture
def in_english():
    with translation.override("en"):
        yield


@pytest.fixture
def queued(monkeypatch, settings):
    """The tasks the services queue once their transaction commits, as (name, args): a
    test runs the commit hooks of the call it looks at (django_capture_on_commit_callbacks).
    Without the batch window, whose drain task carries no need ids (dispatch.batching):
    the plain message says which needs were queued."""
    settings.DISPATCH_BATCH_WINDOW_MS = 0
    sent = []
    monkeypatch.setattr(
        queue, "_send", lambda name, args=(), kwargs=None, **options: sent.append((name, args))
    )
    return sent


def events(kind: str, **where) -> list[DeploymentEvent]:
    return list(DeploymentEvent.objects.filter(kind=kind, **where).order_by("seq"))


def accepted_by(incident: Incident, how_many: int) -> list[Assignment]:
    """The incident offered, and its nearest `how_many` offers accepted, in order."""
    services.incident_dispatch(incident_id=incident.pk)
    offers = Assignment.objects.filter(need__incident=incident).order_by("distance_m")
    taken = list(offers.select_related("volunteer")[:how_many])
    for offer in taken:
        services.assignment_accept(assignment_id=offer.pk, volunteer=offer.volunteer)
    return taken


def status_of(assignment: Assignment) -> str:
    assignment.refresh_from_db()
    return assignment.status


# --- the incident ---------------------------------------------------------------------------


def test_a_change_is_one_log_event_saying_before_and_after(coordinator):
    incident = open_rescue(coordinator, priority=Incident.Priority.HIGH)

    incident_change(
        incident=incident,
        actor=coordinator,
        priority=Incident.Priority.CRITICAL,
        description="水位上涨，二楼有老人",
        title=incident.title,  # unchanged: not in the event
    )

    (event,) = events(EventKind.INCIDENT_CHANGED)
    assert event.actor == coordinator
    assert event.data == {"priority": [3, 4], "description": ["", "水位上涨，二楼有老人"]}
    incident.refresh_from_db()
    assert (incident.priority, incident.description) == (4, "水位上涨，二楼有老人")


def test_nothing_changed_logs_nothing(coordinator):
    incident = open_rescue(coordinator)

    incident_change(incident=incident, actor=coordinator, priority=incident.priority)

    assert not events(EventKind.INCIDENT_CHANGED)


def test_a_bad_value_is_refused_and_changes_nothing(coordinator):
    incident = open_rescue(coordinator)

    with pytest.raises(ValidationError) as refused:
        incident_change(incident=incident, actor=coordinator, priority=9, title="新标题")

    assert "priority" in refused.value.message_dict
    incident.refresh_from_db()
    assert (incident.priority, incident.title) == (Incident.Priority.CRITICAL, RESCUE_TITLE)
    assert not events(EventKind.INCIDENT_CHANGED)


def test_a_closed_incident_cannot_change(coordinator):
    incident = open_rescue(coordinator)
    incident_resolve(incident=incident, actor=coordinator)

    with pytest.raises(IncidentClosed, match="already resolved"):
        incident_change(incident=incident, actor=coordinator, priority=1)


def test_a_new_place_plans_the_open_offers_again_and_tells_those_under_way(
    coordinator, rescuers, queued, django_capture_on_commit_callbacks
):
    incident = open_rescue(coordinator, count=2)
    under_way = accepted_by(incident, 1)[0]
    services.assignment_progress(
        assignment_id=under_way.pk, volunteer=under_way.volunteer, status="en_route"
    )
    open_offers = list(Assignment.objects.filter(status=AssignmentStatus.OFFERED))

    with django_capture_on_commit_callbacks(execute=True):
        incident_change(
            incident=incident, actor=coordinator, latitude=SITE[0] + 0.02, address="107国道 K12"
        )

    assert open_offers
    for offer in open_offers:
        offer.refresh_from_db()
        assert (offer.status, offer.reason) == (AssignmentStatus.WITHDRAWN, "place changed")
        assert "place changed" in stand_down_reason(offer)
    assert status_of(under_way) == AssignmentStatus.EN_ROUTE  # not stood down
    (told,) = events(EventKind.ASSIGNMENT_REROUTED)
    assert (told.volunteer_id, told.data["address"]) == (under_way.volunteer_id, "107国道 K12")
    assert told.data["latitude"] == pytest.approx(SITE[0] + 0.02)
    # The cause is logged before its effects.
    (changed,) = events(EventKind.INCIDENT_CHANGED)
    withdrawn = events(EventKind.OFFER_WITHDRAWN)
    assert changed.seq < min(event.seq for event in withdrawn)
    assert queued == [(queue.NEEDS_DISPATCH, ([incident.needs.get().pk],))]


def test_the_replanned_offers_start_from_the_new_place(coordinator, rescuers):
    """Moved 20 km south, the rescuers 1-5 km north of the old place are 21-25 km away."""
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)

    incident_change(incident=incident, actor=coordinator, latitude=SITE[0] - 0.18)
    services.incident_dispatch(incident_id=incident.pk)

    fresh = Assignment.objects.filter(status=AssignmentStatus.OFFERED)
    assert fresh and all(offer.distance_m > 20_000 for offer in fresh)


# --- needs ----------------------------------------------------------------------------------


def test_an_added_need_is_logged_and_offered_at_once(
    coordinator, rescuers, queued, django_capture_on_commit_callbacks
):
    incident = open_rescue(coordinator)

    with django_capture_on_commit_callbacks(execute=True):
        need = need_add(
            incident=incident,
            actor=coordinator,
            spec=NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=2),
        )

    (event,) = events(EventKind.NEED_ADDED)
    assert (event.need_id, event.data["count"], event.data["skill"]) == (need.pk, 2, "rescue")
    assert queued == [(queue.NEEDS_DISPATCH, ([need.pk],))]


def test_an_invalid_need_is_refused_and_nothing_is_added(coordinator):
    incident = open_rescue(coordinator)

    with pytest.raises(ValidationError):
        need_add(incident=incident, actor=coordinator, spec=NeedSpec(kind=Need.Kind.PEOPLE))

    assert incident.needs.count() == 1
    assert not events(EventKind.NEED_ADDED)


def test_an_enlarged_need_is_offered_again_at_once(
    coordinator, rescuers, queued, django_capture_on_commit_callbacks
):
    incident = open_rescue(coordinator, count=1)
    need = incident.needs.get()

    with django_capture_on_commit_callbacks(execute=True):
        need_change(need_id=need.pk, actor=coordinator, count=3)

    (event,) = events(EventKind.NEED_CHANGED)
    assert event.data == {"count": [1, 3], "stood_down": 0}
    assert queued == [(queue.NEEDS_DISPATCH, ([need.pk],))]
    services.needs_dispatch(need_ids=[need.pk])
    assert Assignment.objects.filter(need=need, status=AssignmentStatus.OFFERED).count() >= 3


def test_a_reduced_need_stands_down_the_latest_to_accept_who_has_not_set_out(coordinator, rescuers):
    incident = open_rescue(coordinator, count=3)
    first, second, third = accepted_by(incident, 3)
    services.assignment_progress(
        assignment_id=first.pk, volunteer=first.volunteer, status="en_route"
    )
    # The third accepted last; the first is on the way.
    Assignment.objects.filter(pk=third.pk).update(answered_at=timezone.now() + timedelta(seconds=1))

    need_change(need_id=incident.needs.get().pk, actor=coordinator, count=1)

    assert status_of(first) == AssignmentStatus.EN_ROUTE
    assert status_of(second) == AssignmentStatus.CANCELLED
    assert status_of(third) == AssignmentStatus.CANCELLED
    assert "fewer people" in stand_down_reason(Assignment.objects.get(pk=third.pk))
    (event,) = events(EventKind.NEED_CHANGED)
    assert event.data == {"count": [3, 1], "stood_down": 2}
    # Whoever was stood down is free for the next task.
    assert not volunteer_is_busy(third.volunteer_id)


def test_a_reduced_need_withdraws_the_offers_it_no_longer_wants(coordinator, rescuers):
    incident = open_rescue(coordinator, count=2)
    accepted_by(incident, 1)

    need_change(need_id=incident.needs.get().pk, actor=coordinator, count=1)

    assert not Assignment.objects.filter(status=AssignmentStatus.OFFERED).exists()
    reasons = set(
        Assignment.objects.filter(status=AssignmentStatus.WITHDRAWN).values_list(
            "reason", flat=True
        )
    )
    assert reasons == {"need reduced"}


def test_a_need_cannot_shrink_below_what_is_done(coordinator, rescuers):
    incident = open_rescue(coordinator, count=2)
    for done in accepted_by(incident, 2):
        services.assignment_progress(
            assignment_id=done.pk, volunteer=done.volunteer, status="completed", people_moved=1
        )

    with pytest.raises(ValidationError, match="already did their part"):
        need_change(need_id=incident.needs.get().pk, actor=coordinator, count=1)

    assert incident.needs.get().count == 2
    assert not events(EventKind.NEED_CHANGED)


def test_a_need_is_sized_by_its_own_measure(coordinator):
    incident = open_rescue(coordinator)

    with pytest.raises(ValidationError) as refused:
        need_change(need_id=incident.needs.get().pk, actor=coordinator, people_to_move=40)

    assert "people_to_move" in refused.value.message_dict


def test_a_cancelled_need_stands_everyone_down_with_the_coordinators_words(coordinator, rescuers):
    incident = open_rescue(coordinator, count=2)
    need_add(
        incident=incident,
        actor=coordinator,
        spec=NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue")),
    )
    (on_it,) = accepted_by(incident, 1)
    offered = Assignment.objects.filter(need=on_it.need, status=AssignmentStatus.OFFERED)
    offered_ids = list(offered.values_list("pk", flat=True))

    need_cancel(need_id=on_it.need_id, actor=coordinator, reason="一家人已自行转移")

    assert status_of(on_it) == AssignmentStatus.CANCELLED
    said = stand_down_reason(Assignment.objects.get(pk=on_it.pk))
    assert "cancelled" in said and "一家人已自行转移" in said
    assert set(Assignment.objects.filter(pk__in=offered_ids).values_list("status", flat=True)) <= {
        AssignmentStatus.WITHDRAWN
    }
    (event,) = events(EventKind.NEED_CANCELLED)
    assert event.data == {"reason": "一家人已自行转移"}
    # No longer offered, by the next dispatch or the sweep.
    assert services.needs_dispatch(need_ids=[on_it.need_id]) == []
    assert on_it.need_id not in need_ids_wanting_offers()  # one place of two still open
    with pytest.raises(NeedCancelled):
        need_cancel(need_id=on_it.need_id, actor=coordinator, reason="again")


def test_the_last_need_is_not_cancelled_alone(coordinator):
    incident = open_rescue(coordinator)

    with pytest.raises(ValidationError, match="cancel the incident"):
        need_cancel(need_id=incident.needs.get().pk, actor=coordinator, reason="误报")

    assert incident.needs.get().cancelled_at is None


def test_a_cancel_needs_a_reason(coordinator):
    incident = open_rescue(coordinator)

    with pytest.raises(ValidationError, match="Say why"):
        need_cancel(need_id=incident.needs.get().pk, actor=coordinator, reason="  ")


def test_nobody_is_assigned_by_hand_to_a_cancelled_need(coordinator, rescuers):
    incident = open_rescue(coordinator)
    need_add(
        incident=incident,
        actor=coordinator,
        spec=NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue")),
    )
    need = incident.needs.order_by("pk").first()
    need_cancel(need_id=need.pk, actor=coordinator, reason="重复")

    with pytest.raises(services.OfferClosed, match="cancelled"):
        services.assignment_assign_manually(
            need_id=need.pk,
            target=services.ManualTarget(volunteer=rescuers[0]),
            actor=coordinator,
            reason="电话确认",
        )


def test_a_need_of_a_closed_incident_does_not_change(coordinator):
    incident = open_rescue(coordinator)
    incident_resolve(incident=incident, actor=coordinator)

    with pytest.raises(IncidentClosed):
        need_change(need_id=incident.needs.get().pk, actor=coordinator, count=5)
