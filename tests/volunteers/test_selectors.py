"""Reads about the city: the nearest township, and the township areas the map draws."""

import pytest

from volunteers.models import Township
from volunteers.selectors import township_areas, township_nearest


def _inside(point: tuple[float, float], ring: list[list[float]]) -> bool:
    """Ray casting, in latitude / longitude: whether `point` lies within the ring."""
    y, x = point
    inside = False
    for (y1, x1), (y2, x2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


@pytest.mark.django_db
def test_each_township_area_holds_the_places_that_count_in_that_township():
    """The map's areas agree with township_nearest, which places new incidents: a point
    drawn inside a township's area is that township's, wherever it is in the city."""
    areas = {area["id"]: area["polygon"] for area in township_areas()}
    seats = list(Township.objects.all())
    assert set(areas) == {township.pk for township in seats}
    south, north = min(t.latitude for t in seats), max(t.latitude for t in seats)
    west, east = min(t.longitude for t in seats), max(t.longitude for t in seats)
    steps = 25
    checked = 0
    for i in range(steps + 1):
        for j in range(steps + 1):
            point = (south + (north - south) * i / steps, west + (east - west) * j / steps)
            holders = [pk for pk, ring in areas.items() if _inside(point, ring)]
            nearest = township_nearest(latitude=point[0], longitude=point[1])
            if len(holders) == 1:  # not on a line between two
                assert holders == [nearest.pk], point
                checked += 1
    assert checked > 0.95 * (steps + 1) ** 2


@pytest.mark.django_db
def test_each_area_holds_its_own_seat_and_no_other():
    areas = {area["id"]: area["polygon"] for area in township_areas()}
    for township in Township.objects.all():
        seat = (township.latitude, township.longitude)
        assert [pk for pk, ring in areas.items() if _inside(seat, ring)] == [township.pk]


@pytest.mark.django_db
def test_a_city_with_one_township_is_one_area_around_its_seat():
    Township.objects.exclude(name="龙湖镇").delete()
    [area] = township_areas()

    latitudes = [lat for lat, _ in area["polygon"]]
    assert len(area["polygon"]) == 4
    assert min(latitudes) < Township.objects.get().latitude < max(latitudes)


@pytest.mark.django_db
def test_a_city_with_no_townships_has_no_areas():
    Township.objects.all().delete()

    assert township_areas() == []
