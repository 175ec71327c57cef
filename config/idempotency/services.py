"""Answering a retried creating POST with its first answer.

A view that creates wraps its work in `idempotent(request, create)`. Without an
`Idempotency-Key` header nothing changes. With one:

- the first request runs `create` in one transaction with the INSERT of its key row, and
  stores its answer there when it succeeds (2xx): the key exists if and only if the
  creation committed, whatever crashes between the two;
- a retry with the same key, by the same user, to the same path, gets that answer again
  (same status and body, and the header `Idempotent-Replayed: true`) and creates
  nothing. A retry sent while the first is still running waits for it: its INSERT of
  the same key blocks on the first's uncommitted row, and fails once that commits;
- the same key with another request (another body) is refused with 422;
- a refusal (4xx) or a failure stores nothing: the retry is tried afresh, which is safe
  since nothing was created.

Keys are kept IDEMPOTENCY_KEY_HOURS (24), then deleted by a periodic task.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from config.api import ErrorSerializer
from config.idempotency.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

# For the views' extend_schema: the header and the 422 it may bring.
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any unique string up to 255 printable ASCII characters (a UUID, say), new for each "
        "new request. Sending the request again with the same key (after a timeout, a lost "
        "connection or a 5xx) returns the first success's status and body, with the header "
        "`Idempotent-Replayed: true`, and creates nothing more; the same key with a "
        "different body is refused with 422. Keys are kept for 24 hours."
    ),
)
KEY_REUSED_RESPONSE = OpenApiResponse(
    response=ErrorSerializer,
    description=(
        'The Idempotency-Key was already used for a different request: `{"detail": "..."}`.'
    ),
)


class KeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used for a different request. Send a new key "
        "with a new request."
    )
    default_code = "idempotency_key_reused"


class _NotStored(Exception):
    """The creation answered without succeeding: roll its key back, answer as it did."""

    def __init__(self, response: Response):
        self.response = response


class _TakenMeanwhile(Exception):
    """Another request with the same key committed while this one waited for it."""


def idempotent(request, create: Callable[[], Response]) -> Response:
    """`create()`'s answer, or the stored answer of the first request with this
    request's Idempotency-Key (module docstring)."""
    key = request.headers.get(HEADER)
    if key is None or not request.user.is_authenticated:
        return create()
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise ValidationError(
            {HEADER: [f"Send 1 to {MAX_KEY_LENGTH} printable ASCII characters, or no key."]}
        )
    where = {"user": request.user, "path": request.path, "key": key}
    fingerprint = _fingerprint(request)
    stored = IdempotencyKey.objects.filter(**where).first()
    if stored is not None:
        return _replay(stored, fingerprint)
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    row = IdempotencyKey.objects.create(
                        **where, fingerprint=fingerprint, status_code=0
                    )
            except IntegrityError:
                raise _TakenMeanwhile from None
            response = create()
            if not status.is_success(response.status_code):
                raise _NotStored(response)
            row.status_code = response.status_code
            row.body = response.data
            row.save(update_fields=["status_code", "body"])
    except _NotStored as not_stored:
        return not_stored.response
    except _TakenMeanwhile:
        return _replay(IdempotencyKey.objects.get(**where), fingerprint)
    return response


def _fingerprint(request) -> str:
    data = request.data
    if hasattr(data, "lists"):  # a form's QueryDict: every value of every field
        data = dict(data.lists())
    canonical = json.dumps(
        [request.method, data], sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(stored: IdempotencyKey, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise KeyReused()
    return Response(stored.body, status=stored.status_code, headers={REPLAYED_HEADER: "true"})


def idempotency_keys_expire() -> int:
    """Delete the keys older than IDEMPOTENCY_KEY_HOURS; how many went."""
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
