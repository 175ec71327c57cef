"""The volunteer's phone page (/phone/) as the Django test client sees it."""

import json
import re
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.templatetags.static import static
from django.utils import timezone
from rest_framework.test import APIClient

from dispatch import services
from dispatch.live import last_seq
from dispatch.models import Assignment, DeploymentEvent, EventKind
from incidents.models import Incident, Need
from incidents.services import NeedSpec, incident_cancel, incident_open
from phone import views
from phone.views import SHELL_STATIC
from tests.conftest import DEMO_PASSWORD
from tests.dispatch.scenes import SITE, make_boat
from volunteers.models import Skill, Township, VehicleStatus, Volunteer
from volunteers.services import volunteer_set_duty

pytestmark = pytest.mark.django_db


def embedded(response, element_id: str):
    """A json_script element's data from a rendered page."""
    html = response.content.decode()
    start = html.index(f'<script id="{element_id}" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


@pytest.fixture
def signed_in(client, volunteer):
    client.force_login(volunteer.user)
    return client


def offer(volunteer, reporter, **need_fields):
    """An open rescue offered to this volunteer, the way the engine offers."""
    kind = need_fields.pop("kind", Incident.Kind.FLOOD_RESCUE)
    incident = incident_open(
        reporter=reporter,
        kind=kind,
        title="龙湖镇 泰山村 群众被困",
        latitude=SITE[0],
        longitude=SITE[1],
        address="泰山村三组",
        priority=Incident.Priority.CRITICAL,
        needs=[
            NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), **need_fields)
        ],
    )
    return Assignment.objects.create(
        need=incident.needs.get(),
        volunteer=volunteer,
        distance_m=2300,
        eta_seconds=360,
        expires_at=timezone.now() + timedelta(seconds=90),
    )


# --- who gets the page ---------------------------------------------------------------------


def test_it_sends_strangers_to_the_sign_in_page(client):
    response = client.get("/phone/")

    assert response.status_code == 302
    assert response.url == "/phone/login/?next=/phone/"


def test_its_sign_in_asks_for_the_phone_number_on_the_number_pad(client):
    response = client.get("/phone/login/?next=/phone/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "手机号" in page
    assert 'inputmode="tel"' in page
    assert 'rel="manifest"' in page


def test_its_sign_in_speaks_english_too(client):
    response = client.get("/phone/login/", headers={"accept-language": "en"})

    assert "Mobile number" in response.content.decode()


def test_a_volunteer_signs_in_with_their_number_and_lands_on_their_page(client, volunteer):
    response = client.post(
        "/phone/login/",
        {"username": volunteer.phone, "password": DEMO_PASSWORD, "next": "/phone/"},
    )

    assert response.status_code == 302
    assert response.url == "/phone/"
    assert client.get("/phone/").status_code == 200


def test_a_wrong_password_is_told_in_chinese(client, volunteer):
    response = client.post("/phone/login/", {"username": volunteer.phone, "password": "nope"})

    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()


def test_it_tells_someone_who_is_not_a_volunteer_so(client, coordinator):
    client.force_login(coordinator)

    response = client.get("/phone/")

    assert response.status_code == 403
    page = response.content.decode()
    assert "此页面供志愿者使用" in page
    assert "coordinator" in page  # who they are signed in as
    assert 'id="duty"' not in page


def test_it_says_the_same_in_english(client, coordinator):
    client.force_login(coordinator)

    response = client.get("/phone/", headers={"accept-language": "en"})

    assert "This page is for volunteers" in response.content.decode()


def test_it_shows_a_volunteer_their_page(signed_in, volunteer):
    response = signed_in.get("/phone/")

    assert response.status_code == 200
    page = response.content.decode()
    assert volunteer.name in page
    assert 'id="duty"' in page
    assert 'rel="manifest"' in page
    state = embedded(response, "phone-state")
    assert state["volunteer"]["id"] == volunteer.pk
    assert state["volunteer"]["on_duty"] is False
    assert state["assignments"] == []


# --- languages -----------------------------------------------------------------------------


def test_it_speaks_chinese_by_default(signed_in):
    response = signed_in.get("/phone/")

    page = response.content.decode()
    assert '<html lang="zh-hans">' in page
    assert "休息中" in page  # off duty
    assert "共享我的位置" in page
    strings = embedded(response, "phone-strings")
    assert strings["accept"] == "接受"
    assert strings["offer_heading"] == "新任务"


def test_it_speaks_english_to_an_english_browser(signed_in):
    response = signed_in.get("/phone/", headers={"accept-language": "en-US,en;q=0.9"})

    page = response.content.decode()
    assert '<html lang="en">' in page
    assert "Off duty" in page
    assert embedded(response, "phone-strings")["accept"] == "Accept"


def test_it_speaks_chinese_to_a_chinese_browser(signed_in):
    response = signed_in.get("/phone/", headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.5"})

    assert embedded(response, "phone-strings")["decline"] == "拒绝"


def test_it_follows_the_language_switch(signed_in):
    signed_in.post("/i18n/setlang/", {"language": "en", "next": "/phone/"})

    response = signed_in.get("/phone/", headers={"accept-language": "zh-CN"})

    assert embedded(response, "phone-strings")["accept"] == "Accept"


def test_every_string_for_the_script_is_translated(signed_in):
    english = embedded(signed_in.get("/phone/", headers={"accept-language": "en"}), "phone-strings")
    chinese = embedded(signed_in.get("/phone/"), "phone-strings")

    same = [key for key, words in english.items() if chinese[key] == words]
    assert same == []


# --- the state the page shows --------------------------------------------------------------


def test_it_gives_an_offer_with_what_where_and_how_far(signed_in, volunteer, coordinator):
    offered = offer(volunteer, coordinator, count=2)

    state = signed_in.get("/phone/state/").json()

    (row,) = state["assignments"]
    assert row["id"] == offered.pk
    assert row["status"] == "offered"
    assert row["incident_title"] == "龙湖镇 泰山村 群众被困"
    assert row["incident_address"] == "泰山村三组"
    assert row["township"] == "龙湖镇"
    assert row["kind_label"] == "防汛救援"
    assert row["need_label"] == "2 × 救援"
    assert (row["distance_m"], row["eta_seconds"]) == (2300, 360)
    assert row["expires_at"] and row["delivered_at"] is None
    assert row["asks_people_moved"] is True


def test_it_gives_the_state_in_english(signed_in, volunteer, coordinator):
    offer(volunteer, coordinator, count=2)

    state = signed_in.get("/phone/state/", headers={"accept-language": "en"}).json()

    (row,) = state["assignments"]
    assert row["kind_label"] == "Flood rescue"
    assert row["need_label"] == "2 × Rescue"
    assert row["township"] == Township.objects.get(name="龙湖镇").name_en
    assert row["priority_label"] == "Critical"


def test_it_gives_a_shift_its_window(signed_in, volunteer, coordinator):
    start = timezone.now() + timedelta(days=1)
    offered = offer(
        volunteer,
        coordinator,
        kind=Incident.Kind.TESTING_SITE,
        shift_start=start,
        shift_end=start + timedelta(hours=4),
    )
    services.assignment_accept(assignment_id=offered.pk, volunteer=volunteer)

    (row,) = signed_in.get("/phone/state/").json()["assignments"]

    assert row["status"] == "reserved"  # booked ahead: it holds the place, not the person
    assert timezone.datetime.fromisoformat(row["shift_start"]) == start
    assert row["asks_people_moved"] is False


def test_it_names_a_capability_need(signed_in, volunteer, coordinator):
    incident = incident_open(
        reporter=coordinator,
        kind=Incident.Kind.EVACUATION,
        title="转移",
        latitude=SITE[0],
        longitude=SITE[1],
        needs=[
            NeedSpec(kind=Need.Kind.CAPABILITY, people_to_move=40, water_depth_m=Decimal("1.20"))
        ],
    )
    Assignment.objects.create(need=incident.needs.get(), volunteer=volunteer)

    (row,) = signed_in.get("/phone/state/").json()["assignments"]

    assert row["need_label"] == "转移40人（水深1.2米）"


def test_it_gives_the_rest_apis_fields_with_the_pages_words(signed_in, volunteer, coordinator):
    offered = offer(volunteer, coordinator, count=2)
    client = APIClient()
    client.force_authenticate(volunteer.user)

    (row,) = signed_in.get("/phone/state/").json()["assignments"]
    (over_rest,) = client.get("/api/me/assignments/", {"open": 1}).json()["results"]

    assert {name: row[name] for name in over_rest} == over_rest
    assert row["id"] == offered.pk
    page_words = set(row) - set(over_rest)
    assert page_words == {
        "kind_label",
        "priority_label",
        "description",
        "township",
        "need_label",
        "note",
        "vehicle_label",
        "asks_people_moved",
        "people_affected",
        "people_to_move",
        "water_depth_m",
        "need_count",
        "need_filled",
        "others_going",
    }


def test_it_leaves_out_closed_offers_and_other_peoples(
    signed_in, volunteer, coordinator, make_volunteer
):
    declined = offer(volunteer, coordinator)
    services.assignment_decline(assignment_id=declined.pk, volunteer=volunteer)
    offer(make_volunteer("13900000009"), coordinator)

    assert signed_in.get("/phone/state/").json()["assignments"] == []


def test_it_embeds_the_offers_in_the_page(signed_in, volunteer, coordinator):
    offered = offer(volunteer, coordinator)

    state = embedded(signed_in.get("/phone/"), "phone-state")

    assert [row["id"] for row in state["assignments"]] == [offered.pk]


# --- the situation before accepting, and where an assignment stands (issue 12) ------------


def flooded_village(coordinator, *, count=3) -> Incident:
    """Twelve people trapped, water 1.4 m deep (the capability need says so), and
    rescuers asked for."""
    return incident_open(
        reporter=coordinator,
        kind=Incident.Kind.FLOOD_RESCUE,
        title="龙湖镇 泰山村 群众被困",
        description="村口积水齐腰，12人被困在二楼，有老人。",
        people_affected=12,
        latitude=SITE[0],
        longitude=SITE[1],
        priority=Incident.Priority.CRITICAL,
        needs=[
            NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue"), count=count),
            NeedSpec(kind=Need.Kind.CAPABILITY, people_to_move=12, water_depth_m=Decimal("1.40")),
        ],
    )


def test_it_gives_an_offer_the_situation_before_accepting(
    signed_in, volunteer, coordinator, make_volunteer
):
    incident = flooded_village(coordinator)
    rescue = incident.needs.get(kind=Need.Kind.PEOPLE)
    mine = Assignment.objects.create(need=rescue, volunteer=volunteer)
    for number in ("13900000011", "13900000012"):
        other = make_volunteer(number)
        taken = Assignment.objects.create(need=rescue, volunteer=other)
        services.assignment_accept(assignment_id=taken.pk, volunteer=other)
    Assignment.objects.create(need=rescue, volunteer=make_volunteer("13900000013"))  # offered

    (row,) = signed_in.get("/phone/state/").json()["assignments"]

    assert row["id"] == mine.pk
    assert row["description"] == "村口积水齐腰，12人被困在二楼，有老人。"
    assert row["people_affected"] == 12
    assert row["water_depth_m"] == 1.4  # the incident's deepest water, whichever need says it
    assert row["people_to_move"] is None  # this need is of people
    assert (row["need_count"], row["need_filled"], row["others_going"]) == (3, 2, 2)


def test_it_does_not_count_the_volunteer_among_the_others_going(signed_in, volunteer, coordinator):
    incident = flooded_village(coordinator)
    mine = Assignment.objects.create(
        need=incident.needs.get(kind=Need.Kind.PEOPLE), volunteer=volunteer
    )
    services.assignment_accept(assignment_id=mine.pk, volunteer=volunteer)

    (row,) = signed_in.get("/phone/state/").json()["assignments"]

    assert (row["status"], row["need_filled"], row["others_going"]) == ("accepted", 0, 0)


def test_it_gives_the_volunteer_their_own_last_position(signed_in, volunteer):
    Volunteer.objects.filter(pk=volunteer.pk).update(last_latitude=34.5, last_longitude=113.7)

    mine = signed_in.get("/phone/state/").json()["volunteer"]

    assert (mine["latitude"], mine["longitude"]) == (34.5, 113.7)


def test_it_says_where_an_assignment_of_theirs_stands(signed_in, volunteer, coordinator):
    offered = offer(volunteer, coordinator)
    services.assignment_accept(assignment_id=offered.pk, volunteer=volunteer)

    answer = signed_in.get(f"/phone/assignments/{offered.pk}/")

    assert answer.status_code == 200
    assert answer.json() == {"id": offered.pk, "status": "accepted"}
    assert answer["Cache-Control"].startswith("max-age=0")


def test_it_says_where_their_vehicles_assignment_stands(signed_in, volunteer, coordinator):
    boat = make_boat(Township.objects.get(name="龙湖镇"), "龙湖-舟1", volunteer)
    incident = flooded_village(coordinator)
    offered = Assignment.objects.create(
        need=incident.needs.get(kind=Need.Kind.CAPABILITY), vehicle=boat
    )

    assert signed_in.get(f"/phone/assignments/{offered.pk}/").json()["status"] == "offered"


def test_it_keeps_other_peoples_assignments_to_itself(
    signed_in, client, volunteer, coordinator, make_volunteer
):
    theirs = offer(make_volunteer("13900000009"), coordinator)

    assert signed_in.get(f"/phone/assignments/{theirs.pk}/").status_code == 404
    assert signed_in.get("/phone/assignments/999999/").status_code == 404
    client.logout()
    assert client.get(f"/phone/assignments/{theirs.pk}/").status_code == 401


def test_it_gives_the_script_the_words_for_alerts_and_the_queue(signed_in):
    strings = embedded(signed_in.get("/phone/", headers={"accept-language": "en"}), "phone-strings")

    assert strings["alerts_enable"] == "Turn on alerts"
    assert strings["from_you"] == "%(distance)s %(direction)s of you"
    assert strings["waiting_item"] == "Waiting to send: %(action)s · %(title)s"
    zh = embedded(signed_in.get("/phone/"), "phone-strings")
    assert zh["alerts_enable"] == "开启提醒"
    assert zh["dir_ne"] == "东北"
    assert zh["waiting_heading"] == "等待发送"


def test_the_page_has_the_alerts_button_and_the_queue(signed_in):
    html = signed_in.get("/phone/").content.decode()

    assert 'id="alerts-enable"' in html
    assert "开启提醒" in html
    assert re.search(r'<section id="outbox"[^>]*hidden', html)
    assert (
        embedded(signed_in.get("/phone/"), "phone-urls")["assignment"] == "/phone/assignments/{id}/"
    )


# --- the vehicles a volunteer crews (issue 11 item 3) --------------------------------------


def vehicles_card(response) -> str:
    """The opening tag of the page's "my vehicles" card."""
    return re.search(r'<section id="vehicles"[^>]*>', response.content.decode()).group(0)


def test_it_lists_the_vehicles_a_volunteer_crews_with_their_status(
    signed_in, volunteer, make_volunteer
):
    longhu = Township.objects.get(name="龙湖镇")
    other = make_volunteer("13900000009")
    make_boat(longhu, "龙湖-舟2", volunteer, other)
    broken = make_boat(longhu, "龙湖-舟1", volunteer)
    busy = make_boat(longhu, "龙湖-舟3", other, volunteer)
    make_boat(longhu, "龙湖-舟9", other)  # not theirs
    broken.status = VehicleStatus.OUT_OF_SERVICE
    broken.save(update_fields=["status"])
    busy.status = VehicleStatus.ASSIGNED
    busy.save(update_fields=["status"])

    response = signed_in.get("/phone/")
    state = signed_in.get("/phone/state/").json()

    assert [(row["call_sign"], row["status"]) for row in state["vehicles"]] == [
        ("龙湖-舟1", "out_of_service"),
        ("龙湖-舟2", "available"),
        ("龙湖-舟3", "assigned"),
    ]
    assert state["vehicles"][0] == {
        "id": broken.pk,
        "call_sign": "龙湖-舟1",
        "kind": "boat",
        "kind_label": "冲锋舟",
        "status": "out_of_service",
    }
    assert embedded(response, "phone-state")["vehicles"] == state["vehicles"]
    assert " hidden" not in vehicles_card(response)
    assert "我的车辆" in response.content.decode()
    strings = embedded(response, "phone-strings")
    assert [strings[f"vehicle_{status}"] for status in VehicleStatus.values] == [
        "可调度",
        "执行任务",
        "停用",
    ]
    assert embedded(response, "phone-urls")["vehicle_service"] == "/api/vehicles/{id}/service/"


def test_it_says_the_vehicles_words_in_english(signed_in, volunteer):
    make_boat(Township.objects.get(name="龙湖镇"), "LH-B1", volunteer)

    response = signed_in.get("/phone/", headers={"accept-language": "en"})

    (row,) = embedded(response, "phone-state")["vehicles"]
    assert row["kind_label"] == "Assault boat"
    strings = embedded(response, "phone-strings")
    assert strings["vehicle_available"] == "Available"
    assert strings["vehicle_assigned"] == "On a task"
    assert strings["out_of_service_ask"] == "Out of service…"


def test_it_lists_no_vehicles_for_a_volunteer_who_crews_none(signed_in, volunteer, make_volunteer):
    make_boat(Township.objects.get(name="龙湖镇"), "龙湖-舟9", make_volunteer("13900000009"))

    response = signed_in.get("/phone/")

    assert signed_in.get("/phone/state/").json()["vehicles"] == []
    assert embedded(response, "phone-state")["vehicles"] == []
    assert " hidden" in vehicles_card(response)


def test_its_state_carries_the_log_position_it_reflects(signed_in, volunteer, coordinator):
    offered = offer(volunteer, coordinator)
    services.assignment_accept(assignment_id=offered.pk, volunteer=volunteer)
    accepted = DeploymentEvent.objects.get(kind=EventKind.OFFER_ACCEPTED, assignment=offered)

    state = signed_in.get("/phone/state/").json()
    page = embedded(signed_in.get("/phone/"), "phone-state")

    # Every event committed before the read is at or below it; nothing came after.
    assert state["last_seq"] == page["last_seq"] == last_seq() >= accepted.seq
    assert state["assignments"][0]["status"] == "accepted"


@contextmanager
def committed_while_the_state_is_read(action, *, before=None, after=None):
    """Runs `action` (a service: it writes and logs) once during the state's read: just
    before its first query naming the table `before`, or just after its first query
    naming `after`. Under READ COMMITTED that is what another transaction committing
    at that moment looks like: the read's later queries see it, its earlier ones do
    not (here it runs in the test's own transaction, with the same effect)."""
    done = []

    def wrapper(execute, sql, params, many, context):
        if not done and before and before in sql:
            done.append(True)
            action()
        result = execute(sql, params, many, context)
        if not done and after and after in sql:
            done.append(True)
            action()
        return result

    with connection.execute_wrapper(wrapper):
        yield
    assert done, "the state's read never queried that table"


def on_scene(volunteer, coordinator) -> Assignment:
    """An offer accepted and seen through to the scene."""
    assignment = offer(volunteer, coordinator)
    services.assignment_accept(assignment_id=assignment.pk, volunteer=volunteer)
    services.assignment_progress(
        assignment_id=assignment.pk, volunteer=volunteer, status="on_scene"
    )
    return assignment


def test_its_state_shows_every_event_committed_before_its_position_was_read(
    signed_in, volunteer, coordinator
):
    task = on_scene(volunteer, coordinator)

    def finish_and_go_on_duty():
        services.assignment_progress(
            assignment_id=task.pk, volunteer=volunteer, status="completed", people_moved=3
        )
        volunteer_set_duty(volunteer=Volunteer.objects.get(pk=volunteer.pk), on_duty=True)

    # Committed while the request was already in hand (its user and volunteer loaded),
    # just before the position is read: the state may not go back behind them.
    with committed_while_the_state_is_read(finish_and_go_on_duty, before="dispatch_eventsequence"):
        state = signed_in.get("/phone/state/").json()

    completed = DeploymentEvent.objects.get(kind=EventKind.ASSIGNMENT_COMPLETED)
    on_duty = DeploymentEvent.objects.get(kind=EventKind.VOLUNTEER_ON_DUTY)
    assert state["last_seq"] >= max(completed.seq, on_duty.seq)
    assert state["assignments"] == []  # the finished task is gone
    assert state["volunteer"]["on_duty"] is True


def test_its_position_never_claims_an_event_its_rows_do_not_show(signed_in, volunteer, coordinator):
    task = on_scene(volunteer, coordinator)

    def finish():
        services.assignment_progress(
            assignment_id=task.pk, volunteer=volunteer, status="completed", people_moved=3
        )

    # Committed just after the rows were read: the state still shows the task, so its
    # position must be below the completion. Else the page would count this state as
    # showing the task done (and drop an overlapping reply that does show it).
    with committed_while_the_state_is_read(finish, after="dispatch_assignment"):
        state = signed_in.get("/phone/state/").json()

    completed = DeploymentEvent.objects.get(kind=EventKind.ASSIGNMENT_COMPLETED)
    assert [row["status"] for row in state["assignments"]] == ["on_scene"]
    assert state["last_seq"] < completed.seq
    assert signed_in.get("/phone/state/").json()["last_seq"] >= completed.seq


def test_its_state_is_for_volunteers_only(client, coordinator):
    assert client.get("/phone/state/").status_code == 401
    client.force_login(coordinator)
    assert client.get("/phone/state/").status_code == 403


# --- installable -------------------------------------------------------------------------


def test_it_serves_a_web_app_manifest(client):
    response = client.get("/phone/manifest.webmanifest")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/manifest+json")
    manifest = json.loads(response.content)
    assert manifest["start_url"] == "/phone/"
    assert manifest["scope"] == "/phone/"
    assert manifest["display"] == "standalone"
    assert manifest["name"] == "同心志愿者"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_it_names_the_app_in_the_pages_language(client):
    manifest = json.loads(client.get("/phone/manifest.webmanifest?lang=en").content)

    assert manifest["name"] == "Tongxin volunteer"
    assert manifest["lang"] == "en"


def test_it_serves_the_service_worker_from_the_phone_scope(client):
    response = client.get("/phone/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-cache"
    script = response.content.decode()
    assert 'const PAGE = "/phone/";' in script
    assert "/static/phone/phone.js" in script
    assert "/static/tongxin/live.js" in script


def test_the_service_worker_changes_with_the_shell(client, monkeypatch, settings):
    settings.DEBUG = False
    before = client.get("/phone/sw.js").content
    monkeypatch.setattr(views, "_shell_version_cached", lambda: "something-else")

    assert client.get("/phone/sw.js").content != before


def test_the_shell_files_are_served(client):
    for path in SHELL_STATIC:
        response = client.get(static(path))
        assert response.status_code == 200, path


# --- stand-downs (issue 13) ----------------------------------------------------------------


def test_it_says_why_an_offer_the_phone_had_was_withdrawn(signed_in, volunteer, coordinator):
    offered = offer(volunteer, coordinator)
    services.offer_mark_delivered(assignment_id=offered.pk, volunteer=volunteer)
    incident_cancel(incident=offered.need.incident, actor=coordinator, note="误报")

    state = signed_in.get("/phone/state/", headers={"accept-language": "en"}).json()

    assert state["assignments"] == []
    [told] = state["stood_down"]
    assert told["id"] == offered.pk and told["status"] == "withdrawn"
    assert told["incident_title"] == "龙湖镇 泰山村 群众被困"
    assert told["why"] == "Withdrawn: the incident was cancelled."


def test_it_says_why_a_task_was_cancelled_in_the_coordinators_words(
    signed_in, volunteer, coordinator
):
    task = offer(volunteer, coordinator)
    services.assignment_accept(assignment_id=task.pk, volunteer=volunteer)
    services.assignment_unassign(assignment_id=task.pk, actor=coordinator, reason="已有人到场")

    [told] = signed_in.get("/phone/state/").json()["stood_down"]

    assert told["status"] == "cancelled"
    assert told["why"] == "调度员已将你从此任务撤下：已有人到场"


def test_it_keeps_quiet_about_what_the_volunteer_did_or_never_saw_or_long_ago(
    signed_in, volunteer, coordinator
):
    unseen = offer(volunteer, coordinator)  # withdrawn before the phone had it
    incident_cancel(incident=unseen.need.incident, actor=coordinator, note="误报")
    taken, elsewhere = offer(volunteer, coordinator), offer(volunteer, coordinator)
    services.offer_mark_delivered(assignment_id=elsewhere.pk, volunteer=volunteer)
    services.assignment_accept(assignment_id=taken.pk, volunteer=volunteer)
    services.offers_withdraw_from_busy(volunteer_id=volunteer.pk)  # "accepted another task"
    old = offer(volunteer, coordinator)
    services.offer_mark_delivered(assignment_id=old.pk, volunteer=volunteer)
    incident_cancel(incident=old.need.incident, actor=coordinator, note="误报")
    Assignment.objects.filter(pk=old.pk).update(answered_at=timezone.now() - timedelta(hours=1))

    assert signed_in.get("/phone/state/").json()["stood_down"] == []
