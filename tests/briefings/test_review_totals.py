"""Flood-safety talks in the commander's totals (review/): counted by when they began,
with the people they reached, on the page and in the XLSX."""

import io
import re
from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from briefings.models import Audience
from briefings.selectors import TalkTotals
from briefings.services import activity_record, broadcast_send
from dispatch.models import DeploymentEvent
from dispatch.reports import LogFilter, log_rows
from review.formats import safety_talks_of
from tests.review.test_views import downloaded
from volunteers.models import Team

pytestmark = pytest.mark.django_db


def on(day: int, hour: int = 10) -> datetime:
    return datetime(2021, 7, day, hour, tzinfo=timezone.get_current_timezone())


@pytest.fixture
def talks(coordinator, people, longhu, xincun):
    """Two talks in 龙湖镇 on 20 and 21 July (120 and 80 people), one in 新村镇 on the
    21st (45), and one a week later (300)."""
    record = lambda township, starts_at, size, staff: activity_record(  # noqa: E731
        recorded_by=coordinator,
        title="防汛安全宣讲",
        township=township,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        staff=staff,
        audience_size=size,
    )
    record(longhu, on(20), 120, [people["boatman"]])
    record(longhu, on(21), 80, [people["medic"]])
    record(xincun, on(21, 15), 45, [people["elsewhere"]])
    record(longhu, on(28), 300, [people["boatman"]])


def card(html: str) -> str:
    found = re.search(r'data-total="safety-talks">(.*?)</div>', html, re.S)
    assert found, "no safety-talks card"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


@pytest.mark.usefixtures("talks")
def test_the_review_counts_the_talks_of_its_period_and_the_people_reached(commander):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(commander)

    html = client.get(reverse("review:index") + "?start=2021-07-20&end=2021-07-22").content

    assert card(html.decode()) == "3 Flood-safety talks 245 people reached"


@pytest.mark.usefixtures("talks")
def test_the_talks_narrow_with_the_township_team_and_volunteer(people, longhu):
    team = Team.objects.create(name="蓝天救援队", kind=Team.Kind.RESCUE)
    team.members.add(people["medic"])
    july = {"start": on(20).date(), "end": on(31).date()}

    assert safety_talks_of(LogFilter(**july)) == TalkTotals(4, 545)
    assert safety_talks_of(LogFilter(**july, township=longhu.pk)) == TalkTotals(3, 500)
    assert safety_talks_of(LogFilter(**july, team=team.pk)) == TalkTotals(1, 80)
    assert safety_talks_of(LogFilter(**july, volunteer=people["boatman"].pk)) == TalkTotals(2, 420)
    # A talk belongs to no incident.
    assert safety_talks_of(LogFilter(**july, incident_kind="flood_rescue")) == TalkTotals(0, 0)


@pytest.mark.usefixtures("talks")
def test_the_xlsx_totals_have_the_talks(commander):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(commander)

    response = client.get(reverse("review:log-xlsx") + "?start=2021-07-20&end=2021-07-20")

    totals = load_workbook(io.BytesIO(downloaded(response)))["Totals"]
    totals = dict(totals.iter_rows(values_only=True))
    assert totals["Flood-safety talks"] == 1
    assert totals["People reached by safety talks"] == 120


@pytest.mark.usefixtures("talks")
def test_the_log_says_what_was_sent_and_what_was_given(coordinator, people, longhu):
    broadcast_send(author=coordinator, text="水位上涨", audience=Audience.TOWNSHIP, township=longhu)

    with translation.override("en"):
        details = [row.details for row in log_rows(DeploymentEvent.objects.order_by("seq"))]

    assert details[0] == "防汛安全宣讲, 120 people reached"
    assert details[-1] == "“水位上涨”, to 2 on duty"
