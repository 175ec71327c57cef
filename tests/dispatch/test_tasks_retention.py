"""dispatch.tasks.personal_data_expire: what beat forgets every hour."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from config.settings import CELERY_BEAT_SCHEDULE
from dispatch.models import SmsDirection, SmsMessage
from dispatch.tasks import personal_data_expire
from volunteers.models import Volunteer


@pytest.mark.django_db
def test_it_forgets_old_positions_texts_and_tokens_as_configured(volunteer, settings):
    settings.LOCATION_RETENTION_DAYS, settings.SMS_RETENTION_DAYS = 30, 90
    settings.TOKEN_MAX_AGE_DAYS = 60
    days_ago = lambda days: timezone.now() - timedelta(days=days)  # noqa: E731
    Volunteer.objects.filter(pk=volunteer.pk).update(
        last_latitude=34.6, last_longitude=113.7, last_located_at=days_ago(31)
    )
    message = SmsMessage.objects.create(direction=SmsDirection.OUT, phone="13800000001", text="x")
    SmsMessage.objects.filter(pk=message.pk).update(created_at=days_ago(89))
    token = Token.objects.create(user=volunteer.user)
    Token.objects.filter(pk=token.pk).update(created=days_ago(61))

    forgotten = personal_data_expire()

    assert forgotten == {"positions": 1, "sms_texts": 0, "tokens": 1, "sign_in_codes": 0}
    assert SmsMessage.objects.get(pk=message.pk).text == "x"  # 89 days: kept


def test_it_runs_every_hour_on_beat():
    (entry,) = [
        e for e in CELERY_BEAT_SCHEDULE.values() if e["task"].endswith("personal_data_expire")
    ]
    assert entry["schedule"] == 3600.0
