"""China's coordinate systems → WGS-84 (incidents.coordinates)."""

import pytest
from geopy.distance import geodesic

from incidents.coordinates import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# Published WGS-84 → GCJ-02 pairs: the test points of googollee/eviltransform
# (python/test.py), copied into its many ports: (wgs lat, lng, gcj lat, lng).
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]
# Tiananmen: WGS-84, and the GCJ-02 point AMap's own conversion API answered for it
# (quoted in the tests of an R coordinate package): the published series agrees with
# the service to within a metre.
TIANANMEN_WGS84 = (39.90734, 116.39089)
TIANANMEN_AMAP = (39.90874539, 116.39713623)
# A BD-09 point and its GCJ-02 point to five decimals (a widely quoted pair, in the
# tests of eviltransform's MATLAB port).
BD09_GCJ02 = ((39.90851, 116.43351), (39.90245, 116.42703))

XINZHENG_SEAT = (34.3964, 113.7386)


def metres(a, b) -> float:
    return geodesic(a, b).meters


@pytest.mark.parametrize(("wgs_lat", "wgs_lng", "gcj_lat", "gcj_lng"), EVILTRANSFORM)
def test_it_shifts_wgs84_to_gcj02_as_published(wgs_lat, wgs_lng, gcj_lat, gcj_lng):
    latitude, longitude = wgs84_to_gcj02(wgs_lat, wgs_lng)

    assert latitude == pytest.approx(gcj_lat, abs=1e-9)
    assert longitude == pytest.approx(gcj_lng, abs=1e-9)


@pytest.mark.parametrize(("wgs_lat", "wgs_lng", "gcj_lat", "gcj_lng"), EVILTRANSFORM)
def test_it_finds_the_wgs84_point_of_a_published_gcj02_one(wgs_lat, wgs_lng, gcj_lat, gcj_lng):
    assert metres(gcj02_to_wgs84(gcj_lat, gcj_lng), (wgs_lat, wgs_lng)) < 0.01


def test_it_agrees_with_amaps_own_conversion_within_a_metre():
    assert metres(wgs84_to_gcj02(*TIANANMEN_WGS84), TIANANMEN_AMAP) < 1
    assert metres(gcj02_to_wgs84(*TIANANMEN_AMAP), TIANANMEN_WGS84) < 1


def test_it_shifts_bd09_to_gcj02_as_published():
    (bd_lat, bd_lng), (gcj_lat, gcj_lng) = BD09_GCJ02

    latitude, longitude = bd09_to_gcj02(bd_lat, bd_lng)

    assert (latitude, longitude) == pytest.approx((gcj_lat, gcj_lng), abs=1e-5)
    assert metres(gcj02_to_bd09(gcj_lat, gcj_lng), (bd_lat, bd_lng)) < 2


def test_it_moves_a_henan_point_some_hundreds_of_metres():
    gcj = wgs84_to_gcj02(*XINZHENG_SEAT)
    bd = wgs84_to_bd09(*XINZHENG_SEAT)

    assert 300 < metres(gcj, XINZHENG_SEAT) < 600
    # Here GCJ-02 lies east and a little south of the GPS point.
    assert gcj[1] > XINZHENG_SEAT[1] and gcj[0] < XINZHENG_SEAT[0]
    # BD-09 adds roughly another kilometre north-east.
    assert 600 < metres(bd, gcj) < 1500


@pytest.mark.parametrize(
    "point",
    [XINZHENG_SEAT, (34.61, 113.68), (22.543847, 113.912316), (45.75, 126.63), (29.65, 91.13)],
)
def test_it_comes_back_to_within_a_metre_from_gcj02_and_bd09(point):
    assert metres(gcj02_to_wgs84(*wgs84_to_gcj02(*point)), point) < 0.001
    assert metres(bd09_to_wgs84(*wgs84_to_bd09(*point)), point) < 1
    assert metres(gcj02_to_bd09(*bd09_to_gcj02(*point)), point) < 1


@pytest.mark.parametrize("point", [(48.8566, 2.3522), (-33.87, 151.21), (0.0, 0.0), (40.7, -74.0)])
def test_it_leaves_points_outside_china_as_they_are(point):
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point
    assert bd09_to_wgs84(*point) == point
    assert to_wgs84(*point, datum="gcj02") == point


def test_it_converts_by_the_datum_named():
    gcj = wgs84_to_gcj02(*XINZHENG_SEAT)
    bd = wgs84_to_bd09(*XINZHENG_SEAT)

    assert metres(to_wgs84(*gcj, datum="gcj02"), XINZHENG_SEAT) < 0.001
    assert metres(to_wgs84(*bd, datum="bd09"), XINZHENG_SEAT) < 1
    assert to_wgs84(*XINZHENG_SEAT, datum="wgs84") == XINZHENG_SEAT
    with pytest.raises(ValueError):
        to_wgs84(*XINZHENG_SEAT, datum="mars")
