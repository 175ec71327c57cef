"""The gateway's webhook, POST /api/sms/inbound/ (dispatch.sms.webhook): the shared
secret, and what it answers to bad input."""

import pytest

from dispatch.models import SmsMessage
from tests.dispatch.sms.scenes import SECRET, inbound

pytestmark = pytest.mark.usefixtures("live_index")


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


@pytest.mark.django_db
def test_it_takes_only_json(client, outbox):
    response = client.post(
        "/api/sms/inbound/",
        data={"from": "13900000001", "text": "Y 4821"},
        headers={"X-Tongxin-Sms-Secret": SECRET},
    )

    assert response.status_code == 415
    assert "detail" in response.json()
