"""Reads of incidents that span models: how far each need has filled."""

from django.db.models import Prefetch, QuerySet

from dispatch.selectors import needs_with_fill
from incidents.models import Incident

__all__ = ["incidents_with_needs", "needs_with_fill"]


def incidents_with_needs() -> QuerySet[Incident]:
    """Incidents with their reporter and their needs with fill counts: what
    incidents.api.IncidentSerializer shows, in four queries for any number."""
    return Incident.objects.select_related("reporter").prefetch_related(
        Prefetch("needs", queryset=needs_with_fill().prefetch_related("extra_skills"))
    )
