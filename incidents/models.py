from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from config.constraints import choice_constraint, coordinate_constraints
from volunteers.models import (
    LATITUDE_VALIDATORS,
    LONGITUDE_VALIDATORS,
    Skill,
    Township,
    VehicleKind,
)


class IncidentKind(models.TextChoices):
    FLOOD_RESCUE = "flood_rescue", "防汛救援 flood rescue"
    EVACUATION = "evacuation", "转移疏散 evacuation"
    MEDICAL = "medical", "医疗救护 medical"
    SEARCH = "search", "搜寻 search"
    TESTING_SITE = "testing_site", "核酸采样点 testing site"
    SHELTER = "shelter", "安置点 shelter"
    DISTRIBUTION = "distribution", "物资发放 distribution"


# Urgent response: now, nearest first, over-offer and escalate fast. The other kinds are
# shift staffing: a window, spread fairly (DESIGN.md §1).
URGENT_KINDS = frozenset(
    {IncidentKind.FLOOD_RESCUE, IncidentKind.EVACUATION, IncidentKind.MEDICAL, IncidentKind.SEARCH}
)


class IncidentStatus(models.TextChoices):
    OPEN = "open", "进行中 open"
    RESOLVED = "resolved", "已完成 resolved"
    CANCELLED = "cancelled", "已取消 cancelled"


class LocationPrecision(models.TextChoices):
    """How precisely an incident's coordinates stand for the place (DESIGN.md §5c).

    A geocoder answers with one of the last four; "pin" is a point a coordinator placed
    or confirmed on the map; "point" is coordinates an API client sent without saying
    more (and every incident opened before precision was recorded)."""

    PIN = "pin", "地图标定 placed on the map"
    POINT = "point", "坐标 coordinates"
    ADDRESS = "address", "门址 exact address"
    STREET = "street", "道路 street"
    TOWNSHIP = "township", "乡镇中心 township centre"
    CITY = "city", "城市中心 city centre"


# Finest first: a geocoder's four, as a coarseness rank.
GEOCODE_PRECISIONS = (
    LocationPrecision.ADDRESS,
    LocationPrecision.STREET,
    LocationPrecision.TOWNSHIP,
    LocationPrecision.CITY,
)
# Coarser than a street: the pin is an area's centre, not the place. Confirmed on the
# map before anyone is sent there.
COARSE_PRECISIONS = frozenset({LocationPrecision.TOWNSHIP, LocationPrecision.CITY})


class Incident(models.Model):
    Kind = IncidentKind
    LocationPrecision = LocationPrecision

    class Priority(models.IntegerChoices):
        # Higher is more urgent; matching weighs travel time by it (DESIGN.md §5).
        LOW = 1, "低 low"
        NORMAL = 2, "中 normal"
        HIGH = 3, "高 high"
        CRITICAL = 4, "紧急 critical"

    Status = IncidentStatus

    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    latitude = models.FloatField(validators=LATITUDE_VALIDATORS)
    longitude = models.FloatField(validators=LONGITUDE_VALIDATORS)
    address = models.CharField(max_length=300, blank=True)
    location_precision = models.CharField(
        max_length=8,
        choices=LocationPrecision.choices,
        default=LocationPrecision.POINT,
        help_text="How precisely the coordinates stand for the place.",
    )
    township = models.ForeignKey(
        Township, null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    people_affected = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reported_incidents"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["status", "-opened_at"])]
        constraints = [
            *coordinate_constraints("", "location"),
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=4), name="incident_priority_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | (~Q(status="open") & Q(closed_at__isnull=False)),
                name="incident_closed_at_matches_status",
            ),
            choice_constraint("kind", IncidentKind),
            choice_constraint("status", IncidentStatus),
            choice_constraint("location_precision", LocationPrecision),
        ]

    def __str__(self):
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def is_urgent(self) -> bool:
        return self.kind in URGENT_KINDS

    @property
    def is_approximate(self) -> bool:
        """Its pin is an area's centre (a township's, the city's), not the place."""
        return self.location_precision in COARSE_PRECISIONS


class Need(models.Model):
    """What an incident asks for. Exactly one of three shapes:

    - people: `count` volunteers with `skill`;
    - vehicles: `count` vehicles of `vehicle_kind`;
    - capability: vehicles that together move `people_to_move` people through
      `water_depth_m` of water, whatever their kind ("move 40 people, 1.2 m water").

    Shift staffing needs carry a window (`shift_start`, `shift_end`).
    """

    class Kind(models.TextChoices):
        PEOPLE = "people", "人员 people"
        VEHICLE = "vehicle", "车辆 vehicles"
        CAPABILITY = "capability", "能力 capability"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="needs")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    skill = models.ForeignKey(Skill, null=True, blank=True, on_delete=models.PROTECT)
    vehicle_kind = models.CharField(
        max_length=12, choices=VehicleKind.choices, blank=True, default=""
    )
    count = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    people_to_move = models.PositiveIntegerField(null=True, blank=True)
    water_depth_m = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    shift_start = models.DateTimeField(null=True, blank=True)
    shift_end = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    # A need the coordinator cancelled: kept (the log points at it), offered no more.
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Nobody left to ask (issue 13): how far the search reaches beyond the volunteers'
    # own travel ranges once widened, the other skills accepted, and when the need was
    # last raised as unmet (cleared when someone is found).
    reach_km = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(500)],
        help_text="The search widened to this distance; empty: each volunteer's own range.",
    )
    extra_skills = models.ManyToManyField(
        Skill,
        blank=True,
        related_name="+",
        help_text="Other skills the coordinator accepts for this need.",
    )
    unmet_at = models.DateTimeField(null=True, blank=True)
    # Why it was raised, as the need.unmet event said (dispatch.escalation): kept here
    # so that a dashboard opened later shows the reason without reading the log.
    unmet_why = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(count__gte=1), name="need_count_positive"),
            models.CheckConstraint(
                condition=(
                    Q(kind="people", skill__isnull=False, vehicle_kind="")
                    & Q(people_to_move__isnull=True, water_depth_m__isnull=True)
                )
                | (
                    Q(kind="vehicle", skill__isnull=True)
                    & ~Q(vehicle_kind="")
                    & Q(people_to_move__isnull=True)
                )
                | Q(
                    kind="capability",
                    skill__isnull=True,
                    vehicle_kind="",
                    people_to_move__isnull=False,
                    people_to_move__gte=1,
                    water_depth_m__isnull=False,
                ),
                name="need_shape_matches_kind",
                violation_error_message="A need asks for people with a skill, vehicles of a "
                "kind, or a capability (people to move through a water depth).",
            ),
            models.CheckConstraint(
                condition=Q(shift_start__isnull=True, shift_end__isnull=True)
                | Q(
                    shift_start__isnull=False,
                    shift_end__isnull=False,
                    shift_end__gt=F("shift_start"),
                ),
                name="need_shift_window_valid",
                violation_error_message="A shift window has a start and an end after it.",
            ),
            models.CheckConstraint(
                condition=Q(water_depth_m__isnull=True) | Q(water_depth_m__gte=0),
                name="need_water_depth_not_negative",
            ),
        ]

    def __str__(self):
        if self.kind == self.Kind.PEOPLE:
            return f"{self.count} × {self.skill}"
        if self.kind == self.Kind.VEHICLE:
            return f"{self.count} × {self.get_vehicle_kind_display()}"
        return f"move {self.people_to_move} people through {self.water_depth_m} m water"

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None
