"""Messages to those on duty, briefings they confirm, and activities that are not
dispatch, such as the flood-safety talks given to the public (issue 13, item 6)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from config.constraints import choice_constraint, coordinate_constraints
from volunteers.models import (
    LATITUDE_VALIDATORS,
    LONGITUDE_VALIDATORS,
    Skill,
    Team,
    Township,
    Volunteer,
)

TEXT_MAX = 500
# An area is a circle around a point: from a street (0.1 km) to the whole city.
RADIUS_KM_MIN = 0.1
RADIUS_KM_MAX = 100


class Audience(models.TextChoices):
    """Who a broadcast goes to: everyone on duty, or those on duty of one township,
    team or skill, or within a circle."""

    ALL_ON_DUTY = "all_on_duty", "全体在岗 everyone on duty"
    TOWNSHIP = "township", "乡镇 township"
    TEAM = "team", "队伍 team"
    SKILL = "skill", "技能 skill"
    AREA = "area", "区域 area"


class Broadcast(models.Model):
    """One message from a coordinator to the volunteers on duty in an audience, as they
    were when it was sent (its receipts are the recipients). A briefing is a message
    with a place and a time, which its recipients confirm."""

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.CharField(max_length=TEXT_MAX)
    audience = models.CharField(max_length=12, choices=Audience.choices)
    township = models.ForeignKey(Township, null=True, blank=True, on_delete=models.PROTECT)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT)
    skill = models.ForeignKey(Skill, null=True, blank=True, on_delete=models.PROTECT)
    # The area's centre and radius (audience "area").
    latitude = models.FloatField(null=True, blank=True, validators=LATITUDE_VALIDATORS)
    longitude = models.FloatField(null=True, blank=True, validators=LONGITUDE_VALIDATORS)
    radius_km = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(RADIUS_KM_MIN), MaxValueValidator(RADIUS_KM_MAX)],
    )
    # A briefing: where and when people gather.
    briefing_place = models.CharField(max_length=200, blank=True)
    briefing_latitude = models.FloatField(null=True, blank=True, validators=LATITUDE_VALIDATORS)
    briefing_longitude = models.FloatField(null=True, blank=True, validators=LONGITUDE_VALIDATORS)
    briefing_starts_at = models.DateTimeField(null=True, blank=True)
    recipient_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            choice_constraint("audience", Audience),
            # The audience's parameter, and only it, is set.
            models.CheckConstraint(
                condition=(
                    Q(audience=Audience.ALL_ON_DUTY)
                    & Q(township__isnull=True, team__isnull=True, skill__isnull=True)
                    & Q(latitude__isnull=True, radius_km__isnull=True)
                )
                | (
                    Q(audience=Audience.TOWNSHIP, township__isnull=False)
                    & Q(team__isnull=True, skill__isnull=True, latitude__isnull=True)
                    & Q(radius_km__isnull=True)
                )
                | (
                    Q(audience=Audience.TEAM, team__isnull=False)
                    & Q(township__isnull=True, skill__isnull=True, latitude__isnull=True)
                    & Q(radius_km__isnull=True)
                )
                | (
                    Q(audience=Audience.SKILL, skill__isnull=False)
                    & Q(township__isnull=True, team__isnull=True, latitude__isnull=True)
                    & Q(radius_km__isnull=True)
                )
                | (
                    Q(audience=Audience.AREA, latitude__isnull=False, radius_km__isnull=False)
                    & Q(radius_km__gte=RADIUS_KM_MIN, radius_km__lte=RADIUS_KM_MAX)
                    & Q(township__isnull=True, team__isnull=True, skill__isnull=True)
                ),
                name="broadcast_audience_parameter",
                violation_error_message="The audience's parameter (and only it) is required.",
            ),
            *coordinate_constraints("", "area_centre"),
            *coordinate_constraints("briefing_", "briefing_place"),
            # A briefing has a place and a time; a plain message neither.
            models.CheckConstraint(
                condition=Q(briefing_starts_at__isnull=True, briefing_latitude__isnull=True)
                & Q(briefing_place="")
                | Q(briefing_starts_at__isnull=False) & ~Q(briefing_place=""),
                name="broadcast_briefing_place_and_time",
                violation_error_message="A briefing has a place and a time.",
            ),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.text[:40]}"

    @property
    def is_briefing(self) -> bool:
        return self.briefing_starts_at is not None


class BroadcastReceipt(models.Model):
    """One recipient of a broadcast and what became of it: delivered to their phone,
    read, confirmed (briefings), or texted because no phone confirmed it in time.
    Timestamps, not states: the first report wins (briefings.services)."""

    broadcast = models.ForeignKey(Broadcast, on_delete=models.PROTECT, related_name="receipts")
    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.PROTECT, related_name="broadcast_receipts"
    )
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The SMS fallback (briefings.sms): a sweep's claim (a lease).
    sms_claimed_at = models.DateTimeField(null=True, blank=True)
    # Sent: the text itself is a dispatch.models.SmsMessage row, as every SMS is.
    sms_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["broadcast_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["broadcast", "volunteer"], name="one_receipt_per_broadcast_and_volunteer"
            )
        ]
        indexes = [
            # A phone's unread messages, and the SMS sweep's undelivered ones.
            models.Index(fields=["volunteer", "read_at"]),
            models.Index(
                fields=["broadcast"],
                condition=Q(delivered_at__isnull=True, sms_sent_at__isnull=True),
                name="receipt_sms_due",
            ),
        ]

    def __str__(self):
        return f"{self.broadcast_id} → {self.volunteer_id}"


class ActivityKind(models.TextChoices):
    SAFETY_TALK = "safety_talk", "安全宣讲 safety talk"


class Activity(models.Model):
    """Work that is not dispatch, recorded after (or before) it happens: a flood-safety
    talk given to the public, with its place, time, staff and audience. Counted in the
    commander's totals."""

    Kind = ActivityKind

    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    title = models.CharField(max_length=200)
    address = models.CharField(max_length=200, blank=True)
    township = models.ForeignKey(Township, null=True, blank=True, on_delete=models.PROTECT)
    latitude = models.FloatField(null=True, blank=True, validators=LATITUDE_VALIDATORS)
    longitude = models.FloatField(null=True, blank=True, validators=LONGITUDE_VALIDATORS)
    starts_at = models.DateTimeField(db_index=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    staff = models.ManyToManyField(Volunteer, blank=True, related_name="activities")
    audience_size = models.PositiveIntegerField(default=0)
    note = models.TextField(blank=True, max_length=2000)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name_plural = "activities"
        constraints = [
            choice_constraint("kind", ActivityKind),
            *coordinate_constraints("", "place"),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="activity_ends_after_it_starts",
                violation_error_message="An activity ends after it starts.",
            ),
        ]

    def __str__(self):
        return f"{self.title} ({self.starts_at:%Y-%m-%d})"
