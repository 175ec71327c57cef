"""Nobody left to ask (issue 13): the search widens by itself, then the need is raised;
a coordinator widens it further or accepts another skill. On the configured database
and location index (PostgreSQL and Redis in the full run)."""

import pytest
from django.utils import translation

from dispatch import escalation, services
from dispatch.availability import index_rebuild
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from incidents.models import Need
from incidents.services import NeedSpec, incident_resolve
from tests.dispatch import scenes
from tests.dispatch.scenes import KM, SITE
from volunteers.models import Skill, VehicleKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("live_index")]


@pytest.fixture(autouse=True)
def _steps(settings):
    # The steps these scenes are drawn for, whatever the environment says.
    settings.ESCALATION_STEPS_KM = [20, 30]
    settings.ESCALATION_MAX_KM = 50


@pytest.fixture(autouse=True)
def _in_english():
    with translation.override("en"):
        yield


@pytest.fixture
def north_of_site(make_volunteer):
    """A volunteer `km` north of the site, on duty, with the default 15 km range."""
    made = iter(range(100))

    def make(km: float, *, skills=("rescue",), **fields):
        return make_volunteer(
            f"1391000{next(made):04d}",
            skills=skills,
            on_duty=True,
            last_latitude=SITE[0] + km * KM,
            last_longitude=SITE[1],
            **fields,
        )

    return make


def rescue_need(coordinator, *, count=1, **fields) -> Need:
    incident = scenes.open_rescue(coordinator, count=count, **fields)
    return incident.needs.select_related("skill").get()


def dispatch(need: Need) -> list[Assignment]:
    """What the sweep (or the task after a decline) does for the need."""
    return services.needs_dispatch(need_ids=[need.pk])


def decline_all(need: Need) -> None:
    for offer in Assignment.objects.filter(need=need, status=AssignmentStatus.OFFERED):
        services.assignment_decline(assignment_id=offer.pk, volunteer=offer.volunteer)


def offered(need: Need) -> set[int]:
    return set(
        Assignment.objects.filter(need=need, status=AssignmentStatus.OFFERED).values_list(
            "volunteer_id", flat=True
        )
    )


def events(need: Need, *kinds: str) -> list[dict]:
    return [
        {"kind": event.kind, **event.data}
        for event in DeploymentEvent.objects.filter(need=need, kind__in=kinds).order_by("seq")
    ]


def test_it_widens_in_steps_when_everyone_near_declined_then_raises_the_need_once(
    coordinator, north_of_site
):
    near = [north_of_site(2), north_of_site(3)]
    further = north_of_site(25)  # beyond their own 15 km, within the second step
    furthest = north_of_site(45)  # within the last step only
    index_rebuild()
    need = rescue_need(coordinator)

    # Within their own range: the two near ones, and nothing widened.
    dispatch(need)
    assert offered(need) == {v.pk for v in near}
    assert events(need, EventKind.NEED_WIDENED) == []

    # Both decline: 20 km finds nobody, 30 km finds the one 25 km away, at once.
    decline_all(need)
    dispatch(need)
    assert offered(need) == {further.pk}
    widened = events(need, EventKind.NEED_WIDENED)
    assert [(e["reach_km"], e["by"]) for e in widened] == [(20, "escalation"), (30, "escalation")]
    need.refresh_from_db()
    assert need.reach_km == 30 and need.unmet_at is None

    decline_all(need)
    dispatch(need)
    assert offered(need) == {furthest.pk}

    # The last one declines too: the widest step finds nobody, and the need is raised,
    # saying everyone was asked.
    decline_all(need)
    assert dispatch(need) == []
    need.refresh_from_db()
    assert need.reach_km == 50
    assert need.unmet_at is not None
    assert events(need, EventKind.NEED_UNMET) == [
        {
            "kind": "need.unmet",
            "reason": "all_asked",
            "reach_km": 50,
            "asked": 4,
            "declined": 4,
            "expired": 0,
            "on_duty": 4,
            "busy": 0,
        }
    ]
    assert need.unmet_why["reason"] == "all_asked"

    # The sweeps that follow find it raised already: no second alarm, no more widening.
    raised_at = need.unmet_at
    dispatch(need)
    dispatch(need)
    need.refresh_from_db()
    assert need.unmet_at == raised_at
    assert len(events(need, EventKind.NEED_UNMET)) == 1
    assert len(events(need, EventKind.NEED_WIDENED)) == 3


def test_it_says_nobody_is_on_duty_with_the_skill(coordinator, north_of_site):
    north_of_site(2, skills=("first_aid",))
    index_rebuild()
    need = rescue_need(coordinator)

    dispatch(need)

    (unmet,) = events(need, EventKind.NEED_UNMET)
    assert (unmet["reason"], unmet["asked"], unmet["on_duty"]) == ("none_on_duty", 0, 0)


def test_it_does_not_count_busy_volunteers_as_candidates(coordinator, north_of_site):
    busy = north_of_site(2)
    index_rebuild()
    elsewhere = rescue_need(coordinator, title="别处")
    dispatch(elsewhere)
    services.assignment_accept(
        assignment_id=Assignment.objects.get(need=elsewhere).pk, volunteer=busy
    )
    need = rescue_need(coordinator)

    assert dispatch(need) == []

    assert offered(need) == set()
    (unmet,) = events(need, EventKind.NEED_UNMET)
    assert (unmet["reason"], unmet["on_duty"], unmet["busy"]) == ("all_busy", 1, 1)


def test_it_says_when_the_free_ones_are_beyond_the_widest_reach(coordinator, north_of_site):
    north_of_site(70)
    index_rebuild()
    need = rescue_need(coordinator)

    dispatch(need)

    (unmet,) = events(need, EventKind.NEED_UNMET)
    assert (unmet["reason"], unmet["reach_km"], unmet["on_duty"]) == ("out_of_reach", 50, 1)


def test_a_coordinator_widening_finds_someone_further_away_and_clears_the_alarm(
    coordinator, north_of_site
):
    far = north_of_site(70)
    index_rebuild()
    need = rescue_need(coordinator)
    dispatch(need)
    need.refresh_from_db()
    assert need.unmet_at is not None

    escalation.need_widen(need_id=need.pk, actor=coordinator, reach_km=80)
    need.refresh_from_db()
    assert (need.reach_km, need.unmet_at, need.unmet_why) == (80, None, None)
    dispatch(need)  # what the task enqueued by the widening does

    assert offered(need) == {far.pk}
    need.refresh_from_db()
    assert need.unmet_at is None
    assert events(need, EventKind.NEED_WIDENED)[-1] == {
        "kind": "need.widened",
        "by": "coordinator",
        "reach_km": 80,
        "extra_skills": [],
    }
    widened = DeploymentEvent.objects.filter(kind=EventKind.NEED_WIDENED).last()
    assert widened.actor == coordinator


def test_accepting_another_skill_finds_someone_with_that_skill(coordinator, north_of_site):
    medic = north_of_site(3, skills=("first_aid",))
    index_rebuild()
    need = rescue_need(coordinator)
    dispatch(need)
    assert events(need, EventKind.NEED_UNMET)

    escalation.need_widen(
        need_id=need.pk, actor=coordinator, extra_skills=[Skill.objects.get(code="first_aid")]
    )
    dispatch(need)

    assert offered(need) == {medic.pk}
    assert events(need, EventKind.NEED_WIDENED)[-1]["extra_skills"] == ["first_aid"]
    need.refresh_from_db()
    assert need.unmet_at is None


def test_it_raises_again_when_a_coordinators_widening_finds_nobody_either(
    coordinator, north_of_site
):
    north_of_site(90)
    index_rebuild()
    need = rescue_need(coordinator)
    dispatch(need)

    escalation.need_widen(need_id=need.pk, actor=coordinator, reach_km=60)
    dispatch(need)

    assert [e["reach_km"] for e in events(need, EventKind.NEED_UNMET)] == [50, 60]


def test_it_raises_a_vehicle_need_at_once_without_widening(coordinator):
    need = scenes.open_rescue(
        coordinator,
        needs=[NeedSpec(kind=Need.Kind.VEHICLE, vehicle_kind=VehicleKind.BOAT, count=1)],
    ).needs.get()

    dispatch(need)

    assert events(need, EventKind.NEED_WIDENED) == []
    (unmet,) = events(need, EventKind.NEED_UNMET)
    assert (unmet["reason"], unmet["reach_km"]) == ("none_on_duty", None)


def test_it_waits_for_answers_before_widening(coordinator, north_of_site):
    north_of_site(2)
    index_rebuild()
    need = rescue_need(coordinator, count=2)

    # Two places, one person near: offered, and the second place waits for their answer.
    dispatch(need)
    dispatch(need)

    assert events(need, EventKind.NEED_WIDENED, EventKind.NEED_UNMET) == []


def test_it_refuses_to_widen_what_cannot_be_widened(coordinator, north_of_site, township):
    need = rescue_need(coordinator)
    with pytest.raises(services.InvalidTransition, match="Say how far"):
        escalation.need_widen(need_id=need.pk, actor=coordinator)
    with pytest.raises(services.InvalidTransition, match="accepted already"):
        escalation.need_widen(need_id=need.pk, actor=coordinator, extra_skills=[need.skill])
    escalation.need_widen(need_id=need.pk, actor=coordinator, reach_km=40)
    with pytest.raises(services.InvalidTransition, match="already reaches 40 km"):
        escalation.need_widen(need_id=need.pk, actor=coordinator, reach_km=30)
    boats = scenes.open_boat_rescue(coordinator).needs.get()
    with pytest.raises(services.InvalidTransition, match="Only a need for people"):
        escalation.need_widen(need_id=boats.pk, actor=coordinator, reach_km=40)
    incident_resolve(incident=need.incident, actor=coordinator)
    with pytest.raises(services.OfferClosed, match="closed"):
        escalation.need_widen(need_id=need.pk, actor=coordinator, reach_km=45)

    assert len(events(need, EventKind.NEED_WIDENED)) == 1


def test_a_reach_beyond_the_index_rings_searches_that_far(coordinator, north_of_site):
    # The index searches up to 100 km unless a need reaches further.
    distant = north_of_site(120)
    index_rebuild()
    need = rescue_need(coordinator)
    dispatch(need)
    assert offered(need) == set()

    escalation.need_widen(need_id=need.pk, actor=coordinator, reach_km=130)
    dispatch(need)

    assert offered(need) == {distant.pk}
