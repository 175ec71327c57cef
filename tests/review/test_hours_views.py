"""The review's hours page and its exports: who may see them, the tables, the date and
team filters, CSV / XLSX rows against the page's figures, formula-safe cells."""

import io
from datetime import datetime

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from dispatch.hours import hours_report
from tests.dispatch.test_reports import build_scene
from tests.review.test_views import client_for, csv_rows, downloaded
from volunteers.models import Team

pytestmark = [pytest.mark.usefixtures("live_index"), pytest.mark.django_db]


@pytest.fixture
def scene(coordinator, make_volunteer):
    return build_scene(coordinator=coordinator, make_volunteer=make_volunteer)


def urls() -> list[str]:
    return [
        reverse("review:hours"),
        reverse("review:hours-csv"),
        reverse("review:hours-xlsx"),
    ]


# --- who may see it -----------------------------------------------------------------------


def test_it_sends_whoever_is_signed_out_to_the_login(scene):
    for url in urls():
        response = client_for(None).get(url)

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_it_refuses_volunteers(scene):
    for url in urls():
        assert client_for(scene.people["r1"].user).get(url).status_code == 403


def test_it_shows_commanders_and_coordinators_the_page(scene, commander, coordinator):
    for user in (commander, coordinator):
        response = client_for(user).get(reverse("review:hours"))

        assert response.status_code == 200
        assert "张伟" in response.content.decode()


def test_it_is_linked_from_the_review(scene, commander):
    page = client_for(commander).get(reverse("review:index")).content.decode()

    assert f'href="{reverse("review:hours")}"' in page


# --- the page ---------------------------------------------------------------------------


def test_it_shows_the_totals_per_team_and_volunteer(scene, commander):
    response = client_for(commander, "en").get(reverse("review:hours"))
    page = response.content.decode()

    report = response.context["report"]
    assert report.total.person_times == 7
    assert [row["row"].name for row in response.context["teams"]] == ["新郑市新联会", "蓝天救援队"]
    assert 'data-total="person-times"><b class="value">7</b>' in page
    # 7140 + 7555 + 5910 + 6480 + 7080 + 28800 s = 62965 s = 17.49 h
    assert 'data-total="hours"><b class="value">17.5</b>' in page
    assert f'data-volunteer="{scene.people["s1"].pk}"' in page
    assert scene.people["s1"].phone not in page  # no phone numbers for commanders


def test_it_narrows_to_days_and_a_team(scene, commander):
    client = client_for(commander)

    night = client.get(reverse("review:hours"), {"start": "2021-07-20", "end": "2021-07-20"})
    team = client.get(reverse("review:hours"), {"team": scene.blue_sky.pk})

    assert night.context["report"].total.person_times == 5
    assert team.context["report"].total.person_times == 4
    assert {row.name for row in team.context["report"].volunteers} == {
        "张伟",
        "刘洋",
        "陈刚",
        "杨帆",
    }


def test_it_shows_bad_filters_and_leaves_them_out(scene, commander):
    response = client_for(commander).get(
        reverse("review:hours"), {"start": "2021-07-22", "end": "2021-07-20"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors
    assert response.context["report"].total.person_times == 2  # from the 22nd on


def test_it_refuses_an_export_with_bad_filters(scene, commander):
    client = client_for(commander)

    assert client.get(reverse("review:hours-csv"), {"start": "no"}).status_code == 400
    assert client.get(reverse("review:hours-csv"), {"table": "phones"}).status_code == 400
    assert client.get(reverse("review:hours-xlsx"), {"team": "x"}).status_code == 400


# --- exports ------------------------------------------------------------------------------


def test_it_exports_the_volunteers_as_on_the_page(scene, commander):
    client = client_for(commander, "en")
    query = {"start": "2021-07-20", "end": "2021-07-31", "team": scene.association.pk}
    page = client.get(reverse("review:hours"), query)
    response = client.get(reverse("review:hours-csv"), {**query, "table": "volunteers"})

    rows = csv_rows(response)
    assert "tongxin-hours-volunteers-team-" in response["Content-Disposition"]
    assert rows[0][:6] == [
        "Volunteer no.",
        "Volunteer",
        "Teams",
        "Person-times",
        "Hours",
        "Ongoing",
    ]
    shown = [
        [
            str(row.volunteer_id),
            row.name,
            row.teams,
            str(row.tally.person_times),
            str(row.tally.hours),
        ]
        for row in page.context["report"].volunteers
    ]
    assert [row[:5] for row in rows[1:]] == shown
    assert {row[1] for row in rows[1:]} == {"黄勇", "吴芳", "徐静"}


def test_it_exports_the_teams_with_their_totals(scene, commander):
    rows = csv_rows(
        client_for(commander, "en").get(reverse("review:hours-csv"), {"table": "teams"})
    )

    assert rows[0] == ["Team", "Kind", "Volunteers", "Person-times", "Hours", "Ongoing"]
    assert rows[1] == ["新郑市新联会", "Association", "3", "3", "10.0", "0"]
    assert rows[2] == ["蓝天救援队", "Rescue team", "4", "4", "7.5", "0"]
    assert rows[-1] == ["Total", "", "7", "7", "17.5", "0"]


def test_it_exports_every_task_served(scene, commander):
    rows = csv_rows(
        client_for(commander, "en").get(reverse("review:hours-csv"), {"table": "tasks"})
    )

    assert len(rows) == 1 + 7
    sampler = next(row for row in rows if row[1] == "吴芳")
    assert sampler[8:12] == [
        "2021-07-21 20:06:00",  # accepted
        "2021-07-22 08:00:00",  # counted from the shift's start
        "2021-07-22 12:00:00",
        "4.0",
    ]
    boat = next(row for row in rows if row[1] == "陈刚")
    assert boat[6].startswith("蓝天-01")


def test_it_exports_a_workbook_of_the_same_figures(scene, commander):
    response = client_for(commander, "en").get(reverse("review:hours-xlsx"))

    assert response["Content-Disposition"].endswith('.xlsx"')
    workbook = load_workbook(io.BytesIO(downloaded(response)))
    teams, volunteers, tasks = workbook.worksheets
    team_rows = list(teams.iter_rows(values_only=True))
    assert team_rows[-1] == ("Total", None, 7, 7, 17.5, 0)
    report = hours_report()
    assert [row[:5] for row in list(volunteers.iter_rows(values_only=True))[1:]] == [
        (r.volunteer_id, r.name, r.teams, r.tally.person_times, float(r.tally.hours))
        for r in report.volunteers
    ]
    task_rows = list(tasks.iter_rows(values_only=True))
    assert len(task_rows) == 1 + 7
    assert isinstance(task_rows[1][8], datetime)


def test_it_keeps_a_team_name_from_becoming_a_formula(scene, commander):
    Team.objects.filter(pk=scene.blue_sky.pk).update(name="=HYPERLINK(1)")
    client = client_for(commander, "en")

    rows = csv_rows(client.get(reverse("review:hours-csv"), {"table": "teams"}))
    workbook = load_workbook(io.BytesIO(downloaded(client.get(reverse("review:hours-xlsx")))))

    assert [row[0] for row in rows if "HYPERLINK" in row[0]] == ["'=HYPERLINK(1)"]
    cell = next(c for c in workbook.worksheets[0]["A"] if "HYPERLINK" in str(c.value))
    assert cell.data_type == "s"


def test_it_speaks_chinese(scene, commander):
    client = client_for(commander, "zh-hans")

    page = client.get(reverse("review:hours")).content.decode()
    rows = csv_rows(client.get(reverse("review:hours-csv"), {"table": "teams"}))

    assert "工时与人次" in page
    assert rows[0][3] == "人次"
