import asyncio
import copy
import threading
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.utils import timezone

from dispatch import events
from dispatch.events import DASHBOARD_GROUP, event_record, events_relay, volunteer_group
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from tests.dispatch.test_services import backend_pid, blocked_by
from tests.incidents.test_services import open_flood_rescue
from tests.processes import free_port, wait_until
from volunteers.models import Vehicle, VehicleKind


def record_duty_event(volunteer):
    return event_record(kind=EventKind.VOLUNTEER_ON_DUTY, volunteer=volunteer)


@pytest.mark.django_db
def test_it_numbers_events_without_gaps_even_after_a_rollback(volunteer):
    with transaction.atomic():
        first = record_duty_event(volunteer)
    with pytest.raises(RuntimeError, match="the change failed"), transaction.atomic():
        record_duty_event(volunteer)
        raise RuntimeError("the change failed after logging")
    with transaction.atomic():
        second = record_duty_event(volunteer)

    assert second.seq == first.seq + 1
    assert list(DeploymentEvent.objects.values_list("seq", flat=True)) == [first.seq, second.seq]


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_log_outside_the_transaction_of_the_change(volunteer):
    with pytest.raises(RuntimeError, match="inside the transaction"):
        record_duty_event(volunteer)
    assert not DeploymentEvent.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_commits_events_in_sequence_order(volunteer):
    """A reader who has seen seq N must never later find a new event below N. So a
    second writer waits for the first writer's commit before taking its number."""
    first_has_number = threading.Event()
    let_first_commit = threading.Event()
    seqs, pids = {}, {}

    def first_writer():
        pids["first"] = backend_pid()
        with transaction.atomic():
            seqs["first"] = record_duty_event(volunteer).seq
            first_has_number.set()
            let_first_commit.wait(timeout=60)
        connection.close()

    def second_writer():
        pids["second"] = backend_pid()
        with transaction.atomic():
            seqs["second"] = record_duty_event(volunteer).seq
        connection.close()

    first = threading.Thread(target=first_writer)
    first.start()
    try:
        assert first_has_number.wait(timeout=30)
        second = threading.Thread(target=second_writer)
        second.start()
        # Either the second writer is seen waiting for the first's lock, or it finished
        # without waiting: no pause that hopes it has got there by then.
        wait_until(
            lambda: (
                "second" in seqs
                or not second.is_alive()
                or ("second" in pids and pids["first"] in blocked_by(pids["second"]))
            ),
            timeout=30,
            what="the second writer to wait for the first or to finish",
        )
        blocked_while_first_open = "second" not in seqs and second.is_alive()
    finally:
        let_first_commit.set()
        first.join()
    second.join()

    assert blocked_while_first_open
    assert seqs["second"] == seqs["first"] + 1


def listen(group: str) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def receive(channel: str, timeout: float = 10) -> dict:
    async def receive_or_time_out():
        return await asyncio.wait_for(get_channel_layer().receive(channel), timeout)

    return async_to_sync(receive_or_time_out)()


@pytest.mark.django_db(transaction=True)
def test_it_publishes_an_event_to_the_dashboard_once_committed(coordinator, channel_layer):
    dashboard = listen(DASHBOARD_GROUP)

    incident = open_flood_rescue(coordinator)

    frame = receive(dashboard)["event"]
    assert frame["type"] == "event"
    assert frame["kind"] == "incident.opened"
    assert frame["incident"] == incident.pk
    assert DeploymentEvent.objects.get(seq=frame["seq"]).published_at is not None


@pytest.mark.django_db(transaction=True)
def test_it_publishes_a_volunteers_event_to_their_own_group_too(volunteer, channel_layer):
    phone = listen(volunteer_group(volunteer.pk))

    with transaction.atomic():
        event = record_duty_event(volunteer)

    assert receive(phone)["event"]["seq"] == event.seq


@pytest.mark.django_db(transaction=True)
def test_it_sends_a_vehicles_event_whole_to_the_dashboard_and_to_each_of_its_crew(
    coordinator, make_volunteer, township, channel_layer
):
    """What a dashboard and a crew's phones receive for an offer to their vehicle: the
    message the consumers handle (`log.event`), carrying every field of the event."""
    driver = make_volunteer("13800000011")
    navigator = make_volunteer("13800000012")
    bystander = make_volunteer("13800000013")
    truck = Vehicle.objects.create(
        call_sign="抢险车 7",
        kind=VehicleKind.TRUCK,
        township=township,
        capacity=6,
        max_water_depth_m=0.6,
    )
    truck.crew.add(driver, navigator)
    incident = open_flood_rescue(coordinator)
    need = incident.needs.get(kind="capability")
    offer = Assignment.objects.create(need=need, vehicle=truck, status=AssignmentStatus.OFFERED)
    listening = {
        name: listen(group)
        for name, group in [
            ("dashboard", DASHBOARD_GROUP),
            ("driver", volunteer_group(driver.pk)),
            ("navigator", volunteer_group(navigator.pk)),
            ("bystander", volunteer_group(bystander.pk)),
        ]
    }

    with transaction.atomic():
        event = event_record(
            kind=EventKind.OFFER_MADE,
            incident=incident,
            need=need,
            assignment=offer,
            vehicle=truck,
            data={"status": "offered", "eta_seconds": 300},
        )

    expected = {
        "type": "log.event",
        "event": {
            "type": "event",
            "seq": event.seq,
            "kind": "offer.made",
            "at": DeploymentEvent.objects.get(seq=event.seq).occurred_at.isoformat(),
            "incident": incident.pk,
            "need": need.pk,
            "assignment": offer.pk,
            "volunteer": None,
            "vehicle": truck.pk,
            "data": {"status": "offered", "eta_seconds": 300},
        },
    }
    for name in ("dashboard", "driver", "navigator"):
        message = receive(listening[name])
        # The dashboard also had the incident's opening before it.
        while message["event"]["seq"] != event.seq:
            message = receive(listening[name])
        assert message == expected, name
    # Not to a volunteer who is not on the truck: a marker event sent to them arrives
    # first, where the truck's would have come before it.
    with transaction.atomic():
        marker = record_duty_event(bystander)
    assert receive(listening["bystander"])["event"]["seq"] == marker.seq
    # Nothing to send, nothing counted as sent.
    assert events.events_publish(seqs=[marker.seq + 1000]) == 0


@pytest.mark.django_db(transaction=True)
def test_it_commits_the_change_and_runs_the_later_hooks_when_its_publication_raises(
    volunteer, monkeypatch, caplog
):
    """Publication is a notification: when it fails after the commit (the log cannot be
    read back, say), the change stands, the caller is not told it failed, the
    transaction's other hooks (index sync, follow-up tasks) still run, and the event
    waits for the relay."""

    def publication_fails(*, seqs):
        raise RuntimeError("the connection to the log was lost")

    monkeypatch.setattr(events, "events_publish", publication_fails)
    later_hook_ran = []

    with transaction.atomic():
        event = record_duty_event(volunteer)
        transaction.on_commit(lambda: later_hook_ran.append(True))

    assert later_hook_ran == [True]
    assert DeploymentEvent.objects.get(seq=event.seq).published_at is None
    assert "the connection to the log was lost" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_it_publishes_nothing_when_the_change_rolls_back(coordinator, volunteer, channel_layer):
    dashboard = listen(DASHBOARD_GROUP)
    with pytest.raises(RuntimeError, match="the change failed"), transaction.atomic():
        record_duty_event(volunteer)
        raise RuntimeError("the change failed after logging")

    open_flood_rescue(coordinator)

    # The first frame to arrive is the committed incident, not the rolled-back event.
    assert receive(dashboard)["event"]["kind"] == "incident.opened"


@pytest.mark.django_db
def test_it_relays_events_whose_publication_never_happened(volunteer, channel_layer):
    # In a TestCase transaction on_commit never fires: the events stay unpublished, as
    # if the process had died between commit and publish.
    old = record_duty_event(volunteer)
    young = record_duty_event(volunteer)
    DeploymentEvent.objects.filter(seq=old.seq).update(
        occurred_at=timezone.now() - timedelta(minutes=1)
    )
    dashboard = listen(DASHBOARD_GROUP)

    assert events_relay() == 1

    assert receive(dashboard)["event"]["seq"] == old.seq
    assert DeploymentEvent.objects.get(seq=old.seq).published_at is not None
    # The young one is most likely still on its way from its own commit hook.
    assert DeploymentEvent.objects.get(seq=young.seq).published_at is None
    assert events_relay() == 0


@pytest.mark.django_db(transaction=True)
def test_it_publishes_a_transactions_events_together_in_seq_order(
    volunteer, channel_layer, monkeypatch
):
    rounds = []
    send_all = events.group_send_all

    async def counted(messages):
        rounds.append(len(messages))
        await send_all(messages)

    monkeypatch.setattr(events, "group_send_all", counted)
    dashboard = listen(DASHBOARD_GROUP)

    with transaction.atomic():
        first = record_duty_event(volunteer)
        second = record_duty_event(volunteer)
        third = record_duty_event(volunteer)

    assert [receive(dashboard)["event"]["seq"] for _ in range(3)] == [
        first.seq,
        second.seq,
        third.seq,
    ]
    # One round to the channel layer: 3 events, each to the dashboard and the phone.
    assert rounds == [6]
    assert not DeploymentEvent.objects.filter(published_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_it_does_not_publish_the_event_of_a_rolled_back_savepoint(
    coordinator, volunteer, channel_layer
):
    dashboard = listen(DASHBOARD_GROUP)

    with transaction.atomic():
        before = record_duty_event(volunteer)
        with pytest.raises(RuntimeError), transaction.atomic():
            event_record(kind=EventKind.VOLUNTEER_OFF_DUTY, volunteer=volunteer)
            raise RuntimeError("the inner change failed")
        after = record_duty_event(volunteer)

    frames = [receive(dashboard)["event"] for _ in range(2)]
    # The rolled-back event gave its number back to `after`, which is what is sent.
    assert [(f["seq"], f["kind"]) for f in frames] == [
        (before.seq, "volunteer.on_duty"),
        (after.seq, "volunteer.on_duty"),
    ]
    assert after.seq == before.seq + 1
    open_flood_rescue(coordinator)
    assert receive(dashboard)["event"]["kind"] == "incident.opened"


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_it_leaves_an_event_unpublished_when_publishing_fails_until_the_relay_sends_it(
    volunteer, channel_layer, settings
):
    reachable = settings.CHANNEL_LAYERS
    unreachable = copy.deepcopy(reachable)
    # A port nobody listens on: the channel layer's Redis is down.
    unreachable["default"]["CONFIG"]["hosts"][0]["address"] = f"redis://127.0.0.1:{free_port()}/0"
    settings.CHANNEL_LAYERS = unreachable

    with transaction.atomic():
        lost = record_duty_event(volunteer)

    # Committed, its publication failed after the commit: it waits for the relay.
    assert DeploymentEvent.objects.get(seq=lost.seq).published_at is None
    # The relay cannot send it either while Redis is down, and says it sent nothing.
    DeploymentEvent.objects.filter(seq=lost.seq).update(
        occurred_at=timezone.now() - timedelta(seconds=events.RELAY_GRACE_SECONDS + 1)
    )
    assert events_relay() == 0
    assert DeploymentEvent.objects.get(seq=lost.seq).published_at is None
    settings.CHANNEL_LAYERS = reachable  # Redis is back
    with transaction.atomic():
        later = record_duty_event(volunteer)
    assert DeploymentEvent.objects.get(seq=later.seq).published_at is not None
    assert DeploymentEvent.objects.get(seq=lost.seq).published_at is None
    dashboard = listen(DASHBOARD_GROUP)
    DeploymentEvent.objects.filter(seq=lost.seq).update(
        occurred_at=timezone.now() - timedelta(seconds=events.RELAY_GRACE_SECONDS + 1)
    )

    assert events_relay() == 1

    assert receive(dashboard)["event"]["seq"] == lost.seq
    assert DeploymentEvent.objects.get(seq=lost.seq).published_at is not None
