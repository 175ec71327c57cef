"""The rota of a staffed site (issue 13, item 5): who holds which shift window of a day,
the places still open, and the spread of shift hours booked across volunteers that
week; as a service, over the API and as the coordinators' page."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from dispatch import services
from dispatch.models import Assignment, AssignmentStatus
from dispatch.rota import site_rota
from incidents.models import Need
from tests.dispatch.scenes import open_rescue, open_testing_site

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

CITY = ZoneInfo("Asia/Shanghai")
DAY = date(2030, 7, 22)  # a Monday, far ahead: every shift taken is reserved


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=CITY)


def take(need, volunteer) -> Assignment:
    offer = Assignment.objects.create(need=need, volunteer=volunteer, status="offered")
    return services.assignment_accept(assignment_id=offer.pk, volunteer=volunteer)


@pytest.fixture
def site(coordinator, make_volunteer):
    """A testing site with three 4-hour shifts on DAY (08:00, 13:00 two places, 18:00)
    and one on Wednesday; 吴芳 holds 08:00 and Wednesday, 徐静 13:00, nobody 18:00."""
    needs = open_testing_site(
        coordinator, starts=[at(DAY, 8), at(DAY, 13), at(DAY, 18), at(DAY + timedelta(2), 8)]
    )
    Need.objects.filter(pk=needs[1].pk).update(count=2)
    wu = make_volunteer("13900000031", name="吴芳", skills=("sampling",))
    xu = make_volunteer("13900000032", name="徐静", skills=("sampling",))
    take(needs[0], wu)
    take(needs[1], xu)
    take(needs[3], wu)
    return {"needs": needs, "incident": needs[0].incident, "wu": wu, "xu": xu}


def test_it_shows_who_holds_each_window_of_the_day_and_the_gaps(site):
    rota = site_rota(incident=site["incident"], day=DAY)

    assert [(w.start.astimezone(CITY).hour, w.count, w.open) for w in rota.windows] == [
        (8, 1, 0),
        (13, 2, 1),
        (18, 1, 1),
    ]
    assert [[h.name for h in w.holders] for w in rota.windows] == [["吴芳"], ["徐静"], []]
    assert {h.status for w in rota.windows for h in w.holders} == {AssignmentStatus.RESERVED}
    assert [w.start.astimezone(CITY).hour for w in rota.gaps] == [13, 18]
    assert rota.open_places == 2
    assert site_rota(incident=site["incident"], day=DAY + timedelta(1)).windows == []


def test_a_shift_given_up_opens_its_window_again(site):
    first = site["needs"][0].assignments.get()

    services.assignment_give_up(assignment_id=first.pk, volunteer=site["wu"])

    (window, *_rest) = site_rota(incident=site["incident"], day=DAY).windows
    assert (window.holders, window.open) == ([], 1)


def test_it_spreads_the_hours_booked_that_week_across_volunteers(site, make_volunteer):
    rota = site_rota(incident=site["incident"], day=DAY + timedelta(days=3))  # Thursday

    spread = rota.spread
    assert spread.week_start == DAY
    assert [(row.name, row.hours, row.shifts) for row in spread.volunteers] == [
        ("吴芳", Decimal("8.0"), 2),
        ("徐静", Decimal("4.0"), 1),
    ]
    assert (spread.least, spread.middle, spread.most) == (
        Decimal("4.0"),
        Decimal("6.0"),
        Decimal("8.0"),
    )
    # The next week is another week.
    assert site_rota(incident=site["incident"], day=DAY + timedelta(7)).spread.volunteers == []


def test_the_api_gives_the_rota(site, coordinator, api):
    answer = api(coordinator).get(f"/api/incidents/{site['incident'].pk}/rota/?day={DAY}")

    assert answer.status_code == 200
    body = answer.json()
    assert [w["open"] for w in body["windows"]] == [0, 1, 1]
    assert body["windows"][0]["holders"] == [
        {"volunteer": site["wu"].pk, "name": "吴芳", "status": "reserved"}
    ]
    assert body["hours"]["min"] == "4.0" and body["hours"]["max"] == "8.0"
    assert body["open_places"] == 2


def test_the_api_refuses_a_bad_day_a_rescue_and_a_volunteer(site, coordinator, api):
    url = f"/api/incidents/{site['incident'].pk}/rota/"
    bad_day = api(coordinator).get(url + "?day=22-07-2030")
    assert bad_day.status_code == 400 and "day" in bad_day.json()
    rescue = open_rescue(coordinator)
    not_a_site = api(coordinator).get(f"/api/incidents/{rescue.pk}/rota/")
    assert not_a_site.status_code == 400
    assert "不是值守站点" in not_a_site.json()["detail"]
    assert api(site["wu"].user).get(url).status_code == 403


def test_the_page_shows_the_rota_to_a_coordinator(site, coordinator):
    client = Client()
    client.force_login(coordinator)

    page = client.get(f"/dashboard/incidents/{site['incident'].pk}/rota/?day={DAY}")

    assert page.status_code == 200
    html = page.content.decode()
    assert "吴芳" in html and "徐静" in html
    assert html.count('class="window gap"') == 2
    assert 'id="hours-median">6.0<' in html
    assert client.get(f"/dashboard/incidents/{site['incident'].pk}/rota/?day=x").status_code == 400


def test_the_page_is_not_for_volunteers(site):
    client = Client()
    client.force_login(site["wu"].user)

    assert client.get(f"/dashboard/incidents/{site['incident'].pk}/rota/").status_code == 403


def test_a_window_counts_whoever_worked_it_too(site):
    Assignment.objects.create(
        need=site["needs"][2], volunteer=site["xu"], status=AssignmentStatus.COMPLETED
    )

    rota = site_rota(incident=site["incident"], day=DAY)

    assert rota.windows[2].holders[0].status == AssignmentStatus.COMPLETED
    assert rota.windows[2].open == 0
