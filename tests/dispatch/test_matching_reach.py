"""Matching with a need widened (issue 13): a reach beyond the volunteers' own travel
ranges, and other skills accepted. Pure functions, no database."""

from dataclasses import replace

from dispatch import matching
from dispatch.matching import NeedDemand, Resource, TravelMode

SITE = (34.610, 113.680)
KM = 1 / 111  # a kilometre of latitude, near enough

NEED = NeedDemand(
    id=1, latitude=SITE[0], longitude=SITE[1], priority=4, urgent=True, offers=2, skill="rescue"
)


def volunteer(pk: int, km: float, *, travel_range_km=15.0, skills=("rescue",)) -> Resource:
    return Resource(
        id=pk,
        is_vehicle=False,
        latitude=SITE[0] + km * KM,
        longitude=SITE[1],
        travel_mode=TravelMode.CAR,
        travel_range_km=travel_range_km,
        skills=frozenset(skills),
    )


def picked(need, *resources) -> list[int]:
    return [pick.resource_id for pick in matching.rank(need, resources)]


def test_a_reach_takes_in_volunteers_beyond_their_own_range():
    near, far, farther = volunteer(1, 5), volunteer(2, 25), volunteer(3, 45)

    assert picked(NEED, near, far, farther) == [1]
    assert picked(replace(NEED, reach_km=30), near, far, farther) == [1, 2]


def test_a_reach_never_narrows_a_longer_range_of_their_own():
    keen = volunteer(1, 40, travel_range_km=60)

    assert picked(replace(NEED, reach_km=30), keen) == [1]


def test_another_skill_accepted_qualifies_its_volunteers():
    medic = volunteer(1, 3, skills=("first_aid",))

    assert picked(NEED, medic) == []
    assert picked(replace(NEED, extra_skills=("first_aid",)), medic) == [1]
    assert picked(replace(NEED, extra_skills=("water_rescue",)), medic) == []


def test_the_planner_fills_a_widened_need_from_further_away():
    far = volunteer(2, 25)
    need = replace(NEED, reach_km=30)

    plan = matching.plan_optimal([need], {need.id: [far]})

    assert [(p.need_id, p.resource_id) for p in plan] == [(1, 2)]
