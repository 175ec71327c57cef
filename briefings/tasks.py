"""Celery tasks of broadcasts: thin wrappers over briefings.sms, safe to run twice or
at the same time as themselves (acks late), on beat's schedule (config/settings.py)."""

from celery import shared_task

from briefings import sms

# The task's registered name: beat's schedule names it.
BROADCASTS_SMS_FALLBACK = "briefings.tasks.broadcasts_sms_fallback"


@shared_task(name=BROADCASTS_SMS_FALLBACK, ignore_result=True)
def broadcasts_sms_fallback() -> int:
    """Text each broadcast no phone confirmed within SMS_FALLBACK_SECONDS, once per
    recipient."""
    return sms.broadcasts_sms_fallback()
