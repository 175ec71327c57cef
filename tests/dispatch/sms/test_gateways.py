"""Sending an SMS through the configured gateway (dispatch.sms.gateways)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch.models import SmsDirection, SmsMessage
from dispatch.sms.gateways import SmsSendError, sms_send, sms_texts_forget

pytestmark = pytest.mark.usefixtures("live_index")


def test_it_writes_the_console_outbox(outbox):
    sms_send(to="13800138000", text="测试 test")
    sms_send(to="13800138001", text="第二条")

    assert [(line["to"], line["text"]) for line in outbox()] == [
        ("13800138000", "测试 test"),
        ("13800138001", "第二条"),
    ]


def test_it_posts_json_with_the_bearer_token_to_the_http_gateway(gateway):
    sms_send(to="13800138000", text="回复 Y 4821")

    (request,) = gateway.received
    assert request["path"] == "/sms/send"
    assert request["authorization"] == "Bearer gateway-token"
    assert request["content_type"].startswith("application/json")
    assert request["json"] == {"to": "13800138000", "text": "回复 Y 4821"}


def test_it_raises_when_the_http_gateway_refuses(gateway, settings):
    gateway.state["status"] = 500
    with pytest.raises(SmsSendError, match="500"):
        sms_send(to="13800138000", text="x")

    settings.SMS_HTTP_URL = "http://127.0.0.1:9/unreachable"
    with pytest.raises(SmsSendError, match="did not answer"):
        sms_send(to="13800138000", text="x")


def test_it_refuses_a_plain_http_gateway_when_debug_is_off(gateway, settings):
    settings.DEBUG = False

    with pytest.raises(SmsSendError, match="must be https://"):
        sms_send(to="13800138000", text="x")

    assert gateway.received == []


@pytest.mark.django_db
def test_it_forgets_the_words_of_old_messages_and_keeps_the_record():
    old = SmsMessage.objects.create(
        direction=SmsDirection.IN, phone="13312345678", text="救命 我在屋顶", outcome="kept"
    )
    SmsMessage.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=100))
    recent = SmsMessage.objects.create(direction=SmsDirection.OUT, phone="13312345678", text="收到")

    blanked = sms_texts_forget(sent_before=timezone.now() - timedelta(days=90))

    assert blanked == 1
    assert SmsMessage.objects.get(pk=old.pk).text == ""
    assert SmsMessage.objects.get(pk=old.pk).outcome == "kept"
    assert SmsMessage.objects.get(pk=recent.pk).text == "收到"
