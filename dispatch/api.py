from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from config.api import IsCoordinatorOrCommander, query_filters
from dispatch.models import DeploymentEvent
from dispatch.selectors import log_events


class DeploymentEventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, default=None)

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
