from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import Conflict, IsCoordinator, IsCoordinatorOrCommander
from incidents.models import Incident, IncidentKind, IncidentStatus, Need
from incidents.services import (
    IncidentClosed,
    NeedSpec,
    incident_cancel,
    incident_open,
    incident_resolve,
)
from volunteers.models import Skill


class NeedSerializer(serializers.ModelSerializer):
    skill = serializers.SlugRelatedField(
        slug_field="code", queryset=Skill.objects.all(), required=False, allow_null=True
    )
    water_depth_m = serializers.DecimalField(
        max_digits=4, decimal_places=2, min_value=0, required=False, allow_null=True
    )

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
        ]
        read_only_fields = ["id"]

    def validate(self, attrs):
        kind = attrs.get("kind")
        required = {
            Need.Kind.PEOPLE: ["skill"],
            Need.Kind.VEHICLE: ["vehicle_kind"],
            Need.Kind.CAPABILITY: ["people_to_move", "water_depth_m"],
        }[kind]
        missing = {
            name: "Required for a need of this kind."
            for name in required
            if attrs.get(name) in (None, "")
        }
        if missing:
            raise serializers.ValidationError(missing)
        start, end = attrs.get("shift_start"), attrs.get("shift_end")
        if (start is None) != (end is None):
            raise serializers.ValidationError(
                {"shift_end" if end is None else "shift_start": "A shift has a start and an end."}
            )
        if start is not None and end <= start:
            raise serializers.ValidationError({"shift_end": "The shift must end after it starts."})
        return attrs


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
            raise serializers.ValidationError("An incident needs at least one need.")
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

    def get_queryset(self):
        incidents = Incident.objects.select_related("reporter").prefetch_related("needs__skill")
        for name in ("status", "kind", "township"):
            value = self.request.query_params.get(name)
            if value:
                incidents = incidents.filter(**{name: value})
        return incidents

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        needs = [NeedSpec(**need) for need in data.pop("needs")]
        serializer.instance = incident_open(reporter=self.request.user, needs=needs, **data)


class IncidentDetail(generics.RetrieveAPIView):
    serializer_class = IncidentSerializer
    permission_classes = [IsCoordinatorOrCommander]
    queryset = Incident.objects.select_related("reporter").prefetch_related("needs__skill")


class _IncidentCloseView(APIView):
    permission_classes = [IsCoordinator]
    close = None

    @extend_schema(request=CloseSerializer, responses=IncidentSerializer)
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
        return Response(IncidentSerializer(incident).data)


class IncidentResolve(_IncidentCloseView):
    """Resolve an open incident (coordinators)."""

    close = staticmethod(incident_resolve)


class IncidentCancel(_IncidentCloseView):
    """Cancel an open incident (coordinators)."""

    close = staticmethod(incident_cancel)
