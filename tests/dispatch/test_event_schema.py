"""Every deployment-log event the services write has the `data` dispatch/event_schema.py
gives its kind, and docs/websockets.md ("Event data") says the same."""

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.utils import timezone

from briefings.models import Audience
from briefings.services import activity_record, broadcast_send
from dispatch import escalation, services, vehicles
from dispatch.event_schema import EVENT_DATA, event_data_check, key_type_text
from dispatch.models import (
    ACTIVE_STATUSES,
    Assignment,
    AssignmentStatus,
    DeploymentEvent,
    EventKind,
)
from incidents.models import Incident, Need
from incidents.services import (
    NeedSpec,
    incident_cancel,
    incident_change,
    incident_resolve,
    need_add,
    need_cancel,
    need_change,
)
from tests.dispatch.scenes import SITE, open_rescue, open_testing_site
from volunteers.models import Skill, Township, Vehicle, VehicleKind
from volunteers.services import volunteer_set_duty

# Kinds with a schema that no service writes (yet). Whoever writes one drives it in the
# scene below and takes it out of here (test_it_drives_every_kind_the_code_writes fails
# until they do).
NOT_WRITTEN: set[EventKind] = set()
WRITTEN = set(EventKind) - NOT_WRITTEN


def offers_of(incident: Incident) -> list[Assignment]:
    return list(
        Assignment.objects.filter(need__incident=incident, status=AssignmentStatus.OFFERED)
        .select_related("volunteer")
        .order_by("distance_m", "pk")
    )


def is_free(assignment: Assignment) -> bool:
    busy = Assignment.objects.filter(volunteer=assignment.volunteer, status__in=ACTIVE_STATUSES)
    return not busy.exists()


def log_problems() -> list[str]:
    """Every logged event whose data does not fit its kind's schema, as read back."""
    problems = []
    for event in DeploymentEvent.objects.order_by("seq"):
        try:
            event_data_check(event.kind, event.data)
        except ValueError as error:
            problems.append(f"seq {event.seq}: {error}")
    return problems


# --- the schema covers every kind ---------------------------------------------------------


def test_it_has_a_schema_for_every_event_kind():
    assert set(EVENT_DATA) == set(EventKind.values)


def event_writers() -> dict[Path, set[str]]:
    """The project's modules that write log events, and the EventKind members each
    names. Tests and migrations aside; dispatch/events.py is the writer itself."""
    base = Path(settings.BASE_DIR).resolve()
    writers = {}
    for app in apps.get_app_configs():
        root = Path(app.path).resolve()
        if base not in root.parents:
            continue  # Django's own apps and third parties
        for path in root.rglob("*.py"):
            if "migrations" in path.parts or path == base / "dispatch" / "events.py":
                continue
            text = path.read_text(encoding="utf-8")
            if re.search(r"\bevents?_record\(", text):
                writers[path.relative_to(base)] = set(re.findall(r"\bEventKind\.([A-Z_]+)", text))
    return writers


def test_it_drives_every_kind_the_code_writes():
    writers = event_writers()

    assert writers, "found no module writing log events: has event_record moved?"
    named = set().union(*writers.values())
    # A kind a service writes that the scene below does not drive, or a kind the scene
    # expects that no service writes any more.
    assert named == {kind.name for kind in WRITTEN}, writers


# --- every service, driven for real, writes data that fits ------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("live_index")
def test_it_holds_every_event_the_services_write_to_its_schema(
    coordinator, make_volunteer, rescuers
):
    # volunteers.services: on and off duty, by the volunteer and by a coordinator.
    walker = make_volunteer("13700000099")
    volunteer_set_duty(volunteer=walker, on_duty=True)
    volunteer_set_duty(volunteer=walker, on_duty=False, actor=coordinator)

    # One place, two offers: seen (so delivered), accepted by the engine's offer, the
    # other withdrawn as not needed; the work goes en route, on scene, completed.
    first = open_rescue(coordinator, count=1)
    services.incident_dispatch(incident_id=first.pk)
    taken = offers_of(first)[0]
    services.offer_mark_seen(assignment_id=taken.pk, volunteer=taken.volunteer)
    services.assignment_accept(assignment_id=taken.pk, volunteer=taken.volunteer)
    for status in ("en_route", "on_scene"):
        services.assignment_progress(
            assignment_id=taken.pk, volunteer=taken.volunteer, status=status
        )
    services.assignment_progress(
        assignment_id=taken.pk, volunteer=taken.volunteer, status="completed", people_moved=3
    )
    incident_resolve(incident=first, actor=coordinator, note="已转移")

    # Two places, three offers: one declined, one expired, one accepted, whose other
    # offer (made a moment earlier, as a dispatch of the third incident would) is
    # withdrawn as they are busy; the last place assigned by hand, then taken back.
    second = open_rescue(coordinator, count=2)
    third = open_rescue(coordinator, count=2)
    services.incident_dispatch(incident_id=second.pk)
    declined, expired, accepted = offers_of(second)
    services.assignment_decline(
        assignment_id=declined.pk, volunteer=declined.volunteer, reason="车坏了"
    )
    Assignment.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert services.offers_expire() == [expired.need_id]
    Assignment.objects.create(
        need=third.needs.get(),
        volunteer=accepted.volunteer,
        status=AssignmentStatus.OFFERED,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    services.assignment_accept(assignment_id=accepted.pk, volunteer=accepted.volunteer)
    services.offers_withdraw_from_busy(volunteer_id=accepted.volunteer_id)
    by_hand = services.assignment_assign_manually(
        need_id=accepted.need_id,
        target=services.ManualTarget(volunteer=make_volunteer("13700000098", on_duty=True)),
        actor=coordinator,
        reason="电话确认",
    )
    services.assignment_unassign(assignment_id=by_hand.pk, actor=coordinator, reason="人不在")

    # The third: an offer withdrawn by a coordinator, one accepted; cancelling the
    # incident withdraws what is still offered and cancels the work.
    services.incident_dispatch(incident_id=third.pk)
    free = [offer for offer in offers_of(third) if is_free(offer)]
    services.assignment_unassign(assignment_id=free[0].pk, actor=coordinator, reason="太远")
    services.assignment_accept(assignment_id=free[1].pk, volunteer=free[1].volunteer)
    assert offers_of(third), "nothing left offered for the cancellation to withdraw"
    incident_cancel(incident=third, actor=coordinator, note="误报")

    # dispatch.vehicles: a boat assigned by hand goes on the task and is available again
    # when it is done; its crew puts it out of service (its open offer is withdrawn)
    # and back in service.
    boatman = make_volunteer("13700000097", on_duty=True)
    boat = Vehicle.objects.create(
        call_sign="蓝天-01",
        kind=VehicleKind.BOAT,
        township=Township.objects.get(name="龙湖镇"),
        capacity=6,
        max_water_depth_m=Decimal("1.50"),
        latitude=SITE[0],
        longitude=SITE[1],
    )
    boat.crew.add(boatman)
    boats = [NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT)]
    flood, later = (open_rescue(coordinator, needs=boats).needs.get() for _ in range(2))
    boat_task = services.assignment_assign_manually(
        need_id=flood.pk,
        target=services.ManualTarget(vehicle=boat),
        actor=coordinator,
        reason="电话确认",
    )
    services.assignment_progress(
        assignment_id=boat_task.pk, volunteer=boatman, status="completed", people_moved=6
    )
    Assignment.objects.create(
        need=later,
        vehicle=boat,
        status=AssignmentStatus.OFFERED,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    vehicles.vehicle_set_in_service(
        vehicle_id=boat.pk, in_service=False, actor=boatman.user, reason="发动机故障"
    )
    services.offers_withdraw_from_busy(vehicle_id=boat.pk)
    vehicles.vehicle_set_in_service(
        vehicle_id=boat.pk, in_service=True, actor=coordinator, reason="修好了"
    )

    # incidents.services (issue 13): a live incident changes. Two accept; it moves (the
    # offers still open are withdrawn, the two told the new place) and is made more
    # urgent; it then needs one fewer (one stood down); a need is added, its note
    # changed, and cancelled.
    fourth = open_rescue(coordinator, count=3)
    services.incident_dispatch(incident_id=fourth.pk)
    for offer in [offer for offer in offers_of(fourth) if is_free(offer)][:2]:
        services.assignment_accept(assignment_id=offer.pk, volunteer=offer.volunteer)
    assert offers_of(fourth), "nothing left offered for the move to withdraw"
    incident_change(
        incident=fourth,
        actor=coordinator,
        priority=Incident.Priority.HIGH,
        latitude=SITE[0] + 0.01,
        address="107国道 K12",
    )
    need_change(need_id=fourth.needs.get().pk, actor=coordinator, count=1)
    stretcher = need_add(
        incident=fourth,
        actor=coordinator,
        spec=NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="rescue")),
    )
    need_change(need_id=stretcher.pk, actor=coordinator, note="带担架")
    need_cancel(need_id=stretcher.pk, actor=coordinator, reason="已找到")

    # dispatch.escalation (issue 13): nobody on duty has the skill, so the search widens
    # step by step by itself, then the need is raised; a coordinator widens it further.
    divers = NeedSpec(kind=Need.Kind.PEOPLE, skill=Skill.objects.get(code="water_rescue"))
    unmet = open_rescue(coordinator, needs=[divers]).needs.get()
    services.needs_dispatch(need_ids=[unmet.pk])
    escalation.need_widen(
        need_id=unmet.pk,
        actor=coordinator,
        reach_km=80,
        extra_skills=[Skill.objects.get(code="first_aid")],
    )

    # briefings.services (issue 13): a message to a township's volunteers on duty, a
    # briefing for those within an area, one to a skill; a safety talk recorded.
    broadcast_send(
        author=coordinator, text="水位上涨", audience=Audience.TOWNSHIP, township=boatman.township
    )
    broadcast_send(
        author=coordinator,
        text="集合",
        audience=Audience.AREA,
        latitude=SITE[0],
        longitude=SITE[1],
        radius_km=50,
        briefing_place="龙湖镇政府",
        briefing_starts_at=timezone.now() + timedelta(hours=1),
    )
    broadcast_send(
        author=coordinator,
        text="冲锋舟",
        audience=Audience.SKILL,
        skill=Skill.objects.get(code="rescue"),
    )
    activity_record(
        recorded_by=coordinator,
        title="防汛安全宣讲",
        starts_at=timezone.now(),
        staff=[boatman],
        audience_size=120,
    )

    # dispatch.services, reserved shifts (issue 13): a shift next week reserved and given
    # up; one reserved and taken up when due; one due while its volunteer is on that
    # shift (the clash told), released when it begins.
    sampler = make_volunteer("13700000096", skills=("sampling",), on_duty=True)
    soon = timezone.now() + timedelta(days=2)
    given_up, taken_up, clashing = open_testing_site(
        coordinator, starts=[soon + timedelta(days=5), soon, soon + timedelta(days=1)]
    )
    for need in (given_up, taken_up, clashing):
        offer = Assignment.objects.create(need=need, volunteer=sampler, status="offered")
        services.assignment_accept(assignment_id=offer.pk, volunteer=sampler)
    services.assignment_give_up(assignment_id=given_up.assignments.get().pk, volunteer=sampler)
    services.shifts_take_up(now=soon - timedelta(minutes=30))
    services.shifts_take_up(now=clashing.shift_start - timedelta(minutes=30))
    services.shifts_take_up(now=clashing.shift_start)

    problems = log_problems()
    assert not problems, "\n".join(problems)
    events = list(DeploymentEvent.objects.values_list("kind", "data"))
    assert {kind for kind, _ in events} == {kind.value for kind in WRITTEN}
    # Each way of writing a kind was taken, not just the kind.
    reasons = {data["reason"] for kind, data in events if kind == EventKind.OFFER_WITHDRAWN}
    assert reasons == {
        "not needed",
        "accepted another task",
        "vehicle out of service",
        "太远",
        "incident cancelled",
        "place changed",
    }
    cancelled = {data["reason"] for kind, data in events if kind == EventKind.ASSIGNMENT_CANCELLED}
    assert cancelled == {
        "人不在",
        "incident cancelled",
        "need reduced",
        "shift given up",
        "still on other work when the shift began",
    }
    manual = [
        data.get("manual", False) for kind, data in events if kind == EventKind.OFFER_ACCEPTED
    ]
    assert sorted(manual) == [False] * 8 + [True, True]
    statuses = [data["status"] for kind, data in events if kind == EventKind.VEHICLE_STATUS]
    assert statuses == ["assigned", "available", "out_of_service", "available"]


# --- what the check refuses ----------------------------------------------------------------


def test_it_takes_data_that_fits():
    event_data_check("offer.declined", {"status": "declined", "reason": ""})
    event_data_check(EventKind.OFFER_ACCEPTED, {"status": "accepted"})
    event_data_check(EventKind.ASSIGNMENT_COMPLETED, {"status": "completed", "people_moved": None})
    event_data_check(
        EventKind.INCIDENT_OPENED,
        {
            "kind": "flood_rescue",
            "title": "t",
            "priority": 1,
            "latitude": 34,  # JSON has one number type: an integer is a float too
            "longitude": 113.68,
            "township": None,
            "needs": [],
        },
    )


def test_it_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown event kind 'offer.lost'"):
        event_data_check("offer.lost", {})


def test_it_refuses_data_without_a_required_key():
    with pytest.raises(ValueError, match="offer.declined: data lacks the required key.* reason"):
        event_data_check(EventKind.OFFER_DECLINED, {"status": "declined"})


def test_it_refuses_a_key_the_schema_does_not_know():
    with pytest.raises(ValueError, match="offer.expired: data has the unexpected key.* note"):
        event_data_check(EventKind.OFFER_EXPIRED, {"status": "expired", "note": "late"})


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        (EventKind.INCIDENT_RESOLVED, {"note": None}, r"data\['note'\] is None .*not string"),
        (
            EventKind.ASSIGNMENT_COMPLETED,
            {"status": "completed", "people_moved": "3"},
            r"not integer or null",
        ),
        (EventKind.VOLUNTEER_ON_DUTY, {"township": True}, r"True \(bool\), not integer"),
        (
            EventKind.OFFER_MADE,
            {"status": "offered", "distance_m": 1.5, "eta_seconds": 60, "expires_at": "x"},
            r"data\['distance_m'\] is 1.5 \(float\), not integer",
        ),
        (EventKind.OFFER_SEEN, [], r"data is list, not an object"),
    ],
)
def test_it_refuses_a_value_of_the_wrong_type(kind, data, message):
    with pytest.raises(ValueError, match=message):
        event_data_check(kind, data)


def test_it_refuses_a_list_item_of_the_wrong_type():
    data = {
        "kind": "fire",
        "title": "t",
        "priority": 1,
        "latitude": 34.6,
        "longitude": 113.7,
        "township": 1,
        "needs": [1, "2"],
    }
    with pytest.raises(ValueError, match=r"data\['needs'\] holds '2' \(str\), not integer"):
        event_data_check(EventKind.INCIDENT_OPENED, data)


def test_it_refuses_a_value_the_kind_never_has():
    with pytest.raises(ValueError, match=r"data\['status'\] is 'accepted', not one of"):
        event_data_check(EventKind.OFFER_EXPIRED, {"status": "accepted"})
    with pytest.raises(ValueError, match=r"data\['manual'\] is False"):
        event_data_check(EventKind.OFFER_ACCEPTED, {"status": "accepted", "manual": False})


# --- the documentation says what the schema says ------------------------------------------


def documented_keys() -> dict[tuple[str, str], tuple[str, str]]:
    """docs/websockets.md's "Event data" table: (kind, key) → (type, present)."""
    text = (Path(settings.BASE_DIR) / "docs" / "websockets.md").read_text(encoding="utf-8")
    section = text.split("\n## Event data\n", 1)[1].split("\n## ", 1)[0]
    rows, kind = {}, None
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == "kind" or cells[0].startswith("---"):
            continue  # the header and its rule
        kind = cells[0].strip("`") or kind
        rows[(kind, cells[1].strip("`"))] = (cells[2], cells[3])
    return rows


def test_it_documents_every_key_as_the_schema_has_it():
    schema = {
        (kind, name): (key_type_text(key), "always" if key.required else "")
        for kind, keys in EVENT_DATA.items()
        for name, key in keys.items()
    }
    documented = {
        (kind, name): (type_text, "always" if present == "always" else "")
        for (kind, name), (type_text, present) in documented_keys().items()
    }

    assert documented == schema
