from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
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
from incidents import geocoding
from incidents.models import (
    COARSE_PRECISIONS,
    GEOCODE_PRECISIONS,
    Incident,
    IncidentKind,
    IncidentStatus,
    LocationPrecision,
    Need,
)
from incidents.selectors import incidents_with_needs, needs_with_fill
from incidents.services import (
    IncidentClosed,
    NeedCancelled,
    NeedSpec,
    incident_cancel,
    incident_change,
    incident_open,
    incident_resolve,
    need_add,
    need_cancel,
    need_change,
)
from volunteers.models import Skill, Township


class SkillCodeField(serializers.SlugRelatedField):
    """A skill named by its code. A text with a NUL character is no code, and is refused
    before the lookup: PostgreSQL cannot even compare it (a 500 otherwise)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


class NeedUnmetSerializer(serializers.Serializer):
    """Nobody left to ask (issue 13, dispatch.escalation): as the need.unmet event said."""

    at = serializers.DateTimeField(help_text="When the need was raised.")
    reason = serializers.CharField(
        help_text="none_on_duty, all_busy, all_asked (the free ones all declined or let "
        "the offer expire) or out_of_reach."
    )
    reach_km = serializers.IntegerField(
        allow_null=True, help_text="How far the search reached; null: each one's own range."
    )
    asked = serializers.IntegerField()
    declined = serializers.IntegerField()
    expired = serializers.IntegerField()
    on_duty = serializers.IntegerField(help_text="Who could take it at all, wherever they are.")
    busy = serializers.IntegerField(help_text="Of those, on other work.")


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
    reach_km = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="The search widened to this distance (km), whatever the volunteers' own "
        "travel ranges; null: their own ranges (POST /api/needs/<id>/widen/).",
    )
    extra_skills = serializers.SlugRelatedField(
        slug_field="code",
        many=True,
        read_only=True,
        help_text="Other skills accepted for this need (POST /api/needs/<id>/widen/).",
    )
    unmet = serializers.SerializerMethodField(
        help_text="Nobody left to ask: set while the need is raised, null otherwise."
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
            "cancelled_at",
            "filled",
            "offered",
            "reach_km",
            "extra_skills",
            "unmet",
        ]
        read_only_fields = ["id", "cancelled_at"]

    @extend_schema_field(NeedUnmetSerializer(allow_null=True))
    def get_unmet(self, need: Need) -> dict | None:
        if need.unmet_at is None:
            return None
        return NeedUnmetSerializer({"at": need.unmet_at, **(need.unmet_why or {})}).data

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
    """An incident and its needs.

    Where it is: either coordinates (`latitude`, `longitude`: WGS-84), with
    `location_precision` saying how precise they are ("pin" placed on a map, "address",
    "street"…; "point" when not said); or only an `address`, which the server geocodes.
    An address found only as a township's or the city's centre is refused (400, naming
    `location_precision`) unless the request acknowledges it by sending
    `location_precision` "township" (or "city") itself: a pin at a township's centre
    sends boats to the wrong place (DESIGN.md §5c)."""

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
            "location_precision",
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
        extra_kwargs = {
            "township": {"required": False},
            "latitude": {
                "required": False,
                "help_text": "WGS-84. With `longitude`; leave both out to have `address` geocoded.",
            },
            "longitude": {"required": False, "help_text": "WGS-84. With `latitude`."},
            "location_precision": {
                "required": False,
                "help_text": "How precisely the coordinates stand for the place: `pin` "
                "(placed or confirmed on a map), `point` (coordinates as given: the default "
                "with coordinates), `address`, `street`, `township` (a township's centre), "
                "`city` (the city's). Without coordinates, the precision `address` was "
                "geocoded to; `township` or `city` must then be sent to accept a centre.",
            },
        }

    def validate_needs(self, needs):
        if not needs:
            raise serializers.ValidationError(_("An incident needs at least one need."))
        return needs

    def validate(self, attrs):
        latitude, longitude = attrs.get("latitude"), attrs.get("longitude")
        if latitude is not None and longitude is not None:
            attrs.setdefault("location_precision", LocationPrecision.POINT)
            return attrs
        if latitude is not None or longitude is not None:
            missing = "longitude" if longitude is None else "latitude"
            raise serializers.ValidationError({missing: _("Send latitude and longitude together.")})
        return self._geocoded(attrs)

    def _geocoded(self, attrs):
        """No coordinates: the address's place, if it is precise enough or the caller
        accepted how coarse it is."""
        address = (attrs.get("address") or "").strip()
        if not address:
            raise serializers.ValidationError(
                {"latitude": _("Send latitude and longitude, or an address to look up.")}
            )
        language = "zh" if (get_language() or "").startswith("zh") else "en"
        place, service_failed = geocoding.geocode(address, language=language)
        if place is None:
            message = _("No place called “%(address)s” was found. Send latitude and longitude.") % {
                "address": address
            }
            if service_failed:
                message += " " + _("The geocoding service did not answer.")
            raise serializers.ValidationError({"address": message})
        accepted = attrs.get("location_precision")
        if place.precision in COARSE_PRECISIONS and not _acknowledges(accepted, place.precision):
            raise serializers.ValidationError(
                {
                    "location_precision": _(
                        "“%(address)s” was found only as %(found)s (%(name)s), not as the "
                        "address itself: people sent there go to its centre. Send latitude "
                        "and longitude of the place, or send location_precision "
                        "“%(precision)s” to accept the centre."
                    )
                    % {
                        "address": address,
                        "found": _("a township's centre")
                        if place.precision == LocationPrecision.TOWNSHIP
                        else _("the city's centre"),
                        "name": place.name,
                        "precision": place.precision,
                    }
                }
            )
        attrs["latitude"], attrs["longitude"] = place.latitude, place.longitude
        attrs["location_precision"] = place.precision
        if place.township_id and "township" not in attrs:
            attrs["township"] = Township.objects.filter(pk=place.township_id).first()
        return attrs


def _acknowledges(accepted: str | None, found: str) -> bool:
    """Whether the caller's `location_precision` accepts a place found at `found`: the
    same precision, or a coarser one."""
    if accepted not in GEOCODE_PRECISIONS:
        return False
    return GEOCODE_PRECISIONS.index(accepted) >= GEOCODE_PRECISIONS.index(found)


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


class IncidentChangeSerializer(serializers.Serializer):
    """What a coordinator may change on a live incident; every field optional. A new
    place is `latitude` and `longitude` together (with `address` and
    `location_precision`, "point" when not said)."""

    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=Incident.Priority.choices, required=False)
    people_affected = serializers.IntegerField(min_value=0, required=False)
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False)
    longitude = serializers.FloatField(min_value=-180, max_value=180, required=False)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    location_precision = serializers.ChoiceField(choices=LocationPrecision.choices, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(_("Send at least one field to change."))
        if ("latitude" in attrs) != ("longitude" in attrs):
            missing = "longitude" if "longitude" not in attrs else "latitude"
            raise serializers.ValidationError({missing: _("Send latitude and longitude together.")})
        if "latitude" in attrs:
            attrs.setdefault("location_precision", LocationPrecision.POINT)
        return attrs


def _incident_answer(incident_id: int, *, status: int = 200) -> Response:
    return Response(
        IncidentSerializer(incidents_with_needs().get(pk=incident_id)).data, status=status
    )


class IncidentDetail(generics.RetrieveAPIView):
    """An incident with its needs; coordinators change a live one with PATCH (priority,
    title, description, people affected, place), each change logged as
    `incident.changed`. A new place re-plans the offers not yet accepted and tells
    those on the task."""

    serializer_class = IncidentSerializer
    queryset = incidents_with_needs()

    def get_permissions(self):
        if self.request.method == "PATCH":
            return [IsCoordinator()]
        return [IsCoordinatorOrCommander()]

    @extend_schema(
        request=IncidentChangeSerializer,
        responses={200: IncidentSerializer, 409: CONFLICT_RESPONSE},
    )
    def patch(self, request, pk: int):
        incident = get_object_or_404(Incident, pk=pk)
        form = IncidentChangeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            incident_change(incident=incident, actor=request.user, **form.validated_data)
        except IncidentClosed as closed:
            raise Conflict(str(closed)) from None
        return _incident_answer(incident.pk)


class NeedAdd(APIView):
    """Add a need to a live incident (coordinators): logged as `need.added` and offered
    at once. Answers with the incident."""

    permission_classes = [IsCoordinator]

    @extend_schema(
        request=NeedSerializer,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={201: IncidentSerializer, 409: CONFLICT_RESPONSE, 422: KEY_REUSED_RESPONSE},
    )
    def post(self, request, pk: int):
        return idempotent(request, lambda: self._add(request, pk))

    def _add(self, request, pk: int) -> Response:
        incident = get_object_or_404(Incident, pk=pk)
        form = NeedSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            need_add(incident=incident, actor=request.user, spec=NeedSpec(**form.validated_data))
        except IncidentClosed as closed:
            raise Conflict(str(closed)) from None
        return _incident_answer(incident.pk, status=201)


class NeedChangeSerializer(serializers.Serializer):
    """A need's new size (`count` of people or vehicles; `people_to_move` of a
    capability need) or note."""

    count = serializers.IntegerField(min_value=1, max_value=500, required=False)
    people_to_move = serializers.IntegerField(min_value=1, required=False)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(_("Send count, people_to_move or note."))
        return attrs


class NeedReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


def _need_of(incident_pk: int, need_pk: int) -> Need:
    return get_object_or_404(Need, pk=need_pk, incident_id=incident_pk)


class NeedDetail(APIView):
    """Enlarge or reduce a need of a live incident, or change its note (coordinators):
    logged as `need.changed`. Enlarged, it is offered at once; reduced, the offers and
    people it no longer needs are stood down (the latest to accept first, those on
    scene last) and told why. Answers with the incident."""

    permission_classes = [IsCoordinator]

    @extend_schema(
        request=NeedChangeSerializer,
        responses={200: IncidentSerializer, 409: CONFLICT_RESPONSE},
    )
    def patch(self, request, pk: int, need_pk: int):
        need = _need_of(pk, need_pk)
        form = NeedChangeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            need_change(need_id=need.pk, actor=request.user, **form.validated_data)
        except (IncidentClosed, NeedCancelled) as refused:
            raise Conflict(str(refused)) from None
        return _incident_answer(pk)


class NeedCancel(APIView):
    """Cancel one need of a live incident, with a reason (coordinators): its offers are
    withdrawn and its people stood down, told the reason; logged as `need.cancelled`.
    The last live need is refused: cancel the incident. Answers with the incident."""

    permission_classes = [IsCoordinator]

    @extend_schema(
        request=NeedReasonSerializer,
        responses={200: IncidentSerializer, 409: CONFLICT_RESPONSE},
    )
    def post(self, request, pk: int, need_pk: int):
        need = _need_of(pk, need_pk)
        form = NeedReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            need_cancel(need_id=need.pk, actor=request.user, reason=form.validated_data["reason"])
        except (IncidentClosed, NeedCancelled) as refused:
            raise Conflict(str(refused)) from None
        return _incident_answer(pk)


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
