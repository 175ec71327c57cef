"""The offer life cycle, on the configured database and location index."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone, translation

from dispatch import matching, services
from dispatch.availability import index_rebuild
from dispatch.location_index import vehicle_key, volunteer_key
from dispatch.models import (
    Assignment,
    AssignmentStatus,
    DeploymentEvent,
    EventKind,
    EventSequence,
)
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_cancel, incident_resolve
from tests.dispatch import scenes
from tests.dispatch.scenes import KM, SITE, offers_on_two_rescues
from tests.processes import wait_until
from volunteers.models import Skill, Township, Vehicle, VehicleKind

pytestmark = pytest.mark.usefixtures("live_index")


@pytest.fixture(autouse=True)
def _in_english():
    """The refusals are read in English here; they are translated (test_api.py)."""
    with translation.override("en"):
        yield


def open_rescue(reporter, *, count=2, **fields) -> Incident:
    return scenes.open_rescue(reporter, count=count, **fields)


def offered_to(incident) -> list[int]:
    return list(
        Assignment.objects.filter(need__incident=incident, status=AssignmentStatus.OFFERED)
        .order_by("distance_m")
        .values_list("volunteer_id", flat=True)
    )


def offer_of(volunteer) -> Assignment:
    return Assignment.objects.get(volunteer=volunteer, status=AssignmentStatus.OFFERED)


def kinds(**filters) -> list[str]:
    return list(DeploymentEvent.objects.filter(**filters).values_list("kind", flat=True))


# --- offering -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_offers_an_urgent_need_to_the_nearest_and_a_few_more(coordinator, rescuers):
    incident = open_rescue(coordinator, count=2)

    offers = services.incident_dispatch(incident_id=incident.pk)

    # Two places, 50 % more offers: the three nearest, each told how far and how long.
    assert offered_to(incident) == [v.pk for v in rescuers[:3]]
    assert all(o.distance_m and o.eta_seconds and o.expires_at for o in offers)
    assert kinds(kind=EventKind.OFFER_MADE) == ["offer.made"] * 3


def pick(need, volunteer, *, distance_m=1000) -> matching.Pick:
    return matching.Pick(
        need_id=need.pk,
        resource_id=volunteer.pk,
        is_vehicle=False,
        distance_m=distance_m,
        eta_seconds=distance_m // 5,
        cost=float(distance_m),
    )


@pytest.mark.django_db
def test_it_still_offers_the_others_when_one_of_them_was_just_offered_the_need(
    coordinator, rescuers
):
    """A dispatch whose picks include someone another dispatch offered the need a
    moment before: the database refuses that one offer, the others still go out."""
    incident = open_rescue(coordinator, count=1)
    need = Need.objects.select_related("incident").get(incident=incident)
    services.offers_make(need=need, picks=[pick(need, rescuers[0])])

    offers = services.offers_make(
        need=need, picks=[pick(need, rescuers[0]), pick(need, rescuers[1], distance_m=2000)]
    )

    assert [offer.volunteer_id for offer in offers] == [rescuers[1].pk]
    assert offered_to(incident) == [rescuers[0].pk, rescuers[1].pk]
    assert kinds(kind=EventKind.OFFER_MADE) == ["offer.made", "offer.made"]
    # What the phone shows of the offer: how far, how long, until when.
    made = DeploymentEvent.objects.get(assignment=offers[0], kind=EventKind.OFFER_MADE)
    assert made.data == {
        "status": "offered",
        "distance_m": 2000,
        "eta_seconds": 400,
        "expires_at": offers[0].expires_at.isoformat(),
    }


@pytest.mark.django_db
def test_it_dispatches_the_needs_asked_for_and_only_those(coordinator, rescuers):
    offered, asked, other = (open_rescue(coordinator, count=1).needs.get() for _ in range(3))
    services.needs_dispatch(need_ids=[offered.pk])
    before = set(Assignment.objects.values_list("pk", flat=True))

    # The first has its offers already: nothing more for it, and the next is still done.
    offers = services.needs_dispatch(need_ids=[offered.pk, asked.pk])

    assert {offer.need_id for offer in offers} == {asked.pk}
    assert not Assignment.objects.filter(need=other).exists()
    assert not set(Assignment.objects.filter(need=offered).values_list("pk", flat=True)) - before


@pytest.mark.django_db
def test_it_sends_no_second_offer_when_dispatch_runs_again(coordinator, rescuers):
    incident = open_rescue(coordinator, count=2)
    services.incident_dispatch(incident_id=incident.pk)

    again = services.incident_dispatch(incident_id=incident.pk)

    assert again == []
    assert len(offered_to(incident)) == 3


@pytest.mark.django_db
def test_it_offers_nothing_for_a_closed_incident(coordinator, rescuers):
    incident = open_rescue(coordinator)
    incident_resolve(incident=incident, actor=coordinator)

    assert services.incident_dispatch(incident_id=incident.pk) == []


# --- answering ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_fills_the_need_and_tells_the_others_they_are_not_needed(coordinator, rescuers):
    incident = open_rescue(coordinator, count=2)
    services.incident_dispatch(incident_id=incident.pk)
    first, second, third = rescuers[:3]

    services.assignment_accept(assignment_id=offer_of(second).pk, volunteer=second)
    services.assignment_accept(assignment_id=offer_of(first).pk, volunteer=first)

    late = Assignment.objects.get(volunteer=third, need__incident=incident)
    assert late.status == AssignmentStatus.WITHDRAWN
    assert late.reason == "not needed"
    with pytest.raises(services.OfferClosed, match="Already filled"):
        services.assignment_accept(assignment_id=late.pk, volunteer=third)


@pytest.mark.django_db
def test_it_lets_nobody_answer_someone_elses_offer(coordinator, rescuers):
    incident = open_rescue(coordinator)
    services.incident_dispatch(incident_id=incident.pk)
    offer = offer_of(rescuers[0])

    with pytest.raises(services.NotYours):
        services.assignment_accept(assignment_id=offer.pk, volunteer=rescuers[4])
    with pytest.raises(services.NotYours):
        services.assignment_decline(assignment_id=offer.pk, volunteer=rescuers[4])

    offer.refresh_from_db()
    assert offer.status == AssignmentStatus.OFFERED


@pytest.mark.django_db
def test_it_offers_the_next_best_after_a_decline_and_never_asks_again(coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    assert offered_to(incident) == [rescuers[0].pk, rescuers[1].pk]

    services.assignment_decline(
        assignment_id=offer_of(rescuers[0]).pk, volunteer=rescuers[0], reason="车坏了"
    )
    services.incident_dispatch(incident_id=incident.pk)
    services.incident_dispatch(incident_id=incident.pk)

    assert offered_to(incident) == [rescuers[1].pk, rescuers[2].pk]
    declined = Assignment.objects.get(volunteer=rescuers[0])
    assert (declined.status, declined.reason) == (AssignmentStatus.DECLINED, "车坏了")


@pytest.mark.django_db
def test_it_records_who_declined_when_and_why_cut_to_300_characters(coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    offer, other = offer_of(rescuers[0]), offer_of(rescuers[1])
    why = "路" * 400

    before = timezone.now()
    services.assignment_decline(assignment_id=offer.pk, volunteer=rescuers[0], reason=why)
    services.assignment_decline(assignment_id=other.pk, volunteer=rescuers[1])

    declined = Assignment.objects.get(pk=offer.pk)
    assert declined.reason == why[:300]
    assert before <= declined.answered_at <= timezone.now()
    event = DeploymentEvent.objects.get(assignment=offer, kind=EventKind.OFFER_DECLINED)
    assert event.actor == rescuers[0].user
    assert event.data == {"status": "declined", "reason": why[:300]}
    assert Assignment.objects.get(pk=other.pk).reason == ""  # no reason given


def refusal(call) -> str:
    """What the person is told when the service refuses."""
    with pytest.raises(services.DispatchError) as refused:
        call()
    return str(refused.value)


@pytest.mark.django_db
def test_it_tells_a_volunteer_why_their_answer_is_refused(coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    mine = offer_of(rescuers[0])

    def decline(volunteer):
        return lambda: services.assignment_decline(assignment_id=mine.pk, volunteer=volunteer)

    assert refusal(decline(rescuers[1])) == "This offer is not yours."
    decline(rescuers[0])()
    assert refusal(decline(rescuers[0])) == "You already declined this offer."


@pytest.mark.django_db
def test_it_redispatches_every_need_that_wants_offers_batch_by_batch(
    coordinator, rescuers, monkeypatch
):
    # Opened without their dispatch (it runs after commit, which a test transaction
    # never reaches): both want offers. One need per batch.
    needs = [open_rescue(coordinator, count=1).needs.get() for _ in range(2)]
    monkeypatch.setattr(services, "REDISPATCH_BATCH", 1)

    offers = services.needs_redispatch()

    offered = {offer.need_id for offer in offers}
    assert offered == {need.pk for need in needs}
    assert len(offers) == Assignment.objects.filter(status=AssignmentStatus.OFFERED).count()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "reason", "told"),
    [
        ("withdrawn", "not needed", "Already filled: this task no longer needs you. Thank you."),
        ("withdrawn", "accepted another task", "Withdrawn: you accepted another task."),
        ("withdrawn", "incident resolved", "Withdrawn: the incident was resolved."),
        ("withdrawn", "incident cancelled", "Withdrawn: the incident was cancelled."),
        ("withdrawn", "incident merged", "Withdrawn: the incident was closed."),
        ("withdrawn", "人不在", "Withdrawn by the coordinator: 人不在"),
        ("expired", "", "This offer expired and went to someone else."),
        ("declined", "", "You already declined this offer."),
        ("completed", "", "This task is already completed."),
        ("cancelled", "", "This assignment is already cancelled."),
        ("accepted", "", "This offer is already accepted."),
        ("on_scene", "", "This offer is already accepted."),
    ],
)
def test_it_tells_a_volunteer_answering_a_closed_offer_why_it_closed(
    coordinator, rescuers, status, reason, told
):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    offer = offer_of(rescuers[0])
    Assignment.objects.filter(pk=offer.pk).update(status=status, reason=reason)

    assert (
        refusal(lambda: services.assignment_accept(assignment_id=offer.pk, volunteer=rescuers[0]))
        == told
    )


@pytest.mark.django_db
def test_it_tells_a_volunteer_why_their_accept_is_refused(coordinator, rescuers, monkeypatch):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    need = incident.needs.get()
    first, second = offer_of(rescuers[0]), offer_of(rescuers[1])

    def accept(offer, volunteer):
        return lambda: services.assignment_accept(assignment_id=offer.pk, volunteer=volunteer)

    assert refusal(accept(first, rescuers[1])) == "This offer is not yours."
    # At its expiry to the microsecond, an offer is closed.
    monkeypatch.setattr(services, "timezone", Clock(second.expires_at))
    assert refusal(accept(second, rescuers[1])) == "This offer expired and went to someone else."
    monkeypatch.undo()
    queued = []
    monkeypatch.setattr(
        services.queue,
        "offers_withdraw_from_busy_enqueue",
        lambda **resource: queued.append(resource),
    )
    before = timezone.now()
    services.assignment_accept(assignment_id=first.pk, volunteer=rescuers[0])
    assert before <= Assignment.objects.get(pk=first.pk).answered_at <= timezone.now()
    # Their other offers elsewhere are withdrawn once this commits.
    assert queued == [{"volunteer_id": rescuers[0].pk}]
    # The need is full: the other offer is withdrawn now, and says why.
    not_needed = Assignment.objects.get(pk=second.pk)
    assert (not_needed.status, not_needed.reason) == (AssignmentStatus.WITHDRAWN, "not needed")
    assert before <= not_needed.answered_at <= timezone.now()
    event = DeploymentEvent.objects.get(assignment=second, kind=EventKind.OFFER_WITHDRAWN)
    assert event.data == {"status": "withdrawn", "reason": "not needed"}
    # An offer made to a need already full (by hand, say): nothing left to take.
    late = Assignment.objects.create(
        need=need, volunteer=rescuers[2], status=AssignmentStatus.OFFERED
    )
    assert refusal(accept(late, rescuers[2])) == (
        "Already filled: this task no longer needs you. Thank you."
    )
    # Someone on a task cannot take a second one.
    elsewhere = open_rescue(coordinator, count=1)
    other = Assignment.objects.create(
        need=elsewhere.needs.get(), volunteer=rescuers[0], status=AssignmentStatus.OFFERED
    )
    assert refusal(accept(other, rescuers[0])) == "You are already on another assignment."
    # The incident closed while an offer was still open.
    Incident.objects.filter(pk=elsewhere.pk).update(
        status=Incident.Status.RESOLVED, closed_at=timezone.now()
    )
    open_offer = Assignment.objects.create(
        need=elsewhere.needs.get(), volunteer=rescuers[3], status=AssignmentStatus.OFFERED
    )
    assert refusal(accept(open_offer, rescuers[3])) == "The incident is already resolved."


@pytest.mark.django_db
def test_it_expires_unanswered_offers_and_escalates_to_the_next(coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    stale = Assignment.objects.filter(need__incident=incident)
    stale.update(expires_at=timezone.now() - timedelta(seconds=1))

    need_ids = services.offers_expire()
    assert services.offers_expire() == []  # a second sweep finds nothing
    services.needs_dispatch(need_ids=need_ids)

    assert offered_to(incident) == [rescuers[2].pk, rescuers[3].pk]
    assert kinds(kind=EventKind.OFFER_EXPIRED) == ["offer.expired"] * 2
    with pytest.raises(services.OfferClosed, match="expired"):
        services.assignment_accept(
            assignment_id=Assignment.objects.get(volunteer=rescuers[0]).pk,
            volunteer=rescuers[0],
        )


@pytest.mark.django_db
def test_it_expires_only_the_offers_past_their_time(coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    late, in_time = offer_of(rescuers[0]), offer_of(rescuers[1])
    Assignment.objects.filter(pk=late.pk).update(expires_at=timezone.now())

    assert services.offers_expire() == [incident.needs.get().pk]

    assert Assignment.objects.get(pk=late.pk).status == AssignmentStatus.EXPIRED
    assert Assignment.objects.get(pk=in_time.pk).status == AssignmentStatus.OFFERED


@pytest.mark.django_db
def test_it_refuses_an_offer_accepted_after_its_time_before_the_sweep(coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    offer = offer_of(rescuers[0])
    Assignment.objects.filter(pk=offer.pk).update(expires_at=timezone.now())

    with pytest.raises(services.OfferClosed, match="expired"):
        services.assignment_accept(assignment_id=offer.pk, volunteer=rescuers[0])


# The documented defaults (README, OFFER_TIMEOUT_*), which this suite runs with.
TIME_OUTS = {
    Incident.Priority.CRITICAL: 90,
    Incident.Priority.HIGH: 180,
    Incident.Priority.NORMAL: 600,
    Incident.Priority.LOW: 1800,
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("priority", "seconds"), TIME_OUTS.items(), ids=["critical", "high", "normal", "low"]
)
def test_it_gives_an_offer_the_time_out_of_its_incidents_priority(
    coordinator, rescuers, priority, seconds
):
    incident = open_rescue(coordinator, count=1, priority=priority)

    before = timezone.now()
    services.incident_dispatch(incident_id=incident.pk)
    after = timezone.now()

    time_out = timedelta(seconds=seconds)
    expiries = Assignment.objects.filter(need__incident=incident).values_list(
        "expires_at", flat=True
    )
    assert expiries
    assert all(before + time_out <= expires_at <= after + time_out for expires_at in expiries)


# --- after accepting ----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_takes_a_volunteer_out_of_the_index_while_busy_and_back_after(
    coordinator, rescuers, live_index, django_capture_on_commit_callbacks
):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    volunteer = rescuers[0]

    def indexed() -> bool:
        hits = live_index.search(
            volunteer_key("rescue"), latitude=SITE[0], longitude=SITE[1], radius_km=50, count=10
        )
        return volunteer.pk in [hit.member for hit in hits]

    with django_capture_on_commit_callbacks(execute=True):
        accepted = services.assignment_accept(
            assignment_id=offer_of(volunteer).pk, volunteer=volunteer
        )
    busy = not indexed()
    for status in ("en_route", "on_scene"):
        services.assignment_progress(assignment_id=accepted.pk, volunteer=volunteer, status=status)
    with django_capture_on_commit_callbacks(execute=True):
        done = services.assignment_progress(
            assignment_id=accepted.pk, volunteer=volunteer, status="completed", people_moved=12
        )

    assert busy
    assert indexed()
    assert (done.status, done.people_moved) == (AssignmentStatus.COMPLETED, 12)
    assert done.en_route_at <= done.on_scene_at <= done.finished_at
    assert kinds(assignment=accepted) == [
        "offer.made",
        "offer.accepted",
        "assignment.en_route",
        "assignment.on_scene",
        "assignment.completed",
    ]


@pytest.mark.django_db
def test_it_withdraws_the_other_offers_of_a_volunteer_who_took_a_task(
    coordinator, rescuers, django_capture_on_commit_callbacks
):
    busy, free = rescuers[0], rescuers[1]
    taken, other, offers = offers_on_two_rescues(coordinator, (busy, free))
    # The accept's commit hooks run (the busy volunteer leaves the location index);
    # the withdrawal they queue is run here, by hand.
    with django_capture_on_commit_callbacks(execute=True):
        services.assignment_accept(assignment_id=offers[taken.pk, busy.pk].pk, volunteer=busy)

    need_ids = services.offers_withdraw_from_busy(volunteer_id=busy.pk)

    assert need_ids == [other.pk]
    withdrawn = Assignment.objects.get(pk=offers[other.pk, busy.pk].pk)
    assert (withdrawn.status, withdrawn.reason) == (
        AssignmentStatus.WITHDRAWN,
        "accepted another task",
    )
    assert kinds(assignment=withdrawn)[-1] == "offer.withdrawn"
    # Someone free keeps their offer; the need is offered again to others.
    assert Assignment.objects.get(pk=offers[other.pk, free.pk].pk).status == "offered"
    again = services.needs_dispatch(need_ids=need_ids)
    assert again
    assert busy.pk not in {offer.volunteer_id for offer in again}


@pytest.mark.django_db
def test_it_marks_an_offer_seen_and_delivered_once_and_only_by_its_volunteer(coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    offer = offer_of(rescuers[0])

    assert refusal(
        lambda: services.offer_mark_seen(assignment_id=offer.pk, volunteer=rescuers[1])
    ) == ("This offer is not yours.")
    first = services.offer_mark_seen(assignment_id=offer.pk, volunteer=rescuers[0])
    seen = Assignment.objects.get(pk=offer.pk)
    repeat = services.offer_mark_seen(assignment_id=offer.pk, volunteer=rescuers[0])

    assert (first, repeat) == (True, False)
    assert seen.delivered_at is not None and seen.seen_at is not None
    again = Assignment.objects.get(pk=offer.pk)
    assert (again.delivered_at, again.seen_at) == (seen.delivered_at, seen.seen_at)
    assert kinds(assignment=offer) == ["offer.made", "offer.delivered", "offer.seen"]
    actors = DeploymentEvent.objects.filter(
        assignment=offer, kind__in=["offer.delivered", "offer.seen"]
    )
    assert {event.actor for event in actors} == {rescuers[0].user}
    # Only that offer: the other volunteer's is neither delivered nor seen.
    other = offer_of(rescuers[1])
    assert (other.delivered_at, other.seen_at) == (None, None)


@pytest.mark.django_db
def test_it_withdraws_the_other_offers_of_a_vehicle_that_took_a_task_and_not_a_free_ones(
    coordinator, make_volunteer, township
):
    crew = make_volunteer("13912340001", on_duty=True)

    def truck(call_sign):
        return Vehicle.objects.create(
            call_sign=call_sign,
            kind=VehicleKind.TRUCK,
            township=township,
            capacity=6,
            max_water_depth_m=Decimal("0.60"),
        )

    busy, free = truck("抢险车 1"), truck("抢险车 2")
    mate = make_volunteer("13912340002", on_duty=True)
    busy.crew.add(crew, mate)
    incident = open_rescue(coordinator, count=1)

    def trucks_need():
        return Need.objects.create(
            incident=incident, kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.TRUCK
        )

    first, second = trucks_need(), trucks_need()
    offers = {
        (need.pk, vehicle.pk): Assignment.objects.create(
            need=need, vehicle=vehicle, status=AssignmentStatus.OFFERED
        )
        for need in (first, second)
        for vehicle in (busy, free)
    }
    # The free truck finished an earlier task: that does not make it busy.
    Assignment.objects.create(
        need=trucks_need(), vehicle=free, status=AssignmentStatus.COMPLETED, people_moved=0
    )
    services.assignment_accept(assignment_id=offers[first.pk, busy.pk].pk, volunteer=crew)
    # Until the withdrawal runs, the truck's other offer is refused to its crew.
    assert refusal(
        lambda: services.assignment_accept(
            assignment_id=offers[second.pk, busy.pk].pk, volunteer=mate
        )
    ) == ("This vehicle is already on another assignment.")

    before = timezone.now()
    assert services.offers_withdraw_from_busy(vehicle_id=free.pk) == []
    assert services.offers_withdraw_from_busy(vehicle_id=busy.pk) == [second.pk]

    withdrawn = Assignment.objects.get(pk=offers[second.pk, busy.pk].pk)
    assert (withdrawn.status, withdrawn.reason) == (
        AssignmentStatus.WITHDRAWN,
        services.ACCEPTED_ANOTHER,
    )
    assert before <= withdrawn.answered_at <= timezone.now()
    event = DeploymentEvent.objects.get(assignment=withdrawn, kind=EventKind.OFFER_WITHDRAWN)
    assert event.data == {"status": "withdrawn", "reason": services.ACCEPTED_ANOTHER}
    assert Assignment.objects.get(pk=offers[second.pk, free.pk].pk).status == "offered"


@pytest.mark.django_db
def test_it_completes_a_task_with_nobody_to_move_and_frees_the_vehicle(
    coordinator,
    make_volunteer,
    township,
    live_index,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    crew = make_volunteer("13912340003", on_duty=True)
    truck = Vehicle.objects.create(
        call_sign="抢险车 5",
        kind=VehicleKind.TRUCK,
        township=township,
        capacity=6,
        max_water_depth_m=Decimal("0.60"),
        latitude=SITE[0],
        longitude=SITE[1],
    )
    truck.crew.add(crew)
    need = Need.objects.create(
        incident=open_rescue(coordinator, count=1),
        kind=Need.Kind.VEHICLE,
        vehicle_kind=VehicleKind.TRUCK,
    )
    offer = Assignment.objects.create(need=need, vehicle=truck, status=AssignmentStatus.OFFERED)
    queued = []
    monkeypatch.setattr(
        services.queue,
        "offers_withdraw_from_busy_enqueue",
        lambda **resource: queued.append(resource),
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.assignment_accept(assignment_id=offer.pk, volunteer=crew)
    # The other offers of the crew member who answered, and of the truck, are withdrawn.
    assert queued == [{"volunteer_id": crew.pk}, {"vehicle_id": truck.pk}]

    def trucks_in_index():
        hits = live_index.search(
            "vehicle:truck", latitude=SITE[0], longitude=SITE[1], radius_km=5, count=10
        )
        return [hit.member for hit in hits]

    busy = trucks_in_index()
    with django_capture_on_commit_callbacks(execute=True):
        done = services.assignment_progress(
            assignment_id=offer.pk, volunteer=crew, status="completed", people_moved=0
        )

    assert busy == []
    assert trucks_in_index() == [truck.pk]
    assert (done.status, done.people_moved) == (AssignmentStatus.COMPLETED, 0)
    event = DeploymentEvent.objects.get(assignment=offer, kind="assignment.completed")
    assert event.actor == crew.user
    assert event.data == {"status": "completed", "people_moved": 0}


@pytest.mark.django_db
def test_it_refuses_steps_out_of_order(coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    offer = offer_of(rescuers[0])

    def progress(status, *, volunteer=rescuers[0], **fields):
        return lambda: services.assignment_progress(
            assignment_id=offer.pk, volunteer=volunteer, status=status, **fields
        )

    assert refusal(progress("completed")) == "Cannot go from “Offered” to “Completed”."
    assert refusal(progress("flying")) == "Unknown status 'flying'."
    services.assignment_accept(assignment_id=offer.pk, volunteer=rescuers[0])
    assert refusal(progress("en_route", volunteer=rescuers[1])) == ("This assignment is not yours.")
    assert refusal(progress("en_route", people_moved=3)) == (
        "People moved are reported once, when completing."
    )


@pytest.mark.django_db
def test_it_withdraws_offers_and_frees_everyone_when_the_incident_closes(coordinator, rescuers):
    incident = open_rescue(coordinator, count=2)
    services.incident_dispatch(incident_id=incident.pk)
    working = services.assignment_accept(
        assignment_id=offer_of(rescuers[0]).pk, volunteer=rescuers[0]
    )

    incident_resolve(incident=incident, actor=coordinator, note="已转移")

    statuses = dict(
        Assignment.objects.filter(need__incident=incident).values_list("volunteer_id", "status")
    )
    assert statuses == {
        working.volunteer_id: AssignmentStatus.CANCELLED,
        rescuers[1].pk: AssignmentStatus.WITHDRAWN,
        rescuers[2].pk: AssignmentStatus.WITHDRAWN,
    }
    assert kinds(incident=incident)[-1] == "incident.resolved"


# --- coordinators -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_lets_a_coordinator_assign_by_hand_and_take_someone_off(coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    need = incident.needs.get()
    far_away = rescuers[4]

    assigned = services.assignment_assign_manually(
        need_id=need.pk,
        target=services.ManualTarget(volunteer=far_away),
        actor=coordinator,
        reason="电话确认",
    )
    with pytest.raises(services.OfferClosed, match="already filled"):
        services.assignment_assign_manually(
            need_id=need.pk,
            target=services.ManualTarget(volunteer=rescuers[0]),
            actor=coordinator,
            reason="电话确认",
        )
    services.assignment_unassign(assignment_id=assigned.pk, actor=coordinator, reason="人不在")

    assigned.refresh_from_db()
    assert assigned.offered_by == coordinator
    assert (assigned.status, assigned.reason) == (AssignmentStatus.CANCELLED, "人不在")
    # Offered again, to others: the one taken off is not asked back at once.
    again = services.incident_dispatch(incident_id=incident.pk)
    assert again
    assert far_away.pk not in {offer.volunteer_id for offer in again}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("close", "told"),
    [(incident_resolve, "already resolved"), (incident_cancel, "already cancelled")],
    ids=["resolved", "cancelled"],
)
def test_it_refuses_to_assign_by_hand_on_a_closed_incident(coordinator, rescuers, close, told):
    incident = open_rescue(coordinator, count=1)
    close(incident=incident, actor=coordinator, note="")

    with pytest.raises(services.OfferClosed, match=f"The incident is {told}"):
        services.assignment_assign_manually(
            need_id=incident.needs.get().pk,
            target=services.ManualTarget(volunteer=rescuers[0]),
            actor=coordinator,
            reason="电话确认",
        )
    assert not Assignment.objects.filter(need__incident=incident).exists()


@pytest.mark.django_db
def test_it_turns_the_offer_of_someone_assigned_by_hand_into_their_booked_task(
    coordinator, rescuers, township
):
    """They were offered the need and said yes on the phone: their offer becomes the
    task, with who assigned it and why (cut to 300 characters), and they are booked:
    their truck's crew cannot take them along on another task meanwhile."""
    incident = open_rescue(coordinator, count=2)
    services.incident_dispatch(incident_id=incident.pk)
    volunteer = rescuers[0]
    offered = offer_of(volunteer)
    truck = Vehicle.objects.create(
        call_sign="抢险车 3",
        kind=VehicleKind.TRUCK,
        township=township,
        capacity=6,
        max_water_depth_m=Decimal("0.60"),
    )
    truck.crew.add(volunteer)
    trucks_offer = Assignment.objects.create(
        need=Need.objects.create(
            incident=incident,
            kind=Need.Kind.VEHICLE,
            vehicle_kind=VehicleKind.TRUCK,
        ),
        vehicle=truck,
        status=AssignmentStatus.OFFERED,
    )
    why = "电" * 400

    before = timezone.now()
    assigned = services.assignment_assign_manually(
        need_id=offered.need_id,
        target=services.ManualTarget(volunteer=volunteer),
        actor=coordinator,
        reason=why,
    )

    assert assigned.pk == offered.pk
    task = Assignment.objects.get(pk=offered.pk)
    assert (task.status, task.reason, task.offered_by) == (
        AssignmentStatus.ACCEPTED,
        why[:300],
        coordinator,
    )
    assert before <= task.answered_at <= timezone.now()
    event = DeploymentEvent.objects.get(assignment=offered, kind=EventKind.OFFER_ACCEPTED)
    assert event.actor == coordinator
    assert event.data == {"status": "accepted", "manual": True, "reason": why[:300]}
    with pytest.raises(services.ResourceBusy, match="You are already on another assignment"):
        services.assignment_accept(assignment_id=trucks_offer.pk, volunteer=volunteer)


@pytest.mark.django_db
def test_it_tells_a_coordinator_why_an_assignment_by_hand_is_refused(
    coordinator, rescuers, township
):
    people = open_rescue(coordinator, count=2).needs.get()
    boats = Need.objects.create(
        incident=people.incident, kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT
    )
    boat = Vehicle.objects.create(
        call_sign="蓝天-冲锋舟-09",
        kind=VehicleKind.BOAT,
        township=township,
        capacity=8,
        max_water_depth_m=Decimal("1.50"),
    )

    def assign(need, *, reason="电话确认", **target):
        return lambda: services.assignment_assign_manually(
            need_id=need.pk,
            target=services.ManualTarget(**target),
            actor=coordinator,
            reason=reason,
        )

    first, second, third = rescuers[:3]
    assert refusal(assign(people, volunteer=first, reason=" ")) == "Say why you assign by hand."
    assert refusal(assign(people)) == "Assign one volunteer or one vehicle."
    assert refusal(assign(people, volunteer=first, vehicle=boat)) == (
        "Assign one volunteer or one vehicle."
    )
    assert refusal(assign(people, vehicle=boat)) == (
        "This need asks for people: assign a volunteer."
    )
    assert refusal(assign(boats, volunteer=first)) == (
        "This need asks for vehicles: assign a vehicle."
    )
    # A boat can be assigned by hand (its open offer becomes the task); a second
    # person alongside the first too.
    boats_offer = Assignment.objects.create(
        need=boats, vehicle=boat, status=AssignmentStatus.OFFERED
    )
    assert assign(boats, vehicle=boat)().pk == boats_offer.pk
    assign(people, volunteer=first)()
    assert refusal(assign(people, volunteer=first)) == (
        f"{first.name} already has a place on this need."
    )
    assign(people, volunteer=second)()
    assert refusal(assign(people, volunteer=third)) == "This need is already filled."


@pytest.mark.django_db
def test_it_records_who_took_someone_off_when_and_why(coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    working, offered = offer_of(rescuers[0]), offer_of(rescuers[1])
    services.assignment_accept(assignment_id=working.pk, volunteer=rescuers[0])
    # Accepting filled the need and withdrew the other offer: offer it again by hand.
    Assignment.objects.filter(pk=offered.pk).update(status=AssignmentStatus.OFFERED, reason="")
    why = "人" * 400

    def unassign(assignment, reason=why):
        return lambda: services.assignment_unassign(
            assignment_id=assignment.pk, actor=coordinator, reason=reason
        )

    assert refusal(unassign(working, reason=" ")) == "Say why you unassign."
    before = timezone.now()
    unassign(working)()
    unassign(offered)()

    cancelled, withdrawn = (Assignment.objects.get(pk=a.pk) for a in (working, offered))
    assert (cancelled.status, cancelled.reason) == (AssignmentStatus.CANCELLED, why[:300])
    assert before <= cancelled.finished_at <= timezone.now()
    assert (withdrawn.status, withdrawn.reason) == (AssignmentStatus.WITHDRAWN, why[:300])
    assert before <= withdrawn.answered_at <= timezone.now()
    for assignment, kind in [(working, "assignment.cancelled"), (offered, "offer.withdrawn")]:
        event = DeploymentEvent.objects.filter(assignment=assignment, kind=kind).last()
        assert event.actor == coordinator
        assert event.data["reason"] == why[:300]
    assert refusal(unassign(working)) == "This assignment is already closed (Stood down)."


@pytest.mark.django_db
def test_it_refuses_to_book_a_busy_volunteer_by_hand(coordinator, rescuers):
    first = open_rescue(coordinator, count=1)
    second = open_rescue(coordinator, count=1)
    target = services.ManualTarget(volunteer=rescuers[0])
    services.assignment_assign_manually(
        need_id=first.needs.get().pk, target=target, actor=coordinator, reason="电话确认"
    )

    with pytest.raises(services.ResourceBusy):
        services.assignment_assign_manually(
            need_id=second.needs.get().pk, target=target, actor=coordinator, reason="电话确认"
        )
    with pytest.raises(services.InvalidTransition, match="Say why"):
        services.assignment_assign_manually(
            need_id=second.needs.get().pk,
            target=services.ManualTarget(volunteer=rescuers[1]),
            actor=coordinator,
            reason=" ",
        )


# --- vehicles -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_sends_enough_vehicles_that_work_in_that_water(coordinator, make_volunteer):
    township = Township.objects.get(name="龙湖镇")
    crew = make_volunteer("13911111111", skills=("boat_operator",), on_duty=True)

    def vehicle(call_sign, kind, capacity, depth, km):
        made = Vehicle.objects.create(
            call_sign=call_sign,
            kind=kind,
            township=township,
            capacity=capacity,
            max_water_depth_m=Decimal(depth),
            latitude=SITE[0] + km * KM,
            longitude=SITE[1],
        )
        made.crew.add(crew)
        return made

    car = vehicle("豫A·01", VehicleKind.CAR, 4, "0.30", 0.5)
    boats = [vehicle(f"蓝天-0{n}", VehicleKind.BOAT, 10, "3.00", n) for n in range(1, 5)]
    truck = vehicle("豫A·02", VehicleKind.TRUCK, 20, "1.20", 2.5)
    index_rebuild()
    incident = open_rescue(
        coordinator,
        needs=[
            NeedSpec(kind=Need.Kind.CAPABILITY, people_to_move=28, water_depth_m=Decimal("1.2"))
        ],
    )

    offers = services.incident_dispatch(incident_id=incident.pk)

    offered = {offer.vehicle_id for offer in offers}
    assert car.pk not in offered  # a car does not get through 1.2 m of water
    capacity = sum(Vehicle.objects.get(pk=pk).capacity for pk in offered)
    assert capacity >= 28
    assert offered <= {truck.pk, *(boat.pk for boat in boats)}
    # The crew answers for the vehicle.
    accepted = services.assignment_accept(assignment_id=offers[0].pk, volunteer=crew)
    assert accepted.status == AssignmentStatus.ACCEPTED


# --- concurrency (PostgreSQL, real threads) -------------------------------------------------


def race(*calls) -> list:
    """Run the calls at the same moment in threads; return what each returned or raised."""
    start = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(number, call):
        try:
            start.wait()
            outcomes[number] = call()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test checks
            outcomes[number] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def accepting(offer):
    volunteer = offer.volunteer
    return lambda: services.assignment_accept(assignment_id=offer.pk, volunteer=volunteer)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_lets_exactly_one_of_many_take_the_last_place(coordinator, make_volunteer):
    incident = open_rescue(coordinator, count=1)
    need = incident.needs.get()
    offers = [
        Assignment.objects.create(
            need=need,
            status=AssignmentStatus.OFFERED,
            volunteer=make_volunteer(f"1370000000{n}", on_duty=True),
        )
        for n in range(8)
    ]

    outcomes = race(*[accepting(offer) for offer in offers])

    winners = [o for o in outcomes if isinstance(o, Assignment)]
    assert len(winners) == 1
    assert all(isinstance(o, services.OfferClosed) for o in outcomes if o not in winners)
    assert need.assignments.filter(status=AssignmentStatus.ACCEPTED).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_never_fills_a_need_beyond_what_it_asked(coordinator, make_volunteer):
    incident = open_rescue(coordinator, count=3)
    need = incident.needs.get()
    offers = [
        Assignment.objects.create(
            need=need,
            status=AssignmentStatus.OFFERED,
            volunteer=make_volunteer(f"1370000001{n}", on_duty=True),
        )
        for n in range(8)
    ]

    race(*[accepting(offer) for offer in offers])

    assert need.assignments.filter(status=AssignmentStatus.ACCEPTED).count() == 3
    assert need.assignments.filter(status=AssignmentStatus.WITHDRAWN).count() == 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_books_a_volunteer_accepting_two_offers_at_once_only_once(coordinator, make_volunteer):
    volunteer = make_volunteer("13700000020", on_duty=True)
    offers = [
        Assignment.objects.create(
            need=open_rescue(coordinator, count=1).needs.get(),
            status=AssignmentStatus.OFFERED,
            volunteer=volunteer,
        )
        for _ in range(2)
    ]

    outcomes = race(*[accepting(offer) for offer in offers])

    assert sum(isinstance(o, Assignment) for o in outcomes) == 1
    assert sum(isinstance(o, services.ResourceBusy) for o in outcomes) == 1
    active = Assignment.objects.filter(volunteer=volunteer, status=AssignmentStatus.ACCEPTED)
    assert active.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_sends_no_duplicate_offers_when_dispatch_runs_twice_at_once(coordinator, rescuers):
    incident = open_rescue(coordinator, count=2)

    race(
        lambda: services.incident_dispatch(incident_id=incident.pk),
        lambda: services.incident_dispatch(incident_id=incident.pk),
    )

    assert len(offered_to(incident)) == 3
    assert kinds(kind=EventKind.OFFER_MADE) == ["offer.made"] * 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_redispatches_around_a_need_another_transaction_holds(coordinator, rescuers):
    held = open_rescue(coordinator, count=1).needs.get()
    free = open_rescue(coordinator, count=1).needs.get()
    holding, release = threading.Event(), threading.Event()

    def hold_the_need():
        # As a volunteer's accept holds it, only for longer.
        with transaction.atomic():
            Need.objects.select_for_update().get(pk=held.pk)
            holding.set()
            release.wait(timeout=20)
        connection.close()

    holder = threading.Thread(target=hold_the_need)
    holder.start()
    holding.wait(timeout=10)
    try:
        offers = services.needs_redispatch()
    finally:
        release.set()
        holder.join()

    assert {offer.need_id for offer in offers} == {free.pk}
    # The next sweep takes the need that was held.
    assert {offer.need_id for offer in services.needs_redispatch()} == {held.pk}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_waits_for_a_need_another_transaction_holds_when_asked_to_dispatch_it(
    coordinator, rescuers
):
    """An explicit dispatch (an incident just opened, a decline) waits for the need's
    lock rather than skip the need: only the sweep skips what is held."""
    need = open_rescue(coordinator, count=1).needs.get()
    holding, release = threading.Event(), threading.Event()
    outcome = {}

    def hold_the_need():
        with transaction.atomic():
            Need.objects.select_for_update().get(pk=need.pk)
            holding.set()
            release.wait(timeout=20)
        connection.close()

    def dispatch():
        try:
            outcome["offers"] = services.needs_dispatch(need_ids=[need.pk])
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_need)
    holder.start()
    holding.wait(timeout=10)
    dispatcher = threading.Thread(target=dispatch)
    try:
        dispatcher.start()
        wait_until(
            lambda: waiting_for_a_lock() or not dispatcher.is_alive(),
            timeout=10,
            what="the dispatch to wait for the need or to end",
        )
    finally:
        release.set()
        holder.join()
        dispatcher.join(timeout=20)

    assert {offer.need_id for offer in outcome["offers"]} == {need.pk}


def waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_confirms_a_delivery_while_an_accept_fills_the_need(coordinator, rescuers, monkeypatch):
    """An accept logs its event (taking the sequence's lock), then withdraws the need's
    other offers. A phone confirming one of those offers in between must queue behind
    the accept, not lock the offer and wait for the sequence: that was a deadlock."""
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    winner, other = rescuers[0], rescuers[1]
    others_offer = offer_of(other).pk
    accepted_and_logged, go_on = threading.Event(), threading.Event()
    withdraw = services._withdraw_other_offers_of_need

    def withdraw_after_a_pause(need, **kwargs):
        accepted_and_logged.set()
        go_on.wait(timeout=20)
        withdraw(need, **kwargs)

    monkeypatch.setattr(services, "_withdraw_other_offers_of_need", withdraw_after_a_pause)
    outcomes = {}

    def in_a_thread(name, call):
        def run():
            try:
                outcomes[name] = call()
            except Exception as error:  # noqa: BLE001 - the outcome is what the test checks
                outcomes[name] = error
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    accepter = in_a_thread(
        "accept",
        lambda: services.assignment_accept(assignment_id=offer_of(winner).pk, volunteer=winner),
    )
    accepted_and_logged.wait(timeout=10)
    confirmer = in_a_thread(
        "delivered",
        lambda: services.offer_mark_delivered(assignment_id=others_offer, volunteer=other),
    )
    wait_until(waiting_for_a_lock, timeout=10, what="the confirmation to wait for a lock")
    go_on.set()
    accepter.join()
    confirmer.join()

    assert isinstance(outcomes["accept"], Assignment), outcomes
    assert outcomes["delivered"] is True, outcomes
    confirmed = Assignment.objects.get(pk=others_offer)
    assert confirmed.status == AssignmentStatus.WITHDRAWN
    assert confirmed.delivered_at is not None


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def blocked_by(pid: int) -> set[int]:
    """The PostgreSQL backends whose locks the backend `pid` is waiting for (none when
    it is not waiting): read from another connection, a probe that cannot pass by
    accident, unlike a pause that hopes the other side has got there."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_blocking_pids(%s)", [pid])
        return set(cursor.fetchone()[0])


class Clock:
    """django.utils.timezone for dispatch.services, with `now` set by the test."""

    def __init__(self, at):
        self.at = at

    def now(self):
        return self.at

    def __getattr__(self, name):
        return getattr(timezone, name)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_never_expires_an_offer_accepted_while_the_sweep_waited_for_it(
    coordinator, rescuers, monkeypatch
):
    """An accept at the last second holds the need while the sweep, whose clock says the
    offer is due, has already chosen it: the sweep waits for the need, then must find
    the offer accepted and leave it."""
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    volunteer = rescuers[0]
    offer = offer_of(volunteer)
    clock = Clock(offer.expires_at - timedelta(seconds=1))
    monkeypatch.setattr(services, "timezone", clock)
    pids, outcomes = {}, {}
    holding, release = threading.Event(), threading.Event()

    def hold_the_log():
        # Services log their events last (DESIGN.md, decisions): an accept waiting for
        # the log's sequence has passed every check and written the offer's new status.
        with transaction.atomic():
            pids["holder"] = backend_pid()
            EventSequence.objects.select_for_update().get(pk=1)
            holding.set()
            release.wait(timeout=60)
        connection.close()

    def in_a_thread(name, call):
        def run():
            try:
                pids[name] = backend_pid()
                outcomes[name] = call()
            except Exception as error:  # noqa: BLE001 - the outcome is what the test checks
                outcomes[name] = error
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    holder = threading.Thread(target=hold_the_log)
    holder.start()
    try:
        assert holding.wait(timeout=30)
        accepter = in_a_thread(
            "accept",
            lambda: services.assignment_accept(assignment_id=offer.pk, volunteer=volunteer),
        )
        wait_until(
            lambda: "accept" in pids and pids["holder"] in blocked_by(pids["accept"]),
            timeout=30,
            what="the accept to wait for the log, holding the need",
        )
        clock.at = offer.expires_at + timedelta(seconds=1)  # the offer is due now
        sweeper = in_a_thread("sweep", services.offers_expire)
        sweep_waited = wait_until(
            lambda: (
                "sweep" in outcomes
                or ("sweep" in pids and pids["accept"] in blocked_by(pids["sweep"]))
            ),
            timeout=30,
            what="the sweep to wait for the need the accept holds",
        )
        sweep_waited = "sweep" not in outcomes
    finally:
        release.set()
        holder.join()
    accepter.join()
    sweeper.join()

    assert sweep_waited, outcomes  # it chose the offer before the accept committed
    assert isinstance(outcomes["accept"], Assignment), outcomes
    assert outcomes["sweep"] == [], outcomes
    assert Assignment.objects.get(pk=offer.pk).status == AssignmentStatus.ACCEPTED
    assert kinds(assignment=offer) == ["offer.made", "offer.accepted"]


# --- what the mutation run found unpinned (docs/mutation.md) --------------------------------


def _truck(township, call_sign: str, *crew) -> Vehicle:
    return scenes.make_vehicle(
        township, call_sign, *crew, kind=VehicleKind.TRUCK, at=(SITE[0] + KM, SITE[1])
    )


@pytest.mark.django_db
def test_it_stamps_when_an_offer_expired(coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    late = offer_of(rescuers[0])
    Assignment.objects.filter(pk=late.pk).update(expires_at=timezone.now())
    before = timezone.now()

    services.offers_expire()

    # The review's "how long people took to answer" counts an expiry as an answer then.
    assert before <= Assignment.objects.get(pk=late.pk).answered_at <= timezone.now()


@pytest.mark.django_db
def test_it_returns_the_offers_of_every_need_it_dispatched(coordinator, rescuers):
    rescue = Skill.objects.get(code="rescue")
    incident = open_rescue(
        coordinator,
        needs=[
            NeedSpec(kind=Need.Kind.PEOPLE, skill=rescue, count=1),
            NeedSpec(kind=Need.Kind.PEOPLE, skill=rescue, count=1),
        ],
    )

    offers = services.incident_dispatch(incident_id=incident.pk)

    assert {offer.need_id for offer in offers} == set(incident.needs.values_list("pk", flat=True))
    assert len(offers) == Assignment.objects.filter(need__incident=incident).count()


@pytest.mark.django_db
def test_closing_an_incident_names_the_coordinator_on_each_withdrawal(coordinator, rescuers):
    incident = open_rescue(coordinator, count=2)
    services.incident_dispatch(incident_id=incident.pk)
    services.assignment_accept(assignment_id=offer_of(rescuers[0]).pk, volunteer=rescuers[0])

    incident_cancel(incident=incident, actor=coordinator, note="误报")

    closings = DeploymentEvent.objects.filter(
        incident=incident, kind__in=[EventKind.OFFER_WITHDRAWN, EventKind.ASSIGNMENT_CANCELLED]
    )
    assert closings.count() == 3
    assert {event.actor for event in closings} == {coordinator}


@pytest.mark.django_db
def test_filling_the_last_place_by_hand_withdraws_the_other_offers_of_the_need(
    coordinator, rescuers, monkeypatch
):
    incident = open_rescue(coordinator, count=2)
    services.incident_dispatch(incident_id=incident.pk)
    need = incident.needs.get()
    services.assignment_accept(assignment_id=offer_of(rescuers[0]).pk, volunteer=rescuers[0])
    queued = []
    monkeypatch.setattr(
        services.queue,
        "offers_withdraw_from_busy_enqueue",
        lambda **resource: queued.append(resource),
    )

    services.assignment_assign_manually(
        need_id=need.pk,
        target=services.ManualTarget(volunteer=rescuers[4]),
        actor=coordinator,
        reason="电话确认",
    )

    left = Assignment.objects.filter(need=need).exclude(volunteer__in=[rescuers[0], rescuers[4]])
    assert {(a.status, a.reason) for a in left} == {
        (AssignmentStatus.WITHDRAWN, services.NOT_NEEDED)
    }
    # The one booked by hand is busy now: their offers elsewhere go to others.
    assert queued == [{"volunteer_id": rescuers[4].pk}]


@pytest.mark.django_db
def test_booking_the_first_of_two_places_by_hand_leaves_the_other_offers_open(
    coordinator, rescuers
):
    incident = open_rescue(coordinator, count=2)
    services.incident_dispatch(incident_id=incident.pk)
    need = incident.needs.get()

    services.assignment_assign_manually(
        need_id=need.pk,
        target=services.ManualTarget(volunteer=rescuers[4]),
        actor=coordinator,
        reason="电话确认",
    )

    open_offers = Assignment.objects.filter(need=need, status=AssignmentStatus.OFFERED)
    assert open_offers.count() == 3  # one place left: the offers still ask for it


@pytest.mark.django_db
def test_a_truck_that_took_a_task_leaves_the_index_once_the_accept_commits(
    coordinator, make_volunteer, township, live_index, django_capture_on_commit_callbacks
):
    driver = make_volunteer("13912340011", on_duty=True)
    truck = _truck(township, "抢险车 9", driver)
    index_rebuild()
    incident = open_rescue(coordinator, count=1)
    need = Need.objects.create(
        incident=incident, kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.TRUCK
    )
    offer = Assignment.objects.create(need=need, vehicle=truck, status=AssignmentStatus.OFFERED)

    def trucks_indexed() -> list[int]:
        hits = live_index.search(
            vehicle_key(VehicleKind.TRUCK),
            latitude=SITE[0],
            longitude=SITE[1],
            radius_km=50,
            count=10,
        )
        return [hit.member for hit in hits]

    assert trucks_indexed() == [truck.pk]
    with django_capture_on_commit_callbacks(execute=True):
        services.assignment_accept(assignment_id=offer.pk, volunteer=driver)

    assert trucks_indexed() == []


@pytest.mark.django_db
def test_the_sweep_withdraws_the_offers_of_a_truck_whose_withdrawal_was_lost(
    coordinator, make_volunteer, township
):
    driver = make_volunteer("13912340012", on_duty=True)
    busy, free = _truck(township, "抢险车 7", driver), _truck(township, "抢险车 8")
    incident = open_rescue(coordinator, count=1)

    def trucks_need():
        return Need.objects.create(
            incident=incident, kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.TRUCK
        )

    working, waiting = trucks_need(), trucks_need()
    Assignment.objects.create(need=working, vehicle=busy, status=AssignmentStatus.EN_ROUTE)
    lost = Assignment.objects.create(need=waiting, vehicle=busy, status=AssignmentStatus.OFFERED)
    kept = Assignment.objects.create(need=waiting, vehicle=free, status=AssignmentStatus.OFFERED)

    assert services.offers_withdraw_from_busy_sweep() == [waiting.pk]

    assert Assignment.objects.get(pk=lost.pk).status == AssignmentStatus.WITHDRAWN
    assert Assignment.objects.get(pk=kept.pk).status == AssignmentStatus.OFFERED
    assert services.offers_withdraw_from_busy_sweep() == []


@pytest.mark.django_db
def test_the_sweep_withdraws_only_the_busy_volunteers_offers_whose_withdrawal_was_lost(
    coordinator, rescuers
):
    busy, free = rescuers[0], rescuers[1]
    taken, other, offers = offers_on_two_rescues(coordinator, (busy, free))
    # Accepted; the withdrawal it queues after its commit never runs here (lost).
    services.assignment_accept(assignment_id=offers[taken.pk, busy.pk].pk, volunteer=busy)

    assert services.offers_withdraw_from_busy_sweep() == [other.pk]

    assert Assignment.objects.get(pk=offers[other.pk, busy.pk].pk).status == "withdrawn"
    assert Assignment.objects.get(pk=offers[other.pk, free.pk].pk).status == "offered"
