"""China's map coordinate systems, converted to the WGS-84 the system stores.

Maps and geocoders in China do not answer in WGS-84 (GPS): AMap (高德) and Tencent
answer in GCJ-02, a deliberately distorted datum (a few hundred metres off, by a smooth
non-linear function of position); Baidu in BD-09, a further shift of GCJ-02. Storing
their coordinates as they come puts a pin 300-600 m from the place in Henan: the
wrong street, the wrong side of a river.

The forward transform WGS-84 → GCJ-02 is the widely published one (the same
constants and series in every open implementation, e.g. googollee/eviltransform). It
has no closed inverse: gcj02_to_wgs84 inverts it by fixed-point iteration, to well
under a millimetre. BD-09 ↔ GCJ-02 is a small closed form each way.

Points are (latitude, longitude), as everywhere else in the project. Outside China's
rough bounding box the datums coincide and points are returned unchanged.
"""

import math

# Krasovsky 1940: the ellipsoid the GCJ-02 series is scaled on.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0


def outside_china(latitude: float, longitude: float) -> bool:
    """Outside the box GCJ-02 is applied in (a rough box: the border is not traced)."""
    return not (72.004 <= longitude <= 137.8347 and 0.8293 <= latitude <= 55.8271)


def _shift_latitude(x: float, y: float) -> float:
    shift = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    shift += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    shift += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
    shift += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2 / 3
    return shift


def _shift_longitude(x: float, y: float) -> float:
    shift = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    shift += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    shift += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
    shift += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    return shift


def wgs84_to_gcj02(latitude: float, longitude: float) -> tuple[float, float]:
    """GPS coordinates as AMap shows them."""
    if outside_china(latitude, longitude):
        return latitude, longitude
    d_latitude = _shift_latitude(longitude - 105.0, latitude - 35.0)
    d_longitude = _shift_longitude(longitude - 105.0, latitude - 35.0)
    radians = latitude / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radians) ** 2
    root = math.sqrt(magic)
    d_latitude = (d_latitude * 180.0) / ((_A * (1 - _EE)) / (magic * root) * math.pi)
    d_longitude = (d_longitude * 180.0) / (_A / root * math.cos(radians) * math.pi)
    return latitude + d_latitude, longitude + d_longitude


def gcj02_to_wgs84(latitude: float, longitude: float) -> tuple[float, float]:
    """AMap's coordinates as GPS ones: the WGS-84 point whose GCJ-02 image is the given
    point. The offset changes slowly with position, so the fixed-point iteration
    `wgs ← wgs − (gcj(wgs) − target)` gains about three digits a step; 1e-10° (about
    0.01 mm) is reached in a handful."""
    if outside_china(latitude, longitude):
        return latitude, longitude
    wgs_latitude, wgs_longitude = latitude, longitude
    for _ in range(30):
        gcj_latitude, gcj_longitude = wgs84_to_gcj02(wgs_latitude, wgs_longitude)
        d_latitude, d_longitude = gcj_latitude - latitude, gcj_longitude - longitude
        wgs_latitude -= d_latitude
        wgs_longitude -= d_longitude
        if abs(d_latitude) < 1e-10 and abs(d_longitude) < 1e-10:
            break
    return wgs_latitude, wgs_longitude


def bd09_to_gcj02(latitude: float, longitude: float) -> tuple[float, float]:
    """Baidu's coordinates as GCJ-02 (Baidu's own published inverse)."""
    x, y = longitude - 0.0065, latitude - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def gcj02_to_bd09(latitude: float, longitude: float) -> tuple[float, float]:
    """GCJ-02 coordinates as Baidu shows them."""
    z = math.hypot(longitude, latitude) + 0.00002 * math.sin(latitude * _X_PI)
    theta = math.atan2(latitude, longitude) + 0.000003 * math.cos(longitude * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def bd09_to_wgs84(latitude: float, longitude: float) -> tuple[float, float]:
    """Baidu's coordinates as GPS ones: BD-09 → GCJ-02 → WGS-84."""
    if outside_china(latitude, longitude):
        return latitude, longitude
    return gcj02_to_wgs84(*bd09_to_gcj02(latitude, longitude))


def wgs84_to_bd09(latitude: float, longitude: float) -> tuple[float, float]:
    """GPS coordinates as Baidu shows them (for tests and for links to Baidu's maps)."""
    if outside_china(latitude, longitude):
        return latitude, longitude
    return gcj02_to_bd09(*wgs84_to_gcj02(latitude, longitude))


def to_wgs84(latitude: float, longitude: float, *, datum: str) -> tuple[float, float]:
    """A point in `datum` ("wgs84", "gcj02" or "bd09") as WGS-84."""
    if datum == "gcj02":
        return gcj02_to_wgs84(latitude, longitude)
    if datum == "bd09":
        return bd09_to_wgs84(latitude, longitude)
    if datum == "wgs84":
        return latitude, longitude
    raise ValueError(f"unknown datum {datum!r}")
