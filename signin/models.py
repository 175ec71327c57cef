"""Sign-in without passwords (issue 11): codes sent by SMS and invitations printed as QR
codes. Neither the code nor the invitation's secret is stored, only a keyed hash of it."""

from django.conf import settings
from django.db import models


class SignInCode(models.Model):
    """One request for a code by SMS. A row is written whether or not the number is a
    member's (`user` is then empty and nothing is sent): the rows are what the rate
    limits count, per number and per client address, and both kinds count alike."""

    phone = models.CharField(max_length=20, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    # HMAC-SHA256 of the number and the code under SECRET_KEY (signin.services._code_hash);
    # empty for a number that is no member's.
    code_hash = models.CharField(max_length=64, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    wrong_attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["client_address", "created_at"])]

    def __str__(self):
        return f"{self.phone} at {self.created_at:%Y-%m-%d %H:%M}"


class Invitation(models.Model):
    """A single-use sign-in link for one member, printed as a QR code. Its first use
    signs the member in and is recorded here (when, from where, with what browser)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_in_invitations"
    )
    # SHA-256 of the link's secret: the secret itself is only ever on the printed page.
    secret_hash = models.CharField(max_length=64, unique=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_from = models.GenericIPAddressField(null=True, blank=True)
    used_user_agent = models.CharField(max_length=300, blank=True)
    # Issuing new invitations for a member withdraws their unused older ones.
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"invitation for {self.user} ({self.created_at:%Y-%m-%d %H:%M})"
