import re

import pytest
from django.contrib.auth.models import User

from volunteers.roles import Role


@pytest.mark.django_db
def test_it_signs_in_in_chinese_by_default_and_in_english_on_request(client):
    chinese = client.get("/accounts/login/")
    english = client.get("/accounts/login/", headers={"accept-language": "en"})

    assert "登录" in chinese.content.decode()
    assert "用户名或手机号" in chinese.content.decode()
    assert "Username or phone" in english.content.decode()


def test_it_serves_leaflet_and_the_live_socket_from_the_app(client):
    leaflet = client.get("/static/leaflet/leaflet.js")
    live = client.get("/static/tongxin/live.js")

    assert leaflet.status_code == 200
    assert live.status_code == 200
    assert b"export class LiveSocket" in b"".join(live.streaming_content)


# --- the front door ---------------------------------------------------------------------

FIGURES = ("open-incidents", "on-duty", "vehicles-available")


@pytest.mark.django_db
def test_it_tells_a_visitor_what_tongxin_is_and_how_to_sign_in_and_nothing_more(
    client, make_volunteer
):
    make_volunteer("13800000001", on_duty=True)

    chinese = client.get("/").content.decode()
    english = client.get("/", headers={"accept-language": "en"}).content.decode()

    assert "应急志愿者调度" in chinese
    assert "Emergency volunteer dispatch" in english
    assert 'href="/accounts/login/?next=/">登录<' in chinese
    assert 'href="/accounts/login/?next=/">Sign in<' in english
    assert 'href="/phone/login/"' in english
    assert 'form class="language"' in english
    for page in (chinese, english):
        assert not [figure for figure in FIGURES if figure in page]
        assert "在岗志愿者" not in page and "on duty" not in page
        for face in ("/dashboard/", "/review/", "/admin/", "/api/docs/"):
            assert f'href="{face}"' not in page


def _ways(client, user) -> list[str]:
    client.force_login(user)
    page = client.get("/", headers={"accept-language": "en"}).content.decode()
    return re.findall(r'<li><a class="button[^"]*" href="([^"]+)"', page)


@pytest.mark.django_db
def test_it_shows_each_role_its_own_pages_first(client, coordinator, commander, volunteer):
    assert _ways(client, coordinator) == ["/dashboard/", "/review/"]
    assert _ways(client, commander) == ["/review/", "/dashboard/"]
    assert _ways(client, volunteer.user) == ["/phone/"]


@pytest.mark.django_db
def test_it_shows_the_staff_the_administration_and_the_api_docs(client, make_user):
    staff = make_user("office", Role.COORDINATOR)
    staff.is_staff = True
    staff.save()

    assert _ways(client, staff) == ["/dashboard/", "/review/", "/admin/", "/api/docs/"]


@pytest.mark.django_db
def test_it_shows_the_live_figures_to_those_who_watch_and_to_nobody_else(
    client, coordinator, make_volunteer
):
    make_volunteer("13800000001", on_duty=True)
    volunteer = make_volunteer("13800000002")

    client.force_login(volunteer.user)
    to_a_volunteer = client.get("/").content.decode()
    client.force_login(coordinator)
    to_a_coordinator = client.get("/", headers={"accept-language": "en"}).content.decode()

    assert not [figure for figure in FIGURES if figure in to_a_volunteer]
    assert '<b id="on-duty">1</b>volunteers on duty (of 2)' in to_a_coordinator


@pytest.mark.django_db
def test_it_tells_a_user_with_no_role_whom_to_ask(client):
    client.force_login(User.objects.create_user("nobody"))

    page = client.get("/", headers={"accept-language": "en"}).content.decode()

    assert "Your account has no role yet" in page
    assert not [figure for figure in FIGURES if figure in page]


# --- the error pages --------------------------------------------------------------------


@pytest.mark.django_db
def test_it_answers_a_missing_page_with_its_own_page_in_the_visitors_language(client, settings):
    settings.DEBUG = False

    chinese = client.get("/no-such-page/")
    english = client.get("/no-such-page/", headers={"accept-language": "en"})

    assert chinese.status_code == english.status_code == 404
    assert [t.name for t in chinese.templates][:2] == ["404.html", "base.html"]
    assert "此地址没有页面" in chinese.content.decode()
    page = english.content.decode()
    assert "There is no page at this address" in page
    assert 'href="/">Go to the front page<' in page
    assert 'href="/accounts/login/?next=/">Sign in<' in page
    assert "URLconf" not in page  # Django's debug page lists every URL


@pytest.mark.django_db
def test_it_answers_a_missing_api_path_with_json_still(client, settings):
    settings.DEBUG = False

    response = client.get("/api/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No API endpoint at /api/no-such-thing/."}


@pytest.mark.django_db
def test_it_answers_a_crash_with_its_own_page_in_the_visitors_language(
    client, settings, monkeypatch
):
    from pages import views

    def crash(*args, **kwargs):
        raise RuntimeError("a bug")

    settings.DEBUG = False
    monkeypatch.setattr(views, "render", crash)
    client.raise_request_exception = False

    chinese = client.get("/")
    english = client.get("/", headers={"accept-language": "en"})

    assert chinese.status_code == english.status_code == 500
    assert "我们这边出了问题" in chinese.content.decode()
    page = english.content.decode()
    assert "Something went wrong on our side" in page
    assert 'href="/">Go to the front page<' in page
    assert "RuntimeError" not in page and "a bug" not in page


# --- the icon ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/no-such-page/", "/phone/login/"])
def test_every_page_names_the_icon(client, path):
    page = client.get(path).content.decode()

    assert '<link rel="icon" href="/static/tongxin/icon.svg" type="image/svg+xml">' in page
    assert '<link rel="apple-touch-icon" href="/static/tongxin/apple-touch-icon.png">' in page


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/static/tongxin/icon.svg", b"<svg"),
        ("/static/tongxin/favicon.ico", b"\x00\x00\x01\x00"),
        ("/static/tongxin/apple-touch-icon.png", b"\x89PNG"),
    ],
)
def test_it_serves_the_icons(client, path, kind):
    response = client.get(path)

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(kind)


def test_it_sends_a_browser_asking_for_favicon_ico_to_the_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == "/static/tongxin/favicon.ico"
    assert "max-age=86400" in response["Cache-Control"]
