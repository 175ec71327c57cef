"""The front door (/): what is going on right now, and where each user goes."""

from django.shortcuts import render

from incidents.models import Incident
from volunteers.models import Vehicle, Volunteer


def home(request):
    """The front door: what is going on right now, and where each user goes."""
    context = {
        "open_incidents": Incident.objects.filter(status=Incident.Status.OPEN).count(),
        "volunteers": Volunteer.objects.count(),
        "on_duty": Volunteer.objects.filter(on_duty=True).count(),
        "vehicles_available": Vehicle.objects.filter(status=Vehicle.Status.AVAILABLE).count(),
    }
    return render(request, "home.html", context)
