"""Reads about volunteers and the city that span models."""

import math

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


# How far the outer township areas reach beyond the outermost seats, in degrees (about
# 20 km): the city's edge is not on file, so the map stops the areas there.
AREA_MARGIN_DEGREES = 0.2


def township_areas() -> list[dict]:
    """Each township's area as the system itself draws the line: the points whose
    nearest seat is that township's (township_nearest, which places new incidents).
    Not the official boundaries (no offline source has them): the map, with no tiles,
    shows them so that a coordinator sees which township a place counts in.

    Each area is the box around the seats cut by the half-plane of every other seat (the
    perpendicular bisector), in a local flat projection (longitude scaled by the cosine
    of the mean latitude): within a city, a few metres from the geodesic answer. Returns
    [{"id", "polygon": [[latitude, longitude], …]}], a closed ring, no point repeated."""
    seats = list(Township.objects.values_list("id", "latitude", "longitude"))
    if not seats:
        return []
    scale = math.cos(math.radians(sum(lat for _, lat, _ in seats) / len(seats)))
    points = {pk: (lng * scale, lat) for pk, lat, lng in seats}
    xs, ys = [x for x, _ in points.values()], [y for _, y in points.values()]
    margin = AREA_MARGIN_DEGREES
    box = [
        (min(xs) - margin * scale, min(ys) - margin),
        (max(xs) + margin * scale, min(ys) - margin),
        (max(xs) + margin * scale, max(ys) + margin),
        (min(xs) - margin * scale, max(ys) + margin),
    ]
    areas = []
    for pk, seat in points.items():
        polygon = box
        for other_pk, other in points.items():
            if other_pk != pk:
                polygon = _nearer_part(polygon, seat, other)
        areas.append(
            {"id": pk, "polygon": [[round(y, 6), round(x / scale, 6)] for x, y in polygon]}
        )
    return areas


def _nearer_part(polygon: list[tuple], seat: tuple, other: tuple) -> list[tuple]:
    """The part of a convex polygon nearer to `seat` than to `other` (one step of
    Sutherland–Hodgman clipping, by their bisector)."""
    normal = (other[0] - seat[0], other[1] - seat[1])
    middle = ((seat[0] + other[0]) / 2, (seat[1] + other[1]) / 2)

    def side(point):  # < 0: nearer the seat
        return (point[0] - middle[0]) * normal[0] + (point[1] - middle[1]) * normal[1]

    kept = []
    for start, end in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        start_side, end_side = side(start), side(end)
        if start_side <= 0:
            kept.append(start)
        if (start_side < 0) != (end_side < 0) and start_side != end_side:
            share = start_side / (start_side - end_side)
            kept.append(
                (start[0] + share * (end[0] - start[0]), start[1] + share * (end[1] - start[1]))
            )
    return kept
