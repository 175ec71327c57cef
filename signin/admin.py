"""Sign-in in the admin: the coordinators' actions (print invitations for teams or
townships, revoke members' sign-ins; added to volunteers/admin.py's pages) and the
record of invitations and their uses."""

from collections import defaultdict

import segno
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from signin.models import Invitation
from signin.services import invitations_issue, sign_ins_revoke
from volunteers.models import Volunteer
from volunteers.roles import Role, user_has_role


def may_invite(request) -> bool:
    """Coordinators (and admins) issue invitations and revoke sign-ins."""
    return user_has_role(request.user, Role.COORDINATOR)


def _qr_svg(url: str) -> str:
    # Inline SVG, drawn here: no script, no image service, nothing fetched.
    return segno.make(url, error="m").svg_inline(scale=4, border=2, omitsize=True)


def _sheets_page(request, sheets: list[tuple[str, list[Volunteer]]]):
    """One printed page per sheet (a team): a QR code per member, labelled with the
    name. Members on several sheets get one invitation, shown on each."""
    members = {v.pk: v for _title, volunteers in sheets for v in volunteers}
    issued = invitations_issue(volunteers=list(members.values()), issued_by=request.user)
    cards = {}
    for invitation in issued:
        url = request.build_absolute_uri(reverse("phone:invitation", args=[invitation.secret]))
        cards[invitation.volunteer.pk] = {
            "name": invitation.volunteer.name,
            "qr": _qr_svg(url),
            "url": url,
        }
    pages = [
        {"title": title, "cards": [cards[v.pk] for v in volunteers if v.pk in cards]}
        for title, volunteers in sheets
    ]
    expires_at = issued[0].expires_at if issued else None
    context = {"pages": [p for p in pages if p["cards"]], "expires_at": expires_at}
    return TemplateResponse(request, "signin/invitations.html", context)


def _active_members():
    return Volunteer.objects.filter(user__is_active=True).select_related("user").order_by("name")


@admin.action(description="打印登录邀请 Print sign-in invitations", permissions=["invite"])
def print_team_invitations(modeladmin, request, queryset):
    sheets = [
        (team.name, list(_active_members().filter(teams=team)))
        for team in queryset.order_by("name")
    ]
    return _sheets_page(request, sheets)


@admin.action(description="打印登录邀请 Print sign-in invitations", permissions=["invite"])
def print_township_invitations(modeladmin, request, queryset):
    """A township's members, one page per team (members of no team on a page of their
    own), as teams meet in a briefing room."""
    sheets = []
    for township in queryset.order_by("name"):
        by_team = defaultdict(list)
        for volunteer in _active_members().filter(township=township).prefetch_related("teams"):
            teams = sorted(team.name for team in volunteer.teams.all()) or [None]
            for team in teams:
                by_team[team].append(volunteer)
        for team in sorted(name for name in by_team if name):
            sheets.append((f"{township.name} · {team}", by_team[team]))
        if by_team.get(None):
            no_team = _("no team")
            sheets.append((f"{township.name} · {no_team}", by_team[None]))
    return _sheets_page(request, sheets)


@admin.action(description="撤销登录 Revoke sign-ins (sign out everywhere)", permissions=["invite"])
def revoke_sign_ins(modeladmin, request, queryset):
    users = [volunteer.user for volunteer in queryset.select_related("user")]
    revoked = sign_ins_revoke(users=users)
    modeladmin.message_user(
        request,
        f"{len(users)} volunteer(s) signed out everywhere: {revoked['tokens']} token(s), "
        f"{revoked['sessions']} session(s) ended; open sockets close within minutes.",
        messages.SUCCESS,
    )


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Who was invited, by whom, and each use: when, from which address, which browser."""

    list_display = ["user", "issued_by", "created_at", "expires_at", "used_at", "used_from"]
    list_filter = ["used_at", "created_at"]
    search_fields = ["user__username", "user__volunteer__name"]
    list_select_related = ["user", "issued_by"]
    readonly_fields = [field.name for field in Invitation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
