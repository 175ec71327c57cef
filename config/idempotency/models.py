from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class IdempotencyKey(models.Model):
    """One creating request a client may retry: who sent it where with which key, a
    fingerprint of what it sent, and the answer it got.

    Written in the transaction that creates (services.idempotent), so the key exists if
    and only if the creation committed. Kept for IDEMPOTENCY_KEY_HOURS, then deleted by
    a periodic task: a client retries within minutes, not days."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    path = models.CharField(max_length=255)
    # sha256 of the request's method and parsed body, in a canonical form: the same key
    # with another request is refused (422), not mistaken for a retry.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField(encoder=DjangoJSONEncoder, null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            # Also what makes a retry racing the first request wait for it: the second
            # INSERT blocks on the first's uncommitted row, then fails once it commits.
            models.UniqueConstraint(fields=["user", "path", "key"], name="one_idempotency_key")
        ]

    def __str__(self):
        return f"{self.user_id} {self.path} {self.key}"
