"""A volunteer's own record of service on the phone (/phone/record/, issue 11 item 4):
tasks and hours this month and this year, and their last tasks, from dispatch.hours
(the same rule as the commanders' hours page). Server-rendered, no script."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dispatch.hours import volunteer_record
from dispatch.labels import STATUS_LABELS, label_of


@require_GET
@never_cache
@login_required(login_url="phone:login")
def record(request):
    volunteer = getattr(request.user, "volunteer", None)
    if volunteer is None:
        return render(request, "phone/not_volunteer.html", status=403)
    mine = volunteer_record(volunteer=volunteer)
    context = {
        "volunteer": volunteer,
        "record": mine,
        "today": timezone.localdate(),
        "last": [
            {"served": one, "status": label_of(STATUS_LABELS, one.status)} for one in mine.last
        ],
    }
    return render(request, "phone/record.html", context)
