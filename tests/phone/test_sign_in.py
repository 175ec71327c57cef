"""Signing in on the phone page without a password: a code by SMS, an invitation link
(a printed QR code), and signing out everywhere."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from signin.models import Invitation
from signin.services import invitations_issue
from tests.signin.conftest import code_in

pytestmark = pytest.mark.django_db


def phone_browser(address: str = "10.0.0.1", language: str = "en") -> Client:
    return Client(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE=language, HTTP_USER_AGENT="Phone/1")


def test_the_sign_in_page_asks_for_the_number_first():
    page = phone_browser().get("/phone/login/").content.decode()

    assert page.index('name="phone"') < page.index('name="password"')
    assert "Text me a sign-in code" in page


def test_an_imported_member_signs_in_with_the_code_texted(imported, outbox):
    member = imported()
    browser = phone_browser()

    sent = browser.post("/phone/login/sms/", {"phone": "138 0000 0001", "next": "/phone/"})
    assert sent.url == "/phone/login/code/?next=%2Fphone%2F"

    assert sent.status_code == 302
    code_page = browser.get(sent.url)
    assert "a 6-digit code is on its way" in code_page.content.decode()
    code = code_in(outbox(member.phone)[0])
    signed_in = browser.post("/phone/login/code/", {"code": code, "next": "/phone/"})
    assert signed_in.status_code == 302 and signed_in.url == "/phone/"
    assert browser.get("/phone/").status_code == 200


def test_a_stranger_is_shown_the_same_next_page(outbox):
    browser = phone_browser()

    sent = browser.post("/phone/login/sms/", {"phone": "13999999999"})

    assert sent.status_code == 302
    assert "a 6-digit code is on its way" in browser.get(sent.url).content.decode()
    assert outbox() == []


def test_a_wrong_code_is_told_and_the_fifth_locks_the_number(imported, outbox):
    member = imported()
    browser = phone_browser()
    browser.post("/phone/login/sms/", {"phone": member.phone})
    code = code_in(outbox()[0])
    wrong = "000000" if code != "000000" else "111111"

    tries = [browser.post("/phone/login/code/", {"code": wrong}) for _ in range(5)]
    locked = browser.post("/phone/login/code/", {"code": code})

    assert [t.status_code for t in tries] == [200, 200, 200, 200, 429]
    assert "Wrong or expired code" in tries[0].content.decode()
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()


def test_a_malformed_number_is_told_on_the_page():
    response = phone_browser().post("/phone/login/sms/", {"phone": "12345"})

    assert response.status_code == 200
    assert "11-digit" in response.content.decode()


def test_asking_again_within_the_minute_is_told_to_wait(imported, outbox):
    member = imported()
    phone_browser().post("/phone/login/sms/", {"phone": member.phone})

    again = phone_browser().post("/phone/login/sms/", {"phone": member.phone})

    assert again.status_code == 429
    assert "Try again in 1 minute" in again.content.decode()


def test_the_code_page_without_a_number_goes_back_to_the_first_step():
    response = phone_browser().get("/phone/login/code/")

    assert response.status_code == 302 and response.url == "/phone/login/"


# --- invitations ---------------------------------------------------------------------


def test_an_invitation_signs_its_member_in_once(imported, coordinator):
    member = imported(name="王建国")
    (issued,) = invitations_issue(volunteers=[member], issued_by=coordinator)
    link = f"/phone/invitation/{issued.secret}/"
    browser = phone_browser(address="10.0.0.7")

    confirm = browser.get(link)
    assert confirm.status_code == 200 and "王建国" in confirm.content.decode()
    assert Invitation.objects.get().used_at is None  # opening it (a link preview) spends nothing
    signed_in = browser.post(link)
    assert signed_in.status_code == 302 and signed_in.url == "/phone/"
    assert browser.get("/phone/").status_code == 200
    use = Invitation.objects.get()
    assert (use.used_from, use.used_user_agent) == ("10.0.0.7", "Phone/1")

    again = phone_browser(address="10.0.0.8")
    assert again.get(link).status_code == 410
    refused = again.post(link)
    assert refused.status_code == 410
    assert "This invitation was used already" in refused.content.decode()
    assert again.get("/phone/").status_code == 302


def test_an_invitation_that_is_no_invitation_is_refused():
    response = phone_browser(language="zh-hans").get("/phone/invitation/nothing-like-it/")

    assert response.status_code == 410


# --- signing out everywhere ----------------------------------------------------------


def test_a_member_signs_out_everywhere_from_the_phone_page(volunteer):
    Token.objects.create(user=volunteer.user)
    browser, other_phone = phone_browser(), phone_browser()
    browser.force_login(volunteer.user)
    other_phone.force_login(volunteer.user)
    assert 'id="sign-out-everywhere"' in browser.get("/phone/").content.decode()

    response = browser.post("/phone/sign-out-everywhere/")

    assert response.status_code == 302 and response.url == "/phone/login/"
    assert not Token.objects.filter(user=volunteer.user).exists()
    assert browser.get("/phone/").status_code == 302
    assert other_phone.get("/phone/").status_code == 302
