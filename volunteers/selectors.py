"""Reads about volunteers and the city that span models."""

from geopy.distance import geodesic

from volunteers.models import Township


def township_nearest(*, latitude: float, longitude: float) -> Township | None:
    """The township whose seat is nearest: the default township of a new incident.
    Fifteen rows, so a scan with geopy is the simple, exact answer."""
    townships = list(Township.objects.all())
    if not townships:
        return None
    return min(
        townships,
        key=lambda township: (
            geodesic((latitude, longitude), (township.latitude, township.longitude)).meters
        ),
    )
