from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from config.constraints import choice_constraint, coordinate_constraints

LATITUDE_VALIDATORS = [MinValueValidator(-90), MaxValueValidator(90)]
LONGITUDE_VALIDATORS = [MinValueValidator(-180), MaxValueValidator(180)]


class TownshipKind(models.TextChoices):
    SUBDISTRICT = "subdistrict", "街道 subdistrict"
    TOWN = "town", "镇 town"
    TOWNSHIP = "township", "乡 township"


class Township(models.Model):
    """One of the city's townships (subdistrict, town or township) and its seat."""

    Kind = TownshipKind

    name = models.CharField(max_length=50, unique=True)
    name_en = models.CharField(max_length=80, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    latitude = models.FloatField(validators=LATITUDE_VALIDATORS)
    longitude = models.FloatField(validators=LONGITUDE_VALIDATORS)

    class Meta:
        ordering = ["name"]
        constraints = [*coordinate_constraints("", "seat"), choice_constraint("kind", TownshipKind)]

    def __str__(self):
        return self.name


class Skill(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name_zh = models.CharField(max_length=50)
    name_en = models.CharField(max_length=80)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.name_zh} ({self.code})"


class TeamKind(models.TextChoices):
    ASSOCIATION = "association", "协会 association"
    BRANCH = "branch", "行业分会 trade branch"
    RESCUE = "rescue", "救援队 rescue team"


class Team(models.Model):
    """An association (新联会), a trade branch, or a rescue team such as 蓝天救援队."""

    Kind = TeamKind

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    township = models.ForeignKey(Township, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        ordering = ["name"]
        constraints = [choice_constraint("kind", TeamKind)]

    def __str__(self):
        return self.name


TRAVEL_RANGE_KM_MIN = 0.1
TRAVEL_RANGE_KM_MAX = 500


class TravelMode(models.TextChoices):
    FOOT = "foot", "步行 on foot"
    CAR = "car", "驾车 by car"
    BOAT = "boat", "舟艇 by boat"


class Volunteer(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="volunteer"
    )
    name = models.CharField(max_length=50)
    # Mainland mobile numbers, digits only: the roster key for idempotent re-import.
    phone = models.CharField(max_length=20, unique=True)
    township = models.ForeignKey(Township, on_delete=models.PROTECT, related_name="volunteers")
    teams = models.ManyToManyField(Team, blank=True, related_name="members")
    skills = models.ManyToManyField(Skill, blank=True, related_name="volunteers")
    on_duty = models.BooleanField(default=False)
    travel_mode = models.CharField(max_length=8, choices=TravelMode.choices, default=TravelMode.CAR)
    travel_range_km = models.FloatField(
        default=15,
        validators=[
            MinValueValidator(TRAVEL_RANGE_KM_MIN),
            MaxValueValidator(TRAVEL_RANGE_KM_MAX),
        ],
    )
    home_latitude = models.FloatField(null=True, blank=True, validators=LATITUDE_VALIDATORS)
    home_longitude = models.FloatField(null=True, blank=True, validators=LONGITUDE_VALIDATORS)
    last_latitude = models.FloatField(null=True, blank=True, validators=LATITUDE_VALIDATORS)
    last_longitude = models.FloatField(null=True, blank=True, validators=LONGITUDE_VALIDATORS)
    last_located_at = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["on_duty", "township"])]
        constraints = [
            *coordinate_constraints("home_", "home"),
            *coordinate_constraints("last_", "last_location"),
            models.CheckConstraint(
                condition=Q(travel_range_km__gt=0), name="volunteer_travel_range_positive"
            ),
            choice_constraint("travel_mode", TravelMode),
        ]

    def __str__(self):
        return f"{self.name} ({self.phone})"


class VehicleKind(models.TextChoices):
    BOAT = "boat", "冲锋舟 assault boat"
    TRUCK = "truck", "卡车 truck"
    AMBULANCE = "ambulance", "救护车 ambulance"
    VAN = "van", "面包车 van"
    CAR = "car", "小汽车 car"
    BUS = "bus", "大客车 bus"


class VehicleStatus(models.TextChoices):
    AVAILABLE = "available", "可调度 available"
    ASSIGNED = "assigned", "执行任务 assigned"
    OUT_OF_SERVICE = "out_of_service", "停用 out of service"


class Vehicle(models.Model):
    Status = VehicleStatus

    call_sign = models.CharField(max_length=30, unique=True)
    kind = models.CharField(max_length=12, choices=VehicleKind.choices)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="vehicles"
    )
    township = models.ForeignKey(Township, on_delete=models.PROTECT, related_name="vehicles")
    capacity = models.PositiveSmallIntegerField(help_text="People it carries besides its crew")
    max_water_depth_m = models.DecimalField(
        max_digits=4, decimal_places=2, help_text="Deepest water it can work in, in metres"
    )
    crew = models.ManyToManyField(Volunteer, blank=True, related_name="crewed_vehicles")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    latitude = models.FloatField(null=True, blank=True, validators=LATITUDE_VALIDATORS)
    longitude = models.FloatField(null=True, blank=True, validators=LONGITUDE_VALIDATORS)
    located_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["call_sign"]
        indexes = [models.Index(fields=["kind", "status"])]
        constraints = [
            *coordinate_constraints("", "location"),
            models.CheckConstraint(
                condition=Q(max_water_depth_m__gte=0), name="vehicle_water_depth_not_negative"
            ),
            choice_constraint("kind", VehicleKind),
            choice_constraint("status", VehicleStatus),
        ]

    def __str__(self):
        return f"{self.call_sign} ({self.get_kind_display()})"
