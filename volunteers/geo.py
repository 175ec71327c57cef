"""Coordinates as plain latitude/longitude columns, checked by the database.

No PostGIS: geodesic distances are computed with geopy, and nearness is answered by
the location index (dispatch/location_index.py), so two float columns are enough.
"""

from django.db import models
from django.db.models import Q


def coordinate_constraints(prefix: str, label: str) -> list[models.CheckConstraint]:
    """Both or neither of `<prefix>latitude` / `<prefix>longitude`, each in range."""
    lat, lng = f"{prefix}latitude", f"{prefix}longitude"
    return [
        models.CheckConstraint(
            condition=(Q(**{f"{lat}__isnull": True}) & Q(**{f"{lng}__isnull": True}))
            | (
                Q(**{f"{lat}__gte": -90, f"{lat}__lte": 90})
                & Q(**{f"{lng}__gte": -180, f"{lng}__lte": 180})
            ),
            name=f"%(app_label)s_%(class)s_{label}_valid",
            violation_error_message="Latitude must lie in [-90, 90] and longitude in "
            "[-180, 180], and both must be given together.",
        )
    ]
