import pytest


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
