"""signin.services: codes by SMS, invitations, revoking."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from dispatch.models import PushSubscription
from dispatch.push import push_subscribe, vapid_keys_new
from signin.models import Invitation, SignInCode
from signin.services import (
    InvitationRefused,
    SignInRateLimited,
    invitation_use,
    invitations_issue,
    sign_ins_revoke,
    signin_code_request,
    signin_code_verify,
    signin_codes_forget,
)
from tests.push_service import Subscriber
from tests.signin.conftest import code_in

pytestmark = pytest.mark.django_db


def test_it_texts_a_member_a_six_digit_code_and_stores_only_its_hash(imported, outbox):
    member = imported("13800000001")

    signin_code_request(phone="+86 138-0000-0001", client_address="10.0.0.1")

    (sms,) = outbox("13800000001")
    code = code_in(sms)
    row = SignInCode.objects.get()
    assert row.phone == "13800000001" and row.user == member.user
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert signin_code_verify(phone="13800000001", code=code) == member.user


def test_it_texts_nobody_for_a_number_that_is_no_members(outbox):
    signin_code_request(phone="13999999999", client_address="10.0.0.1")

    assert outbox() == []
    # Recorded all the same: the rate limits count strangers' numbers as members'.
    assert SignInCode.objects.filter(phone="13999999999", user=None).count() == 1
    assert signin_code_verify(phone="13999999999", code="000000") is None


def test_it_refuses_a_malformed_number():
    with pytest.raises(ValidationError):
        signin_code_request(phone="12345", client_address="10.0.0.1")


def test_a_code_works_once(imported, outbox):
    member = imported()
    signin_code_request(phone=member.phone, client_address="10.0.0.1")
    code = code_in(outbox()[0])

    assert signin_code_verify(phone=member.phone, code=code) == member.user
    assert signin_code_verify(phone=member.phone, code=code) is None


def test_a_code_expires(imported, outbox, settings):
    member = imported()
    signin_code_request(phone=member.phone, client_address="10.0.0.1")
    code = code_in(outbox()[0])
    SignInCode.objects.update(
        expires_at=timezone.now() - timedelta(seconds=1),
    )

    assert signin_code_verify(phone=member.phone, code=code) is None


def test_a_code_dies_after_its_wrong_tries(imported, outbox, settings):
    member = imported()
    signin_code_request(phone=member.phone, client_address="10.0.0.1")
    code = code_in(outbox()[0])
    wrong = "000000" if code != "000000" else "111111"

    for _ in range(settings.SIGN_IN_CODE_ATTEMPTS):
        assert signin_code_verify(phone=member.phone, code=wrong) is None

    assert signin_code_verify(phone=member.phone, code=code) is None


def test_only_the_newest_code_works(imported, outbox):
    member = imported()
    signin_code_request(phone=member.phone, client_address="10.0.0.1")
    first = code_in(outbox()[0])
    SignInCode.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    signin_code_request(phone=member.phone, client_address="10.0.0.1")
    second = code_in(outbox()[1])

    if first != second:
        assert signin_code_verify(phone=member.phone, code=first) is None
    assert signin_code_verify(phone=member.phone, code=second) == member.user


def test_it_gives_a_number_one_code_a_minute(imported, outbox):
    member = imported()
    signin_code_request(phone=member.phone, client_address="10.0.0.1")

    with pytest.raises(SignInRateLimited) as limited:
        signin_code_request(phone=member.phone, client_address="10.0.0.2")

    assert 0 < limited.value.retry_after <= 60
    assert len(outbox()) == 1


def test_it_limits_the_codes_a_number_gets_in_an_hour(imported, outbox, settings):
    member = imported()
    for minutes in range(settings.SIGN_IN_CODES_PER_NUMBER_PER_HOUR):
        signin_code_request(phone=member.phone, client_address=f"10.0.0.{minutes}")
        SignInCode.objects.update(created_at=timezone.now() - timedelta(minutes=5 + minutes))

    with pytest.raises(SignInRateLimited):
        signin_code_request(phone=member.phone, client_address="10.0.1.1")


def test_it_limits_the_codes_asked_from_one_address(outbox, settings):
    settings.SIGN_IN_CODES_PER_ADDRESS_PER_HOUR = 3
    for n in range(3):
        signin_code_request(phone=f"1399999999{n}", client_address="10.0.0.1")

    with pytest.raises(SignInRateLimited):
        signin_code_request(phone="13999999995", client_address="10.0.0.1")
    # Another address is not affected.
    signin_code_request(phone="13999999995", client_address="10.0.0.2")


def test_it_forgets_old_code_requests(outbox):
    signin_code_request(phone="13999999999", client_address="10.0.0.1")
    SignInCode.objects.update(created_at=timezone.now() - timedelta(days=2))

    assert signin_codes_forget(created_before=timezone.now() - timedelta(days=1)) == 1
    assert not SignInCode.objects.exists()


# --- invitations --------------------------------------------------------------------


def test_an_invitation_signs_its_member_in_once_and_records_the_use(imported, coordinator):
    member = imported()
    (issued,) = invitations_issue(volunteers=[member], issued_by=coordinator)

    user = invitation_use(secret=issued.secret, client_address="10.0.0.7", user_agent="Phone/1")

    assert user == member.user
    row = Invitation.objects.get()
    assert row.used_at is not None and row.used_from == "10.0.0.7"
    assert row.used_user_agent == "Phone/1" and row.issued_by == coordinator
    assert issued.secret not in row.secret_hash
    with pytest.raises(InvitationRefused) as refused:
        invitation_use(secret=issued.secret, client_address="10.0.0.8", user_agent="Other")
    assert refused.value.reason == "used"
    assert Invitation.objects.get().used_from == "10.0.0.7"


def test_an_invitation_expires(imported, coordinator):
    (issued,) = invitations_issue(volunteers=[imported()], issued_by=coordinator)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(InvitationRefused) as refused:
        invitation_use(secret=issued.secret, client_address=None, user_agent="")

    assert refused.value.reason == "expired"


def test_a_new_invitation_withdraws_the_unused_older_one(imported, coordinator):
    member = imported()
    (old,) = invitations_issue(volunteers=[member], issued_by=coordinator)
    (new,) = invitations_issue(volunteers=[member], issued_by=coordinator)

    with pytest.raises(InvitationRefused) as refused:
        invitation_use(secret=old.secret, client_address=None, user_agent="")

    assert refused.value.reason == "withdrawn"
    assert invitation_use(secret=new.secret, client_address=None, user_agent="") == member.user


def test_an_unknown_invitation_is_refused():
    with pytest.raises(InvitationRefused) as refused:
        invitation_use(secret="no-such-secret", client_address=None, user_agent="")

    assert refused.value.reason == "unknown"


# --- revoking -------------------------------------------------------------------------


def _signed_in_session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_revoking_deletes_the_token_and_ends_the_sessions(volunteer, make_volunteer):
    Token.objects.create(user=volunteer.user)
    phone = _signed_in_session(volunteer.user)
    other = make_volunteer("13800000002")
    Token.objects.create(user=other.user)
    others_phone = _signed_in_session(other.user)

    assert sign_ins_revoke(users=[volunteer.user]) == {"tokens": 1, "sessions": 1}

    assert not Token.objects.filter(user=volunteer.user).exists()
    assert phone.get("/phone/").status_code == 302  # to the sign-in page
    assert Token.objects.filter(user=other.user).exists()
    assert others_phone.get("/phone/").status_code == 200
    assert Session.objects.count() == 1


def test_revoking_forgets_the_push_subscriptions_of_a_lost_phone(
    volunteer, make_volunteer, settings
):
    """Offers pushed to a lost phone would show on its locked screen, signed out or not."""
    settings.WEB_PUSH_VAPID_PRIVATE_KEY = vapid_keys_new()[0]
    other = make_volunteer("13800000002")
    for member, name in ((volunteer, "lost"), (other, "theirs")):
        endpoint = f"https://fcm.googleapis.com/fcm/send/{name}"
        keys = Subscriber(endpoint).subscription()["keys"]
        push_subscribe(
            volunteer=member, endpoint=endpoint, p256dh=keys["p256dh"], auth=keys["auth"]
        )

    sign_ins_revoke(users=[volunteer.user])

    assert list(PushSubscription.objects.values_list("volunteer", flat=True)) == [other.pk]


def test_deactivating_a_member_signs_them_out_everywhere(volunteer, coordinator):
    Token.objects.create(user=volunteer.user)
    _signed_in_session(volunteer.user)
    (issued,) = invitations_issue(volunteers=[volunteer], issued_by=coordinator)

    user = User.objects.get(pk=volunteer.user.pk)
    user.is_active = False
    user.save()

    assert not Token.objects.filter(user=user).exists()
    assert not Session.objects.exists()
    # Made active again, they sign in anew: the old invitation does not bring them back.
    user.is_active = True
    user.save()
    with pytest.raises(InvitationRefused):
        invitation_use(secret=issued.secret, client_address=None, user_agent="")


def test_saving_an_active_member_revokes_nothing(volunteer):
    Token.objects.create(user=volunteer.user)

    volunteer.user.first_name = "建国"
    volunteer.user.save()

    assert Token.objects.filter(user=volunteer.user).exists()
