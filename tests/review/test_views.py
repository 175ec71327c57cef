"""The review pages and exports: who may see them, filters, CSV / XLSX rows against the
log, the ICS-214 page, both languages."""

import csv
import io
import math
import re
from datetime import date, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client
from django.urls import reverse
from openpyxl import load_workbook

from dispatch.models import DeploymentEvent, EventKind
from dispatch.reports import LogFilter, incident_ics214, log_filtered
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_open
from review import exports, views
from tests.dispatch.test_reports import build_scene
from volunteers.models import Skill, Township, Volunteer
from volunteers.roles import Role

pytestmark = [pytest.mark.usefixtures("live_index"), pytest.mark.django_db]


@pytest.fixture
def scene(coordinator, make_volunteer):
    return build_scene(coordinator=coordinator, make_volunteer=make_volunteer)


def client_for(user, language: str | None = None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language) if language else Client()
    if user is not None:
        client.force_login(user)
    return client


def pages(scene) -> list[str]:
    pk = scene.flood.pk
    return [
        reverse("review:index"),
        reverse("review:log-csv"),
        reverse("review:log-xlsx"),
        reverse("review:timeline", args=[pk]),
        reverse("review:ics214", args=[pk]),
        reverse("review:ics214-csv", args=[pk]),
    ]


def downloaded(response) -> bytes:
    """A download's body. It is made as it is sent, by an asynchronous iterator (an ASGI
    server would otherwise read it whole into memory first), which the synchronous test
    client can only read whole, and says so."""
    assert response.streaming
    with pytest.warns(Warning, match="must consume asynchronous iterators"):
        return b"".join(response)


def csv_rows(response) -> list[list[str]]:
    text = downloaded(response).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads the Chinese right with the BOM
    return list(csv.reader(io.StringIO(text[1:])))


# --- who may see it -----------------------------------------------------------------------


def test_it_sends_whoever_is_signed_out_to_the_login(scene):
    for url in pages(scene):
        response = client_for(None).get(url)

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_it_refuses_volunteers(scene):
    volunteer = scene.people["r1"]

    for url in pages(scene):
        assert client_for(volunteer.user).get(url).status_code == 403, url


def test_it_lets_commanders_and_coordinators_read_everything(scene, commander, coordinator):
    for user in (commander, coordinator):
        for url in pages(scene):
            assert client_for(user).get(url).status_code == 200, url


def test_it_lets_a_volunteer_who_also_commands_in(scene, make_user):
    volunteer = scene.people["r2"]
    volunteer.user.groups.add(*make_user("other", Role.COMMANDER).groups.all())

    assert client_for(volunteer.user).get(reverse("review:index")).status_code == 200


def test_it_answers_only_get(scene, commander):
    assert client_for(commander).post(reverse("review:index")).status_code == 405


def test_it_answers_404_for_an_unknown_incident(scene, commander):
    assert client_for(commander).get(reverse("review:timeline", args=[999999])).status_code == 404


# --- the review page ----------------------------------------------------------------------


def test_it_shows_totals_charts_and_the_log(scene, commander):
    response = client_for(commander).get(reverse("review:index"))
    html = response.content.decode()

    cards = {card["key"]: card["value"] for card in response.context["cards"]}
    assert cards["incidents"] == "3"
    assert cards["vehicle-dispatches"] == "3"
    assert cards["people-moved"] == "60"
    assert cards["shifts-staffed"] == "1 / 2"
    assert html.count("<svg") == 6
    assert response.context["page"].paginator.count == DeploymentEvent.objects.count()


def test_it_says_what_the_testing_site_figures_count(scene, commander):
    url = reverse("review:index")

    chinese = client_for(commander).get(url).content.decode()
    english = client_for(commander, "en").get(url).content.decode()

    def card(html):
        found = re.search(r'data-total="shifts-staffed">(.*?)</div>', html, re.S)
        return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())

    assert card(english) == "1 of 2 Testing-site shifts fully staffed full shifts at 1 testing site"
    assert card(chinese) == "1 / 2 采样点满员班次 / 总班次 满员班次分布在1个采样点"


def test_it_filters_the_log_to_an_incident(scene, commander):
    response = client_for(commander).get(reverse("review:index"), {"incident": scene.flood.pk})

    seqs = [row.seq for row in response.context["rows"]]
    expected = list(
        log_filtered(filters=LogFilter(incident=scene.flood.pk)).values_list("seq", flat=True)
    )
    assert seqs == expected[::-1][: len(seqs)]  # newest first
    assert {row.incident_id for row in response.context["rows"]} == {scene.flood.pk}
    cards = {card["key"]: card["value"] for card in response.context["cards"]}
    assert (cards["incidents"], cards["boats"], cards["people-moved"]) == ("1", "2", "35")


def test_it_filters_by_date_township_team_and_volunteer(scene, commander):
    client = client_for(commander)
    xincun = Township.objects.get(name="新村镇")

    by_day = client.get(reverse("review:index"), {"start": "2021-07-22", "end": "2021-07-22"})
    by_township = client.get(reverse("review:index"), {"township": xincun.pk})
    by_team = client.get(reverse("review:index"), {"team": scene.blue_sky.pk})
    by_phone = client.get(reverse("review:index"), {"volunteer": "13900000011"})
    by_name = client.get(reverse("review:index"), {"volunteer": "陈刚", "kind": "offer"})

    assert by_day.context["page"].paginator.count == 5
    assert {row.incident_id for row in by_township.context["rows"]} == {scene.evacuation.pk}
    assert by_team.context["form"].is_valid()
    assert {row.vehicle.split(" ")[0] for row in by_phone.context["rows"]} == {"蓝天-01"}
    assert [row.kind for row in by_name.context["rows"]] == [
        "offer.accepted",
        "offer.seen",
        "offer.delivered",
        "offer.made",
    ]  # newest first


def test_it_shows_bad_filters_instead_of_failing(scene, commander):
    client = client_for(commander)

    reversed_range = client.get(
        reverse("review:index"), {"start": "2021-07-22", "end": "2021-07-20"}
    )
    unknown = client.get(reverse("review:index"), {"volunteer": "没有这个人", "incident": "x"})
    garbage = client.get(reverse("review:index"), {"start": "yesterday", "page": "many"})

    for response in (reversed_range, unknown, garbage):
        assert response.status_code == 200
        assert response.context["form"].errors
    assert "end" in reversed_range.context["form"].errors
    assert {"volunteer", "incident"} <= set(unknown.context["form"].errors)
    assert client.get(reverse("review:log-csv"), {"start": "yesterday"}).status_code == 400
    assert client.get(reverse("review:log-xlsx"), {"team": "0"}).status_code == 400


def pager(response) -> dict[str, str]:
    """The pager's buttons as the page shows them: rel → label."""
    html = response.content.decode()
    nav = html[html.index('<nav class="pages">') :]
    nav = nav[: nav.index("</nav>")]
    return {
        rel: nav.split(f'rel="{rel}"')[1].split(">", 1)[1].split("</a>")[0].strip(" ‹›")
        for rel in ("prev", "next")
        if f'rel="{rel}"' in nav
    }


def test_it_opens_the_log_on_the_newest_event(scene, commander):
    response = client_for(commander, "en").get(reverse("review:index"))

    rows = response.context["rows"]
    newest = DeploymentEvent.objects.order_by("-seq").first()
    assert rows[0].seq == newest.seq
    assert [row.seq for row in rows] == sorted((row.seq for row in rows), reverse=True)
    assert 'aria-current="true" data-order="newest"' in response.content.decode()
    assert pager(response) == {"next": "Earlier"}


def test_it_pages_the_log_from_the_newest_back(scene, commander):
    client = client_for(commander, "en")
    total = DeploymentEvent.objects.count()
    assert total > 50

    first = client.get(reverse("review:index"))
    second = client.get(reverse("review:index"), {"page": 2})

    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == total - 50
    assert second.context["rows"][0].seq == first.context["rows"][-1].seq - 1
    assert second.context["rows"][-1].seq == DeploymentEvent.objects.order_by("seq").first().seq
    assert 'href="?page=2"' in first.content.decode()
    assert pager(second) == {"prev": "Later"}


def test_it_pages_the_log_oldest_first_when_asked(scene, commander, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 20)
    client = client_for(commander, "en")
    query = {"order": "oldest", "incident": scene.flood.pk}
    seqs = list(
        log_filtered(filters=LogFilter(incident=scene.flood.pk)).values_list("seq", flat=True)
    )
    assert len(seqs) > 40

    first = client.get(reverse("review:index"), query)
    second = client.get(reverse("review:index"), {**query, "page": 2})
    html = first.content.decode()

    assert [row.seq for row in first.context["rows"]] == seqs[:20]
    assert [row.seq for row in second.context["rows"]] == seqs[20:40]
    assert pager(first) == {"next": "Later"}
    assert pager(second) == {"prev": "Earlier", "next": "Later"}
    # The filters keep the order, and the order switch keeps the filters.
    assert '<input type="hidden" name="order" value="oldest">' in html
    assert f'href="?incident={scene.flood.pk}" data-order="newest"' in html
    newest = client.get(reverse("review:index"), {"incident": scene.flood.pk})
    assert newest.context["rows"][0].seq == seqs[-1]


def test_it_exports_the_log_oldest_first_whichever_order_the_page_shows(scene, commander):
    client = client_for(commander)

    for order in ("", "oldest"):
        header, *rows = csv_rows(client.get(reverse("review:log-csv"), {"order": order}))
        seqs = [int(row[0]) for row in rows]
        assert seqs == sorted(seqs)


# --- exports ------------------------------------------------------------------------------


def test_it_exports_the_filtered_log_as_csv_row_for_row(scene, commander):
    response = client_for(commander).get(reverse("review:log-csv"), {"incident": scene.flood.pk})

    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = csv_rows(response)
    events = list(log_filtered(filters=LogFilter(incident=scene.flood.pk)))
    assert len(header) == 15
    assert [int(row[0]) for row in rows] == [event.seq for event in events]
    assert [row[2] for row in rows] == [event.kind for event in events]
    assert {row[4] for row in rows} == {str(scene.flood.pk)}
    assert {row[5] for row in rows} == {"龙湖镇 泰山村 群众被困"}
    assert rows[0][1] == "2021-07-20 18:00:00"  # local time, to the second
    completed = [row for row in rows if row[2] == EventKind.ASSIGNMENT_COMPLETED]
    assert sorted(row[13] for row in completed) == ["", "12", "18", "5"]
    declined = next(row for row in rows if row[2] == EventKind.OFFER_DECLINED)
    assert (declined[10], declined[14]) == ("李娜", "车坏了")


def test_it_streams_an_export_to_an_asgi_client_chunk_by_chunk(scene, commander, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK_ROWS", 2)
    client = AsyncClient()
    client.force_login(commander)

    async def chunks_of(url):
        response = await client.get(url)
        return [chunk async for chunk in response.streaming_content]

    chunks = async_to_sync(chunks_of)(reverse("review:log-csv"))

    text = b"".join(chunks).decode()
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(rows) == DeploymentEvent.objects.count() + 1
    # The mark, then two rows at a time.
    assert len(chunks) == 1 + math.ceil(len(rows) / 2)


def test_it_exports_everything_unfiltered(scene, commander):
    header, *rows = csv_rows(client_for(commander).get(reverse("review:log-csv")))

    assert [int(row[0]) for row in rows] == list(
        DeploymentEvent.objects.order_by("seq").values_list("seq", flat=True)
    )


def test_it_exports_the_same_rows_as_xlsx(scene, commander):
    client = client_for(commander)
    query = {"start": "2021-07-20", "end": "2021-07-20", "kind": "offer"}

    workbook = load_workbook(io.BytesIO(downloaded(client.get(reverse("review:log-xlsx"), query))))
    header, *rows = csv_rows(client.get(reverse("review:log-csv"), query))

    sheet = workbook.worksheets[0]
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert [str(value) for value in cells[0]] == header
    assert len(cells) - 1 == len(rows) > 0
    for xlsx_row, csv_row in zip(cells[1:], rows, strict=True):
        assert xlsx_row[0] == int(csv_row[0])
        assert xlsx_row[1].strftime("%Y-%m-%d %H:%M:%S") == csv_row[1]
        assert [("" if v is None else str(v)) for v in xlsx_row[2:]] == csv_row[2:]


def test_it_exports_the_totals_as_numbers(scene, commander):
    response = client_for(commander, "en").get(reverse("review:log-xlsx"))

    sheet = load_workbook(io.BytesIO(downloaded(response))).worksheets[1]
    totals = {label.value: figure for label, figure in sheet.iter_rows()}
    assert {label: cell.value for label, cell in totals.items()} == {
        "Incidents": 3,
        "Vehicle dispatches": 3,
        "Boats": 2,
        "Boat dispatches": 2,
        "Person-times": 4,
        "People moved": 60,
        "Testing-site shifts": 2,
        "Testing-site shifts fully staffed": 1,
        "Testing sites with a full shift": 1,
        "Median time to accept": timedelta(seconds=90),
        "Median time to arrive": timedelta(seconds=1380),
        # Activities (briefings, issue 13): none in this scene.
        "Flood-safety talks": 0,
        "People reached by safety talks": 0,
    }
    # Numbers a spreadsheet adds up, not text; durations as Excel time (days) shown
    # as hours:minutes:seconds.
    assert {cell.data_type for cell in totals.values()} <= {"n", "d"}
    assert totals["Median time to accept"].number_format == "[h]:mm:ss"


def test_it_keeps_free_text_from_becoming_a_spreadsheet_formula(scene, commander):
    client = client_for(commander)
    DeploymentEvent.objects.filter(kind=EventKind.OFFER_DECLINED).update(
        data={"reason": '=HYPERLINK("http://example.com")'}
    )
    query = {"kind": "offer.declined"}

    header, *rows = csv_rows(client.get(reverse("review:log-csv"), query))
    workbook = load_workbook(io.BytesIO(downloaded(client.get(reverse("review:log-xlsx"), query))))

    assert {row[14] for row in rows} == {'\'=HYPERLINK("http://example.com")'}
    cells = list(workbook.worksheets[0].iter_rows(min_row=2))
    assert {row[14].data_type for row in cells} == {"s"}
    assert {row[14].value for row in cells} == {'=HYPERLINK("http://example.com")'}


def test_it_narrows_a_range_far_wider_than_the_data(scene, commander):
    response = client_for(commander).get(
        reverse("review:index"), {"start": "1970-01-01", "end": "2099-12-31"}
    )
    refused = client_for(commander).get(reverse("review:log-csv"), {"end": "9999-12-31"})

    assert response.status_code == 200
    assert response.context["unit"] == "每小时"  # the data spans under two days
    assert refused.status_code == 400


# --- one incident -------------------------------------------------------------------------


def test_it_shows_the_incident_timeline(scene, commander):
    response = client_for(commander).get(reverse("review:timeline", args=[scene.flood.pk]))
    html = response.content.decode()

    lines = {cells["line"].resource: cells for cells in response.context["lines"]}
    zhang = lines["张伟"]
    assert (zhang["offered"], zhang["delivered"], zhang["seen"]) == (
        "18:00:00",
        "18:00:05",
        "18:00:20",
    )
    assert "18:01:00" in zhang["answer"]
    assert (zhang["en_route"], zhang["on_scene"], zhang["finished"]) == (
        "18:05:00",
        "18:21:00",
        "20:00:00",
    )
    assert zhang["people_moved"] == "5"
    assert lines["王强"]["seen"] == ""
    assert "车坏了" in html
    assert 'class="timeline-chart"' in html
    # Chinese punctuation in Chinese (the commander's default language).
    assert f"<h1>时间线：#{scene.flood.pk} 龙湖镇 泰山村 群众被困</h1>" in html


def test_it_shows_an_incident_nobody_was_offered_yet(commander, coordinator):
    incident = incident_open(
        reporter=coordinator,
        kind=Incident.Kind.SEARCH,
        title="梨河镇 老人走失",
        latitude=34.335,
        longitude=113.842,
        needs=[NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"))],
    )
    client = client_for(commander)

    timeline = client.get(reverse("review:timeline", args=[incident.pk]))
    form = client.get(reverse("review:ics214", args=[incident.pk]))

    assert timeline.status_code == form.status_code == 200
    assert "本事件尚未派单" in timeline.content.decode()
    assert "本事件没有资源出动" in form.content.decode()


def test_it_renders_the_ics214_activity_log(scene, commander):
    response = client_for(commander, "en").get(reverse("review:ics214", args=[scene.flood.pk]))
    html = response.content.decode()

    assert "ACTIVITY LOG (ICS 214)" in html
    assert "1. Incident name:" in html and "龙湖镇 泰山村 群众被困" in html
    assert "2. Operational period:" in html and "July 20, 2021" in html
    for name in ("张伟", "刘洋", "蓝天-01", "蓝天-02"):
        assert name in html
    activities = response.context["form"].activities
    assert activities[0].text.startswith("Incident opened")
    assert any("Declined · 李娜" in activity.text for activity in activities)
    assert any("18 people moved" in activity.text for activity in activities)
    assert "Seen ·" not in html  # receipts stay on the timeline


def ics214_boxes(html: str) -> dict[str, str]:
    """The form's labelled boxes as printed: label → what follows it, tags dropped."""
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    boxes = {}
    for label in ("3. Name:", "5. Home agency (and unit):", "8. Prepared by: Name:"):
        after = text.split(label, 1)[1]
        boxes[label] = re.split(r" (?:\d\. [A-Z]|Position/title:)", after, maxsplit=1)[0].strip()
    return boxes


def test_it_names_the_people_who_went_and_their_teams(scene, commander):
    client = client_for(commander, "en")

    response = client.get(reverse("review:ics214", args=[scene.flood.pk]))
    rows = csv_rows(client.get(reverse("review:ics214-csv", args=[scene.flood.pk])))

    html = response.content.decode()
    shown = re.findall(r"<tr><td>(.*?)</td><td>.*?</td><td>(.*?)</td></tr>", html)
    assert ("张伟", "蓝天救援队") in shown and ("刘洋", "蓝天救援队") in shown
    resources = rows[rows.index(["Name", "ICS position", "Home agency (and unit)"]) + 1 :]
    assert ["张伟", "2 × Rescue", "蓝天救援队"] in resources
    # Names, never the logins behind them (a volunteer's login is their phone number).
    assert scene.people["r1"].user.username not in html


def test_it_names_a_coordinator_who_is_a_volunteer_and_their_team(scene, commander, coordinator):
    volunteer = Volunteer.objects.create(
        user=coordinator, name="马东", phone="13900000099", township=scene.flood.township
    )
    volunteer.teams.add(scene.blue_sky)
    commander.first_name = "王建国"
    commander.save()

    html = client_for(commander, "en").get(reverse("review:ics214", args=[scene.flood.pk]))

    assert ics214_boxes(html.content.decode()) == {
        "3. Name:": "马东",
        "5. Home agency (and unit):": "蓝天救援队",
        "8. Prepared by: Name:": "王建国",
    }


def test_it_says_when_a_login_has_no_name_on_record(scene, commander):
    client = client_for(commander, "en")

    html = client.get(reverse("review:ics214", args=[scene.flood.pk])).content.decode()
    rows = csv_rows(client.get(reverse("review:ics214-csv", args=[scene.flood.pk])))
    chinese = client_for(commander).get(reverse("review:ics214", args=[scene.flood.pk]))

    boxes = ics214_boxes(html)
    assert boxes["3. Name:"] == "coordinator (login: no name on record)"
    assert boxes["8. Prepared by: Name:"] == "commander (login: no name on record)"
    assert ["3. Name", "coordinator (login: no name on record)"] in rows
    assert rows[-1][:2] == ["8. Prepared by", "commander (login: no name on record)"]
    assert "coordinator（账号，未登记姓名）" in chinese.content.decode()


def test_it_exports_the_ics214_as_csv(scene, commander):
    response = client_for(commander, "en").get(reverse("review:ics214-csv", args=[scene.flood.pk]))
    rows = csv_rows(response)

    assert rows[0] == ["ICS 214 activity log"]
    assert rows[1] == ["1. Incident name", f"#{scene.flood.pk} 龙湖镇 泰山村 群众被困"]
    activities = rows[rows.index(["Date/time", "Notable activities"]) + 1 :]
    assert activities[0][0] == "2021-07-20 18:00:00"
    expected = incident_ics214(incident=scene.flood).activities
    assert [row[1] for row in activities[: len(expected)]] != []
    assert len(activities) - 2 == len(expected)  # a blank line and "8. Prepared by" follow
    assert activities[-1][0] == "8. Prepared by"


# --- languages ----------------------------------------------------------------------------


def test_it_speaks_chinese_by_default_and_english_when_asked(scene, commander):
    url = reverse("review:index") + "?start=2021-07-20&end=2021-07-22"
    chinese = client_for(commander).get(url).content.decode()
    english = client_for(commander, "en").get(url).content.decode()

    assert "部署日志回顾" in chinese and "车辆出动" in chinese and "人次" in chinese
    assert "Deployment review" in english and "Vehicle dispatches" in english
    assert "Person-times" in english
    assert "2021年7月20日" in chinese
    assert "07/20/2021" in english
    assert "接受" in chinese and "Accepted" in english
    assert "1分30秒" in chinese and "1 min 30 s" in english  # the median time to accept


def test_it_follows_the_language_switch(scene, commander):
    client = client_for(commander)
    client.post(reverse("set_language"), {"language": "en", "next": "/review/"})

    html = client.get(reverse("review:timeline", args=[scene.flood.pk])).content.decode()

    assert "Who was offered, and what followed" in html
    assert "Assault boat" in html


def test_it_names_townships_and_skills_in_the_language(scene, commander):
    url = reverse("review:index")
    query = {"incident": scene.flood.pk}
    chinese = client_for(commander).get(url, query).content.decode()
    english = client_for(commander, "en").get(url, query).content.decode()

    assert "龙湖镇" in chinese and "救援" in chinese
    assert "Longhu Town" in english and "2 × Rescue" in english


def test_it_shows_times_on_one_24_hour_clock_in_english(scene, commander):
    client = client_for(commander, "en")
    pk = scene.flood.pk
    urls = [
        reverse("review:index"),
        reverse("review:timeline", args=[pk]),
        reverse("review:ics214", args=[pk]),
        reverse("review:hours"),
    ]

    pages = {url: client.get(url).content.decode() for url in urls}

    for url, html in pages.items():
        assert not re.search(r"\b(a\.m\.|p\.m\.|noon|midnight)", html), url
    timeline = pages[reverse("review:timeline", args=[pk])]
    assert "July 20, 2021 18:00" in timeline and "July 20, 2021 20:30" in timeline
    assert "Time from: 18:00" in pages[reverse("review:ics214", args=[pk])]


def test_it_shows_the_day_when_a_range_is_one_day(scene, commander):
    response = client_for(commander).get(
        reverse("review:index"), {"start": date(2021, 7, 20).isoformat(), "end": "2021-07-20"}
    )

    assert response.context["unit"] == "每小时"
