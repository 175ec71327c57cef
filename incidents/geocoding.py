"""Address → coordinates for the dashboard's new-incident form.

Command centres often run on an intranet with no internet, so the default is an
offline gazetteer: the city's 15 townships (their seats, by Chinese or English name,
with or without 镇 / 乡 / 街道 / "Town"), the city itself, and the open incidents —
testing sites, shelters, rescues — by title and address. An installation with a
geocoding service (an intranet Nominatim, say) names it in settings: GEOCODER is a
geopy service name ("nominatim", "photon", "pelias"…) and GEOCODER_URL where it
answers. The service is asked for anything that is not exactly a gazetteer name; when
it fails or finds nothing, the gazetteer's best partial match answers instead.

Every place says how precise it is (DESIGN.md §5c): "address" (an exact address or
point), "street", "township" (a township's centre) or "city". A township found inside a
longer address ("新郑市新建路街道中华北路88号") is the township's centre, not the
address: precision "township", and `partial`. Services say how precise their answer is
each in its own words (precision_of); what they do not say is taken as a township.

China's services answer in their own datums: AMap (高德, GEOCODER="amap", a small
adapter below: geopy has none) in GCJ-02, Baidu (GEOCODER="baidu", geopy's BaiduV3) in
BD-09. Their points are converted to WGS-84 here (incidents.coordinates) before anyone
sees them. Both need GEOCODER_API_KEY.
"""

import dataclasses
import inspect
import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from geopy.exc import (
    GeocoderAuthenticationFailure,
    GeocoderQueryError,
    GeocoderQuotaExceeded,
    GeocoderServiceError,
    GeopyError,
)
from geopy.geocoders import BaiduV3, get_geocoder_for_service
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location

from incidents.coordinates import to_wgs84
from incidents.models import GEOCODE_PRECISIONS, Incident, LocationPrecision
from volunteers.models import Township

logger = logging.getLogger(__name__)

# The city and its seat (DESIGN.md §1). Service results are biased towards this box.
CITY = ("新郑市", "Xinzheng", 34.40, 113.74)
CITY_BOX = ((34.20, 113.50), (34.70, 113.98))  # south-west, north-east corners
SERVICE_TIMEOUT_SECONDS = 5
USER_AGENT = "tongxin-dispatch"

_SUFFIXES_ZH = ("街道", "镇", "乡")
_SUFFIXES_EN = ("subdistrict", "town", "township")
# Written before an address and telling nothing inside the city.
_PREFIXES = ("中国", "河南省", "河南", "郑州市", "新郑市", "新郑", "xinzheng", "henan", "china")


P = LocationPrecision


def coarsest(*precisions: str) -> str:
    """The least precise of geocode precisions ("address" < "street" < "township" <
    "city")."""
    return max(precisions, key=GEOCODE_PRECISIONS.index)


@dataclass(frozen=True)
class Place:
    name: str
    latitude: float  # WGS-84, whatever the service answered in
    longitude: float
    source: str  # "gazetteer" or the geocoding service's name
    kind: str = ""  # township, city, incident, address
    township_id: int | None = None
    address: str = ""
    name_en: str = ""  # townships and the city have one
    # How precisely the point stands for what was asked: address, street, township
    # (the township's centre) or city (the city's).
    precision: str = P.ADDRESS
    # The query said more than the place found: a township named inside a longer
    # address. The rest of the address was not found.
    partial: bool = False

    def as_json(self, *, english: bool = False) -> dict:
        return {
            "name": self.name_en if english and self.name_en else self.name,
            "latitude": round(self.latitude, 6),
            "longitude": round(self.longitude, 6),
            "source": self.source,
            "kind": self.kind,
            "township": self.township_id,
            "address": self.address,
            "precision": self.precision,
            "partial": self.partial,
        }


class GeocoderUnavailable(Exception):
    """The configured geocoding service did not answer (the gazetteer may still have)."""


def normalize(text: str) -> str:
    """Lower case, full-width folded, without spaces, punctuation or a leading
    province / city: "河南省新郑市 龙湖镇" and "龙湖镇" compare equal."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = re.sub(r"[\s\W_]+", "", text)
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            # Only before something: "新郑市" alone is the city, not "市".
            if text.startswith(prefix) and len(text) >= len(prefix) + 2:
                text = text[len(prefix) :]
                changed = True
    return text


def _township_names(township: Township) -> list[str]:
    names = [township.name]
    for suffix in _SUFFIXES_ZH:
        if township.name.endswith(suffix) and len(township.name) > len(suffix) + 1:
            names.append(township.name[: -len(suffix)])
    if township.name_en:
        names.append(township.name_en)
        words = township.name_en.split()
        if len(words) > 1 and words[-1].lower() in _SUFFIXES_EN:
            names.append(" ".join(words[:-1]))
    return names


def gazetteer() -> list[tuple[str, Place]]:
    """Every (normalized name, place) the offline gazetteer knows, townships first."""
    entries = []
    for township in Township.objects.all():
        place = Place(
            name=township.name,
            latitude=township.latitude,
            longitude=township.longitude,
            source="gazetteer",
            kind="township",
            township_id=township.pk,
            address=f"{CITY[0]}{township.name}",
            name_en=township.name_en,
            precision=P.TOWNSHIP,
        )
        entries += [(normalize(name), place) for name in _township_names(township)]
    city = Place(
        name=CITY[0],
        latitude=CITY[2],
        longitude=CITY[3],
        source="gazetteer",
        kind="city",
        name_en=CITY[1],
        precision=P.CITY,
    )
    entries += [(normalize(CITY[0]), city), (normalize(CITY[1]), city)]
    open_incidents = Incident.objects.filter(status=Incident.Status.OPEN).values_list(
        "title", "address", "latitude", "longitude", "township_id", "location_precision"
    )
    for title, address, latitude, longitude, township_id, precision in open_incidents:
        place = Place(
            name=title,
            latitude=latitude,
            longitude=longitude,
            source="gazetteer",
            kind="incident",
            township_id=township_id,
            address=address,
            # A pin, or coordinates as given, stand for the incident's own place.
            precision=precision if precision in GEOCODE_PRECISIONS else P.ADDRESS,
        )
        entries += [(normalize(name), place) for name in (title, address) if name]
    return [(name, place) for name, place in entries if name]


def gazetteer_lookup(query: str, *, exact_only: bool = False) -> Place | None:
    """The gazetteer's best place for `query`: an exact name; else the longest name
    the query contains ("龙湖镇泰山村" is in 龙湖镇: its centre, `partial`, and never
    finer than a street even when the name is an open incident's); else the shortest
    name that starts with the query ("Longh" → Longhu Town)."""
    wanted = normalize(query)
    if not wanted:
        return None
    entries = gazetteer()
    for name, place in entries:
        if name == wanted:
            return place
    if exact_only:
        return None
    contained = [(name, place) for name, place in entries if name in wanted]
    if contained:
        place = max(contained, key=lambda entry: len(entry[0]))[1]
        return dataclasses.replace(
            place, partial=True, precision=coarsest(place.precision, P.STREET)
        )
    # A prefix must say enough: two Chinese characters, or three letters.
    if len(wanted) >= (3 if wanted.isascii() else 2):
        started = [(name, place) for name, place in entries if name.startswith(wanted)]
        if started:
            return min(started, key=lambda entry: len(entry[0]))[1]
    return None


# --- services ---------------------------------------------------------------------------


class AMap(Geocoder):
    """AMap (高德) web service geocoding (v3), written the way geopy's own geocoders
    are: geopy has no AMap. It answers in GCJ-02, as AMap does: service_lookup converts.
    Documentation: https://lbs.amap.com/api/webservice/guide/api/georegeo"""

    api_path = "/v3/geocode/geo"
    # infocode → the geopy error it means
    _ERRORS = {
        "10001": GeocoderAuthenticationFailure,  # INVALID_USER_KEY
        "10002": GeocoderAuthenticationFailure,  # SERVICE_NOT_AVAILABLE (for this key)
        "10003": GeocoderQuotaExceeded,  # DAILY_QUERY_OVER_LIMIT
        "10004": GeocoderQuotaExceeded,  # ACCESS_TOO_FREQUENT
        "10009": GeocoderAuthenticationFailure,  # USERKEY_PLAT_NOMATCH
        "10044": GeocoderQuotaExceeded,  # USER_DAILY_QUERY_OVER_LIMIT
        "20000": GeocoderQueryError,  # INVALID_PARAMS
    }

    def __init__(
        self,
        api_key,
        *,
        domain="restapi.amap.com",
        scheme=None,
        timeout=DEFAULT_SENTINEL,
        proxies=DEFAULT_SENTINEL,
        user_agent=None,
        ssl_context=DEFAULT_SENTINEL,
        adapter_factory=None,
    ):
        super().__init__(
            scheme=scheme,
            timeout=timeout,
            proxies=proxies,
            user_agent=user_agent,
            ssl_context=ssl_context,
            adapter_factory=adapter_factory,
        )
        self.api_key = api_key
        self.api = f"{self.scheme}://{domain.rstrip('/')}{self.api_path}"

    def geocode(self, query, *, exactly_one=True, timeout=DEFAULT_SENTINEL, city=None):
        """`city`: AMap's city filter (a city's name or adcode; not a county-level
        city's)."""
        params = {"key": self.api_key, "address": query, "output": "JSON"}
        if city:
            params["city"] = city
        url = f"{self.api}?{urlencode(params)}"
        callback = partial(self._parse_json, exactly_one=exactly_one)
        return self._call_geocoder(url, callback, timeout=timeout)

    def _parse_json(self, page, exactly_one=True):
        if str(page.get("status")) != "1":
            error = self._ERRORS.get(str(page.get("infocode")), GeocoderServiceError)
            raise error(f"AMap: {page.get('info')} ({page.get('infocode')})")
        places = []
        for item in page.get("geocodes") or []:
            longitude, latitude = (float(part) for part in item["location"].split(","))
            address = item.get("formatted_address") or ""
            places.append(Location(address, (latitude, longitude), item))
        if not places:
            return None
        return places[0] if exactly_one else places


# GEOCODER names this module answers itself, before geopy's list.
SERVICES = {
    "amap": AMap,
    "gaode": AMap,
    # Baidu only gives new keys for its v3 API (geopy's Baidu is v2).
    "baidu": BaiduV3,
    "baiduv3": BaiduV3,
}
# The datum each service answers in; any other, WGS-84.
DATUMS = {"amap": "gcj02", "gaode": "gcj02", "baidu": "bd09", "baiduv3": "bd09"}
# Services that are asked with the city written before the address: they know no
# bounding box and no county-level city filter.
_CITY_FIRST = {"amap", "gaode", "baidu", "baiduv3"}


def _service_name() -> str:
    return (settings.GEOCODER or "").strip().lower()


def _service():
    """The configured geopy geocoder, or None for the gazetteer alone."""
    name = _service_name()
    if name in ("", "gazetteer", "offline"):
        return None
    geocoder_class = SERVICES.get(name) or get_geocoder_for_service(name)
    accepts = inspect.signature(geocoder_class.__init__).parameters
    options = {"timeout": SERVICE_TIMEOUT_SECONDS}
    if "user_agent" in accepts:
        options["user_agent"] = USER_AGENT
    if "api_key" in accepts:
        options["api_key"] = settings.GEOCODER_API_KEY
    if settings.GEOCODER_URL:
        url = urlsplit(settings.GEOCODER_URL)
        if "domain" in accepts:
            options["domain"] = (url.netloc + url.path).rstrip("/")
        if "scheme" in accepts and url.scheme:
            options["scheme"] = url.scheme
    return geocoder_class(**options)


# --- how precise a service's answer is -------------------------------------------------

# AMap's `level` (https://lbs.amap.com/api/webservice/guide/api/georegeo, 匹配级别).
_AMAP_LEVELS = {
    "门牌号": P.ADDRESS,
    "单元号": P.ADDRESS,
    "楼栋": P.ADDRESS,
    "兴趣点": P.ADDRESS,
    "公交地铁站点": P.ADDRESS,
    "公交站台": P.ADDRESS,
    "地铁站": P.ADDRESS,
    "道路": P.STREET,
    "道路交叉路口": P.STREET,
    "热点商圈": P.STREET,
    "村庄": P.TOWNSHIP,
    "乡镇": P.TOWNSHIP,
    "开发区": P.TOWNSHIP,
    "区县": P.CITY,
    "市": P.CITY,
    "省": P.CITY,
    "国家": P.CITY,
}
# Baidu's `level` (结构化地址匹配级别); the rest are kinds of points of interest, exact
# when Baidu says its point is (`precise` 1) and about a street's worth off when not.
_BAIDU_LEVELS = {
    "道路": P.STREET,
    "交叉路口": P.STREET,
    "商圈": P.STREET,
    "村庄": P.TOWNSHIP,
    "乡镇": P.TOWNSHIP,
    "区县": P.CITY,
    "城市": P.CITY,
    "省": P.CITY,
    "国家": P.CITY,
    "UNKNOWN": P.TOWNSHIP,
    "": P.TOWNSHIP,
}
# OpenStreetMap's place types (Nominatim's `type` / `addresstype`, Photon's `type`,
# Pelias's `layer`) by the precision they stand for.
_OSM_TYPES = {
    P.STREET: {"street", "road", "highway", "crossing", "junction"},
    P.TOWNSHIP: {
        "town",
        "township",
        "village",
        "hamlet",
        "suburb",
        "quarter",
        "neighbourhood",
        "neighborhood",
        "borough",
        "locality",
        "localadmin",
        "macrohood",
        "isolated_dwelling",
        "allotments",
        "district",
        "postcode",
    },
    P.CITY: {
        "city",
        "municipality",
        "county",
        "macrocounty",
        "region",
        "macroregion",
        "state",
        "province",
        "country",
        "continent",
        "administrative",
    },
}
_OSM_POINTS = {"house", "building", "address", "venue", "poi"}


def _osm_precision(*types: str) -> str | None:
    for kind in types:
        kind = (kind or "").lower()
        if kind in _OSM_POINTS:
            return P.ADDRESS
        for precision, kinds in _OSM_TYPES.items():
            if kind in kinds:
                return precision
    return None


def _nominatim_precision(raw: dict) -> str:
    # Nominatim's address rank: 30 a building or point of interest, 26-27 a street,
    # 17-25 a town, village or neighbourhood, 16 and less a city or larger.
    rank = raw.get("place_rank")
    if isinstance(rank, int | str) and str(rank).isdigit():
        rank = int(rank)
        if rank >= 28:
            return P.ADDRESS
        if rank >= 26:
            return P.STREET
        return P.TOWNSHIP if rank >= 17 else P.CITY
    if raw.get("class") == "highway":
        return P.STREET
    found = _osm_precision(raw.get("addresstype", ""), raw.get("type", ""))
    if found:
        return found
    # A point of interest (amenity, shop, building, tourism…) is a point.
    return P.ADDRESS if raw.get("class") not in ("place", "boundary", "", None) else P.TOWNSHIP


def precision_of(service: str, raw) -> str:
    """How precise a service's answer is, from what the service says about it; what it
    does not say is taken as a township's centre (the coarser reasonable reading: it is
    confirmed on the map before anyone is sent)."""
    raw = raw if isinstance(raw, dict) else {}
    if service in ("amap", "gaode"):
        return _AMAP_LEVELS.get(str(raw.get("level", "")), P.TOWNSHIP)
    if service in ("baidu", "baiduv3"):
        level = str(raw.get("level", ""))
        if level in _BAIDU_LEVELS:
            return _BAIDU_LEVELS[level]
        return P.ADDRESS if str(raw.get("precise")) == "1" else P.STREET
    if service == "nominatim":
        return _nominatim_precision(raw)
    properties = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
    if service == "pelias" or "layer" in properties:
        if properties.get("accuracy") == "centroid" and properties.get("layer") in (
            "venue",
            "address",
        ):
            return P.STREET
        return _osm_precision(properties.get("layer", "")) or P.TOWNSHIP
    if service == "photon" or "osm_key" in properties:
        if properties.get("osm_key") == "highway":
            return P.STREET
        found = _osm_precision(properties.get("type", ""), properties.get("osm_value", ""))
        if found:
            return found
        return P.ADDRESS if properties.get("type") == "other" else P.TOWNSHIP
    return P.TOWNSHIP


def service_lookup(query: str, *, language: str = "zh") -> Place | None:
    """Ask the configured geocoding service, biased to the city; None when it is not
    configured or finds nothing. Raises GeocoderUnavailable when it fails. The point is
    WGS-84 whatever the service's datum, and says how precise it is."""
    geocoder = _service()
    if geocoder is None:
        return None
    name = _service_name()
    options = {}
    accepts = inspect.signature(geocoder.geocode).parameters
    if "viewbox" in accepts:
        options["viewbox"] = CITY_BOX
    if "language" in accepts:
        options["language"] = language
    asked = query
    if name in _CITY_FIRST and "新郑" not in query:
        asked = f"河南省{CITY[0]}{query}"
    try:
        found = geocoder.geocode(asked, exactly_one=True, **options)
    except GeopyError as error:
        logger.warning("geocoder %s failed for %r: %s", settings.GEOCODER, query, error)
        raise GeocoderUnavailable(str(error)) from error
    if found is None:
        return None
    latitude, longitude = to_wgs84(found.latitude, found.longitude, datum=DATUMS.get(name, "wgs84"))
    # geopy's Baidu gives the match level as the "address": keep what was typed.
    address = query if name in ("baidu", "baiduv3") else (found.address or query)
    return Place(
        name=query,
        latitude=latitude,
        longitude=longitude,
        source=name,
        kind="address",
        address=address,
        precision=precision_of(name, found.raw),
    )


def geocode(query: str, *, language: str = "zh") -> tuple[Place | None, bool]:
    """The place for `query`, and whether a configured service failed on the way.

    A gazetteer name answers at once; otherwise the service (when configured) is asked;
    otherwise, or when it fails or finds nothing, the gazetteer's partial match."""
    exact = gazetteer_lookup(query, exact_only=True)
    if exact is not None:
        return exact, False
    failed = False
    try:
        found = service_lookup(query, language=language)
    except GeocoderUnavailable:
        found, failed = None, True
    if found is not None:
        return found, False
    return gazetteer_lookup(query), failed
