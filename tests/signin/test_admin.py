"""The coordinators' side in the admin: printing sign-in invitations for a team or a
township (one sheet per team, a QR code per member), and revoking members' sign-ins."""

import re

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from signin.models import Invitation
from volunteers.models import Team, Township
from volunteers.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(make_user):
    def make(role: Role) -> Client:
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(make_user(role.value, role, is_staff=True))
        return client

    return make


@pytest.fixture
def team(make_volunteer):
    rescue = Team.objects.create(name="蓝天救援队", kind=Team.Kind.RESCUE)
    for phone, name in (("13800000001", "王建国"), ("13800000002", "李秀英")):
        make_volunteer(phone, name=name).teams.add(rescue)
    make_volunteer("13800000003", name="不在队里")
    return rescue


def act(client: Client, path: str, action: str, ids: list[int]):
    return client.post(path, {"action": action, "_selected_action": ids})


def test_a_coordinator_prints_a_qr_code_per_member_of_a_team(staff, team):
    response = act(
        staff(Role.COORDINATOR), "/admin/volunteers/team/", "print_team_invitations", [team.pk]
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count("<svg") == 2
    assert "王建国" in page and "李秀英" in page and "不在队里" not in page
    assert "蓝天救援队" in page
    assert 'href="/static/signin/invitations.css"' in page
    # No inline style or script: the site's Content-Security-Policy holds here too.
    assert "style=" not in page and "<style" not in page and "<script" not in page
    assert Invitation.objects.count() == 2
    # The links themselves are in the QR codes only: no secret is stored.
    assert not re.search(r"/phone/invitation/[\w-]{20,}/", page)


def test_a_commander_cannot_print_invitations(staff, team):
    act(staff(Role.COMMANDER), "/admin/volunteers/team/", "print_team_invitations", [team.pk])

    assert not Invitation.objects.exists()


def test_a_townships_members_come_one_sheet_per_team(staff, team):
    township = Township.objects.get(name="新建路街道")

    response = act(
        staff(Role.COORDINATOR),
        "/admin/volunteers/township/",
        "print_township_invitations",
        [township.pk],
    )

    page = response.content.decode()
    assert page.count('class="sheet"') == 2  # the team, and those of no team
    assert page.count("<svg") == 3
    assert Invitation.objects.count() == 3


def test_a_coordinator_revokes_members_sign_ins(staff, team):
    members = list(team.members.all())
    for member in members:
        Token.objects.create(user=member.user)

    act(
        staff(Role.COORDINATOR),
        "/admin/volunteers/volunteer/",
        "revoke_sign_ins",
        [members[0].pk],
    )

    assert not Token.objects.filter(user=members[0].user).exists()
    assert Token.objects.filter(user=members[1].user).exists()
