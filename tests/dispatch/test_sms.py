"""The SMS fallback: offers no phone confirmed go out by SMS, answered by reply code."""

import json
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from dispatch import services, sms, tasks
from dispatch.availability import index_rebuild
from dispatch.models import (
    Assignment,
    AssignmentStatus,
    OfferSmsCode,
    SmsDirection,
    SmsMessage,
    SmsOutcome,
)
from incidents.models import Need
from incidents.services import NeedSpec
from tests.dispatch.scenes import KM, SITE
from tests.dispatch.test_services import open_rescue, race
from volunteers.models import Township, Vehicle, VehicleKind

pytestmark = pytest.mark.usefixtures("live_index")

SECRET = "gateway-shared-secret"


@pytest.fixture
def outbox(settings, tmp_path):
    """The console backend writing to a file; returns a reader of what was sent."""
    path = tmp_path / "outbox.jsonl"
    settings.SMS_BACKEND = "dispatch.sms.ConsoleSmsBackend"
    settings.SMS_OUTBOX_FILE = str(path)
    settings.SMS_FALLBACK_SECONDS = 30
    settings.SMS_INBOUND_SECRET = SECRET

    def sent(to: str | None = None) -> list[dict]:
        if not path.exists():
            return []
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return [line for line in lines if to is None or line["to"] == to]

    return sent


@pytest.fixture
def gateway(settings):
    """An HTTP SMS gateway on 127.0.0.1, in a thread: records what it receives and
    answers with `status`."""
    received, state = [], {"status": 200}

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(body),
                }
            )
            self.send_response(state["status"])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "dispatch.sms.HttpSmsBackend"
    settings.SMS_HTTP_URL = f"http://127.0.0.1:{server.server_port}/sms/send"
    settings.SMS_HTTP_TOKEN = "gateway-token"
    settings.SMS_HTTP_TIMEOUT_SECONDS = 5
    settings.SMS_FALLBACK_SECONDS = 30
    yield SimpleNamespace(received=received, state=state)
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def rescuers(make_volunteer):
    """Four on-duty rescuers, 1 to 4 km north of the site, nearest first."""
    volunteers = [
        make_volunteer(
            f"1390000000{n}",
            on_duty=True,
            last_latitude=SITE[0] + n * KM,
            last_longitude=SITE[1],
        )
        for n in range(1, 5)
    ]
    index_rebuild()
    return volunteers


def age(offers, seconds=60):
    Assignment.objects.filter(pk__in=[o.pk for o in offers]).update(
        offered_at=timezone.now() - timedelta(seconds=seconds)
    )


def old_offers(coordinator, *, count=1, **fields) -> list[Assignment]:
    """A rescue's offers (one place: two offers), made a minute ago and never
    confirmed by a phone."""
    incident = open_rescue(coordinator, count=count, **fields)
    offers = services.incident_dispatch(incident_id=incident.pk)
    age(offers)
    return offers


def code_of(offer) -> str:
    return OfferSmsCode.objects.get(assignment=offer).code


def inbound(client, sender, text, *, secret=SECRET):
    return client.post(
        "/api/sms/inbound/",
        data=json.dumps({"from": sender, "text": text}),
        content_type="application/json",
        headers={"X-Tongxin-Sms-Secret": secret},
    )


def status_of(offer) -> str:
    offer.refresh_from_db()
    return offer.status


# --- the sweep ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_texts_an_undelivered_old_offer_once(coordinator, rescuers, outbox):
    offers = old_offers(coordinator, address="泰山村村委会")

    assert sms.offers_sms_fallback() == 2
    assert sms.offers_sms_fallback() == 0  # a second sweep texts nobody again

    assert [line["to"] for line in outbox()] == ["13900000001", "13900000002"]
    text = outbox("13900000001")[0]["text"]
    code = code_of(offers[0])
    assert "龙湖镇 泰山村 群众被困" in text  # what: the incident
    assert "救援" in text  # what: the need
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

    assert sms.offers_sms_fallback() == 0

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

    outcomes = race(sms.offers_sms_fallback, sms.offers_sms_fallback, sms.offers_sms_fallback)

    assert sum(outcomes) == 3
    assert sorted(line["to"] for line in outbox()) == [
        "13900000001",
        "13900000002",
        "13900000003",
    ]


@pytest.mark.django_db
def test_it_texts_every_crew_member_of_a_vehicle_and_takes_a_crew_reply(
    client, coordinator, make_volunteer, outbox
):
    first, second = make_volunteer("13911111111"), make_volunteer("13922222222")
    boat = Vehicle.objects.create(
        call_sign="蓝天-01",
        kind=VehicleKind.BOAT,
        township=Township.objects.get(name="龙湖镇"),
        capacity=10,
        max_water_depth_m=Decimal("3.00"),
        latitude=SITE[0] + KM,
        longitude=SITE[1],
    )
    boat.crew.add(first, second)
    index_rebuild()
    (offer,) = old_offers(
        coordinator, needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT)]
    )

    sms.offers_sms_fallback()

    assert sorted(line["to"] for line in outbox()) == ["13911111111", "13922222222"]
    assert "蓝天-01" in outbox("13922222222")[0]["text"]
    answer = inbound(client, "13922222222", f"Y {code_of(offer)}").json()
    assert answer["outcome"] == "accepted"
    assert status_of(offer) == AssignmentStatus.ACCEPTED


# --- the gateway --------------------------------------------------------------------------


def test_it_writes_the_console_outbox(outbox):
    sms.sms_send(to="13800138000", text="测试 test")
    sms.sms_send(to="13800138001", text="第二条")

    assert [(line["to"], line["text"]) for line in outbox()] == [
        ("13800138000", "测试 test"),
        ("13800138001", "第二条"),
    ]


def test_it_posts_json_with_the_bearer_token_to_the_http_gateway(gateway):
    sms.sms_send(to="13800138000", text="回复 Y 4821")

    (request,) = gateway.received
    assert request["path"] == "/sms/send"
    assert request["authorization"] == "Bearer gateway-token"
    assert request["content_type"].startswith("application/json")
    assert request["json"] == {"to": "13800138000", "text": "回复 Y 4821"}


def test_it_raises_when_the_http_gateway_refuses(gateway, settings):
    gateway.state["status"] = 500
    with pytest.raises(sms.SmsSendError, match="500"):
        sms.sms_send(to="13800138000", text="x")

    settings.SMS_HTTP_URL = "http://127.0.0.1:9/unreachable"
    with pytest.raises(sms.SmsSendError, match="did not answer"):
        sms.sms_send(to="13800138000", text="x")


@pytest.mark.django_db
def test_it_leaves_an_offer_for_the_next_sweep_when_the_gateway_fails(
    coordinator, rescuers, gateway
):
    offers = old_offers(coordinator)
    gateway.state["status"] = 500

    assert sms.offers_sms_fallback() == 0

    failed = SmsMessage.objects.filter(direction=SmsDirection.OUT)
    assert [m.error for m in failed] == ["the gateway answered 500"] * 2
    assert OfferSmsCode.objects.filter(sent_at__isnull=True, claimed_at__isnull=True).count() == 2

    gateway.state["status"] = 200
    assert sms.offers_sms_fallback() == 2
    assert sms.offers_sms_fallback() == 0
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

    sms.offers_sms_fallback()

    codes = list(OfferSmsCode.objects.values_list("code", flat=True))
    assert len(codes) == 5
    assert len(set(codes)) == 5
    assert all(len(code) == 4 and code.isdigit() for code in codes)


# --- replies ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_accepts_a_reply_from_the_right_phone(client, coordinator, rescuers, outbox):
    offer, _ = old_offers(coordinator)
    sms.offers_sms_fallback()

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
    sms.offers_sms_fallback()
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
    sms.offers_sms_fallback()
    code = code_of(offer)

    from_colleague = inbound(client, "13900000002", f"Y {code}").json()
    from_stranger = inbound(client, "13312345678", f"Y {code}").json()

    assert from_colleague["outcome"] == from_stranger["outcome"] == "refused"
    assert code in from_colleague["reply"]
    assert (status_of(offer), status_of(other)) == (AssignmentStatus.OFFERED,) * 2


@pytest.mark.django_db
def test_it_refuses_an_unknown_code(client, coordinator, rescuers, outbox):
    offer, _ = old_offers(coordinator)
    sms.offers_sms_fallback()
    unknown = "1000" if code_of(offer) != "1000" else "1001"

    answer = inbound(client, "13900000001", f"Y {unknown}").json()

    assert answer["outcome"] == "refused"
    assert status_of(offer) == AssignmentStatus.OFFERED


@pytest.mark.django_db
def test_it_tells_a_late_reply_that_the_offer_is_already_filled(
    client, coordinator, rescuers, outbox
):
    first, second = old_offers(coordinator)
    sms.offers_sms_fallback()
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
        assert response.json() == {"outcome": "kept", "reply": sms.KEPT_REPLY}

    kept = SmsMessage.objects.filter(direction=SmsDirection.IN, outcome=SmsOutcome.KEPT)
    assert list(kept.values_list("text", flat=True)) == ["我在路上，十分钟到", "Y", ""]
    # One answer, not three: two auto-responders must not text each other forever.
    assert len(outbox("13900000001")) == 1


# --- the webhook --------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_refuses_a_wrong_secret(client, outbox):
    assert inbound(client, "13900000001", "Y 4821", secret="guess").status_code == 403
    response = client.post(
        "/api/sms/inbound/", data={"from": "1", "text": "x"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "detail" in response.json()
    assert not SmsMessage.objects.exists()


@pytest.mark.django_db
def test_it_has_no_webhook_without_a_secret(client, outbox, settings):
    settings.SMS_INBOUND_SECRET = ""

    response = inbound(client, "13900000001", "Y 4821", secret="")

    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "body, field",
    [
        ("{not json", "detail"),
        ('{"text": "Y 4821"}', "from"),
        ('{"from": "13900000001"}', "text"),
        ('{"from": "no digits", "text": "Y 4821"}', "from"),
        ('["13900000001", "Y 4821"]', "non_field_errors"),
    ],
)
@pytest.mark.django_db
def test_it_answers_bad_input_with_400(client, outbox, body, field):
    response = client.post(
        "/api/sms/inbound/",
        data=body,
        content_type="application/json",
        headers={"X-Tongxin-Sms-Secret": SECRET},
    )

    assert response.status_code == 400
    assert field in response.json()
    assert not SmsMessage.objects.exists()


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
    assert sms.sms_command_parse(text) == sms.SmsCommand(accept=accept, code=code)


@pytest.mark.parametrize("text", ["Y", "Y 482", "Y 48210", "OK 4821", "Y 4821 and more", ""])
def test_it_reads_anything_else_as_free_text(text):
    assert sms.sms_command_parse(text) is None


@pytest.mark.parametrize(
    "sender", ["+86 139 0000 0001", "008613900000001", "139-0000-0001", "8613900000001"]
)
def test_it_normalises_the_sender_to_the_stored_phone(sender):
    assert sms.phone_digits(sender) == "13900000001"


@pytest.mark.django_db
def test_it_takes_only_json(client, outbox):
    response = client.post(
        "/api/sms/inbound/",
        data={"from": "13900000001", "text": "Y 4821"},
        headers={"X-Tongxin-Sms-Secret": SECRET},
    )

    assert response.status_code == 415
    assert "detail" in response.json()
