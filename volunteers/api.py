from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ErrorSerializer, IsCoordinatorOrCommander, IsVolunteer, query_filters
from volunteers.models import (
    TRAVEL_RANGE_KM_MAX,
    TRAVEL_RANGE_KM_MIN,
    Skill,
    Team,
    Township,
    TravelMode,
    Vehicle,
    VehicleKind,
    VehicleStatus,
    Volunteer,
)
from volunteers.roles import Role, user_has_role, user_roles
from volunteers.services import volunteer_update_self


class TownshipSerializer(serializers.ModelSerializer):
    class Meta:
        model = Township
        fields = ["id", "name", "name_en", "kind", "latitude", "longitude"]


class SkillSerializer(serializers.ModelSerializer):
    class Meta:
        model = Skill
        fields = ["code", "name_zh", "name_en"]


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "kind", "township"]


class VolunteerSerializer(serializers.ModelSerializer):
    skills = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = Volunteer
        fields = [
            "id",
            "name",
            "phone",
            "township",
            "teams",
            "skills",
            "on_duty",
            "travel_mode",
            "travel_range_km",
            "home_latitude",
            "home_longitude",
            "last_latitude",
            "last_longitude",
            "last_located_at",
        ]
        read_only_fields = fields


class VolunteerForCoordinatorSerializer(VolunteerSerializer):
    """A volunteer as a coordinator, who calls and sends them, sees them: the phone and
    where they are while on duty. Off duty, where someone is is their own business,
    and home is never shown (the engine uses it; nobody needs to read it)."""

    last_latitude = serializers.SerializerMethodField()
    last_longitude = serializers.SerializerMethodField()
    last_located_at = serializers.SerializerMethodField()

    class Meta(VolunteerSerializer.Meta):
        fields = [
            name
            for name in VolunteerSerializer.Meta.fields
            if name not in ("home_latitude", "home_longitude")
        ]
        read_only_fields = fields

    def _while_on_duty(self, volunteer, value):
        return value if volunteer.on_duty else None

    def get_last_latitude(self, volunteer) -> float | None:
        return self._while_on_duty(volunteer, volunteer.last_latitude)

    def get_last_longitude(self, volunteer) -> float | None:
        return self._while_on_duty(volunteer, volunteer.last_longitude)

    def get_last_located_at(self, volunteer):
        return self._while_on_duty(volunteer, volunteer.last_located_at)


class VolunteerForReviewSerializer(VolunteerSerializer):
    """A volunteer as a commander's review needs them: who, from where, with what —
    no phone number, no position."""

    class Meta(VolunteerSerializer.Meta):
        fields = ["id", "name", "township", "teams", "skills", "on_duty", "travel_mode"]
        read_only_fields = fields


def volunteer_serializer_for(user) -> type[VolunteerSerializer]:
    """Least data (issue 10): what each role reading other volunteers may see."""
    if user_has_role(user, Role.COORDINATOR):
        return VolunteerForCoordinatorSerializer
    return VolunteerForReviewSerializer


class VolunteerSelfUpdateSerializer(serializers.Serializer):
    """What volunteers change about themselves: duty status, where they are, and how
    far and how they will travel."""

    on_duty = serializers.BooleanField(required=False)
    latitude = serializers.FloatField(required=False, min_value=-90, max_value=90)
    longitude = serializers.FloatField(required=False, min_value=-180, max_value=180)
    travel_mode = serializers.ChoiceField(choices=TravelMode.choices, required=False)
    travel_range_km = serializers.FloatField(
        required=False, min_value=TRAVEL_RANGE_KM_MIN, max_value=TRAVEL_RANGE_KM_MAX
    )

    def validate(self, attrs):
        if ("latitude" in attrs) != ("longitude" in attrs):
            raise serializers.ValidationError(
                {"location": _("Send latitude and longitude together.")}
            )
        if not attrs:
            raise serializers.ValidationError({"detail": _("Nothing to change.")})
        return attrs


class VehicleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Vehicle
        fields = [
            "id",
            "call_sign",
            "kind",
            "team",
            "township",
            "capacity",
            "max_water_depth_m",
            "crew",
            "status",
            "latitude",
            "longitude",
            "located_at",
        ]
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    volunteer = VolunteerSerializer(allow_null=True)


class TokenSignInSerializer(AuthTokenSerializer):
    # No username is longer than the model's; a longer one is refused here, before
    # django-axes records the failed attempt in its 255-character column (a 500).
    username = serializers.CharField(
        label=gettext_lazy("Username"),
        max_length=User._meta.get_field("username").max_length,
        write_only=True,
    )


class TokenSignIn(ObtainAuthToken):
    """POST username and password → {"token"}: a sign-in like the pages', throttled with
    them (django-axes). django-axes marks a locked-out attempt on the request it is
    given, here DRF's wrapper, so the mark is passed on to the Django request that its
    middleware reads (and answers 429); a success is announced as the pages' is, which
    forgives the account its failures and records last_login."""

    serializer_class = TokenSignInSerializer

    @extend_schema(
        # No credentials needed: this is where they come from.
        auth=[],
        responses={
            200: TokenSignInSerializer,
            429: OpenApiResponse(
                response=ErrorSerializer,
                description="Too many failed sign-ins for this account or from this address.",
            ),
        },
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        finally:
            if getattr(request, "axes_locked_out", False):
                request._request.axes_locked_out = True
        user = serializer.validated_data["user"]
        token, _created = Token.objects.get_or_create(user=user)
        user_logged_in.send(sender=type(user), request=request._request, user=user)
        return Response({"token": token.key})


class Me(APIView):
    """Who is signed in, their roles, and their volunteer profile if they have one."""

    permission_classes = [IsAuthenticated]
    serializer_class = MeSerializer

    def get(self, request):
        me = {
            "username": request.user.get_username(),
            "roles": user_roles(request.user),
            "volunteer": getattr(request.user, "volunteer", None),
        }
        return Response(MeSerializer(me).data)


class MyVolunteerProfile(APIView):
    """A volunteer reads and updates their own profile: PATCH `on_duty`,
    `latitude` + `longitude`, `travel_mode`, `travel_range_km`."""

    permission_classes = [IsAuthenticated, IsVolunteer]
    serializer_class = VolunteerSerializer

    def get(self, request):
        return Response(VolunteerSerializer(request.user.volunteer).data)

    @extend_schema(request=VolunteerSelfUpdateSerializer, responses=VolunteerSerializer)
    def patch(self, request):
        # partial: a form (not JSON) that leaves out on_duty does not mean "off duty".
        form = VolunteerSelfUpdateSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        volunteer = volunteer_update_self(volunteer=request.user.volunteer, **form.validated_data)
        return Response(VolunteerSerializer(volunteer).data)


class VolunteerFilters(serializers.Serializer):
    on_duty = serializers.BooleanField(required=False, allow_null=True, default=None)
    township = serializers.IntegerField(required=False, min_value=1)
    teams = serializers.IntegerField(required=False, min_value=1, help_text="A team's id")
    skills__code = serializers.SlugField(required=False, help_text="A skill's code")


class VolunteerList(generics.ListAPIView):
    """Volunteers (filters: `on_duty`, `township`, `teams`, `skills__code`). Coordinators
    get the phone and, while on duty, the last position; commanders neither."""

    serializer_class = VolunteerForCoordinatorSerializer
    permission_classes = [IsCoordinatorOrCommander]

    def get_serializer_class(self):
        return volunteer_serializer_for(self.request.user)

    @extend_schema(parameters=[VolunteerFilters])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        volunteers = Volunteer.objects.prefetch_related(
            Prefetch("skills", queryset=Skill.objects.only("code")), "teams"
        )
        return volunteers.filter(**query_filters(self.request, VolunteerFilters))


class VolunteerDetail(generics.RetrieveAPIView):
    serializer_class = VolunteerForCoordinatorSerializer
    permission_classes = [IsCoordinatorOrCommander]
    queryset = Volunteer.objects.prefetch_related("skills", "teams")

    def get_serializer_class(self):
        return volunteer_serializer_for(self.request.user)


class VehicleFilters(serializers.Serializer):
    kind = serializers.ChoiceField(choices=VehicleKind.choices, required=False)
    status = serializers.ChoiceField(choices=VehicleStatus.choices, required=False)
    township = serializers.IntegerField(required=False, min_value=1)


class VehicleList(generics.ListAPIView):
    """Vehicles (filters: `kind`, `status`, `township`)."""

    serializer_class = VehicleSerializer
    permission_classes = [IsCoordinatorOrCommander]

    @extend_schema(parameters=[VehicleFilters])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        vehicles = Vehicle.objects.prefetch_related("crew")
        return vehicles.filter(**query_filters(self.request, VehicleFilters))


class TeamList(generics.ListAPIView):
    serializer_class = TeamSerializer
    permission_classes = [IsCoordinatorOrCommander]
    queryset = Team.objects.all()
    pagination_class = None


class SkillList(generics.ListAPIView):
    serializer_class = SkillSerializer
    queryset = Skill.objects.all()
    pagination_class = None


class TownshipList(generics.ListAPIView):
    serializer_class = TownshipSerializer
    queryset = Township.objects.all()
    pagination_class = None
