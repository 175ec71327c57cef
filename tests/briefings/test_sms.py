"""The SMS fallback of broadcasts (briefings.sms): a message no phone confirmed within
SMS_FALLBACK_SECONDS is texted to that volunteer once, through the offers' gateway."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from briefings import services, sms, tasks
from briefings.models import Audience, Broadcast, BroadcastReceipt
from dispatch.models import SmsDirection, SmsMessage
from tests.dispatch.test_services import race


def sent_a_while_ago(broadcast, seconds: int = 31) -> None:
    Broadcast.objects.filter(pk=broadcast.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds)
    )


@pytest.fixture
def message(coordinator, people, longhu):
    """To 龙湖镇's two on duty, the boatman and the medic."""
    return services.broadcast_send(
        author=coordinator,
        text="107国道水位上涨，冲锋舟到龙湖镇",
        audience=Audience.TOWNSHIP,
        township=longhu,
    )


@pytest.mark.django_db
def test_it_texts_a_recipient_whose_phone_never_confirmed_once(message, people, outbox):
    services.broadcast_mark_delivered(broadcast_id=message.pk, volunteer=people["boatman"])
    assert sms.broadcasts_sms_fallback() == 0  # not yet: the phones have their 30 s
    sent_a_while_ago(message)

    assert tasks.broadcasts_sms_fallback() == 1  # the beat task: the medic only
    assert sms.broadcasts_sms_fallback() == 0  # a second sweep texts nobody again

    (text,) = outbox()
    assert text["to"] == people["medic"].phone
    assert "107国道水位上涨，冲锋舟到龙湖镇" in text["text"]
    assert text["text"].startswith("【同心 Tongxin】")
    recorded = SmsMessage.objects.get(direction=SmsDirection.OUT)
    assert (recorded.phone, recorded.text, recorded.assignment) == (
        people["medic"].phone,
        text["text"],
        None,
    )
    receipt = BroadcastReceipt.objects.get(broadcast=message, volunteer=people["medic"])
    assert receipt.sms_sent_at is not None


@pytest.mark.django_db
def test_a_briefing_by_sms_says_where_and_when(coordinator, people, longhu, outbox):
    at = timezone.now() + timedelta(hours=1)
    briefing = services.broadcast_send(
        author=coordinator,
        text="防汛安全会",
        audience=Audience.SKILL,
        skill=people["boatman"].skills.get(),
        briefing_place="龙湖镇政府",
        briefing_starts_at=at,
    )
    sent_a_while_ago(briefing)

    assert sms.broadcasts_sms_fallback() == 1

    text = outbox()[0]["text"]
    assert f"集合 Briefing: 龙湖镇政府, {timezone.localtime(at):%m-%d %H:%M}" in text
    assert "Confirm on the phone page" in text


@pytest.mark.django_db
def test_it_does_not_text_a_briefing_that_has_begun_nor_an_old_message(
    coordinator, people, longhu, outbox
):
    begun = services.broadcast_send(
        author=coordinator,
        text="集合",
        audience=Audience.TOWNSHIP,
        township=longhu,
        briefing_place="龙湖镇政府",
        briefing_starts_at=timezone.now() + timedelta(seconds=10),
    )
    Broadcast.objects.filter(pk=begun.pk).update(
        briefing_starts_at=timezone.now() - timedelta(seconds=1)
    )
    sent_a_while_ago(begun)
    old = services.broadcast_send(
        author=coordinator, text="昨天的消息", audience=Audience.TOWNSHIP, township=longhu
    )
    sent_a_while_ago(old, seconds=13 * 3600)

    assert sms.broadcasts_sms_fallback() == 0
    assert outbox() == []


@pytest.mark.django_db
def test_a_refused_text_is_tried_again_by_the_next_sweep(message, people, gateway):
    sent_a_while_ago(message)
    gateway.state["status"] = 500

    assert sms.broadcasts_sms_fallback() == 0
    assert SmsMessage.objects.exclude(error="").count() == 2  # recorded with the refusal
    gateway.state["status"] = 200
    assert sms.broadcasts_sms_fallback() == 2
    assert sms.broadcasts_sms_fallback() == 0

    texted = sorted(sent["json"]["to"] for sent in gateway.received[2:])
    assert texted == sorted([people["boatman"].phone, people["medic"].phone])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_text_each_recipient_once(message, outbox, monkeypatch):
    sent_a_while_ago(message)
    claim = sms._claim
    # Per receipt: both sweeps have chosen it before either claims it, and both have
    # tried to claim it before either sends: the conditional UPDATE alone decides.
    barriers = {
        pk: (threading.Barrier(2), threading.Barrier(2))
        for pk in message.receipts.values_list("pk", flat=True)
    }

    def claim_together(receipt_id, now):
        chosen, claimed = barriers[receipt_id]
        chosen.wait(timeout=30)
        try:
            return claim(receipt_id, now)
        finally:
            claimed.wait(timeout=30)

    monkeypatch.setattr(sms, "_claim", claim_together)

    outcomes = race(sms.broadcasts_sms_fallback, sms.broadcasts_sms_fallback)

    assert sorted(outcomes) == [0, 2] or sorted(outcomes) == [1, 1], outcomes
    assert len(outbox()) == 2
    assert len({line["to"] for line in outbox()}) == 2
