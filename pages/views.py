"""The front door (/), the site's own 404 page, and the icon at /favicon.ico."""

from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.views import defaults

from config.views import api_not_found
from incidents.models import Incident
from volunteers.models import Vehicle, Volunteer
from volunteers.roles import Role, user_has_role, user_may_watch

# A day: the icon's hashed name changes when it does, so the redirect must not be kept
# for ever, and browsers ask for /favicon.ico seldom enough.
FAVICON_REDIRECT_MAX_AGE = 24 * 3600


def home(request):
    """What Tongxin is and how to sign in, for anyone; once signed in, the pages the
    user's roles open. The live figures are for those who watch the operations
    (coordinators, commanders): a visitor who is not signed in sees nothing of them."""
    user = request.user
    context = {"ways": _ways(user) if user.is_authenticated else []}
    if user_may_watch(user):
        context["figures"] = {
            "open_incidents": Incident.objects.filter(status=Incident.Status.OPEN).count(),
            "volunteers": Volunteer.objects.count(),
            "on_duty": Volunteer.objects.filter(on_duty=True).count(),
            "vehicles_available": Vehicle.objects.filter(status=Vehicle.Status.AVAILABLE).count(),
        }
    return render(request, "home.html", context)


def _ways(user) -> list[str]:
    """The pages this user may open, the one their role is for first (home.html draws
    each by its name)."""
    coordinator = user_has_role(user, Role.COORDINATOR)
    commander = user_has_role(user, Role.COMMANDER)
    ways = []
    if getattr(user, "volunteer", None) is not None:
        ways.append("phone")
    if coordinator:
        ways += ["dashboard", "review"]
    elif commander:
        ways += ["review", "dashboard"]
    elif user_may_watch(user):
        ways += ["dashboard", "review"]
    if user.is_staff:
        ways += ["admin", "api"]
    return ways


def not_found(request, exception):
    """404: the site's page, in the request's language (Django's debug page instead
    only with DEBUG=1); under /api/ the API's JSON, as for an unknown endpoint."""
    if request.path.startswith("/api/"):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def favicon(request):
    """/favicon.ico, which browsers ask for on pages that name no icon (the API's
    JSON, files): the icon every page links to (base.html)."""
    response = HttpResponseRedirect(static("tongxin/favicon.ico"))
    response["Cache-Control"] = f"public, max-age={FAVICON_REDIRECT_MAX_AGE}"
    return response
