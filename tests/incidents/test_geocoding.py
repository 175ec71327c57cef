"""Address → coordinates: the offline gazetteer, and a configured geopy service."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings

from incidents.geocoding import gazetteer_lookup, geocode, normalize
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
