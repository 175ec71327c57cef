"""Address → coordinates: the offline gazetteer, and a configured geopy service."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings
from geopy.distance import geodesic
from geopy.geocoders import BaiduV3

from incidents.coordinates import wgs84_to_bd09, wgs84_to_gcj02
from incidents.geocoding import gazetteer_lookup, geocode, normalize, precision_of
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open, incident_resolve
from volunteers.models import Skill, Township

LONGHU = (34.610, 113.680)


def lookup(client, query, **headers):
    return client.get("/dashboard/geocode/", {"q": query}, headers=headers)


@pytest.fixture
def signed_in(client, coordinator):
    client.force_login(coordinator)
    return client


def open_site(reporter, *, title, address="", at=(34.455, 113.645)) -> Incident:
    return incident_open(
        reporter=reporter,
        kind=Incident.Kind.TESTING_SITE,
        title=title,
        address=address,
        latitude=at[0],
        longitude=at[1],
        needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="sampling"))],
    )


# --- the gazetteer ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["龙湖镇", "龙湖", " 龙湖 镇 ", "Longhu Town", "longhu", "LONGHU TOWN", "河南省新郑市龙湖镇"],
)
def test_it_finds_a_township_by_its_chinese_or_english_name(signed_in, query):
    response = lookup(signed_in, query)

    assert response.status_code == 200, response.json()
    found = response.json()
    assert (found["latitude"], found["longitude"]) == LONGHU
    assert found["name"] == "龙湖镇"
    assert found["kind"] == "township"
    assert found["source"] == "gazetteer"
    assert found["township"] == Township.objects.get(name="龙湖镇").pk


@pytest.mark.django_db
def test_it_names_the_township_in_the_page_language(signed_in):
    found = lookup(signed_in, "龙湖镇", **{"accept-language": "en"}).json()

    assert (found["name"], found["latitude"], found["longitude"]) == ("Longhu Town", *LONGHU)


@pytest.mark.django_db
def test_it_places_an_address_inside_a_township_at_its_seat(signed_in):
    found = lookup(signed_in, "新郑市龙湖镇泰山村 3 组").json()

    assert (found["name"], found["latitude"], found["longitude"]) == ("龙湖镇", *LONGHU)


@pytest.mark.django_db
def test_it_prefers_the_longest_name_an_address_contains():
    # 新建路街道 contains no other township's name, but "新郑市" (the city) is a prefix
    # that normalizing drops: the township wins over the city.
    assert gazetteer_lookup("新郑市新建路街道 人民路 1 号").name == "新建路街道"
    assert gazetteer_lookup("新郑市").kind == "city"
    assert gazetteer_lookup("Xinzheng").kind == "city"


@pytest.mark.django_db
def test_it_completes_a_name_from_its_beginning():
    assert gazetteer_lookup("Guany").name == "观音寺镇"
    assert gazetteer_lookup("观音").name == "观音寺镇"
    assert gazetteer_lookup("G") is None  # too short to mean anything


@pytest.mark.django_db
def test_it_finds_open_testing_sites_and_incidents_by_title_and_address(coordinator):
    site = open_site(
        coordinator,
        title="新村镇卫生院核酸采样点",
        address="河南省新郑市新村镇卫生院",
        at=(34.46, 113.65),
    )

    by_title = gazetteer_lookup("新村镇卫生院核酸采样点")
    by_address = gazetteer_lookup("新村镇卫生院")

    assert (by_title.latitude, by_title.longitude) == (34.46, 113.65)
    assert by_title.kind == "incident"
    assert by_address.name == site.title
    incident_resolve(incident=site, actor=coordinator)
    assert gazetteer_lookup("新村镇卫生院核酸采样点").kind == "township"  # only 新村镇 is left


def test_it_normalizes_width_case_spaces_and_the_province_prefix():
    assert normalize("河南省 新郑市 龙湖镇") == "龙湖镇"
    assert normalize("ＬＯＮＧＨＵ　Town") == "longhutown"
    assert normalize("新郑市") == "新郑市"


# --- answers ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_answers_an_unknown_place_with_a_404_and_a_message(signed_in):
    response = lookup(signed_in, "火星基地")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"] == "没有找到“火星基地”。"
    english = lookup(signed_in, "Mars base", **{"accept-language": "en"})
    assert english.json()["detail"] == "No place called “Mars base” was found."


@pytest.mark.django_db
def test_it_asks_for_a_query(signed_in):
    response = signed_in.get("/dashboard/geocode/")

    assert response.status_code == 400
    assert response.json()["detail"]


@pytest.mark.django_db
def test_it_lets_only_coordinators_and_commanders_geocode(client, volunteer, commander):
    assert lookup(client, "龙湖镇").status_code == 401
    client.force_login(volunteer.user)
    assert lookup(client, "龙湖镇").status_code == 403
    client.force_login(commander)
    assert lookup(client, "龙湖镇").status_code == 200


# --- a configured geocoding service (geopy), here a fake Nominatim on this machine ----------


class FakeNominatim(BaseHTTPRequestHandler):
    queries: list[str] = []
    places: dict[str, tuple[float, float]] = {}

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query).get("q", [""])[0]
        FakeNominatim.queries.append(query)
        place = FakeNominatim.places.get(query)
        body = (
            [{"lat": str(place[0]), "lon": str(place[1]), "display_name": f"{query}, 新郑市"}]
            if url.path == "/search" and place
            else []
        )
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def nominatim():
    FakeNominatim.queries = []
    FakeNominatim.places = {"龙湖镇泰山村": (34.6251, 113.6702)}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with override_settings(
        GEOCODER="nominatim", GEOCODER_URL=f"http://127.0.0.1:{server.server_port}"
    ):
        yield FakeNominatim
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_it_asks_the_configured_service_for_an_address(signed_in, nominatim):
    found = lookup(signed_in, "龙湖镇泰山村").json()

    assert nominatim.queries == ["龙湖镇泰山村"]
    assert (found["latitude"], found["longitude"]) == (34.6251, 113.6702)
    assert found["source"] == "nominatim"
    assert found["address"] == "龙湖镇泰山村, 新郑市"
    assert found["township"] == Township.objects.get(name="龙湖镇").pk  # the nearest seat


@pytest.mark.django_db
def test_it_answers_a_gazetteer_name_without_asking_the_service(nominatim):
    place, failed = geocode("Longhu Town")

    assert (place.source, failed) == ("gazetteer", False)
    assert nominatim.queries == []


@pytest.mark.django_db
def test_it_falls_back_to_the_gazetteer_when_the_service_finds_nothing(nominatim):
    place, failed = geocode("孟庄镇 某某路")

    assert nominatim.queries == ["孟庄镇 某某路"]
    assert (place.name, place.source, failed) == ("孟庄镇", "gazetteer", False)


@pytest.mark.django_db
def test_it_falls_back_to_the_gazetteer_when_the_service_is_down(signed_in):
    with override_settings(GEOCODER="nominatim", GEOCODER_URL="http://127.0.0.1:9"):
        place, failed = geocode("孟庄镇 某某路")
        unknown = lookup(signed_in, "火星基地", **{"accept-language": "en"})

    assert (place.name, failed) == ("孟庄镇", True)
    assert unknown.status_code == 404
    assert "did not answer" in unknown.json()["detail"]


# --- how precise each place is (issue 12) -----------------------------------------------------


@pytest.mark.django_db
def test_it_says_a_township_inside_a_longer_address_is_only_the_townships_centre(signed_in):
    found = lookup(signed_in, "新郑市新建路街道中华北路88号").json()

    assert found["name"] == "新建路街道"
    assert found["precision"] == "township"
    assert found["partial"] is True


@pytest.mark.django_db
def test_it_says_how_precise_each_gazetteer_place_is(coordinator):
    open_site(coordinator, title="龙王村核酸采样点", address="龙湖镇龙王村村委会")

    township = gazetteer_lookup("龙湖镇")
    city = gazetteer_lookup("新郑市")
    site = gazetteer_lookup("龙王村核酸采样点")
    near_site = gazetteer_lookup("龙湖镇龙王村村委会东 200 米")

    assert (township.precision, township.partial) == ("township", False)
    assert (city.precision, city.partial) == ("city", False)
    assert (site.precision, site.partial) == ("address", False)
    # An open site's address inside a longer one: near it, not at it.
    assert (near_site.name, near_site.precision, near_site.partial) == (
        "龙王村核酸采样点",
        "street",
        True,
    )


@pytest.mark.parametrize(
    ("level", "precision"),
    [
        ("门牌号", "address"),
        ("兴趣点", "address"),
        ("道路", "street"),
        ("道路交叉路口", "street"),
        ("乡镇", "township"),
        ("村庄", "township"),
        ("区县", "city"),
        ("市", "city"),
        ("未知", "township"),
        ("", "township"),
    ],
)
def test_it_reads_amaps_match_level(level, precision):
    assert precision_of("amap", {"level": level}) == precision


@pytest.mark.parametrize(
    ("raw", "precision"),
    [
        ({"level": "门址", "precise": 1}, "address"),
        ({"level": "门址", "precise": 0}, "street"),
        ({"level": "政府机构", "precise": 1}, "address"),
        ({"level": "道路", "precise": 0}, "street"),
        ({"level": "乡镇", "precise": 0}, "township"),
        ({"level": "城市", "precise": 0}, "city"),
        ({"level": "UNKNOWN", "precise": 0}, "township"),
        ({}, "township"),
    ],
)
def test_it_reads_baidus_level_and_precise(raw, precision):
    assert precision_of("baidu", raw) == precision


@pytest.mark.parametrize(
    ("raw", "precision"),
    [
        ({"place_rank": 30, "class": "building", "type": "yes"}, "address"),
        ({"place_rank": 26, "class": "highway", "type": "primary"}, "street"),
        ({"place_rank": 19, "class": "place", "type": "village"}, "township"),
        ({"place_rank": 16, "class": "place", "type": "city"}, "city"),
        ({"class": "highway", "type": "residential"}, "street"),
        ({"class": "place", "type": "house"}, "address"),
        ({"class": "amenity", "type": "hospital"}, "address"),
        ({"class": "boundary", "type": "administrative", "addresstype": "town"}, "township"),
        ({"class": "place", "type": "suburb"}, "township"),
        ({"class": "boundary", "type": "administrative"}, "city"),
        ({"lat": "34.6", "lon": "113.6"}, "township"),
    ],
)
def test_it_reads_nominatims_rank_class_and_type(raw, precision):
    assert precision_of("nominatim", raw) == precision


@pytest.mark.parametrize(
    ("service", "properties", "precision"),
    [
        ("photon", {"type": "house", "osm_key": "building"}, "address"),
        ("photon", {"type": "street", "osm_key": "highway"}, "street"),
        ("photon", {"type": "city", "osm_key": "place"}, "city"),
        ("photon", {"type": "locality", "osm_key": "place"}, "township"),
        ("pelias", {"layer": "address", "accuracy": "point"}, "address"),
        ("pelias", {"layer": "venue", "accuracy": "centroid"}, "street"),
        ("pelias", {"layer": "street"}, "street"),
        ("pelias", {"layer": "locality"}, "township"),
        ("pelias", {"layer": "county"}, "city"),
    ],
)
def test_it_reads_photon_and_pelias_types(service, properties, precision):
    assert precision_of(service, {"properties": properties}) == precision


def test_it_takes_what_a_service_does_not_say_as_a_townships_centre():
    assert precision_of("googlev3", {"geometry": {}}) == "township"
    assert precision_of("nominatim", None) == "township"


@pytest.mark.django_db
def test_it_gives_a_services_precision_and_refuses_to_pretend(signed_in, nominatim):
    # The fake Nominatim says nothing of what it found: a township's centre, at most.
    found = lookup(signed_in, "龙湖镇泰山村").json()

    assert (found["precision"], found["partial"]) == ("township", False)


# --- AMap (GCJ-02) and Baidu (BD-09), converted to WGS-84 --------------------------------------

# A door in the city's seat, in WGS-84, and as each service would answer it.
DOOR = (34.3964, 113.7386)


class FakeAMap(BaseHTTPRequestHandler):
    requests: list[dict] = []
    answer: dict = {}

    def do_GET(self):
        url = urlsplit(self.path)
        FakeAMap.requests.append(
            {"path": url.path, **{k: v[0] for k, v in parse_qs(url.query).items()}}
        )
        payload = json.dumps(FakeAMap.answer, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def amap():
    gcj_latitude, gcj_longitude = wgs84_to_gcj02(*DOOR)
    FakeAMap.requests = []
    FakeAMap.answer = {
        "status": "1",
        "info": "OK",
        "infocode": "10000",
        "count": "1",
        "geocodes": [
            {
                "formatted_address": "河南省郑州市新郑市中华北路88号",
                "district": "新郑市",
                "location": f"{gcj_longitude:.6f},{gcj_latitude:.6f}",
                "level": "门牌号",
            }
        ],
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAMap)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with override_settings(
        GEOCODER="amap",
        GEOCODER_URL=f"http://127.0.0.1:{server.server_port}",
        GEOCODER_API_KEY="amap-key",
    ):
        yield FakeAMap
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
def test_it_asks_amap_with_its_key_and_stores_its_gcj02_point_as_wgs84(amap):
    place, failed = geocode("中华北路88号")

    request = amap.requests[0]
    assert request["path"] == "/v3/geocode/geo"
    assert request["key"] == "amap-key"
    assert request["address"] == "河南省新郑市中华北路88号"  # the city first
    assert (place.source, place.precision, failed) == ("amap", "address", False)
    assert place.address == "河南省郑州市新郑市中华北路88号"
    # Back where the door is (the answer's six decimals are ~0.1 m), not 580 m east.
    assert geodesic((place.latitude, place.longitude), DOOR).meters < 0.5


@pytest.mark.django_db
def test_it_says_when_amap_found_only_a_township(amap):
    amap.answer["geocodes"][0]["level"] = "乡镇"

    place, _ = geocode("新郑市新建路街道中华北路88号")

    assert place.precision == "township"


@pytest.mark.django_db
def test_it_falls_back_to_the_gazetteer_when_amap_refuses_the_key(amap):
    amap.answer = {"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"}

    place, failed = geocode("新郑市新建路街道中华北路88号")

    assert failed is True
    assert (place.source, place.name, place.precision) == ("gazetteer", "新建路街道", "township")


@pytest.mark.django_db
def test_it_asks_baidu_v3_and_stores_its_bd09_point_as_wgs84(monkeypatch):
    bd_latitude, bd_longitude = wgs84_to_bd09(*DOOR)
    asked = []

    def answer(self, url, callback, **options):
        asked.append(url)
        page = {
            "status": 0,
            "result": {
                "location": {"lng": bd_longitude, "lat": bd_latitude},
                "precise": 1,
                "confidence": 80,
                "level": "门址",
            },
        }
        return callback(page)

    monkeypatch.setattr(BaiduV3, "_call_geocoder", answer)
    with override_settings(GEOCODER="baidu", GEOCODER_API_KEY="baidu-ak"):
        place, failed = geocode("中华北路88号")

    assert asked[0].startswith("https://api.map.baidu.com/geocoding/v3/?")
    assert "ak=baidu-ak" in asked[0]
    assert (place.source, place.precision, place.address, failed) == (
        "baidu",
        "address",
        "中华北路88号",
        False,
    )
    assert geodesic((place.latitude, place.longitude), DOOR).meters < 1
