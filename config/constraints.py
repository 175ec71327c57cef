"""Database constraints the models share.

Coordinates are plain latitude/longitude columns: no PostGIS, since geodesic distances
are computed with geopy and nearness is answered by the location index.

A word on NULL: a CHECK whose condition is NULL passes. Any comparison on a nullable
column must therefore say IS NOT NULL as well, or a NULL slips through.
"""

from django.db import models
from django.db.models import Q


def coordinate_constraints(prefix: str, label: str) -> list[models.CheckConstraint]:
    """Both or neither of `<prefix>latitude` / `<prefix>longitude`, each in range."""
    lat, lng = f"{prefix}latitude", f"{prefix}longitude"
    return [
        models.CheckConstraint(
            condition=(Q(**{f"{lat}__isnull": True}) & Q(**{f"{lng}__isnull": True}))
            # IS NOT NULL spelled out: with one side NULL the range test is NULL, not
            # false, and a CHECK that is NULL passes.
            | (
                Q(**{f"{lat}__isnull": False, f"{lng}__isnull": False})
                & Q(**{f"{lat}__gte": -90, f"{lat}__lte": 90})
                & Q(**{f"{lng}__gte": -180, f"{lng}__lte": 180})
            ),
            name=f"%(app_label)s_%(class)s_{label}_valid",
            violation_error_message="Latitude must lie in [-90, 90] and longitude in "
            "[-180, 180], and both must be given together.",
        )
    ]


def choice_constraint(field: str, choices: type[models.Choices]) -> models.CheckConstraint:
    """The column holds one of the choices, whoever writes it (not only forms)."""
    return models.CheckConstraint(
        condition=Q(**{f"{field}__in": choices.values}),
        name=f"%(app_label)s_%(class)s_{field}_valid",
        violation_error_message=f"{field} must be one of: {', '.join(map(str, choices.values))}.",
    )
