"""Replies by SMS (dispatch.sms.replies): answers to offers, matched on code and phone,
and free text, kept."""

import pytest

from dispatch.models import AssignmentStatus, OfferSmsCode, SmsDirection, SmsMessage, SmsOutcome
from dispatch.sms.offers import offers_sms_fallback
from dispatch.sms.replies import KEPT_REPLY, SmsCommand, phone_digits, sms_command_parse
from tests.dispatch.sms.scenes import code_of, inbound, old_offers, status_of

pytestmark = pytest.mark.usefixtures("live_index")


# --- replies ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_accepts_a_reply_from_the_right_phone(client, coordinator, rescuers, outbox):
    offer, _ = old_offers(coordinator)
    offers_sms_fallback()

    response = inbound(client, "+86 139 0000 0001", f"Y {code_of(offer)}")

    assert response.status_code == 200
    answer = response.json()
    assert answer["outcome"] == "accepted"
    assert status_of(offer) == AssignmentStatus.ACCEPTED
    # The reply went back by SMS, and both messages are on record.
    assert outbox("13900000001")[-1]["text"] == answer["reply"]
    received = SmsMessage.objects.get(direction=SmsDirection.IN)
    assert (received.phone, received.outcome, received.assignment) == (
        "13900000001",
        SmsOutcome.ACCEPTED,
        offer,
    )


@pytest.mark.parametrize(
    "text", ["n {code}", "N {code}", "ｎ　{code}", "  否  {code} ", "no {code}"]
)
@pytest.mark.django_db
def test_it_declines_a_reply_n_in_any_spelling(client, coordinator, rescuers, outbox, text):
    offer, _ = old_offers(coordinator)
    offers_sms_fallback()
    code = code_of(offer)
    full_width_code = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    text = text.format(code=full_width_code if "ｎ" in text else code)

    answer = inbound(client, "13900000001", text).json()

    assert answer["outcome"] == "declined"
    assert status_of(offer) == AssignmentStatus.DECLINED
    assert offer.reason == "SMS"


@pytest.mark.django_db
def test_it_refuses_the_right_code_from_another_phone(client, coordinator, rescuers, outbox):
    offer, other = old_offers(coordinator)
    offers_sms_fallback()
    code = code_of(offer)

    from_colleague = inbound(client, "13900000002", f"Y {code}").json()
    from_stranger = inbound(client, "13312345678", f"Y {code}").json()

    assert from_colleague["outcome"] == from_stranger["outcome"] == "refused"
    assert code in from_colleague["reply"]
    assert (status_of(offer), status_of(other)) == (AssignmentStatus.OFFERED,) * 2


@pytest.mark.django_db
def test_it_refuses_an_unknown_code(client, coordinator, rescuers, outbox):
    offer, _ = old_offers(coordinator)
    offers_sms_fallback()
    unknown = "1000" if code_of(offer) != "1000" else "1001"

    answer = inbound(client, "13900000001", f"Y {unknown}").json()

    assert answer["outcome"] == "refused"
    assert status_of(offer) == AssignmentStatus.OFFERED


@pytest.mark.django_db
def test_it_tells_a_late_reply_that_the_offer_is_already_filled(
    client, coordinator, rescuers, outbox
):
    first, second = old_offers(coordinator)
    offers_sms_fallback()
    assert inbound(client, "13900000001", f"Y {code_of(first)}").json()["outcome"] == "accepted"

    answer = inbound(client, "13900000002", f"是 {code_of(second)}").json()

    assert answer["outcome"] == "refused"
    assert "已满员" in answer["reply"]  # why, in the site's language: the gateway names none
    assert outbox("13900000002")[-1]["text"] == answer["reply"]
    assert status_of(second) == AssignmentStatus.WITHDRAWN
    # The closed offers' codes are released for later offers.
    assert not OfferSmsCode.objects.filter(released_at__isnull=True).exists()


@pytest.mark.django_db
def test_it_keeps_free_text_and_answers_it_once_in_a_while(client, coordinator, rescuers, outbox):
    for text in ("我在路上，十分钟到", "Y", ""):
        response = inbound(client, "13900000001", text)
        assert response.status_code == 200
        assert response.json() == {"outcome": "kept", "reply": KEPT_REPLY}

    kept = SmsMessage.objects.filter(direction=SmsDirection.IN, outcome=SmsOutcome.KEPT)
    assert list(kept.values_list("text", flat=True)) == ["我在路上，十分钟到", "Y", ""]
    # One answer, not three: two auto-responders must not text each other forever.
    assert len(outbox("13900000001")) == 1


@pytest.mark.django_db
def test_it_answers_a_number_that_is_no_volunteers_once_in_a_while(client, rescuers, outbox):
    answers = [inbound(client, "13312345678", f"Y {1000 + n}").json() for n in range(3)]

    assert [answer["outcome"] for answer in answers] == ["refused"] * 3
    assert len(outbox("13312345678")) == 1  # each reply would cost an SMS
    assert SmsMessage.objects.filter(direction=SmsDirection.IN, phone="13312345678").count() == 3


@pytest.mark.django_db
def test_it_answers_each_of_a_volunteers_commands(client, rescuers, outbox):
    for n in range(3):
        inbound(client, "13900000001", f"Y {1000 + n}")

    assert len(outbox("13900000001")) == 3


@pytest.mark.django_db
def test_it_stops_answering_strangers_past_the_hourly_allowance(client, rescuers, outbox, settings):
    settings.SMS_STRANGER_REPLIES_PER_HOUR = 2
    strangers = [f"1331234567{n}" for n in range(4)]

    for phone in strangers:
        inbound(client, phone, "救命 我在屋顶")

    assert [len(outbox(phone)) for phone in strangers] == [1, 1, 0, 0]
    # A volunteer is still answered.
    inbound(client, "13900000001", "Y 1234")
    assert len(outbox("13900000001")) == 1


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, accept, code",
    [
        ("Y 4821", True, "4821"),
        ("y4821", True, "4821"),
        ("Ｙ　４８２１", True, "4821"),
        ("  yes   4821  ", True, "4821"),
        ("是 4821", True, "4821"),
        ("接受4821。", True, "4821"),
        ("N 4821", False, "4821"),
        ("否，4821", False, "4821"),
        ("n: 4821!", False, "4821"),
    ],
)
def test_it_reads_answers_in_any_spelling(text, accept, code):
    assert sms_command_parse(text) == SmsCommand(accept=accept, code=code)


@pytest.mark.parametrize("text", ["Y", "Y 482", "Y 48210", "OK 4821", "Y 4821 and more", ""])
def test_it_reads_anything_else_as_free_text(text):
    assert sms_command_parse(text) is None


@pytest.mark.parametrize(
    "sender", ["+86 139 0000 0001", "008613900000001", "139-0000-0001", "8613900000001"]
)
def test_it_normalises_the_sender_to_the_stored_phone(sender):
    assert phone_digits(sender) == "13900000001"
