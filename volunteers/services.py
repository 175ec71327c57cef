"""Writes to volunteers and vehicles. Views, consumers, tasks and commands call these."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from dispatch.availability import availability_sync_on_commit
from dispatch.events import event_record
from dispatch.models import EventKind
from dispatch.vehicles import vehicles_follow_crew_member
from volunteers.models import (
    TRAVEL_RANGE_KM_MAX,
    TRAVEL_RANGE_KM_MIN,
    TravelMode,
    Volunteer,
)


class LocationError(ValidationError):
    pass


def validate_coordinates(*, latitude: float | None, longitude: float | None) -> None:
    if latitude is None or longitude is None:
        raise LocationError(_("Send latitude and longitude together."))
    # Written so that NaN, which compares false with everything, is refused too.
    if not (-90 <= latitude <= 90) or not (-180 <= longitude <= 180):
        raise LocationError(_("Latitude must lie in [-90, 90] and longitude in [-180, 180]."))


def validate_travel_preferences(*, travel_mode: str | None, travel_range_km: float | None) -> None:
    if travel_mode is not None and travel_mode not in TravelMode.values:
        raise ValidationError(
            {"travel_mode": _("Unknown travel mode %(mode)s.") % {"mode": repr(travel_mode)}}
        )
    if travel_range_km is not None and not (
        TRAVEL_RANGE_KM_MIN <= travel_range_km <= TRAVEL_RANGE_KM_MAX
    ):
        raise ValidationError(
            {
                "travel_range_km": _("The travel range lies between %(min)s and %(max)s km.")
                % {"min": TRAVEL_RANGE_KM_MIN, "max": TRAVEL_RANGE_KM_MAX}
            }
        )


@transaction.atomic
def volunteer_set_duty(*, volunteer: Volunteer, on_duty: bool, actor=None) -> Volunteer:
    """Go on or off duty. A change is logged (the dashboard's resource board counts
    on-duty volunteers); setting the state a volunteer already has changes nothing."""
    changed = Volunteer.objects.filter(pk=volunteer.pk, on_duty=not on_duty).update(on_duty=on_duty)
    volunteer.on_duty = on_duty
    availability_sync_on_commit(volunteer_ids=[volunteer.pk])
    if changed:
        event_record(
            kind=EventKind.VOLUNTEER_ON_DUTY if on_duty else EventKind.VOLUNTEER_OFF_DUTY,
            actor=actor or volunteer.user,
            volunteer=volunteer,
            data={"township": volunteer.township_id},
        )
    return volunteer


def volunteer_update_location(
    *, volunteer: Volunteer, latitude: float, longitude: float
) -> Volunteer:
    """Record where a volunteer's phone says they are. Not a log event: positions
    arrive every few seconds and the log records decisions, not breadcrumbs."""
    validate_coordinates(latitude=latitude, longitude=longitude)
    now = timezone.now()
    Volunteer.objects.filter(pk=volunteer.pk).update(
        last_latitude=latitude, last_longitude=longitude, last_located_at=now
    )
    volunteer.last_latitude, volunteer.last_longitude = latitude, longitude
    volunteer.last_located_at = now
    # On a vehicle's task, the vehicle is where its crew member is.
    vehicles_follow_crew_member(volunteer_id=volunteer.pk, latitude=latitude, longitude=longitude)
    availability_sync_on_commit(volunteer_ids=[volunteer.pk])
    return volunteer


@transaction.atomic
def volunteer_update_self(
    *,
    volunteer: Volunteer,
    on_duty: bool | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    travel_mode: str | None = None,
    travel_range_km: float | None = None,
) -> Volunteer:
    """What a volunteer changes about themselves from the phone, all or nothing: every
    part is checked before anything is written."""
    validate_travel_preferences(travel_mode=travel_mode, travel_range_km=travel_range_km)
    location_given = latitude is not None or longitude is not None
    if location_given:
        validate_coordinates(latitude=latitude, longitude=longitude)
    preferences = {
        name: value
        for name, value in (("travel_mode", travel_mode), ("travel_range_km", travel_range_km))
        if value is not None
    }
    if preferences:
        Volunteer.objects.filter(pk=volunteer.pk).update(**preferences)
        for name, value in preferences.items():
            setattr(volunteer, name, value)
    if location_given:
        volunteer_update_location(volunteer=volunteer, latitude=latitude, longitude=longitude)
    if on_duty is not None:
        volunteer_set_duty(volunteer=volunteer, on_duty=on_duty)
    return volunteer


# --- least data: what is forgotten after a while (issue 10; README, "Personal data") ----


def volunteer_positions_forget(*, reported_before) -> int:
    """Forget the last positions reported before `reported_before`: where someone was
    weeks ago is nobody's business, and too old to send anyone from. The engine looks
    for them at home again (dispatch.availability)."""
    stale = Volunteer.objects.filter(last_located_at__lt=reported_before)
    with transaction.atomic():
        volunteer_ids = list(stale.select_for_update().values_list("pk", flat=True))
        stale.filter(pk__in=volunteer_ids).update(
            last_latitude=None, last_longitude=None, last_located_at=None
        )
        availability_sync_on_commit(volunteer_ids=volunteer_ids)
    return len(volunteer_ids)


def tokens_expire(*, created_before) -> int:
    """Delete API tokens issued before `created_before`: a phone then signs in again,
    and a token copied off a lost phone stops working by itself."""
    deleted, _by_model = Token.objects.filter(created__lt=created_before).delete()
    return deleted
