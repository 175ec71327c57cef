"""Address → coordinates for the dashboard's new-incident form.

Command centres often run on an intranet with no internet, so the default is an
offline gazetteer: the city's 15 townships (their seats, by Chinese or English name,
with or without 镇 / 乡 / 街道 / "Town"), the city itself, and the open incidents —
testing sites, shelters, rescues — by title and address. An installation with a
geocoding service (an intranet Nominatim, say) names it in settings: GEOCODER is a
geopy service name ("nominatim", "photon", "pelias"…) and GEOCODER_URL where it
answers. The service is asked for anything that is not exactly a gazetteer name; when
it fails or finds nothing, the gazetteer's best partial match answers instead.
"""

import inspect
import logging
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from geopy.exc import GeopyError
from geopy.geocoders import get_geocoder_for_service

from incidents.models import Incident
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


@dataclass(frozen=True)
class Place:
    name: str
    latitude: float
    longitude: float
    source: str  # "gazetteer" or the geocoding service's name
    kind: str = ""  # township, city, incident, address
    township_id: int | None = None
    address: str = ""
    name_en: str = ""  # townships and the city have one

    def as_json(self, *, english: bool = False) -> dict:
        return {
            "name": self.name_en if english and self.name_en else self.name,
            "latitude": round(self.latitude, 6),
            "longitude": round(self.longitude, 6),
            "source": self.source,
            "kind": self.kind,
            "township": self.township_id,
            "address": self.address,
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
        )
        entries += [(normalize(name), place) for name in _township_names(township)]
    city = Place(
        name=CITY[0],
        latitude=CITY[2],
        longitude=CITY[3],
        source="gazetteer",
        kind="city",
        name_en=CITY[1],
    )
    entries += [(normalize(CITY[0]), city), (normalize(CITY[1]), city)]
    open_incidents = Incident.objects.filter(status=Incident.Status.OPEN).values_list(
        "title", "address", "latitude", "longitude", "township_id"
    )
    for title, address, latitude, longitude, township_id in open_incidents:
        place = Place(
            name=title,
            latitude=latitude,
            longitude=longitude,
            source="gazetteer",
            kind="incident",
            township_id=township_id,
            address=address,
        )
        entries += [(normalize(name), place) for name in (title, address) if name]
    return [(name, place) for name, place in entries if name]


def gazetteer_lookup(query: str, *, exact_only: bool = False) -> Place | None:
    """The gazetteer's best place for `query`: an exact name; else the longest name
    the query contains ("龙湖镇泰山村" is in 龙湖镇); else the shortest name that
    starts with the query ("Longh" → Longhu Town)."""
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
        return max(contained, key=lambda entry: len(entry[0]))[1]
    # A prefix must say enough: two Chinese characters, or three letters.
    if len(wanted) >= (3 if wanted.isascii() else 2):
        started = [(name, place) for name, place in entries if name.startswith(wanted)]
        if started:
            return min(started, key=lambda entry: len(entry[0]))[1]
    return None


def _service():
    """The configured geopy geocoder, or None for the gazetteer alone."""
    name = (settings.GEOCODER or "").strip().lower()
    if name in ("", "gazetteer", "offline"):
        return None
    geocoder_class = get_geocoder_for_service(name)
    accepts = inspect.signature(geocoder_class.__init__).parameters
    options = {"timeout": SERVICE_TIMEOUT_SECONDS}
    if "user_agent" in accepts:
        options["user_agent"] = USER_AGENT
    if settings.GEOCODER_URL:
        url = urlsplit(settings.GEOCODER_URL)
        if "domain" in accepts:
            options["domain"] = (url.netloc + url.path).rstrip("/")
        if "scheme" in accepts and url.scheme:
            options["scheme"] = url.scheme
    return geocoder_class(**options)


def service_lookup(query: str, *, language: str = "zh") -> Place | None:
    """Ask the configured geocoding service, biased to the city; None when it is not
    configured or finds nothing. Raises GeocoderUnavailable when it fails."""
    geocoder = _service()
    if geocoder is None:
        return None
    options = {}
    accepts = inspect.signature(geocoder.geocode).parameters
    if "viewbox" in accepts:
        options["viewbox"] = CITY_BOX
    if "language" in accepts:
        options["language"] = language
    try:
        found = geocoder.geocode(query, exactly_one=True, **options)
    except GeopyError as error:
        logger.warning("geocoder %s failed for %r: %s", settings.GEOCODER, query, error)
        raise GeocoderUnavailable(str(error)) from error
    if found is None:
        return None
    return Place(
        name=query,
        latitude=found.latitude,
        longitude=found.longitude,
        source=settings.GEOCODER.strip().lower(),
        kind="address",
        address=found.address or query,
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
