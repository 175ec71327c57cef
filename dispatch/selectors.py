"""Reads of the deployment log."""

from django.db.models import QuerySet

from dispatch.models import DeploymentEvent


def log_events(
    *,
    since: int | None = None,
    incident: int | None = None,
    kind: str | None = None,
    volunteer: int | None = None,
    vehicle: int | None = None,
    after=None,
    before=None,
) -> QuerySet[DeploymentEvent]:
    """Log events in sequence order; `since` is exclusive, as a client that has seen
    seq N asks for what came after it."""
    events = DeploymentEvent.objects.select_related("actor").order_by("seq")
    filters = {
        "seq__gt": since,
        "incident_id": incident,
        "volunteer_id": volunteer,
        "vehicle_id": vehicle,
        "occurred_at__gte": after,
        "occurred_at__lt": before,
    }
    events = events.filter(**{name: value for name, value in filters.items() if value is not None})
    if kind:
        # "offer" matches every offer.* kind; "offer.accepted" only that one.
        events = (
            events.filter(kind=kind) if "." in kind else events.filter(kind__startswith=f"{kind}.")
        )
    return events
