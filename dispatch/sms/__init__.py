"""The SMS fallback (issue 4, item 3): an offer no phone confirmed goes out by SMS, and
the volunteer answers it by SMS ("Y 4821" / "N 4821"). Every SMS in and out is a
dispatch.models.SmsMessage row.

- `gateways`: sending one SMS through the gateway SMS_BACKEND names (console/file by
  default, an HTTP gateway in production), and recording it.
- `offers`: the fallback sweep beat runs every SMS_SWEEP_SECONDS, the offers' reply
  codes, and the offer's text.
- `replies`: reading a reply and acting on it (accept, decline, or keep free text).
- `webhook`: the gateway's webhook, POST /api/sms/inbound/.
"""
