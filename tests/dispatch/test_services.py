"""The offer life cycle, on the configured database and location index."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone, translation

from dispatch import services
from dispatch.availability import index_rebuild
from dispatch.location_index import volunteer_key
from dispatch.models import (
    Assignment,
    AssignmentStatus,
    DeploymentEvent,
    EventKind,
    EventSequence,
)
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_resolve
from tests.dispatch import scenes
from tests.dispatch.scenes import KM, SITE, offers_on_two_rescues
from tests.processes import wait_until
from volunteers.models import Township, Vehicle, VehicleKind

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
def test_it_refuses_steps_out_of_order(coordinator, rescuers):
    incident = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=incident.pk)
    offer = offer_of(rescuers[0])

    with pytest.raises(services.InvalidTransition, match="from “Offered” to “Completed”"):
        services.assignment_progress(
            assignment_id=offer.pk, volunteer=rescuers[0], status="completed"
        )
    services.assignment_accept(assignment_id=offer.pk, volunteer=rescuers[0])
    with pytest.raises(services.InvalidTransition, match="once, when completing"):
        services.assignment_progress(
            assignment_id=offer.pk, volunteer=rescuers[0], status="en_route", people_moved=3
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
    crew = make_volunteer("13911111111", skills=("boat_operator",))

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
