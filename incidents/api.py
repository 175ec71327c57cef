from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import (
    CONFLICT_RESPONSE,
    Conflict,
    IsCoordinator,
    IsCoordinatorOrCommander,
    query_filters,
)
from config.idempotency.services import (
    IDEMPOTENCY_KEY_PARAMETER,
    KEY_REUSED_RESPONSE,
    idempotent,
)
from incidents.models import Incident, IncidentKind, IncidentStatus, Need
from incidents.selectors import incidents_with_needs, needs_with_fill
from incidents.services import (
    IncidentClosed,
    NeedSpec,
    incident_cancel,
    incident_open,
    incident_resolve,
)
from volunteers.models import Skill


class SkillCodeField(serializers.SlugRelatedField):
    """A skill named by its code. A text with a NUL character is no code, and is refused
    before the lookup: PostgreSQL cannot even compare it (a 500 otherwise)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class NeedSerializer(serializers.ModelSerializer):
    skill = SkillCodeField(
        slug_field="code", queryset=Skill.objects.all(), required=False, allow_null=True
    )
    water_depth_m = serializers.DecimalField(
        max_digits=4, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    filled = serializers.SerializerMethodField(
        help_text="Assignments accepted, under way or done: the places taken (vehicles, "
        "for a capability need)."
    )
    offered = serializers.SerializerMethodField(help_text="Offers waiting for an answer.")

    class Meta:
        model = Need
        fields = [
            "id",
            "kind",
            "count",
            "skill",
            "vehicle_kind",
            "people_to_move",
            "water_depth_m",
            "shift_start",
            "shift_end",
            "note",
            "filled",
            "offered",
        ]
        read_only_fields = ["id"]

    # The counts are annotations (incidents.selectors.needs_with_fill): read needs
    # through it. A need read otherwise is counted on its own, in a query of its own.
    def get_filled(self, need: Need) -> int:
        return _with_fill(need).filled

    def get_offered(self, need: Need) -> int:
        return _with_fill(need).offered

    def validate(self, attrs):
        kind = attrs.get("kind")
        required = {
            Need.Kind.PEOPLE: ["skill"],
            Need.Kind.VEHICLE: ["vehicle_kind"],
            Need.Kind.CAPABILITY: ["people_to_move", "water_depth_m"],
        }[kind]
        missing = {
            name: _("Required for a need of this kind.")
            for name in required
            if attrs.get(name) in (None, "")
        }
        if missing:
            raise serializers.ValidationError(missing)
        start, end = attrs.get("shift_start"), attrs.get("shift_end")
        if (start is None) != (end is None):
            field = "shift_end" if end is None else "shift_start"
            raise serializers.ValidationError({field: _("A shift has a start and an end.")})
        if start is not None and end <= start:
            raise serializers.ValidationError(
                {"shift_end": _("The shift must end after it starts.")}
            )
        return attrs


def _with_fill(need: Need) -> Need:
    if hasattr(need, "filled"):
        return need
    counted = needs_with_fill().get(pk=need.pk)
    need.filled, need.offered = counted.filled, counted.offered
    return need


class IncidentSerializer(serializers.ModelSerializer):
    needs = NeedSerializer(many=True)
    reporter = serializers.CharField(source="reporter.username", read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "kind",
            "title",
            "description",
            "latitude",
            "longitude",
            "address",
            "township",
            "priority",
            "people_affected",
            "status",
            "reporter",
            "opened_at",
            "closed_at",
            "close_note",
            "needs",
        ]
        read_only_fields = ["status", "reporter", "opened_at", "closed_at", "close_note"]
        extra_kwargs = {"township": {"required": False}}

    def validate_needs(self, needs):
        if not needs:
            raise serializers.ValidationError(_("An incident needs at least one need."))
        return needs


class CloseSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class IncidentFilters(serializers.Serializer):
    status = serializers.ChoiceField(choices=IncidentStatus.choices, required=False)
    kind = serializers.ChoiceField(choices=IncidentKind.choices, required=False)
    township = serializers.IntegerField(required=False, min_value=1)


class IncidentListCreate(generics.ListCreateAPIView):
    """Coordinators open incidents; coordinators and commanders list them
    (filters: `status`, `kind`, `township`)."""

    serializer_class = IncidentSerializer

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsCoordinator()]
        return [IsCoordinatorOrCommander()]

    @extend_schema(parameters=[IncidentFilters])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        # Validated: `?township=abc` is a 400 naming the filter, not a 500.
        return incidents_with_needs().filter(**query_filters(self.request, IncidentFilters))

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: IncidentSerializer, 422: KEY_REUSED_RESPONSE},
    )
    def post(self, request, *args, **kwargs):
        # A retry with the same Idempotency-Key gets the first answer, and no second
        # incident (config/idempotency).
        return idempotent(
            request, lambda: super(IncidentListCreate, self).post(request, *args, **kwargs)
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        needs = [NeedSpec(**need) for need in data.pop("needs")]
        incident = incident_open(reporter=self.request.user, needs=needs, **data)
        serializer.instance = incidents_with_needs().get(pk=incident.pk)


class IncidentDetail(generics.RetrieveAPIView):
    serializer_class = IncidentSerializer
    permission_classes = [IsCoordinatorOrCommander]
    queryset = incidents_with_needs()


class _IncidentCloseView(APIView):
    permission_classes = [IsCoordinator]
    close = None

    @extend_schema(
        request=CloseSerializer, responses={200: IncidentSerializer, 409: CONFLICT_RESPONSE}
    )
    def post(self, request, pk: int):
        incident = get_object_or_404(Incident, pk=pk)
        form = CloseSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            incident = self.close(
                incident=incident, actor=request.user, note=form.validated_data["note"]
            )
        except IncidentClosed as closed:
            raise Conflict(str(closed)) from None
        return Response(IncidentSerializer(incidents_with_needs().get(pk=incident.pk)).data)


class IncidentResolve(_IncidentCloseView):
    """Resolve an open incident (coordinators)."""

    close = staticmethod(incident_resolve)


class IncidentCancel(_IncidentCloseView):
    """Cancel an open incident (coordinators)."""

    close = staticmethod(incident_cancel)
