"""The one source of the words people read: every value labelled, in both languages, one
format per need, and one language fallback."""

import threading
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from dispatch import labels
from dispatch.models import AssignmentStatus, EventKind
from incidents.models import Incident, IncidentKind, IncidentStatus, Need
from volunteers.models import Skill, TeamKind, Vehicle, VehicleKind, VehicleStatus

TABLES = [
    (IncidentKind, labels.INCIDENT_KIND_LABELS),
    (IncidentStatus, labels.INCIDENT_STATUS_LABELS),
    (Incident.Priority, labels.PRIORITY_LABELS),
    (Need.Kind, labels.NEED_KIND_LABELS),
    (VehicleKind, labels.VEHICLE_KIND_LABELS),
    (VehicleStatus, labels.VEHICLE_STATUS_LABELS),
    (TeamKind, labels.TEAM_KIND_LABELS),
    (AssignmentStatus, labels.STATUS_LABELS),
    (EventKind, labels.EVENT_LABELS),
]
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("choices", "table"), TABLES, ids=lambda x: getattr(x, "__name__", ""))
def test_it_labels_every_value_in_chinese_and_english(choices, table):
    assert set(table) == set(choices.values)
    for value in choices.values:
        with translation.override("en"):
            english = str(table[value])
        with translation.override("zh-hans"):
            chinese = str(table[value])
        assert english and chinese != english, (value, english, chinese)


def test_it_speaks_the_default_language_when_none_is_active():
    """A worker's or a command's thread has no language of a request: Chinese, the
    project's LANGUAGE_CODE, for every face, the exports and the SMS alike."""
    said = {}

    def in_a_fresh_thread():
        said["chinese"] = labels.language_is_chinese()
        said["kind"] = labels.label_of(labels.INCIDENT_KIND_LABELS, IncidentKind.FLOOD_RESCUE)

    thread = threading.Thread(target=in_a_fresh_thread)
    thread.start()
    thread.join()

    assert said == {"chinese": True, "kind": "防汛救援"}
    with translation.override("en"):
        assert not labels.language_is_chinese()


def test_it_gives_a_page_every_table_by_value():
    with translation.override("en"):
        tables = labels.labels_as_json()

    assert tables["offer_state"]["seen"] == "Seen"
    assert tables["offer_state"]["cancelled"] == "Stood down"
    assert tables["event"]["offer.accepted"] == "Accepted"
    assert tables["priority"]["4"] == "Critical"


def test_it_keeps_an_unknown_value_as_it_is():
    assert labels.label_of(labels.VEHICLE_KIND_LABELS, "hovercraft") == "hovercraft"


@pytest.mark.django_db
def test_it_names_each_shape_of_need_one_way():
    rescue = Skill.objects.get(code="rescue")
    people = Need(kind=Need.Kind.PEOPLE, skill=rescue, count=2)
    boats = Need(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=1)
    capability = Need(kind=Need.Kind.CAPABILITY, people_to_move=40, water_depth_m=Decimal("1.20"))
    shift = Need(
        kind=Need.Kind.PEOPLE,
        skill=rescue,
        count=3,
        shift_start=datetime(2021, 8, 3, 8, 0, tzinfo=SHANGHAI),
        shift_end=datetime(2021, 8, 3, 12, 0, tzinfo=SHANGHAI),
    )

    with translation.override("zh-hans"):
        chinese = [labels.need_label(need) for need in (people, boats, capability, shift)]
        without_shift = labels.need_label(shift, with_shift=False)
    with translation.override("en"):
        english = [labels.need_label(need) for need in (people, boats, capability)]

    assert chinese == ["2 × 救援", "1 × 冲锋舟", "转移40人（水深1.2米）", "3 × 救援 (08:00–12:00)"]
    assert without_shift == "3 × 救援"
    assert english == ["2 × Rescue", "1 × Assault boat", "move 40 people through 1.2 m of water"]
    assert labels.need_label(None) == ""


def test_it_names_a_vehicle_by_call_sign_and_kind():
    boat = Vehicle(call_sign="蓝天-舟1", kind=VehicleKind.BOAT)

    with translation.override("en"):
        assert labels.vehicle_label(boat) == "蓝天-舟1 (Assault boat)"
    assert labels.vehicle_label(None) == ""
