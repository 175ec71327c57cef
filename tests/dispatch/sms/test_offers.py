"""The SMS fallback (dispatch.sms.offers): offers no phone confirmed go out by SMS, once,
each with its own reply code."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from dispatch import services, tasks
from dispatch.availability import index_rebuild
from dispatch.models import (
    Assignment,
    AssignmentStatus,
    OfferSmsCode,
    SmsDirection,
    SmsMessage,
)
from dispatch.sms import offers as sms_offers
from dispatch.sms.offers import offers_sms_fallback
from incidents.models import Need
from incidents.services import NeedSpec, incident_cancel
from tests.dispatch.scenes import KM, SITE
from tests.dispatch.sms.scenes import code_of, inbound, old_offers, status_of
from tests.dispatch.test_services import open_rescue, race
from volunteers.models import Township, Vehicle, VehicleKind

pytestmark = pytest.mark.usefixtures("live_index")


# --- the sweep ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_texts_an_undelivered_old_offer_once(coordinator, rescuers, outbox):
    offers = old_offers(coordinator, address="泰山村村委会")

    assert offers_sms_fallback() == 2
    assert offers_sms_fallback() == 0  # a second sweep texts nobody again

    assert [line["to"] for line in outbox()] == ["13900000001", "13900000002"]
    text = outbox("13900000001")[0]["text"]
    code = code_of(offers[0])
    assert "龙湖镇 泰山村 群众被困" in text  # what: the incident
    assert "需要 Need: 1 × 救援 / 1 × Rescue" in text  # what: the need, as every page says it
    assert "泰山村村委会" in text  # where
    assert "ETA" in text and "Reply by" in text
    assert f"Y {code}" in text and f"N {code}" in text
    sent = SmsMessage.objects.filter(direction=SmsDirection.OUT, assignment=offers[0]).get()
    assert (sent.phone, sent.text, sent.error) == ("13900000001", text, "")
    assert OfferSmsCode.objects.get(assignment=offers[0]).sent_at is not None


@pytest.mark.django_db
def test_it_skips_delivered_young_and_answered_offers(coordinator, rescuers, outbox):
    delivered, answered = old_offers(coordinator)
    young = services.incident_dispatch(incident_id=open_rescue(coordinator).pk)
    # The phone confirmed the offer frame (docs/websockets.md, `delivered`).
    Assignment.objects.filter(pk=delivered.pk).update(delivered_at=timezone.now())
    services.assignment_decline(assignment_id=answered.pk, volunteer=answered.volunteer)

    assert offers_sms_fallback() == 0

    assert outbox() == []
    assert not OfferSmsCode.objects.exists()
    assert young and all(o.offered_at > timezone.now() - timedelta(seconds=30) for o in young)


@pytest.mark.django_db
def test_it_runs_as_a_beat_task(coordinator, rescuers, outbox, settings):
    old_offers(coordinator)

    assert tasks.offers_sms_fallback() == 2

    schedule = settings.CELERY_BEAT_SCHEDULE["text-undelivered-offers"]
    assert schedule["task"] == "dispatch.tasks.offers_sms_fallback"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_texts_each_offer_once_when_two_sweeps_race(coordinator, rescuers, outbox):
    old_offers(coordinator, count=2)  # three offers

    outcomes = race(offers_sms_fallback, offers_sms_fallback, offers_sms_fallback)

    assert sum(outcomes) == 3
    assert sorted(line["to"] for line in outbox()) == [
        "13900000001",
        "13900000002",
        "13900000003",
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_texts_a_retried_offer_once_when_two_sweeps_race(
    coordinator, rescuers, gateway, monkeypatch
):
    offers = old_offers(coordinator)  # two offers
    gateway.state["status"] = 500
    assert offers_sms_fallback() == 0  # refused: each keeps its code row, unsent, unclaimed
    gateway.state["status"] = 200
    claim = sms_offers._claim
    # Per offer: both sweeps have chosen it before either claims it, and both have
    # tried to claim it before either sends: the claim alone decides who texts.
    barriers = {offer.pk: (threading.Barrier(2), threading.Barrier(2)) for offer in offers}

    def claim_together(assignment, recipients, now):
        chosen, claimed = barriers[assignment.pk]
        chosen.wait(timeout=30)
        try:
            return claim(assignment, recipients, now)
        finally:
            claimed.wait(timeout=30)

    monkeypatch.setattr(sms_offers, "_claim", claim_together)

    outcomes = race(offers_sms_fallback, offers_sms_fallback)

    assert all(isinstance(texted, int) for texted in outcomes), outcomes
    assert sum(outcomes) == 2, outcomes  # each offer texted by one sweep
    retried = [sent["json"]["to"] for sent in gateway.received[2:]]
    assert sorted(retried) == ["13900000001", "13900000002"]
    assert OfferSmsCode.objects.filter(sent_at__isnull=False).count() == 2


@pytest.mark.django_db
def test_it_texts_the_crew_members_who_can_go_and_takes_a_crew_reply(
    client, coordinator, make_volunteer, outbox
):
    """Those on duty and free: not the one at home, nor the one on another task."""
    first, second = (make_volunteer(p, on_duty=True) for p in ("13911111111", "13922222222"))
    at_home = make_volunteer("13933333333", on_duty=False)
    elsewhere = make_volunteer("13944444444", on_duty=True)
    boat = Vehicle.objects.create(
        call_sign="蓝天-01",
        kind=VehicleKind.BOAT,
        township=Township.objects.get(name="龙湖镇"),
        capacity=10,
        max_water_depth_m=Decimal("3.00"),
        latitude=SITE[0] + KM,
        longitude=SITE[1],
    )
    boat.crew.add(first, second, at_home, elsewhere)
    index_rebuild()
    (offer,) = old_offers(
        coordinator, needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT)]
    )
    other_task = open_rescue(coordinator, count=1).needs.get()
    Assignment.objects.create(
        need=other_task, volunteer=elsewhere, status=AssignmentStatus.ACCEPTED
    )

    offers_sms_fallback()

    assert sorted(line["to"] for line in outbox()) == ["13911111111", "13922222222"]
    assert "蓝天-01" in outbox("13922222222")[0]["text"]
    answer = inbound(client, "13922222222", f"Y {code_of(offer)}").json()
    assert answer["outcome"] == "accepted"
    assert status_of(offer) == AssignmentStatus.ACCEPTED


@pytest.mark.django_db
def test_it_leaves_an_offer_for_the_next_sweep_when_the_gateway_fails(
    coordinator, rescuers, gateway
):
    offers = old_offers(coordinator)
    gateway.state["status"] = 500

    assert offers_sms_fallback() == 0

    failed = SmsMessage.objects.filter(direction=SmsDirection.OUT)
    assert [m.error for m in failed] == ["the gateway answered 500"] * 2
    assert OfferSmsCode.objects.filter(sent_at__isnull=True, claimed_at__isnull=True).count() == 2

    gateway.state["status"] = 200
    assert offers_sms_fallback() == 2
    assert offers_sms_fallback() == 0
    assert len(gateway.received) == 4  # two refused, two taken
    # The retry keeps the offer's code: one code per offer.
    assert f"Y {code_of(offers[0])}" in gateway.received[-2]["json"]["text"]


# --- reply codes --------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_refuses_a_second_open_offer_with_the_same_code(coordinator, rescuers):
    first, second = old_offers(coordinator)
    OfferSmsCode.objects.create(assignment=first, code="4821")

    with pytest.raises(IntegrityError), transaction.atomic():
        OfferSmsCode.objects.create(assignment=second, code="4821")

    # Once the first offer's code is released (its offer closed), the code may be reused.
    OfferSmsCode.objects.filter(assignment=first).update(released_at=timezone.now())
    OfferSmsCode.objects.create(assignment=second, code="4821")


@pytest.mark.django_db
def test_it_gives_open_offers_different_codes(coordinator, rescuers, outbox):
    old_offers(coordinator, count=2)
    old_offers(coordinator, count=1)

    offers_sms_fallback()

    codes = list(OfferSmsCode.objects.values_list("code", flat=True))
    assert len(codes) == 5
    assert len(set(codes)) == 5
    assert all(len(code) == 4 and code.isdigit() for code in codes)


# --- stand-downs (issue 13) ---------------------------------------------------------------


@pytest.mark.django_db
def test_it_texts_the_stand_down_of_a_texted_offer_once(coordinator, rescuers, outbox):
    offers = old_offers(coordinator)
    offers_sms_fallback()
    incident = offers[0].need.incident

    incident_cancel(incident=incident, actor=coordinator, note="误报")
    assert sms_offers.stand_downs_sms() == 2
    assert sms_offers.stand_downs_sms() == 0  # a second sweep texts nobody again

    [offer_text, stand_down] = outbox("13900000001")
    assert f"#{incident.pk}" in stand_down["text"]
    assert "已撤回：该事件已取消。 / Withdrawn: the incident was cancelled." in stand_down["text"]
    assert "No need to go or reply." in stand_down["text"]
    assert len(outbox("13900000002")) == 2


@pytest.mark.django_db
def test_it_texts_a_task_taken_on_by_sms_and_then_cancelled(client, coordinator, rescuers, outbox):
    offers = old_offers(coordinator)
    offers_sms_fallback()
    inbound(client, "13900000001", f"Y {code_of(offers[0])}")
    assert status_of(offers[0]) == AssignmentStatus.ACCEPTED
    services.assignment_unassign(assignment_id=offers[0].pk, actor=coordinator, reason="已有人到场")

    tasks.offers_sms_fallback()  # the beat task: the offers' texts and the stand-downs

    stand_down = outbox("13900000001")[-1]["text"]
    assert "调度员已将你从此任务撤下：已有人到场" in stand_down
    assert "Taken off this task by the coordinator: 已有人到场" in stand_down


@pytest.mark.django_db
def test_it_texts_no_stand_down_of_an_offer_never_texted_or_of_ones_own_doing(
    coordinator, rescuers, outbox
):
    texted = old_offers(coordinator)
    offers_sms_fallback()
    never_texted = services.incident_dispatch(incident_id=open_rescue(coordinator).pk)
    # The second rescuer accepts another task: their texted offer is withdrawn by their
    # own doing, and the untexted offers by the incident's cancellation.
    busy = rescuers[1]
    other = [o for o in never_texted if o.volunteer_id == busy.pk][0]
    services.assignment_accept(assignment_id=other.pk, volunteer=busy)
    services.offers_withdraw_from_busy(volunteer_id=busy.pk)
    incident_cancel(incident=never_texted[0].need.incident, actor=coordinator, note="误报")
    before = len(outbox())

    assert sms_offers.stand_downs_sms() == 0
    assert len(outbox()) == before
    assert Assignment.objects.get(pk=texted[1].pk).status == AssignmentStatus.WITHDRAWN


@pytest.mark.django_db
def test_it_tries_a_stand_down_again_when_the_gateway_fails(
    coordinator, rescuers, outbox, settings
):
    offers = old_offers(coordinator)
    offers_sms_fallback()
    incident_cancel(incident=offers[0].need.incident, actor=coordinator, note="误报")
    settings.SMS_BACKEND = "dispatch.sms.gateways.HttpSmsBackend"
    settings.SMS_HTTP_URL = "http://127.0.0.1:9/unreachable"

    assert sms_offers.stand_downs_sms() == 0
    settings.SMS_BACKEND = "dispatch.sms.gateways.ConsoleSmsBackend"

    assert sms_offers.stand_downs_sms() == 2
