"""Broadcasts, their receipts and activities: the REST API under /api/ (config/urls.py
puts it in the "api" namespace)."""

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from briefings import services
from briefings.models import (
    RADIUS_KM_MAX,
    RADIUS_KM_MIN,
    TEXT_MAX,
    Activity,
    ActivityKind,
    Audience,
    Broadcast,
)
from briefings.selectors import audience_label, broadcasts_unread, broadcasts_with_counts
from config.api import (
    CONFLICT_RESPONSE,
    Conflict,
    IsCoordinator,
    IsCoordinatorOrCommander,
    IsVolunteer,
)
from config.idempotency.services import (
    IDEMPOTENCY_KEY_PARAMETER,
    KEY_REUSED_RESPONSE,
    idempotent,
)
from dispatch.labels import user_name
from volunteers.models import Skill, Team, Township, Volunteer

# The audience's parameter for each kind that has one.
AUDIENCE_FIELDS = {
    Audience.ALL_ON_DUTY: (),
    Audience.TOWNSHIP: ("township",),
    Audience.TEAM: ("team",),
    Audience.SKILL: ("skill",),
    Audience.AREA: ("latitude", "longitude", "radius_km"),
}
ALL_AUDIENCE_FIELDS = ("township", "team", "skill", "latitude", "longitude", "radius_km")
# A briefing's time may be a moment ago (the form was filled in while it passed), not
# more.
BRIEFING_PAST_TOLERANCE = timedelta(minutes=5)
AUDIENCE_SIZE_MAX = 1_000_000
# Activities are recorded for this system's years (the seed's talks are of 2021); a
# date outside is a typing slip (and before 1901 the city's zone is local mean time,
# "+08:05:43", which no client reads as a time).
ACTIVITY_YEARS = range(2000, 2100)
BRIEFING_AHEAD_MAX = timedelta(days=30)


def _latitude(**kwargs):
    return serializers.FloatField(min_value=-90, max_value=90, **kwargs)


def _longitude(**kwargs):
    return serializers.FloatField(min_value=-180, max_value=180, **kwargs)


# --- broadcasts -----------------------------------------------------------------------


class ReceiptCountsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Recipients: on duty in the audience when sent.")
    delivered = serializers.IntegerField(help_text="Phones that confirmed they received it.")
    read = serializers.IntegerField()
    confirmed = serializers.IntegerField(help_text="Briefings: who confirmed they will come.")
    texted = serializers.IntegerField(help_text="Sent by SMS: no phone confirmed it in time.")


class BroadcastSerializer(serializers.ModelSerializer):
    """A message to those on duty (a briefing when it has a place and a time), with its
    receipts counted."""

    author = serializers.SerializerMethodField()
    audience_label = serializers.SerializerMethodField(help_text="Who it went to, in words.")
    skill = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    receipts = serializers.SerializerMethodField()

    class Meta:
        model = Broadcast
        fields = [
            "id",
            "text",
            "author",
            "created_at",
            "audience",
            "audience_label",
            "township",
            "team",
            "skill",
            "latitude",
            "longitude",
            "radius_km",
            "briefing_place",
            "briefing_latitude",
            "briefing_longitude",
            "briefing_starts_at",
            "receipts",
        ]
        read_only_fields = fields

    def get_author(self, broadcast) -> str:
        return user_name(broadcast.author)

    def get_audience_label(self, broadcast) -> str:
        return audience_label(broadcast)

    @extend_schema_field(ReceiptCountsSerializer)
    def get_receipts(self, broadcast) -> dict:
        return {
            name: getattr(broadcast, name)
            for name in ("total", "delivered", "read", "confirmed", "texted")
        }


class BroadcastSendSerializer(serializers.Serializer):
    """What a coordinator sends: the text, the audience and its parameter (a township,
    team or skill; or an area: a point and a radius), and for a briefing a place and a
    time."""

    text = serializers.CharField(max_length=TEXT_MAX)
    audience = serializers.ChoiceField(choices=Audience.choices)
    township = serializers.PrimaryKeyRelatedField(
        queryset=Township.objects.all(), required=False, allow_null=True
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )
    skill = serializers.SlugRelatedField(
        slug_field="code", queryset=Skill.objects.all(), required=False, allow_null=True
    )
    latitude = _latitude(required=False, allow_null=True, help_text="The area's centre.")
    longitude = _longitude(required=False, allow_null=True)
    radius_km = serializers.FloatField(
        min_value=RADIUS_KM_MIN, max_value=RADIUS_KM_MAX, required=False, allow_null=True
    )
    briefing_place = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    briefing_latitude = _latitude(required=False, allow_null=True)
    briefing_longitude = _longitude(required=False, allow_null=True)
    briefing_starts_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        audience = attrs["audience"]
        wanted = AUDIENCE_FIELDS[audience]
        errors = {
            name: _("Required for this audience.") for name in wanted if attrs.get(name) is None
        }
        errors |= {
            name: _("Not used with this audience.")
            for name in ALL_AUDIENCE_FIELDS
            if name not in wanted and attrs.get(name) is not None
        }
        errors |= self._briefing_errors(attrs)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _briefing_errors(self, attrs) -> dict:
        place, starts_at = attrs.get("briefing_place", ""), attrs.get("briefing_starts_at")
        latitude, longitude = attrs.get("briefing_latitude"), attrs.get("briefing_longitude")
        if (latitude is None) != (longitude is None):
            missing = "briefing_longitude" if longitude is None else "briefing_latitude"
            return {missing: _("Send latitude and longitude together.")}
        if starts_at is None and (place or latitude is not None):
            return {"briefing_starts_at": _("A briefing has a time.")}
        if starts_at is not None and not place:
            return {"briefing_place": _("A briefing has a place.")}
        if starts_at is not None and starts_at < timezone.now() - BRIEFING_PAST_TOLERANCE:
            return {"briefing_starts_at": _("This time has passed.")}
        if starts_at is not None and starts_at > timezone.now() + BRIEFING_AHEAD_MAX:
            return {"briefing_starts_at": _("A briefing is at most 30 days ahead.")}
        return {}


class BroadcastListSend(generics.ListCreateAPIView):
    """Coordinators send a message to everyone on duty in an audience (or schedule a
    briefing, which recipients confirm); coordinators and commanders list them, newest
    first, with their receipts counted."""

    serializer_class = BroadcastSerializer
    queryset = broadcasts_with_counts()

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsCoordinator()]
        return [IsCoordinatorOrCommander()]

    @extend_schema(
        request=BroadcastSendSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: BroadcastSerializer, 422: KEY_REUSED_RESPONSE},
    )
    def post(self, request, *args, **kwargs):
        # A retry with the same Idempotency-Key gets the first answer: nobody is sent
        # the message twice (config/idempotency).
        return idempotent(request, lambda: self._send(request))

    def _send(self, request) -> Response:
        form = BroadcastSendSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        broadcast = services.broadcast_send(author=request.user, **form.validated_data)
        counted = broadcasts_with_counts().get(pk=broadcast.pk)
        return Response(BroadcastSerializer(counted).data, status=201)


class BroadcastDetail(generics.RetrieveAPIView):
    """One message with its receipts counted (coordinators and commanders)."""

    serializer_class = BroadcastSerializer
    permission_classes = [IsCoordinatorOrCommander]
    queryset = broadcasts_with_counts()


# --- a volunteer's own messages -------------------------------------------------------


class BriefingPlaceSerializer(serializers.Serializer):
    place = serializers.CharField()
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)
    starts_at = serializers.DateTimeField()


class MyBroadcastSerializer(serializers.Serializer):
    """A message as the volunteer's phone shows it (the socket's `broadcast` frame)."""

    id = serializers.IntegerField()
    text = serializers.CharField()
    author = serializers.CharField()
    sent_at = serializers.DateTimeField()
    briefing = BriefingPlaceSerializer(allow_null=True, help_text="Null for a plain message.")
    delivered_at = serializers.DateTimeField(allow_null=True)
    read_at = serializers.DateTimeField(allow_null=True)
    confirmed_at = serializers.DateTimeField(allow_null=True)


class MyBroadcasts(APIView):
    """A volunteer's unread messages, newest first (of the last days, the newest 20)."""

    permission_classes = [IsVolunteer]

    @extend_schema(responses={200: MyBroadcastSerializer(many=True)})
    def get(self, request):
        return Response(broadcasts_unread(request.user.volunteer.pk))


class ReceiptSerializer(serializers.Serializer):
    broadcast = serializers.IntegerField()
    first = serializers.BooleanField(help_text="False when it had been reported already.")


class _MyBroadcastReceipt(APIView):
    """For phones without a socket: the same receipts as the socket's frames."""

    permission_classes = [IsVolunteer]
    mark = None

    @extend_schema(request=None, responses={200: ReceiptSerializer, 409: CONFLICT_RESPONSE})
    def post(self, request, pk: int):
        try:
            first = self.mark(broadcast_id=pk, volunteer=request.user.volunteer)
        except services.NotYourMessage as refused:
            raise NotFound(str(refused)) from None
        except services.NotABriefing as refused:
            raise Conflict(str(refused)) from None
        return Response({"broadcast": pk, "first": first})


class MyBroadcastDelivered(_MyBroadcastReceipt):
    """The phone received the message."""

    mark = staticmethod(services.broadcast_mark_delivered)


class MyBroadcastRead(_MyBroadcastReceipt):
    """The volunteer read the message."""

    mark = staticmethod(services.broadcast_mark_read)


class MyBroadcastConfirm(_MyBroadcastReceipt):
    """The volunteer will be at the briefing (409 for a message that is not one)."""

    mark = staticmethod(services.broadcast_confirm)


# --- activities -----------------------------------------------------------------------


class ActivitySerializer(serializers.ModelSerializer):
    """An activity that is not dispatch: a flood-safety talk given to the public, with
    its place, time, staff (volunteers' ids) and audience size."""

    kind = serializers.ChoiceField(choices=ActivityKind.choices, default=ActivityKind.SAFETY_TALK)
    latitude = _latitude(required=False, allow_null=True)
    longitude = _longitude(required=False, allow_null=True)
    staff = serializers.PrimaryKeyRelatedField(
        queryset=Volunteer.objects.all(), many=True, required=False
    )
    audience_size = serializers.IntegerField(min_value=0, max_value=AUDIENCE_SIZE_MAX, default=0)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    recorded_by = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        fields = [
            "id",
            "kind",
            "title",
            "address",
            "township",
            "latitude",
            "longitude",
            "starts_at",
            "ends_at",
            "staff",
            "audience_size",
            "note",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = ["id", "recorded_by", "recorded_at"]
        extra_kwargs = {"ends_at": {"required": False, "allow_null": True}}

    def get_recorded_by(self, activity) -> str:
        return user_name(activity.recorded_by)

    def validate(self, attrs):
        latitude, longitude = attrs.get("latitude"), attrs.get("longitude")
        if (latitude is None) != (longitude is None):
            missing = "longitude" if longitude is None else "latitude"
            raise serializers.ValidationError({missing: _("Send latitude and longitude together.")})
        for name in ("starts_at", "ends_at"):
            moment = attrs.get(name)
            if moment is not None and timezone.localtime(moment).year not in ACTIVITY_YEARS:
                raise serializers.ValidationError({name: _("Give a date between 2000 and 2099.")})
        ends_at = attrs.get("ends_at")
        if ends_at is not None and ends_at <= attrs["starts_at"]:
            raise serializers.ValidationError({"ends_at": _("It must end after it starts.")})
        return attrs


class ActivityListRecord(generics.ListCreateAPIView):
    """Coordinators record activities (a flood-safety talk: where, when, who gave it, to
    how many); coordinators and commanders list them, newest first."""

    serializer_class = ActivitySerializer
    queryset = Activity.objects.select_related("recorded_by__volunteer").prefetch_related("staff")

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsCoordinator()]
        return [IsCoordinatorOrCommander()]

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: ActivitySerializer, 422: KEY_REUSED_RESPONSE},
    )
    def post(self, request, *args, **kwargs):
        return idempotent(
            request, lambda: super(ActivityListRecord, self).post(request, *args, **kwargs)
        )

    def perform_create(self, serializer):
        serializer.instance = services.activity_record(
            recorded_by=self.request.user, **serializer.validated_data
        )
