from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.fields import empty
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import (
    CONFLICT_RESPONSE,
    Conflict,
    IsCoordinator,
    IsCoordinatorOrCommander,
    IsVolunteer,
    query_filters,
)
from config.idempotency.services import (
    IDEMPOTENCY_KEY_PARAMETER,
    KEY_REUSED_RESPONSE,
    idempotent,
)
from dispatch import escalation, hours, push, rota, services, vehicles
from dispatch.models import OPEN_STATUSES, Assignment, AssignmentStatus, DeploymentEvent
from dispatch.selectors import log_events, needs_with_fill, volunteers_own
from incidents.api import NeedSerializer, SkillCodeField
from incidents.models import Incident, IncidentKind, Need
from volunteers.api import VehicleSerializer
from volunteers.models import Skill, Vehicle, VehicleKind, Volunteer
from volunteers.roles import Role, user_has_role


class DeploymentEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor.username",
        read_only=True,
        default=None,
        allow_null=True,
        help_text="Who did it; null for what the system did (offers, expiries).",
    )

    class Meta:
        model = DeploymentEvent
        fields = [
            "seq",
            "kind",
            "occurred_at",
            "actor",
            "incident",
            "need",
            "assignment",
            "volunteer",
            "vehicle",
            "data",
        ]
        read_only_fields = fields


class LogFilterSerializer(serializers.Serializer):
    since = serializers.IntegerField(required=False, min_value=0, help_text="Events after this seq")
    incident = serializers.IntegerField(required=False, min_value=1)
    kind = serializers.CharField(
        required=False, max_length=32, help_text="e.g. `offer` or `offer.accepted`"
    )
    volunteer = serializers.IntegerField(required=False, min_value=1)
    vehicle = serializers.IntegerField(required=False, min_value=1)
    after = serializers.DateTimeField(required=False, help_text="At or after this time")
    before = serializers.DateTimeField(required=False, help_text="Before this time")


class DeploymentLog(generics.ListAPIView):
    """The deployment log in sequence order, for coordinators and commanders."""

    serializer_class = DeploymentEventSerializer
    permission_classes = [IsCoordinatorOrCommander]

    @extend_schema(parameters=[LogFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return log_events(**query_filters(self.request, LogFilterSerializer))


# --- offers and assignments -----------------------------------------------------------


class AssignmentSerializer(serializers.ModelSerializer):
    """One offer or assignment with what a phone shows and a coordinator checks without
    another request: the incident (what, where, how urgent), the need (people with a
    skill, vehicles of a kind, a capability; its shift), who it went to, and when the
    phone received and the volunteer opened it. Read it through
    `assignments_for_display()`, which fetches all of that in the same query."""

    incident = serializers.IntegerField(source="need.incident_id", read_only=True)
    incident_title = serializers.CharField(source="need.incident.title", read_only=True)
    incident_kind = serializers.ChoiceField(
        source="need.incident.kind", choices=IncidentKind.choices, read_only=True
    )
    incident_address = serializers.CharField(source="need.incident.address", read_only=True)
    # A string, not a second enum of Incident.location_precision's choices in the schema.
    incident_location_precision = serializers.CharField(
        source="need.incident.location_precision",
        read_only=True,
        help_text="How precisely latitude/longitude stand for the place (the incident's "
        "`location_precision`: pin, point, address, street, township, city). `township` "
        "or `city` is that area's centre: an approximate place, not to be navigated to "
        "as if exact.",
    )
    # An integer rather than an enum: the schema already names the priorities' enum
    # after Incident.priority (PriorityEnum).
    incident_priority = serializers.IntegerField(
        source="need.incident.priority",
        read_only=True,
        help_text="1 low, 2 normal, 3 high, 4 critical.",
    )
    latitude = serializers.FloatField(
        source="need.incident.latitude", read_only=True, help_text="The incident's."
    )
    longitude = serializers.FloatField(
        source="need.incident.longitude", read_only=True, help_text="The incident's."
    )
    need_text = serializers.CharField(source="need.__str__", read_only=True)
    need_kind = serializers.ChoiceField(
        source="need.kind", choices=Need.Kind.choices, read_only=True
    )
    need_skill = serializers.CharField(
        source="need.skill.code",
        read_only=True,
        allow_null=True,
        help_text="The skill's code (`/api/skills/`), for a need of people.",
    )
    need_vehicle_kind = serializers.ChoiceField(
        source="need.vehicle_kind",
        choices=VehicleKind.choices,
        allow_blank=True,
        read_only=True,
        help_text="For a need of vehicles; empty otherwise.",
    )
    shift_start = serializers.DateTimeField(
        source="need.shift_start", read_only=True, allow_null=True, help_text="A shift's start."
    )
    shift_end = serializers.DateTimeField(
        source="need.shift_end", read_only=True, allow_null=True, help_text="A shift's end."
    )
    volunteer_name = serializers.CharField(source="volunteer.name", read_only=True, allow_null=True)
    vehicle_call_sign = serializers.CharField(
        source="vehicle.call_sign", read_only=True, allow_null=True
    )
    vehicle_kind = serializers.ChoiceField(
        source="vehicle.kind",
        choices=VehicleKind.choices,
        read_only=True,
        allow_null=True,
        help_text="The kind of the vehicle offered (the need may ask for a capability).",
    )

    class Meta:
        model = Assignment
        fields = [
            "id",
            "need",
            "need_text",
            "need_kind",
            "need_skill",
            "need_vehicle_kind",
            "shift_start",
            "shift_end",
            "incident",
            "incident_title",
            "incident_kind",
            "incident_address",
            "incident_location_precision",
            "incident_priority",
            "latitude",
            "longitude",
            "volunteer",
            "volunteer_name",
            "vehicle",
            "vehicle_call_sign",
            "vehicle_kind",
            "status",
            "offered_by",
            "distance_m",
            "eta_seconds",
            "offered_at",
            "expires_at",
            "delivered_at",
            "seen_at",
            "answered_at",
            "en_route_at",
            "on_scene_at",
            "finished_at",
            "people_moved",
            "reason",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "delivered_at": {"help_text": "When the phone confirmed it received the offer."},
            "seen_at": {"help_text": "When the volunteer opened the offer."},
        }


def assignments_for_display(assignments: QuerySet[Assignment] | None = None):
    """`assignments` (default: all) with everything AssignmentSerializer reads from
    other tables joined in, so a list costs one query however long it is."""
    if assignments is None:
        assignments = Assignment.objects.all()
    return assignments.select_related("need__incident", "need__skill", "volunteer", "vehicle")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class RequiredReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class ProgressSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[AssignmentStatus.EN_ROUTE, AssignmentStatus.ON_SCENE, AssignmentStatus.COMPLETED]
    )
    # The whole city has about a million people: more is a typing error, and the column
    # is a 32-bit integer.
    people_moved = serializers.IntegerField(
        required=False, min_value=0, max_value=1_000_000, allow_null=True
    )


class ManualAssignSerializer(serializers.Serializer):
    volunteer = serializers.PrimaryKeyRelatedField(
        queryset=Volunteer.objects.all(), required=False, allow_null=True
    )
    vehicle = serializers.PrimaryKeyRelatedField(
        queryset=Vehicle.objects.all(), required=False, allow_null=True
    )
    reason = serializers.CharField(max_length=300)

    def validate(self, attrs):
        if (attrs.get("volunteer") is None) == (attrs.get("vehicle") is None):
            raise serializers.ValidationError(_("Give a volunteer or a vehicle."))
        return attrs


def _domain_error(error: services.DispatchError) -> Exception:
    """The HTTP answer to a refused dispatch request, with the reason for the user."""
    if isinstance(error, services.NotYours):
        return PermissionDenied(str(error))
    if isinstance(error, services.InvalidTransition):
        return ValidationError({"detail": str(error)})
    return Conflict(str(error))


def _validated(serializer_class, request) -> dict:
    form = serializer_class(data=request.data)
    form.is_valid(raise_exception=True)
    return form.validated_data


class MyAssignmentFilters(serializers.Serializer):
    open = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="`1` or `true`: only those still open (offered, accepted, under way).",
    )


class MyAssignments(generics.ListAPIView):
    """A volunteer's own offers and assignments, newest first (`?open=1`: only those
    still open), including offers to vehicles they crew."""

    serializer_class = AssignmentSerializer
    permission_classes = [IsVolunteer]

    @extend_schema(parameters=[MyAssignmentFilters])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        volunteer = self.request.user.volunteer
        mine = (
            assignments_for_display()
            .filter(volunteers_own(volunteer))
            .distinct()
            .order_by("-offered_at", "-id")
        )
        if query_filters(self.request, MyAssignmentFilters).get("open"):
            mine = mine.filter(status__in=OPEN_STATUSES)
        return mine


class IncidentAssignments(generics.ListAPIView):
    """Every offer and assignment of an incident, for coordinators and commanders."""

    serializer_class = AssignmentSerializer
    permission_classes = [IsCoordinatorOrCommander]

    def get_queryset(self):
        incident = get_object_or_404(Incident, pk=self.kwargs["pk"])
        return assignments_for_display().filter(need__incident=incident)


class _AssignmentAction(APIView):
    request_serializer = None

    def act(self, request, assignment_id: int, data: dict):
        raise NotImplementedError

    def post(self, request, pk: int):
        data = _validated(self.request_serializer, request) if self.request_serializer else {}
        get_object_or_404(Assignment, pk=pk)
        try:
            assignment = self.act(request, pk, data)
        except services.DispatchError as error:
            raise _domain_error(error) from None
        return Response(AssignmentSerializer(assignments_for_display().get(pk=assignment.pk)).data)


class AssignmentAccept(_AssignmentAction):
    """Accept an offer (409 with the reason when it is already filled or expired)."""

    permission_classes = [IsVolunteer]

    @extend_schema(request=None, responses={200: AssignmentSerializer, 409: CONFLICT_RESPONSE})
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, assignment_id, data):
        return services.assignment_accept(
            assignment_id=assignment_id, volunteer=request.user.volunteer
        )


class AssignmentDecline(_AssignmentAction):
    permission_classes = [IsVolunteer]
    request_serializer = ReasonSerializer

    @extend_schema(
        request=ReasonSerializer, responses={200: AssignmentSerializer, 409: CONFLICT_RESPONSE}
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, assignment_id, data):
        return services.assignment_decline(
            assignment_id=assignment_id, volunteer=request.user.volunteer, reason=data["reason"]
        )


class AssignmentProgress(_AssignmentAction):
    """Report en route, on scene, or completed (with `people_moved` for rescues)."""

    permission_classes = [IsVolunteer]
    request_serializer = ProgressSerializer

    @extend_schema(
        request=ProgressSerializer, responses={200: AssignmentSerializer, 409: CONFLICT_RESPONSE}
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, assignment_id, data):
        return services.assignment_progress(
            assignment_id=assignment_id,
            volunteer=request.user.volunteer,
            status=data["status"],
            people_moved=data.get("people_moved"),
        )


class AssignmentGiveUp(_AssignmentAction):
    """A volunteer gives up a shift they booked ahead (status `reserved`): its place is
    offered to others (409 with the reason when it is not a booked shift)."""

    permission_classes = [IsVolunteer]

    @extend_schema(request=None, responses={200: AssignmentSerializer, 409: CONFLICT_RESPONSE})
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, assignment_id, data):
        return services.assignment_give_up(
            assignment_id=assignment_id, volunteer=request.user.volunteer
        )


class AssignmentUnassign(_AssignmentAction):
    """A coordinator takes someone off (or withdraws an offer), with a reason."""

    permission_classes = [IsCoordinator]
    request_serializer = RequiredReasonSerializer

    @extend_schema(
        request=RequiredReasonSerializer,
        responses={200: AssignmentSerializer, 409: CONFLICT_RESPONSE},
    )
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, request, assignment_id, data):
        return services.assignment_unassign(
            assignment_id=assignment_id, actor=request.user, reason=data["reason"]
        )


class NeedWidenSerializer(serializers.Serializer):
    reach_km = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=500,
        help_text="Search this far (km) whatever the volunteers' own travel ranges; "
        "further than the need reaches now.",
    )
    # A code with a NUL is refused before it is looked up (PostgreSQL cannot hold it).
    extra_skills = SkillCodeField(
        slug_field="code",
        queryset=Skill.objects.all(),
        many=True,
        required=False,
        help_text="Other skills to accept, by code.",
    )


class NeedWiden(APIView):
    """Nobody left to ask (issue 13): a coordinator widens a people need's search (a
    further reach, other skills accepted). Logged as need.widened; the need's alarm is
    cleared and it is dispatched again at once. 400 when there is nothing to widen (a
    vehicle need, nothing given, or no further than now); 409 when its incident is
    closed or the need cancelled."""

    permission_classes = [IsCoordinator]

    @extend_schema(
        request=NeedWidenSerializer,
        responses={200: NeedSerializer, 409: CONFLICT_RESPONSE},
    )
    def post(self, request, pk: int):
        data = _validated(NeedWidenSerializer, request)
        get_object_or_404(Need, pk=pk)
        try:
            escalation.need_widen(
                need_id=pk,
                actor=request.user,
                reach_km=data.get("reach_km"),
                extra_skills=data.get("extra_skills", []),
            )
        except services.DispatchError as error:
            raise _domain_error(error) from None
        need = needs_with_fill().prefetch_related("extra_skills").get(pk=pk)
        return Response(NeedSerializer(need).data)


class NeedAssign(APIView):
    """A coordinator assigns a volunteer or a vehicle to a need by hand, with a reason."""

    permission_classes = [IsCoordinator]

    @extend_schema(
        request=ManualAssignSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: AssignmentSerializer, 409: CONFLICT_RESPONSE, 422: KEY_REUSED_RESPONSE},
    )
    def post(self, request, pk: int):
        # A retry with the same Idempotency-Key gets the first answer (config/idempotency).
        return idempotent(request, lambda: self._assign(request, pk))

    def _assign(self, request, pk: int):
        data = _validated(ManualAssignSerializer, request)
        get_object_or_404(Need, pk=pk)
        target = services.ManualTarget(volunteer=data.get("volunteer"), vehicle=data.get("vehicle"))
        try:
            assignment = services.assignment_assign_manually(
                need_id=pk, target=target, actor=request.user, reason=data["reason"]
            )
        except services.DispatchError as error:
            raise _domain_error(error) from None
        return Response(
            AssignmentSerializer(assignments_for_display().get(pk=assignment.pk)).data, status=201
        )


class RequiredBooleanField(serializers.BooleanField):
    # DRF reads a boolean missing from a form as False (an unticked box); here it must
    # be said, or a form without it would put the vehicle out of service.
    default_empty_html = empty


class VehicleServiceSerializer(serializers.Serializer):
    in_service = RequiredBooleanField()
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class VehicleService(APIView):
    """Put a vehicle out of service (`in_service: false`, with a reason: it is no longer
    offered, and its open offers go to others) or back in service. Its crew and the
    coordinators may; 400 with the reason when the vehicle is on a task."""

    @extend_schema(
        request=VehicleServiceSerializer,
        responses={200: VehicleSerializer},
    )
    def post(self, request, pk: int):
        vehicle = get_object_or_404(Vehicle, pk=pk)
        if not _may_change_service(request.user, vehicle):
            raise PermissionDenied(_("Only the vehicle's crew and coordinators may do this."))
        data = _validated(VehicleServiceSerializer, request)
        try:
            vehicle = vehicles.vehicle_set_in_service(
                vehicle_id=pk,
                in_service=data["in_service"],
                actor=request.user,
                reason=data["reason"],
            )
        except services.DispatchError as error:
            raise _domain_error(error) from None
        return Response(VehicleSerializer(vehicle).data)


def _may_change_service(user, vehicle: Vehicle) -> bool:
    if user_has_role(user, Role.COORDINATOR):
        return True
    volunteer = getattr(user, "volunteer", None)
    return volunteer is not None and vehicle.crew.filter(pk=volunteer.pk).exists()


# --- hours and person-times (issue 11 item 4) ------------------------------------------

MyHoursFilters = type(
    "MyHoursFilters",
    (serializers.Serializer,),
    {
        # `from` is a Python keyword: the fields are named in a dict.
        "from": serializers.DateField(
            required=False, help_text="First local day (YYYY-MM-DD), included"
        ),
        "to": serializers.DateField(
            required=False, help_text="Last local day (YYYY-MM-DD), included"
        ),
    },
)


class ServedSerializer(serializers.Serializer):
    assignment = serializers.IntegerField(source="assignment_id")
    incident = serializers.IntegerField(source="incident_id")
    incident_title = serializers.CharField()
    incident_kind = serializers.CharField(help_text="In the request's language")
    need = serializers.CharField(help_text="In the request's language")
    vehicle = serializers.CharField(help_text="The vehicle's label for vehicle work, else empty")
    status = serializers.ChoiceField(choices=AssignmentStatus.choices)
    accepted_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(help_text="When the hours counted begin")
    ended_at = serializers.DateTimeField(help_text="When they end (now, for ongoing work)")
    hours = serializers.DecimalField(max_digits=8, decimal_places=1)
    ongoing = serializers.BooleanField()


class MyHoursSerializer(serializers.Serializer):
    person_times = serializers.IntegerField(help_text="Tasks served")
    hours = serializers.DecimalField(max_digits=10, decimal_places=1)
    ongoing = serializers.IntegerField(help_text="Tasks still going on, counted up to now")
    tasks = ServedSerializer(many=True, help_text="Oldest first")


class MyHours(APIView):
    """A volunteer's own hours and person-times (dispatch.hours): every task served
    whose service began on the local days `from`..`to` (both included, either open),
    including the vehicle work they accepted for their crew."""

    permission_classes = [IsVolunteer]

    @extend_schema(parameters=[MyHoursFilters], responses={200: MyHoursSerializer})
    def get(self, request):
        filters = query_filters(request, MyHoursFilters)
        start, end = filters.get("from"), filters.get("to")
        if start and end and end < start:
            raise ValidationError({"to": [_("The end is before the start.")]})
        served = hours.served_assignments(
            start=start, end=end, volunteer_ids=[request.user.volunteer.pk]
        )
        tally = hours.Tally()
        for one in served:
            tally.add(one)
        body = {
            "person_times": tally.person_times,
            "hours": tally.hours,
            "ongoing": tally.ongoing,
            "tasks": served,
        }
        return Response(MyHoursSerializer(body).data)


class PushKeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=100)
    auth = serializers.CharField(max_length=40)


class PushSubscriptionSerializer(serializers.Serializer):
    """A browser's push subscription, as `PushSubscription.toJSON()` gives it."""

    endpoint = serializers.URLField(max_length=2000)
    keys = PushKeysSerializer()


class PushEndpointSerializer(serializers.Serializer):
    endpoint = serializers.URLField(max_length=2000)


class MyPushSubscriptions(APIView):
    """This phone's Web Push subscription (dispatch.push): POST it to have new offers
    pushed to it even with the page closed (201 new, 200 known); DELETE it
    (`?endpoint=`) to stop. 409 while Web Push is off on this server; 400 for an endpoint
    that is not one of the browsers' push services."""

    permission_classes = [IsVolunteer]

    @extend_schema(
        request=PushSubscriptionSerializer,
        responses={
            200: PushEndpointSerializer,
            201: PushEndpointSerializer,
            409: CONFLICT_RESPONSE,
        },
    )
    def post(self, request):
        form = PushSubscriptionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        if not push.push_enabled():
            raise Conflict(_("Web Push is off on this server."))
        try:
            subscription, created = push.push_subscribe(
                volunteer=request.user.volunteer,
                endpoint=data["endpoint"],
                p256dh=data["keys"]["p256dh"],
                auth=data["keys"]["auth"],
            )
        except push.PushRefused as refusal:
            raise ValidationError({"endpoint": [str(refusal)]}) from None
        return Response({"endpoint": subscription.endpoint}, status=201 if created else 200)

    @extend_schema(parameters=[PushEndpointSerializer], responses={204: None})
    def delete(self, request):
        endpoint = query_filters(request, PushEndpointSerializer)["endpoint"]
        push.push_unsubscribe(volunteer=request.user.volunteer, endpoint=endpoint)
        return Response(status=204)


# --- the rota of a staffed site (issue 13, dispatch.rota) ---------------------------------


class RotaFilters(serializers.Serializer):
    day = serializers.DateField(
        required=False, help_text="The local day, YYYY-MM-DD; today when not given."
    )


class RotaHolderSerializer(serializers.Serializer):
    volunteer = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.ChoiceField(
        choices=AssignmentStatus.choices, help_text="`reserved`: booked ahead"
    )


class RotaWindowSerializer(serializers.Serializer):
    need = serializers.IntegerField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    need_label = serializers.CharField()
    count = serializers.IntegerField(help_text="Places of the shift")
    open = serializers.IntegerField(help_text="Places nobody holds: the gap")
    holders = RotaHolderSerializer(many=True, help_text="In the order they took their place")


class RotaHoursRowSerializer(serializers.Serializer):
    volunteer = serializers.IntegerField()
    name = serializers.CharField()
    hours = serializers.DecimalField(max_digits=6, decimal_places=1)
    shifts = serializers.IntegerField()


class RotaHoursSerializer(serializers.Serializer):
    week_start = serializers.DateField(help_text="The Monday of the day's week")
    min = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    median = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    max = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    volunteers = RotaHoursRowSerializer(many=True, help_text="Most hours first")


class RotaSerializer(serializers.Serializer):
    incident = serializers.IntegerField()
    title = serializers.CharField()
    day = serializers.DateField()
    windows = RotaWindowSerializer(many=True, help_text="Earliest first")
    open_places = serializers.IntegerField()
    hours = RotaHoursSerializer(
        help_text="Shift hours held (reserved, active or done) in the week, at any site"
    )


class IncidentRota(APIView):
    """The rota of a staffed site (a testing site, shelter or distribution point) for one
    local day: each shift window with who holds it and the places still open, and the
    spread of shift hours booked across volunteers that week. 400 for an incident of
    another kind or a day that is no date."""

    permission_classes = [IsCoordinatorOrCommander]

    @extend_schema(parameters=[RotaFilters], responses={200: RotaSerializer})
    def get(self, request, pk: int):
        incident = get_object_or_404(Incident, pk=pk)
        if not rota.is_staffed_site(incident):
            raise ValidationError(
                {"detail": _("This incident is not a staffed site: it has no shifts.")}
            )
        day = query_filters(request, RotaFilters).get("day") or rota.rota_day(None)
        return Response(rota.rota_as_json(rota.site_rota(incident=incident, day=day)))
