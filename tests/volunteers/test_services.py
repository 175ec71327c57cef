import math
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone
from rest_framework.authtoken.models import Token

from dispatch.models import DeploymentEvent, EventKind
from volunteers.models import Volunteer
from volunteers.selectors import township_nearest
from volunteers.services import (
    LocationError,
    tokens_expire,
    volunteer_positions_forget,
    volunteer_set_duty,
    volunteer_update_location,
    volunteer_update_self,
)

DUTY_KINDS = (EventKind.VOLUNTEER_ON_DUTY, EventKind.VOLUNTEER_OFF_DUTY)

# 龙湖镇 in the north; the seat by the two downtown subdistricts.
LONGHU = (34.61, 113.68)
CITY_SEAT = (34.40, 113.74)


def duty_events():
    return list(
        DeploymentEvent.objects.filter(kind__in=DUTY_KINDS).values_list(
            "kind", "volunteer_id", "actor_id"
        )
    )


def stored(volunteer) -> Volunteer:
    return Volunteer.objects.get(pk=volunteer.pk)


# --- duty -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_logs_going_on_duty_once(volunteer):
    volunteer_set_duty(volunteer=volunteer, on_duty=True)

    assert stored(volunteer).on_duty is True
    assert duty_events() == [(EventKind.VOLUNTEER_ON_DUTY, volunteer.pk, volunteer.user_id)]
    assert DeploymentEvent.objects.get().data == {"township": volunteer.township_id}


@pytest.mark.django_db
def test_it_logs_going_off_duty_once(make_volunteer):
    volunteer = make_volunteer("13800000002", on_duty=True)

    volunteer_set_duty(volunteer=volunteer, on_duty=False)

    assert stored(volunteer).on_duty is False
    assert duty_events() == [(EventKind.VOLUNTEER_OFF_DUTY, volunteer.pk, volunteer.user_id)]


@pytest.mark.django_db
def test_it_logs_nothing_when_the_duty_state_does_not_change(volunteer):
    volunteer_set_duty(volunteer=volunteer, on_duty=False)
    volunteer_set_duty(volunteer=volunteer, on_duty=True)
    volunteer_set_duty(volunteer=volunteer, on_duty=True)

    assert stored(volunteer).on_duty is True
    assert [kind for kind, _, _ in duty_events()] == [EventKind.VOLUNTEER_ON_DUTY]


@pytest.mark.django_db
def test_it_logs_each_real_change_in_order(volunteer):
    for on_duty in (True, False, False, True):
        volunteer_set_duty(volunteer=volunteer, on_duty=on_duty)

    assert [kind for kind, _, _ in duty_events()] == [
        EventKind.VOLUNTEER_ON_DUTY,
        EventKind.VOLUNTEER_OFF_DUTY,
        EventKind.VOLUNTEER_ON_DUTY,
    ]


@pytest.mark.django_db
def test_it_goes_by_the_stored_duty_state_not_a_stale_copy(volunteer):
    # Two phones of one volunteer: the second still holds the profile it loaded
    # before the first one went on duty.
    stale = stored(volunteer)
    volunteer_set_duty(volunteer=volunteer, on_duty=True)

    volunteer_set_duty(volunteer=stale, on_duty=True)

    assert len(duty_events()) == 1
    assert stale.on_duty is True


@pytest.mark.django_db
def test_it_logs_the_coordinator_who_changed_the_duty_state(volunteer, coordinator):
    volunteer_set_duty(volunteer=volunteer, on_duty=True, actor=coordinator)

    assert duty_events() == [(EventKind.VOLUNTEER_ON_DUTY, volunteer.pk, coordinator.pk)]


# --- location ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_stores_a_volunteer_position_and_when_it_was_taken(volunteer):
    before = timezone.now()

    volunteer_update_location(volunteer=volunteer, latitude=34.61, longitude=113.68)

    row = stored(volunteer)
    assert (row.last_latitude, row.last_longitude) == LONGHU
    assert before <= row.last_located_at <= timezone.now()
    assert volunteer.last_located_at == row.last_located_at


@pytest.mark.django_db
def test_it_replaces_an_earlier_position(volunteer):
    volunteer_update_location(volunteer=volunteer, latitude=34.61, longitude=113.68)
    first = stored(volunteer).last_located_at

    volunteer_update_location(volunteer=volunteer, latitude=34.40, longitude=113.74)

    row = stored(volunteer)
    assert (row.last_latitude, row.last_longitude) == CITY_SEAT
    assert row.last_located_at >= first


@pytest.mark.django_db
def test_it_does_not_log_positions(volunteer):
    volunteer_update_location(volunteer=volunteer, latitude=34.61, longitude=113.68)

    assert not DeploymentEvent.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(91, 113.68), (-90.01, 113.68), (34.61, 180.5), (34.61, -181), (math.nan, 113.68)],
)
def test_it_refuses_a_position_out_of_range(volunteer, latitude, longitude):
    located_at = timezone.now() - timedelta(minutes=5)
    Volunteer.objects.filter(pk=volunteer.pk).update(
        last_latitude=34.40, last_longitude=113.74, last_located_at=located_at
    )

    with pytest.raises(LocationError):
        volunteer_update_location(volunteer=volunteer, latitude=latitude, longitude=longitude)

    row = stored(volunteer)
    assert (row.last_latitude, row.last_longitude, row.last_located_at) == (
        *CITY_SEAT,
        located_at,
    )


# --- what a volunteer changes about themselves ------------------------------------------


@pytest.mark.django_db
def test_it_updates_everything_a_volunteer_sends_at_once(volunteer):
    volunteer_update_self(
        volunteer=volunteer,
        on_duty=True,
        latitude=34.61,
        longitude=113.68,
        travel_mode="boat",
        travel_range_km=30,
    )

    row = stored(volunteer)
    assert row.on_duty is True
    assert (row.last_latitude, row.last_longitude) == LONGHU
    assert row.last_located_at is not None
    assert (row.travel_mode, row.travel_range_km) == ("boat", 30)
    assert [kind for kind, _, _ in duty_events()] == [EventKind.VOLUNTEER_ON_DUTY]


@pytest.mark.django_db
def test_it_leaves_alone_what_a_volunteer_does_not_send(volunteer):
    volunteer_update_self(volunteer=volunteer, travel_range_km=5)

    row = stored(volunteer)
    assert row.travel_range_km == 5
    assert (row.on_duty, row.travel_mode, row.last_located_at) == (False, "car", None)
    assert not DeploymentEvent.objects.exists()


@pytest.mark.django_db
def test_it_changes_nothing_when_the_position_is_out_of_range(volunteer):
    with pytest.raises(LocationError):
        volunteer_update_self(
            volunteer=volunteer,
            on_duty=True,
            travel_mode="foot",
            travel_range_km=5,
            latitude=91,
            longitude=113.68,
        )

    row = stored(volunteer)
    assert (row.on_duty, row.travel_mode, row.travel_range_km) == (False, "car", 15)
    assert row.last_latitude is None
    assert not DeploymentEvent.objects.exists()


@pytest.mark.django_db
def test_it_changes_nothing_when_the_travel_range_is_refused(volunteer):
    # Only the database refuses it today; a check in Python would be as good.
    with pytest.raises((IntegrityError, ValidationError, ValueError)):
        volunteer_update_self(
            volunteer=volunteer, on_duty=True, latitude=34.61, longitude=113.68, travel_range_km=0
        )

    row = stored(volunteer)
    assert (row.on_duty, row.travel_range_km, row.last_latitude) == (False, 15, None)
    assert not DeploymentEvent.objects.exists()


@pytest.mark.django_db
def test_it_leaves_the_callers_copy_as_stored_when_it_changes_nothing(volunteer):
    with pytest.raises(LocationError):
        volunteer_update_self(volunteer=volunteer, travel_range_km=5, latitude=91, longitude=113.68)

    assert volunteer.travel_range_km == stored(volunteer).travel_range_km == 15


@pytest.mark.django_db
def test_it_refuses_an_unknown_travel_mode(volunteer):
    with pytest.raises((IntegrityError, ValidationError, ValueError)):
        volunteer_update_self(volunteer=volunteer, travel_mode="rocket")

    assert stored(volunteer).travel_mode == "car"


@pytest.mark.django_db
def test_it_refuses_half_a_position(volunteer):
    with pytest.raises(LocationError):
        volunteer_update_self(volunteer=volunteer, on_duty=True, latitude=34.61)

    assert stored(volunteer).on_duty is False


# --- the nearest township ---------------------------------------------------------------


@pytest.mark.django_db
def test_it_places_the_north_in_longhu():
    assert township_nearest(latitude=34.61, longitude=113.68).name == "龙湖镇"


@pytest.mark.django_db
def test_it_places_the_city_seat_downtown():
    nearest = township_nearest(latitude=CITY_SEAT[0], longitude=CITY_SEAT[1])

    assert nearest.name in ("新建路街道", "新华路街道")


@pytest.mark.django_db
def test_it_places_a_point_next_to_a_township_seat_in_that_township():
    # 岗李乡 in the far south: not the downtown default.
    assert township_nearest(latitude=34.285, longitude=113.70).name == "岗李乡"


# --- least data --------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_forgets_positions_reported_long_ago(make_volunteer):
    long_ago = timezone.now() - timedelta(days=40)
    old = make_volunteer("13800000007", last_latitude=34.6, last_longitude=113.7)
    recent = make_volunteer("13800000008", last_latitude=34.5, last_longitude=113.6)
    Volunteer.objects.filter(pk=old.pk).update(last_located_at=long_ago)

    forgotten = volunteer_positions_forget(reported_before=timezone.now() - timedelta(days=30))

    assert forgotten == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.last_latitude, old.last_longitude, old.last_located_at) == (None, None, None)
    assert (recent.last_latitude, recent.last_longitude) == (34.5, 113.6)


@pytest.mark.django_db
def test_it_expires_old_tokens(volunteer, make_volunteer):
    old = Token.objects.create(user=volunteer.user)
    Token.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=100))
    fresh = Token.objects.create(user=make_volunteer("13800000009").user)

    expired = tokens_expire(created_before=timezone.now() - timedelta(days=90))

    assert expired == 1
    assert list(Token.objects.values_list("pk", flat=True)) == [fresh.pk]
