"""Nobody left to ask (issue 13): what happens to a need nobody within reach can take.

After each dispatch round (dispatch.services.needs_dispatch, inside its transaction,
with the needs locked), a need that still wants people, has no offer waiting for an
answer and got nobody this round is stuck: everyone near enough declined, let the offer
expire, is busy, or nobody with the skill is on duty. For a people need the search then
widens by itself, step by step (settings.ESCALATION_STEPS_KM, up to ESCALATION_MAX_KM),
each step logged (need.widened, by "escalation") and planned again at once; the first
step that finds someone ends it. When the widest step finds nobody either (or for a
vehicle need, which has no travel range to widen), the need is raised: Need.unmet_at
is set and need.unmet logged once, saying why, and the dashboard shows the alarm until
an offer is made for the need (which clears it, without an event of its own: the
offer.made event is what the dashboard sees).

A coordinator widens a need by hand (need_widen: a further reach, other skills
accepted), which clears the alarm and dispatches the need again: if that finds nobody
either, the need is raised again, with the reason as it is then.

This module sits below dispatch.services (which calls it), so it never imports it:
the re-planning is handed in by the caller.
"""

from collections.abc import Callable, Iterable
from dataclasses import replace

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dispatch import queue
from dispatch.errors import InvalidTransition, OfferClosed
from dispatch.events import events_record
from dispatch.matching import NeedDemand
from dispatch.models import Assignment, AssignmentStatus, EventKind
from dispatch.selectors import ASKED_STATUSES, need_extra_skill_codes, need_pool
from incidents.models import Incident, Need
from volunteers.models import Skill

BY_ESCALATION = "escalation"
BY_COORDINATOR = "coordinator"

# Why a need was raised (need.unmet's "reason"), checked in this order.
NONE_ON_DUTY = "none_on_duty"  # nobody (no vehicle) on duty who could take it at all
ALL_BUSY = "all_busy"  # there are some, all on other work
ALL_ASKED = "all_asked"  # the free ones were all asked already: declined, let it expire
OUT_OF_REACH = "out_of_reach"  # free and not asked, but further than the widest reach
UNMET_REASONS = (NONE_ON_DUTY, ALL_BUSY, ALL_ASKED, OUT_OF_REACH)

Replan = Callable[[list[NeedDemand]], list[Assignment]]


def escalation_steps_km() -> list[int]:
    """The reaches the search widens to by itself, nearest first, ending at the maximum."""
    most = settings.ESCALATION_MAX_KM
    return sorted({km for km in settings.ESCALATION_STEPS_KM if 0 < km < most} | {most})


def needs_escalate(
    *,
    needs: dict[int, Need],
    demands: list[NeedDemand],
    assignments_by_need: dict[int, list[Assignment]],
    offers: list[Assignment],
    replan: Replan,
) -> list[Assignment]:
    """The tail of a dispatch round: clear the alarm of the needs offered this round,
    widen the search for the stuck ones and plan them again (`replan`: the round's own
    candidates → plan → offers, for these demands), and raise those still stuck at the
    widest reach. Returns the offers the widening made."""
    offered = {offer.need_id for offer in offers}
    _unmet_clear([needs[pk] for pk in offered if needs[pk].unmet_at is not None])
    stuck = {
        demand.id: demand
        for demand in demands
        if demand.id not in offered
        and not _waiting_for_answers(assignments_by_need[demand.id])
        and not _shift_over(needs[demand.id])
    }
    found = []
    for reach_km in escalation_steps_km():
        widened = [
            replace(demand, reach_km=reach_km)
            for demand in stuck.values()
            if _widens(demand, reach_km)
        ]
        if not widened:
            continue
        _reach_widen([needs[demand.id] for demand in widened], reach_km=reach_km)
        stuck.update({demand.id: demand for demand in widened})
        more = replan(widened)
        found += more
        for offer in more:
            stuck.pop(offer.need_id, None)
    _unmet_raise(
        [needs[pk] for pk in stuck if _not_raised(needs[pk], assignments_by_need[pk])],
        reach_by_need={pk: demand.reach_km for pk, demand in stuck.items()},
        assignments_by_need=assignments_by_need,
    )
    return found


def _waiting_for_answers(assignments: list[Assignment]) -> bool:
    # Someone is still being asked: their answer comes first, and with it a new round.
    return any(a.status == AssignmentStatus.OFFERED for a in assignments)


def _shift_over(need: Need) -> bool:
    return need.shift_end is not None and need.shift_end <= timezone.now()


def _widens(demand: NeedDemand, reach_km: int) -> bool:
    # Only people have travel ranges: a vehicle need is searched as far as the index
    # reaches already, so there is nothing to widen (it is raised at once).
    return demand.skill is not None and (demand.reach_km or 0) < reach_km


def _not_raised(need: Need, assignments: list[Assignment]) -> bool:
    """True unless the alarm is up and still true: raised, and nobody assigned since
    (a coordinator's assignment by hand makes no offer, so it does not clear it, yet the
    need it leaves open is a new situation worth raising)."""
    if need.unmet_at is None:
        return True
    return any(a.offered_at > need.unmet_at for a in assignments)


def _reach_widen(needs: list[Need], *, reach_km: int) -> None:
    Need.objects.filter(pk__in=[need.pk for need in needs]).update(reach_km=reach_km)
    for need in needs:
        need.reach_km = reach_km
    events_record([_widened_event(need, by=BY_ESCALATION) for need in needs])


def _widened_event(need: Need, *, by: str, actor=None) -> dict:
    return {
        "kind": EventKind.NEED_WIDENED,
        "actor": actor,
        "incident_id": need.incident_id,
        "need_id": need.pk,
        "data": {
            "by": by,
            "reach_km": need.reach_km,
            "extra_skills": list(need_extra_skill_codes(need)),
        },
    }


def _unmet_clear(needs: list[Need]) -> None:
    if not needs:
        return
    Need.objects.filter(pk__in=[need.pk for need in needs]).update(unmet_at=None, unmet_why=None)
    for need in needs:
        need.unmet_at = need.unmet_why = None


def _unmet_raise(
    needs: list[Need],
    *,
    reach_by_need: dict[int, float | None],
    assignments_by_need: dict[int, list[Assignment]],
) -> None:
    now = timezone.now()
    events = []
    for need in needs:
        why = unmet_why(need, assignments_by_need[need.pk], reach_km=reach_by_need[need.pk])
        Need.objects.filter(pk=need.pk).update(unmet_at=now, unmet_why=why)
        need.unmet_at, need.unmet_why = now, why
        events.append(
            {
                "kind": EventKind.NEED_UNMET,
                "incident_id": need.incident_id,
                "need_id": need.pk,
                "data": why,
            }
        )
    if events:
        events_record(events)


def unmet_why(need: Need, assignments: Iterable[Assignment], *, reach_km) -> dict:
    """What a coordinator reads in the alarm: the reason (UNMET_REASONS), how far the
    search reached (None: each volunteer's own range, and always for vehicles), whom
    this need asked and what they answered, and how many could take it at all."""
    assignments = list(assignments)
    asked = {_resource(a) for a in assignments if a.status in ASKED_STATUSES}
    ready, busy = need_pool(need)
    free = ready - busy
    if not ready:
        reason = NONE_ON_DUTY
    elif not free:
        reason = ALL_BUSY
    elif not free - {pk for is_vehicle, pk in asked}:
        reason = ALL_ASKED
    else:
        reason = OUT_OF_REACH
    return {
        "reason": reason,
        "reach_km": round(reach_km) if reach_km is not None else None,
        "asked": len(asked),
        "declined": sum(1 for a in assignments if a.status == AssignmentStatus.DECLINED),
        "expired": sum(1 for a in assignments if a.status == AssignmentStatus.EXPIRED),
        "on_duty": len(ready),
        "busy": len(busy),
    }


def _resource(assignment: Assignment) -> tuple[bool, int]:
    if assignment.vehicle_id:
        return (True, assignment.vehicle_id)
    return (False, assignment.volunteer_id)


# --- a coordinator widens ---------------------------------------------------------------


def _need_locked(need_id: int) -> Need:
    # The lock every writer of a need takes first (dispatch.services).
    return (
        Need.objects.select_for_update(of=("self",), no_key=True)
        .select_related("incident", "skill")
        .get(pk=need_id)
    )


@transaction.atomic
def need_widen(
    *, need_id: int, actor, reach_km: int | None = None, extra_skills: Iterable[Skill] = ()
) -> Need:
    """A coordinator searches further for a people need (`reach_km`: volunteers this far
    away are asked whatever their own travel range), or accepts other skills, or both.
    Logged (need.widened, by "coordinator"); the alarm is cleared and the need
    dispatched again at once, so it is raised again only if that finds nobody either."""
    need = _need_locked(need_id)
    if need.incident.status != Incident.Status.OPEN:
        raise OfferClosed(_("The incident is closed: there is nobody to look for."))
    if need.cancelled_at is not None:
        raise OfferClosed(_("This need is cancelled."))
    if need.kind != Need.Kind.PEOPLE:
        raise InvalidTransition(
            _(
                "Only a need for people can be widened: vehicles are already searched at "
                "any distance. Assign one by hand."
            )
        )
    extra_skills = list(extra_skills)
    accepted = {need.skill_id, *need.extra_skills.values_list("pk", flat=True)}
    new_skills = [skill for skill in extra_skills if skill.pk not in accepted]
    if reach_km is None and not new_skills:
        raise InvalidTransition(
            _("Say how far to search, or which other skill to accept.")
            if not extra_skills
            else _("These skills are accepted already.")
        )
    if reach_km is not None and need.reach_km is not None and reach_km <= need.reach_km:
        raise InvalidTransition(
            _("The search already reaches %(km)s km: give a longer distance.")
            % {"km": need.reach_km}
        )
    if reach_km is not None:
        need.reach_km = reach_km
    need.unmet_at = need.unmet_why = None
    need.save(update_fields=["reach_km", "unmet_at", "unmet_why"])
    need.extra_skills.add(*new_skills)
    events_record([_widened_event(need, by=BY_COORDINATOR, actor=actor)])
    queue.needs_dispatch_enqueue(need_ids=[need.pk])
    return need
