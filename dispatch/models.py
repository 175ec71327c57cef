from django.conf import settings
from django.db import models
from django.db.models import Q

from config.constraints import choice_constraint
from incidents.models import Incident, Need
from volunteers.models import Vehicle, Volunteer


class AssignmentStatus(models.TextChoices):
    OFFERED = "offered", "已派单 offered"
    # A future shift accepted: it holds a place of its need, not the person (issue 13).
    RESERVED = "reserved", "已预约 reserved"
    ACCEPTED = "accepted", "已接受 accepted"
    EN_ROUTE = "en_route", "在途 en route"
    ON_SCENE = "on_scene", "到场 on scene"
    COMPLETED = "completed", "已完成 completed"
    DECLINED = "declined", "已拒绝 declined"
    EXPIRED = "expired", "已超时 expired"
    WITHDRAWN = "withdrawn", "已撤回 withdrawn"
    CANCELLED = "cancelled", "已取消 cancelled"


# A volunteer or vehicle doing one of these is busy: the database allows one at a time.
ACTIVE_STATUSES = (
    AssignmentStatus.ACCEPTED,
    AssignmentStatus.EN_ROUTE,
    AssignmentStatus.ON_SCENE,
)
# Still open on a need: an unanswered offer, a reserved shift or active work. One per
# need and resource.
OPEN_STATUSES = (AssignmentStatus.OFFERED, AssignmentStatus.RESERVED, *ACTIVE_STATUSES)
# Taking or having taken a place of its need: one per need and volunteer. A reserved
# shift takes its place (the need counts it filled) but not its volunteer: they are
# not busy (dispatch.availability) until the shift comes due and it becomes active
# (dispatch.services.shifts_take_up).
FILLED_STATUSES = (AssignmentStatus.RESERVED, *ACTIVE_STATUSES, AssignmentStatus.COMPLETED)


class Assignment(models.Model):
    """One offer of one need to one volunteer or one vehicle (and its crew), and its life:
    offered → accepted → en route → on scene → completed; or declined, expired,
    withdrawn, cancelled. A volunteer's future shift goes offered → reserved → accepted
    (when it comes due) → …, or reserved → cancelled (given up, taken off)."""

    need = models.ForeignKey(Need, on_delete=models.PROTECT, related_name="assignments")
    volunteer = models.ForeignKey(
        Volunteer, null=True, blank=True, on_delete=models.PROTECT, related_name="assignments"
    )
    vehicle = models.ForeignKey(
        Vehicle, null=True, blank=True, on_delete=models.PROTECT, related_name="assignments"
    )
    status = models.CharField(
        max_length=12, choices=AssignmentStatus.choices, default=AssignmentStatus.OFFERED
    )
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="The coordinator of a manual assignment; empty when the engine offered it.",
    )
    distance_m = models.PositiveIntegerField(null=True, blank=True)
    eta_seconds = models.PositiveIntegerField(null=True, blank=True)
    offered_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # When the phone confirmed it received the offer, and when the volunteer opened it:
    # a coordinator knows who actually got the call (and the SMS fallback who did not).
    delivered_at = models.DateTimeField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    en_route_at = models.DateTimeField(null=True, blank=True)
    on_scene_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    people_moved = models.PositiveIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["need", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(volunteer__isnull=False, vehicle__isnull=True)
                | Q(volunteer__isnull=True, vehicle__isnull=False),
                name="assignment_volunteer_xor_vehicle",
                violation_error_message="An assignment goes to a volunteer or to a vehicle.",
            ),
            # No double booking (DESIGN.md §4 rule 4), held by the database itself so
            # that two accepts racing on different rows cannot both commit.
            models.UniqueConstraint(
                fields=["volunteer"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="one_active_assignment_per_volunteer",
                violation_error_message="This volunteer is already on an assignment.",
            ),
            models.UniqueConstraint(
                fields=["vehicle"],
                condition=Q(status__in=ACTIVE_STATUSES),
                name="one_active_assignment_per_vehicle",
                violation_error_message="This vehicle is already on an assignment.",
            ),
            # A dispatch task run twice must not offer the same need to the same person.
            models.UniqueConstraint(
                fields=["need", "volunteer"],
                condition=Q(status__in=OPEN_STATUSES),
                name="one_open_offer_per_need_and_volunteer",
            ),
            models.UniqueConstraint(
                fields=["need", "vehicle"],
                condition=Q(status__in=OPEN_STATUSES),
                name="one_open_offer_per_need_and_vehicle",
            ),
            # One person fills one place of a need, however it reached them (an offer,
            # a coordinator's hand): someone who finished their part is not counted twice.
            models.UniqueConstraint(
                fields=["need", "volunteer"],
                condition=Q(status__in=FILLED_STATUSES),
                name="one_place_per_need_and_volunteer",
                violation_error_message="This volunteer already has a place on this need.",
            ),
            models.CheckConstraint(
                condition=Q(people_moved__isnull=True) | Q(status=AssignmentStatus.COMPLETED),
                name="assignment_people_moved_only_when_completed",
            ),
            choice_constraint("status", AssignmentStatus),
        ]

    def __str__(self):
        return f"{self.need} → {self.volunteer or self.vehicle} ({self.status})"


class Engagement(models.Model):
    """A person on active work: one row per volunteer while an assignment of theirs is
    accepted, en route or on scene, whichever way it reached them — their own offer, a
    vehicle they answered for (and so go with), or a coordinator's hand.

    The primary key is the volunteer, so the database itself refuses a second piece of
    work (DESIGN.md §4 rule 4): the one-active-assignment constraints above look at one
    column each and cannot see a volunteer aboard a vehicle. Written and deleted by
    dispatch.services in the transaction that changes the assignment's status."""

    volunteer = models.OneToOneField(
        Volunteer, primary_key=True, on_delete=models.PROTECT, related_name="engagement"
    )
    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="engagements")
    since = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.volunteer_id} → {self.assignment_id}"


class EventKind(models.TextChoices):
    INCIDENT_OPENED = "incident.opened", "事件创建 incident opened"
    INCIDENT_RESOLVED = "incident.resolved", "事件完成 incident resolved"
    INCIDENT_CANCELLED = "incident.cancelled", "事件取消 incident cancelled"
    # A live incident changed (issue 13): its priority, place or words, and its needs.
    INCIDENT_CHANGED = "incident.changed", "事件变更 incident changed"
    NEED_ADDED = "need.added", "增加需求 need added"
    NEED_CHANGED = "need.changed", "需求变更 need changed"
    NEED_CANCELLED = "need.cancelled", "需求取消 need cancelled"
    # Nobody left to ask within reach, and the search widened (by escalation or by hand).
    NEED_UNMET = "need.unmet", "无人可派 nobody left to ask"
    NEED_WIDENED = "need.widened", "扩大搜索 search widened"
    VOLUNTEER_ON_DUTY = "volunteer.on_duty", "上岗 volunteer on duty"
    VOLUNTEER_OFF_DUTY = "volunteer.off_duty", "下岗 volunteer off duty"
    VEHICLE_STATUS = "vehicle.status", "车辆状态 vehicle status"
    OFFER_MADE = "offer.made", "派单 offer made"
    OFFER_DELIVERED = "offer.delivered", "已送达 offer delivered"
    OFFER_SEEN = "offer.seen", "已查看 offer seen"
    OFFER_ACCEPTED = "offer.accepted", "接受 offer accepted"
    OFFER_DECLINED = "offer.declined", "拒绝 offer declined"
    OFFER_EXPIRED = "offer.expired", "超时 offer expired"
    OFFER_WITHDRAWN = "offer.withdrawn", "撤回 offer withdrawn"
    ASSIGNMENT_EN_ROUTE = "assignment.en_route", "出发 en route"
    ASSIGNMENT_ON_SCENE = "assignment.on_scene", "到场 on scene"
    ASSIGNMENT_COMPLETED = "assignment.completed", "完成 completed"
    ASSIGNMENT_CANCELLED = "assignment.cancelled", "取消 cancelled"
    # A reserved shift came due (issue 13): it became the volunteer's active work, or
    # they were still on other work then and the coordinators are told.
    ASSIGNMENT_TAKEN_UP = "assignment.taken_up", "班次开始 shift taken up"
    ASSIGNMENT_SHIFT_CLASH = "assignment.shift_clash", "班次冲突 shift clash"
    # The incident of someone under way moved: their phone is told the new place.
    ASSIGNMENT_REROUTED = "assignment.rerouted", "地点变更 place changed"
    # Messages to those on duty, and activities that are not dispatch (issue 13).
    BROADCAST_SENT = "broadcast.sent", "群发通知 broadcast sent"
    ACTIVITY_RECORDED = "activity.recorded", "活动记录 activity recorded"


class DeploymentEvent(models.Model):
    """The deployment log: append-only, one row per state change, written in the same
    transaction as the change. `seq` is strictly increasing *in commit order* and has no
    gaps (see dispatch.services.event_record), so a client that has seen seq N and
    asks for since=N misses nothing. The rows are never updated, except `published_at`,
    which is delivery bookkeeping for the relay and not part of the record."""

    seq = models.BigIntegerField(primary_key=True)
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    need = models.ForeignKey(Need, null=True, blank=True, on_delete=models.PROTECT)
    assignment = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    volunteer = models.ForeignKey(
        Volunteer, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    vehicle = models.ForeignKey(
        Vehicle, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    data = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["incident", "seq"]),
            models.Index(fields=["volunteer", "seq"]),
            # A phone's replay and gap reads: its own events and its vehicle's, by seq.
            models.Index(fields=["vehicle", "seq"]),
            models.Index(fields=["kind", "occurred_at"]),
            models.Index(
                fields=["seq"], condition=Q(published_at__isnull=True), name="event_unpublished"
            ),
        ]
        constraints = [choice_constraint("kind", EventKind)]

    def __str__(self):
        return f"{self.seq} {self.kind}"


class EventSequence(models.Model):
    """One row holding the last deployment log sequence number handed out."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="event_sequence_single")]

    def __str__(self):
        return f"last seq {self.last_seq}"


# --- SMS fallback (dispatch/sms/) -----------------------------------------------------


class SmsDirection(models.TextChoices):
    IN = "in", "收到 in"
    OUT = "out", "发出 out"


class SmsOutcome(models.TextChoices):
    """What became of an inbound SMS."""

    ACCEPTED = "accepted", "接受 accepted"
    DECLINED = "declined", "拒绝 declined"
    REFUSED = "refused", "未执行 refused"
    KEPT = "kept", "留言 kept"


class SmsMessage(models.Model):
    """Every SMS in and out, append-only: the offers texted to phones that did not
    confirm delivery, the replies to them, free text, and what the system answered.
    An outbound row with `error` is one the gateway refused (it is retried)."""

    direction = models.CharField(max_length=3, choices=SmsDirection.choices)
    # Digits only, without +86: the form Volunteer.phone has.
    phone = models.CharField(max_length=20)
    text = models.TextField(blank=True)
    assignment = models.ForeignKey(
        Assignment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sms_messages",
    )
    outcome = models.CharField(max_length=10, choices=SmsOutcome.choices, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["phone", "created_at"])]
        constraints = [
            choice_constraint("direction", SmsDirection),
            # Inbound messages always have an outcome; outbound never. Only outbound
            # ones can fail at the gateway.
            models.CheckConstraint(
                condition=Q(direction=SmsDirection.IN, outcome__in=SmsOutcome.values, error="")
                | Q(direction=SmsDirection.OUT, outcome=""),
                name="sms_message_outcome_matches_direction",
            ),
        ]

    def __str__(self):
        arrow = "→" if self.direction == SmsDirection.OUT else "←"
        return f"{arrow} {self.phone}: {self.text[:40]}"


class OfferSmsCode(models.Model):
    """The short code an offer sent by SMS is answered with ("Y 4821"), and the state of
    that one SMS: claimed by a sweep, sent, and released once the offer closed.

    A code is unique among the unreleased ones, by a partial unique index. A partial
    index cannot look at the assignment's status in another table, so the offer's
    openness is copied here as `released_at`: a code is released only after its offer
    left OFFERED (which it never returns to), so the codes of open offers are always
    unique, held by the database. Released codes may go to later offers; a reply is
    matched on code *and* sender's phone, and a phone is never given a code it had in
    the last days (dispatch.sms.offers.CODE_REUSE_DAYS), so a late reply to an old SMS finds
    the old offer and is told it closed, never another incident's offer."""

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="sms_code")
    code = models.CharField(max_length=4)
    created_at = models.DateTimeField(auto_now_add=True)
    # A sweep is sending the SMS (a lease: a stale claim is taken over).
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    # The offer was withdrawn (or its task cancelled) after it was texted, and that was
    # texted too (dispatch.sms.offers.stand_downs_sms): set by the sweep that claims it.
    stood_down_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["code"])]
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(released_at__isnull=True),
                name="one_unreleased_offer_per_sms_code",
                violation_error_message="This SMS reply code is in use by an open offer.",
            ),
        ]

    def __str__(self):
        return f"{self.code} → assignment {self.assignment_id}"


class PushSubscription(models.Model):
    """A phone's Web Push subscription (dispatch.push): where to send an offer so that
    the phone shows it even with the page closed. The browser's push service gives the
    endpoint and the two keys the message is encrypted with; only that browser can read
    it. One row per endpoint: a phone handed to another member follows whoever last
    subscribed on it."""

    volunteer = models.ForeignKey(
        Volunteer, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=2000, unique=True)
    # The browser's P-256 public key (65 bytes, uncompressed) and its 16-byte auth
    # secret, base64url as PushSubscription.toJSON() gives them.
    p256dh = models.CharField(max_length=100)
    auth = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"push → volunteer {self.volunteer_id}"
