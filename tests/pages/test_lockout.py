"""Sign-in throttling (django-axes, pages/lockout.py): the fifth failure for one account
or from one address is answered 429, and so is every attempt for a while after, even with
the right password — on the pages and on the API's token endpoint alike, whether or not
the account exists."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.django_db

TOKEN = "/api/auth/token/"


def token_attempt(username: str, password: str, *, address: str = "10.0.0.1"):
    client = APIClient(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en")
    return client.post(TOKEN, {"username": username, "password": password}, format="json")


def page_attempt(path: str, username: str, password: str, *, address: str = "10.0.0.1"):
    client = Client(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en")
    return client.post(path, {"username": username, "password": password})


def test_it_locks_an_account_out_of_the_api_at_the_fifth_failure(volunteer):
    failures = [token_attempt("13800000001", "wrong").status_code for _ in range(5)]

    locked = token_attempt("13800000001", DEMO_PASSWORD)

    assert failures == [400, 400, 400, 400, 429]
    assert locked.status_code == 429
    assert locked.json()["detail"].startswith("Too many failed sign-ins. Try again in 15 minutes")
    # Another account from elsewhere is not affected.
    assert token_attempt("coordinator-x", "wrong", address="10.0.0.2").status_code == 400


def test_it_locks_an_address_that_tries_many_accounts(volunteer):
    for n in range(5):
        token_attempt(f"1380000009{n}", "guess")

    assert token_attempt("13800000001", DEMO_PASSWORD).status_code == 429
    # The account itself is not locked for someone signing in from their own phone.
    assert token_attempt("13800000001", DEMO_PASSWORD, address="10.0.0.9").status_code == 200


def test_it_answers_the_same_for_an_account_that_does_not_exist():
    for _ in range(5):
        token_attempt("13999999999", "guess")

    assert token_attempt("13999999999", "guess").status_code == 429


@pytest.mark.parametrize("path", ["/accounts/login/", "/phone/login/"])
def test_it_locks_the_sign_in_pages_too(volunteer, path):
    failures = [page_attempt(path, "13800000001", "wrong").status_code for _ in range(5)]

    locked = page_attempt(path, "13800000001", DEMO_PASSWORD)

    assert failures == [200, 200, 200, 200, 429]  # the form again, with its error
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()


def test_it_forgives_an_account_its_failures_once_it_signs_in(volunteer):
    for _ in range(4):
        token_attempt("13800000001", "wrong")
    assert token_attempt("13800000001", DEMO_PASSWORD).status_code == 200

    # From another address (the first one's own count stands): the account starts afresh.
    later = [
        token_attempt("13800000001", "wrong", address="10.0.0.3").status_code for _ in range(4)
    ]

    assert later == [400] * 4
