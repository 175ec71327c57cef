"""Sending one SMS: the pluggable gateway, chosen by SMS_BACKEND (the console/file
backend by default, an HTTP gateway in production), and the record of each message sent."""

import json
import logging
import threading
import urllib.error
import urllib.request

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from dispatch.models import Assignment, SmsDirection, SmsMessage

logger = logging.getLogger(__name__)


class SmsSendError(Exception):
    """The gateway did not take the message."""


class ConsoleSmsBackend:
    """The embedded default and the tests': logs each message and, with SMS_OUTBOX_FILE
    set, appends it to that file as one JSON line {"at", "to", "text"}."""

    _lock = threading.Lock()

    def send(self, *, to: str, text: str) -> None:
        logger.info("SMS to %s: %s", to, text)
        path = settings.SMS_OUTBOX_FILE
        if not path:
            return
        line = json.dumps(
            {"at": timezone.now().isoformat(), "to": to, "text": text}, ensure_ascii=False
        )
        try:
            with self._lock, open(path, "a", encoding="utf-8") as outbox:
                outbox.write(line + "\n")
        except OSError as error:
            raise SmsSendError(f"cannot write the outbox {path}: {error}") from error


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        # urllib would follow a 302 with a GET, without the body: a 3xx is a failure.
        return None


class HttpSmsBackend:
    """POSTs {"to": phone, "text": text} as JSON to SMS_HTTP_URL, with
    `Authorization: Bearer SMS_HTTP_TOKEN` when a token is set. Anything but a 2xx
    answer within SMS_HTTP_TIMEOUT_SECONDS is a failure."""

    def send(self, *, to: str, text: str) -> None:
        url = settings.SMS_HTTP_URL
        if not url.startswith(("http://", "https://")):
            raise SmsSendError(f"SMS_HTTP_URL={url!r}: expected an http:// or https:// URL")
        if not settings.DEBUG and not url.startswith("https://"):
            # The bearer token and the texts (names, places) would cross the network
            # in clear: plain http only on a developer's machine.
            raise SmsSendError(f"SMS_HTTP_URL={url!r}: must be https:// when DEBUG is off")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if settings.SMS_HTTP_TOKEN:
            headers["Authorization"] = f"Bearer {settings.SMS_HTTP_TOKEN}"
        body = json.dumps({"to": to, "text": text}, ensure_ascii=False).encode()
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        opener = urllib.request.build_opener(_NoRedirects)
        try:
            with opener.open(request, timeout=settings.SMS_HTTP_TIMEOUT_SECONDS) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            error.close()
            raise SmsSendError(f"the gateway answered {error.code}") from None
        except OSError as error:  # URLError, refused, timed out
            raise SmsSendError(f"the gateway did not answer: {error}") from None
        if not 200 <= status < 300:
            raise SmsSendError(f"the gateway answered {status}")


def sms_send(*, to: str, text: str) -> None:
    """Send one SMS through the configured gateway (SMS_BACKEND). Raises SmsSendError
    (or whatever a custom backend raises) when it is not taken."""
    import_string(settings.SMS_BACKEND)().send(to=to, text=text)


def sms_send_and_record(*, phone: str, text: str, assignment: Assignment | None) -> bool:
    """Send, and record the message with the gateway's refusal if any. Never raises:
    the callers decide what a failure means (the sweep retries)."""
    error = ""
    try:
        sms_send(to=phone, text=text)
    except SmsSendError as refused:
        error = str(refused)
        logger.warning("SMS to %s (offer %s) failed: %s", phone, _pk(assignment), error)
    except Exception as crashed:  # a custom backend's bug must not stop the sweep
        error = f"{type(crashed).__name__}: {crashed}"
        logger.exception("SMS to %s (offer %s) failed", phone, _pk(assignment))
    SmsMessage.objects.create(
        direction=SmsDirection.OUT,
        phone=phone,
        text=text,
        assignment=assignment,
        error=error[:300],
    )
    return not error


def _pk(assignment: Assignment | None):
    return assignment.pk if assignment else None


def sms_texts_forget(*, sent_before) -> int:
    """Blank the texts of messages older than `sent_before` (a plea for help, a name, an
    address): the record that a message came and how it was answered stays, its words
    go. Returns how many were blanked."""
    return SmsMessage.objects.filter(created_at__lt=sent_before).exclude(text="").update(text="")
