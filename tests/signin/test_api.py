"""Sign-in without passwords over REST: POST /api/auth/sms/, /api/auth/sms/verify/,
/api/me/tokens/revoke/."""

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from signin.models import SignInCode
from tests.dispatch.test_consumers_lifetime import closed_with, in_thread, phone_socket
from tests.signin.conftest import code_in

pytestmark = pytest.mark.django_db

SEND = "/api/auth/sms/"
VERIFY = "/api/auth/sms/verify/"
REVOKE = "/api/me/tokens/revoke/"


def client(address: str = "10.0.0.1") -> APIClient:
    return APIClient(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en")


def ask(phone: str, *, address: str = "10.0.0.1"):
    return client(address).post(SEND, {"phone": phone}, format="json")


def verify(phone: str, code: str, *, address: str = "10.0.0.1"):
    return client(address).post(VERIFY, {"phone": phone, "code": code}, format="json")


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_a_member_gets_a_code_and_trades_it_for_a_token(imported, outbox):
    member = imported("13800000001")

    asked = ask("+86 138 0000 0001")

    assert asked.status_code == 202
    code = code_in(outbox("13800000001")[0])
    signed_in = verify("13800000001", code)
    assert signed_in.status_code == 200
    token = signed_in.json()["token"]
    assert Token.objects.get(key=token).user == member.user
    me = APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/me/")
    assert me.json()["username"] == member.user.username


def test_an_unknown_number_gets_the_same_answer_and_no_sms(imported, outbox):
    imported("13800000001")

    member = ask("13800000001", address="10.0.0.1")
    stranger = ask("13999999999", address="10.0.0.2")

    assert (stranger.status_code, stranger.json()) == (member.status_code, member.json())
    assert [sms["to"] for sms in outbox()] == ["13800000001"]


def test_a_malformed_number_is_a_400_that_says_so():
    response = ask("12345")

    assert response.status_code == 400
    assert "11-digit" in response.json()["phone"][0]


def test_a_number_with_a_nul_is_refused_before_anything_looks_it_up():
    assert ask("1380000\x000001").status_code == 400
    assert verify("1380000\x000001", "123456").status_code == 400


def test_five_wrong_codes_lock_the_number_even_for_the_right_code(imported, outbox):
    member = imported()
    ask(member.phone)
    code = code_in(outbox()[0])

    failures = [verify(member.phone, wrong(code)).status_code for _ in range(5)]
    locked = verify(member.phone, code)

    assert failures == [400, 400, 400, 400, 429]
    assert locked.status_code == 429
    assert locked.json()["detail"].startswith("Too many failed sign-ins")
    # From another address too: it is the number that is locked.
    assert verify(member.phone, code, address="10.0.0.9").status_code == 429
    # And no new code is sent to it meanwhile.
    assert ask(member.phone, address="10.0.0.9").status_code == 429
    assert len(outbox()) == 1


def test_wrong_codes_lock_a_number_that_is_no_members_alike():
    failures = [verify("13999999999", "123456").status_code for _ in range(5)]

    assert failures == [400, 400, 400, 400, 429]
    assert ask("13999999999", address="10.0.0.9").status_code == 429


def test_a_code_works_once(imported, outbox):
    member = imported()
    ask(member.phone)
    code = code_in(outbox()[0])

    assert verify(member.phone, code).status_code == 200
    again = verify(member.phone, code)

    assert again.status_code == 400
    assert "Wrong or expired code" in again.json()["detail"]


def test_an_expired_code_is_refused(imported, outbox, settings):
    member = imported()
    ask(member.phone)
    code = code_in(outbox()[0])
    SignInCode.objects.update(expires_at=timezone.now())

    assert verify(member.phone, code).status_code == 400


def test_a_number_gets_one_code_a_minute(imported, outbox):
    member = imported()
    assert ask(member.phone).status_code == 202

    again = ask(member.phone, address="10.0.0.2")

    assert again.status_code == 429
    assert 0 < int(again["Retry-After"]) <= 60
    assert "Try again in 1 minute" in again.json()["detail"]
    assert len(outbox()) == 1


def test_one_address_asks_only_so_many_codes_an_hour(imported, outbox, settings):
    settings.SIGN_IN_CODES_PER_ADDRESS_PER_HOUR = 3
    member = imported("13800000001")
    answers = [ask(phone).status_code for phone in ("13999999990", "13999999991", "13999999992")]

    refused = ask(member.phone)

    assert answers == [202, 202, 202]
    assert refused.status_code == 429
    assert outbox() == []
    assert ask(member.phone, address="10.0.0.2").status_code == 202


def test_a_member_signs_out_everywhere(volunteer):
    token = Token.objects.create(user=volunteer.user).key
    phone = APIClient(HTTP_AUTHORIZATION=f"Token {token}")

    response = phone.post(REVOKE)

    assert response.status_code == 200
    assert response.json()["tokens"] == 1
    assert not Token.objects.filter(user=volunteer.user).exists()
    assert phone.get("/api/me/").status_code in (401, 403)


def test_revoking_needs_a_signed_in_caller():
    assert APIClient().post(REVOKE).status_code in (401, 403)


def test_both_are_in_the_openapi_schema():
    paths = APIClient().get("/api/schema/?format=json").json()["paths"]

    assert set(paths[SEND]["post"]["responses"]) >= {"202", "400", "429"}
    assert set(paths[VERIFY]["post"]["responses"]) >= {"200", "400", "429"}
    # No credentials: this is where they come from.
    assert "security" not in paths[SEND]["post"]
    assert "security" not in paths[VERIFY]["post"]
    assert "tokenAuth" in str(paths[REVOKE]["post"]["security"])


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_index", "channel_layer")
def test_a_member_who_signs_out_everywhere_has_their_phones_socket_closed(volunteer, settings):
    settings.WS_RECHECK_SECONDS = 0.05
    ws, key = phone_socket(volunteer)

    def sign_out_everywhere():
        APIClient(HTTP_AUTHORIZATION=f"Token {key}").post(REVOKE)

    assert closed_with(ws, in_thread(sign_out_everywhere)) == 4401
