"""The commander's review in Chromium against the real server: sign in, filter the log to
an incident, open its timeline, download the CSV and hold it against the log shown; and
screenshots of the review, a timeline and the ICS-214 page in both languages."""

import csv

import pytest

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    elsewhere,
    offer_cells,
    screenshot,
    sign_in,
    signs_in_on_the_server,
)
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.test_reports import build_scene

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def scene(browser, coordinator, commander, make_volunteer, live_index):
    """Played before the server and worker start. The incidents are all resolved by the
    end, so the dispatch tasks the scene queued find nothing to do when the worker
    takes them; the index is emptied so that nothing else is offered either."""
    built = elsewhere(build_scene, coordinator=coordinator, make_volunteer=make_volunteer)
    live_index.replace_all({})
    signs_in_on_the_server(commander)
    signs_in_on_the_server(built.people["r1"].user)
    return built


def shown_rows(page) -> list[dict]:
    """The log table as the page shows it."""
    return page.eval_on_selector_all(
        "table.log-table tbody tr",
        """rows => rows.map(row => ({
            seq: row.dataset.seq,
            event: row.querySelector('td.event').innerText.trim(),
            incident: row.querySelector('td.incident a')?.innerText.trim() ?? '',
            who: row.querySelector('td.who').innerText.trim(),
        }))""",
    )


def test_a_commander_reviews_an_incident_and_exports_its_log(
    scene, commander, stack, browser, tmp_path
):
    context = browser.new_context(**DESKTOP, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    sign_in(page, stack, commander.username, DEMO_PASSWORD, next_path="/review/")

    # The whole log, with totals and charts, in Chinese (the browser's language).
    assert page.inner_text("h1") == "部署日志回顾"
    assert page.inner_text("[data-total=vehicle-dispatches] .value") == "3"
    assert page.inner_text("[data-total=people-moved] .value") == "60"
    assert page.locator("figure.chart svg").count() == 6
    shifts = page.locator("[data-total=shifts-staffed]")
    assert [shifts.locator(part).inner_text() for part in (".value", ".label", "small")] == [
        "1 / 2",
        "采样点满员班次 / 总班次",
        "满员班次分布在1个采样点",
    ]
    screenshot(page, "review-zh")

    # Filter the log to the flood.
    page.select_option("select[name=incident]", str(scene.flood.pk))
    page.click("#filters button[type=submit]")
    page.wait_for_url(f"**/review/?*incident={scene.flood.pk}*")
    rows = shown_rows(page)
    assert rows and {row["incident"] for row in rows} == {
        f"#{scene.flood.pk} 龙湖镇 泰山村 群众被困"
    }
    assert page.inner_text("[data-total=boats] .value") == "2"
    # Newest first: the flood's last entry heads the log.
    seqs = [int(row["seq"]) for row in rows]
    assert seqs == sorted(seqs, reverse=True)

    # The CSV of what is shown, row for row.
    with page.expect_download() as download_info:
        page.click("#export-csv")
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    with open(path, encoding="utf-8-sig", newline="") as exported:
        header, *records = list(csv.reader(exported))
    assert (header[0], header[1], header[3]) == ("序号", "时间（Asia/Shanghai）", "记录类型")
    # The file runs oldest first, as the page does when asked (the filter kept).
    page.click("nav.log-order [data-order=oldest]")
    page.wait_for_url("**/review/?*order=oldest*")
    rows = shown_rows(page)
    assert {row["incident"] for row in rows} == {f"#{scene.flood.pk} 龙湖镇 泰山村 群众被困"}
    assert [record[0] for record in records] == [row["seq"] for row in rows]
    assert [record[3] for record in records] == [row["event"] for row in rows]
    assert [record[10] or record[11] for record in records] == [row["who"] for row in rows]
    screenshot(page, "review-oldest-first-zh")

    # The incident's timeline: who was offered, delivery, sight, answer, arrival.
    page.click("table.log-table td.incident a >> nth=0")
    page.wait_for_url(f"**/review/incidents/{scene.flood.pk}/")
    zhang = offer_cells(page, "张伟")
    assert (zhang["offered"], zhang["delivered"], zhang["seen"]) == (
        "18:00:00",
        "18:00:05",
        "18:00:20",
    )
    assert zhang["answer"].startswith("接受 18:01:00")
    assert zhang["on-scene"].startswith("18:21:00")
    assert zhang["finished"].startswith("20:00:00")
    assert offer_cells(page, "李娜")["answer"].startswith("拒绝")
    assert offer_cells(page, "王强")["answer"].startswith("超时")
    assert page.locator("svg.timeline-chart circle.mark").count() > 20
    screenshot(page, "review-timeline-zh")

    # Its ICS-214 activity log.
    page.click("#ics214-link")
    page.wait_for_url(f"**/review/incidents/{scene.flood.pk}/ics214/")
    assert "工作日志（ICS 214）" in page.inner_text("h1")
    assert page.locator("#activities tbody tr").count() > 20
    assert page.locator("#resources tbody tr", has_text="张伟").inner_text().split() == [
        "张伟",
        "2",
        "×",
        "救援",
        "蓝天救援队",
    ]
    screenshot(page, "review-ics214-zh")
    page.emulate_media(media="print")
    screenshot(page, "review-ics214-print-zh")  # as it prints: no bars, no buttons
    page.emulate_media(media="screen")

    # The same in English, through the language switch.
    page.select_option("form.language select", "en")
    page.wait_for_load_state("load")
    page.wait_for_selector("text=ACTIVITY LOG (ICS 214)")
    form = page.inner_text("article.ics214")
    assert "2. Operational period:" in form
    assert "coordinator (login: no name on record)" in form
    assert "a.m." not in form and "p.m." not in form  # one clock, 24-hour
    screenshot(page, "review-ics214-en")
    page.goto(f"{stack}/review/incidents/{scene.flood.pk}/")
    assert "Accepted 18:01:00" in offer_cells(page, "张伟")["answer"]
    facts = page.inner_text(".facts")
    assert "July 20, 2021 18:00" in facts and "July 20, 2021 20:30" in facts  # opened, closed
    screenshot(page, "review-timeline-en")
    page.goto(f"{stack}/review/")
    assert page.inner_text("h1") == "Deployment review"
    assert page.inner_text("[data-total=median-accept] .value") == "1 min 30 s"
    screenshot(page, "review-en")
    context.close()


def test_a_volunteer_is_refused_the_review(scene, stack, browser):
    context = browser.new_context(**DESKTOP, locale="zh-CN")
    page = context.new_page()
    volunteer = scene.people["r1"]
    sign_in(page, stack, volunteer.user.username, DEMO_PASSWORD, next_path="/")

    response = page.goto(f"{stack}/review/")

    assert response.status == 403
    context.close()


def sideways_scroll(page) -> int:
    """How far the page itself scrolls sideways: wide tables must scroll in their own
    box, so a phone shows the page at its width."""
    # Against the device's width: a phone browser widens its layout viewport (and
    # innerWidth) to fit content that is too wide, then shows it zoomed out.
    return page.evaluate("document.documentElement.scrollWidth") - page.viewport_size["width"]


def too_wide(page) -> list[str]:
    """The elements reaching past the screen's right edge, for the failure message."""
    return page.evaluate(
        """width => [...document.querySelectorAll('body *')]
            .filter(e => !e.parentElement.closest('.scroll-x'))
            .filter(e => e.getBoundingClientRect().right > width + 1
                         || e.scrollWidth > e.clientWidth + 1)
            .slice(0, 8).map(e => `${e.tagName}.${e.className} ${e.textContent.slice(0, 30)}`)""",
        page.viewport_size["width"],
    )


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_a_commander_reads_the_review_on_a_phone(scene, commander, stack, browser, locale):
    context = browser.new_context(**PHONE, locale=locale)
    page = context.new_page()
    sign_in(page, stack, commander.username, DEMO_PASSWORD, next_path="/review/")
    suffix = locale[:2]

    assert page.locator("[data-total=people-moved] .value").is_visible()
    assert sideways_scroll(page) <= 0, too_wide(page)
    screenshot(page, f"review-phone-{suffix}")
    page.goto(f"{stack}/review/incidents/{scene.flood.pk}/")
    assert page.locator("svg.timeline-chart").first.is_visible()
    assert sideways_scroll(page) <= 0, too_wide(page)
    screenshot(page, f"review-timeline-phone-{suffix}")
    context.close()
