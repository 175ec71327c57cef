"""Sending an SMS through the configured gateway (dispatch.sms.gateways)."""

import pytest

from dispatch.sms.gateways import SmsSendError, sms_send

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
