"""The offer life cycle (DESIGN.md §4–5): offer, accept, decline, expire, progress,
withdraw, cancel, manual assign and unassign. Every transition writes its log event
in the same transaction; the location index follows after commit.

Concurrency, in one place: every write to a need's assignments first locks the need's
row (SELECT ... FOR NO KEY UPDATE: it serialises the writers, yet lets other
transactions' foreign-key checks on the need through; a plain FOR UPDATE blocked those
at commit and deadlocked against the event sequence's lock, bench/live.py). Accepts,
offers and withdrawals on one need therefore run one after another, so "is there still
a place?" is answered on fresh data and a need never takes more than it asked for.
Double booking across needs is refused by the database
(one_active_assignment_per_volunteer / _per_vehicle), which is the only place that sees
every need at once.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dispatch import availability, escalation, matching, push, queue, shifts, vehicles
from dispatch.availability import availability_sync_on_commit, volunteer_is_busy
from dispatch.errors import (  # noqa: F401 - DispatchError is part of this module's interface
    DispatchError,
    InvalidTransition,
    NotYours,
    OfferClosed,
    ResourceBusy,
)
from dispatch.events import events_record
from dispatch.labels import STATUS_LABELS
from dispatch.models import (
    ACTIVE_STATUSES,
    FILLED_STATUSES,
    OPEN_STATUSES,
    Assignment,
    AssignmentStatus,
    Engagement,
    EventKind,
)
from dispatch.reasons import (
    ACCEPTED_ANOTHER,
    NOT_NEEDED,
    PLACE_CHANGED,
    SHIFT_CLASHED,
    SHIFT_GIVEN_UP,
    VEHICLE_OUT_OF_SERVICE,
    closed_reason,
)
from dispatch.selectors import (
    ASKED_STATUSES,
    candidates_for_many,
    need_demand,
    need_ids_wanting_offers,
    need_open_places,
    offers_wanted,
)
from incidents.models import Incident, Need
from volunteers.models import Vehicle, VehicleStatus, Volunteer

# --- helpers --------------------------------------------------------------------------


def need_locked(need_id: int) -> Need:
    return (
        Need.objects.select_for_update(of=("self",), no_key=True)
        .select_related("incident", "skill")
        .get(pk=need_id)
    )


def _assignment_locked(assignment_id: int) -> Assignment:
    """The assignment, with its need locked first (the order every writer follows)."""
    need_id = Assignment.objects.values_list("need_id", flat=True).get(pk=assignment_id)
    need = need_locked(need_id)
    assignment = Assignment.objects.select_related("vehicle", "volunteer").get(pk=assignment_id)
    assignment.need = need
    return assignment


def _need_assignments(need: Need) -> list[Assignment]:
    return list(need.assignments.select_related("vehicle"))


def _event_fields(kind: EventKind, assignment: Assignment, *, actor=None, **data) -> dict:
    # Ids, not objects: reading assignment.volunteer would cost a query per offer.
    return {
        "kind": kind,
        "actor": actor,
        "incident_id": assignment.need.incident_id,
        "need_id": assignment.need_id,
        "assignment_id": assignment.pk,
        "volunteer_id": assignment.volunteer_id,
        "vehicle_id": assignment.vehicle_id,
        "data": {"status": assignment.status, **data},
    }


def _event(kind: EventKind, assignment: Assignment, *, actor=None, **data) -> None:
    events_record([_event_fields(kind, assignment, actor=actor, **data)])


def _may_answer(assignment: Assignment, volunteer: Volunteer) -> bool:
    """A volunteer answers their own offers, and the offers to a vehicle they crew."""
    if assignment.volunteer_id:
        return assignment.volunteer_id == volunteer.pk
    return assignment.vehicle.crew.filter(pk=volunteer.pk).exists()


def _set_status(assignment: Assignment, status: str, **fields) -> None:
    for name, value in {"status": status, **fields}.items():
        setattr(assignment, name, value)
    assignment.save(update_fields=["status", *fields])
    if status in (AssignmentStatus.COMPLETED, AssignmentStatus.CANCELLED):
        _free_after_work(assignment)


def _free_after_work(assignment: Assignment) -> None:
    """The work is over: whoever it engaged, and its vehicle, are free for the next,
    and back in the location index once this commits."""
    engaged = Engagement.objects.filter(assignment=assignment)
    volunteer_ids = set(engaged.values_list("volunteer_id", flat=True))
    engaged.delete()
    if assignment.volunteer_id:
        volunteer_ids.add(assignment.volunteer_id)
    if assignment.vehicle_id:
        vehicles.vehicle_work_ended(assignment)
    availability_sync_on_commit(
        volunteer_ids=volunteer_ids,
        vehicle_ids=[assignment.vehicle_id] if assignment.vehicle_id else [],
    )


def _take_on(assignment: Assignment, *, volunteer_id: int | None, **fields) -> None:
    """The assignment becomes active work, and engages the volunteer who does it (the
    one offered, or the crew member who answered for a vehicle and so goes with it).

    Raises IntegrityError, in a savepoint that leaves the caller's transaction usable,
    when the volunteer or the vehicle is already on other work: the database decides,
    so two accepts racing on different assignments cannot both commit. ResourceBusy
    when its vehicle cannot go (out of service, or on a task)."""
    with transaction.atomic():
        if assignment.vehicle_id:
            vehicles.vehicle_take_on_work(assignment)
        if assignment.pk is None:  # a coordinator's assignment, made accepted
            for name, value in {"status": AssignmentStatus.ACCEPTED, **fields}.items():
                setattr(assignment, name, value)
            assignment.save()
        else:
            _set_status(assignment, AssignmentStatus.ACCEPTED, **fields)
        if volunteer_id is not None:
            Engagement.objects.create(volunteer_id=volunteer_id, assignment=assignment)


def _incident_closed_reason(incident: Incident) -> str:
    if incident.status == Incident.Status.CANCELLED:
        return _("The incident is already cancelled.")
    return _("The incident is already resolved.")


# --- offering -------------------------------------------------------------------------


def offer_timeout(priority: int) -> timedelta:
    return timedelta(seconds=settings.OFFER_TIMEOUT_SECONDS[priority])


def _offers_create(*, need: Need, picks: list[matching.Pick]) -> list[Assignment]:
    expires_at = timezone.now() + offer_timeout(need.incident.priority)
    offers = [
        Assignment(
            need=need,
            status=AssignmentStatus.OFFERED,
            expires_at=expires_at,
            distance_m=pick.distance_m,
            eta_seconds=pick.eta_seconds,
            **{"vehicle_id" if pick.is_vehicle else "volunteer_id": pick.resource_id},
        )
        for pick in picks
    ]
    try:
        with transaction.atomic():
            return Assignment.objects.bulk_create(offers)
    except IntegrityError:
        # A concurrent dispatch offered this need to one of them a moment ago: one by
        # one, each in a savepoint, so the unique constraint refuses only that offer.
        return [offer for offer in offers if _offer_save(offer)]


def _offer_save(offer: Assignment) -> bool:
    try:
        with transaction.atomic():
            offer.save(force_insert=True)
        return True
    except IntegrityError:
        return False


def offers_make(*, need: Need, picks: list[matching.Pick]) -> list[Assignment]:
    """Offer the need to the picked resources. Call inside a transaction holding the
    need's lock (needs_dispatch does)."""
    if not picks:
        return []
    offers = _offers_create(need=need, picks=picks)
    events_record(
        [
            _event_fields(
                EventKind.OFFER_MADE,
                offer,
                distance_m=offer.distance_m,
                eta_seconds=offer.eta_seconds,
                expires_at=offer.expires_at.isoformat(),
            )
            for offer in offers
        ]
    )
    if offers and push.push_enabled():
        queue.offers_push_enqueue(assignment_ids=[offer.pk for offer in offers])
    return offers


def _dispatchable_needs(need_ids: list[int], *, skip_locked: bool) -> list[Need]:
    # Locked in id order, so two dispatches of overlapping needs cannot deadlock.
    return list(
        Need.objects.select_for_update(of=("self",), no_key=True, skip_locked=skip_locked)
        .select_related("incident", "skill")
        .prefetch_related("extra_skills")  # need_demand reads them: one query for all
        .filter(pk__in=need_ids, incident__status=Incident.Status.OPEN, cancelled_at__isnull=True)
        .order_by("pk")
    )


@transaction.atomic
def needs_dispatch(*, need_ids: list[int], skip_locked: bool = False) -> list[Assignment]:
    """Plan and send the offers these needs want now, together (a surge is planned as
    one minimum-cost assignment). Idempotent: with the needs locked, a second run sees
    the first run's offers and sends only what is still wanted, usually nothing.
    With skip_locked, needs another transaction holds are left for a later run."""
    needs = {need.pk: need for need in _dispatchable_needs(need_ids, skip_locked=skip_locked)}
    assignments_by_need = {pk: _need_assignments(need) for pk, need in needs.items()}
    demands, asked = [], {}
    for pk, need in needs.items():
        demand = need_demand(need, assignments_by_need[pk])
        if demand is None:
            continue
        demands.append(demand)
        # A need asks for volunteers or for vehicles, never both, so ids don't mix.
        asked[pk] = {
            a.volunteer_id or a.vehicle_id
            for a in assignments_by_need[pk]
            if a.status in ASKED_STATUSES
        }
    if not demands:
        return []
    candidates = candidates_for_many(demands, exclude=asked)
    picks = matching.plan_optimal(demands, candidates)
    offers = []
    for pk, need in needs.items():
        offers += offers_make(need=need, picks=[p for p in picks if p.need_id == pk])
    # Nobody found for some: widen their search, or raise them (issue 13).
    return offers + escalation.needs_escalate(
        needs=needs,
        demands=demands,
        assignments_by_need=assignments_by_need,
        offers=offers,
        replan=lambda widened: _offer_planned(needs, widened, exclude=asked),
    )


def _offer_planned(needs: dict, demands: list, *, exclude: dict) -> list[Assignment]:
    """needs_dispatch's planning and offering, again, for needs whose search widened."""
    picks = matching.plan_optimal(demands, candidates_for_many(demands, exclude=exclude))
    return [
        offer
        for demand in demands
        for offer in offers_make(
            need=needs[demand.id], picks=[p for p in picks if p.need_id == demand.id]
        )
    ]


def incident_dispatch(*, incident_id: int) -> list[Assignment]:
    need_ids = list(Need.objects.filter(incident_id=incident_id).values_list("pk", flat=True))
    return needs_dispatch(need_ids=need_ids)


# Needs the re-dispatch sweep plans together in one transaction: small enough that no
# batch holds its needs' locks for long, large enough to plan a surge's leftovers well.
REDISPATCH_BATCH = 50


def needs_redispatch() -> list[Assignment]:
    """Offer again every need that wants offers (declines, expiries, lost messages,
    volunteers who came on duty since), batch by batch. A need another transaction
    holds (a volunteer accepting it, a dispatch) is skipped rather than waited for:
    the next sweep takes it, and nobody's accept waits behind the sweep."""
    need_ids = need_ids_wanting_offers()
    offers = []
    for start in range(0, len(need_ids), REDISPATCH_BATCH):
        batch = need_ids[start : start + REDISPATCH_BATCH]
        offers += needs_dispatch(need_ids=batch, skip_locked=True)
    return offers


# --- answering ------------------------------------------------------------------------


def _withdraw_other_offers_of_need(need: Need, *, keep: Assignment, reason: str) -> None:
    for other in need.assignments.filter(status=AssignmentStatus.OFFERED).exclude(pk=keep.pk):
        other.need = need
        _set_status(other, AssignmentStatus.WITHDRAWN, answered_at=timezone.now(), reason=reason)
        _event(EventKind.OFFER_WITHDRAWN, other, reason=reason)


def offers_withdraw_from_busy(*, volunteer_id: int | None = None, vehicle_id: int | None = None):
    """Someone who took one task is busy: their other open offers go to others. So do
    the open offers of a vehicle put out of service.

    Runs after the accept committed, one need at a time, and not inside the accept:
    there it would lock a second need while holding the first, and two accepts doing
    that in opposite orders deadlock. Until this runs, accepting one of those offers
    is refused by the database (one active assignment per volunteer or vehicle).
    """
    resource = (
        {"volunteer_id": volunteer_id} if volunteer_id is not None else {"vehicle_id": vehicle_id}
    )
    reason = ACCEPTED_ANOTHER
    if volunteer_id is not None:
        busy = volunteer_is_busy(volunteer_id)
    elif Vehicle.objects.filter(pk=vehicle_id, status=VehicleStatus.OUT_OF_SERVICE).exists():
        busy, reason = True, VEHICLE_OUT_OF_SERVICE
    else:
        busy = Assignment.objects.filter(status__in=ACTIVE_STATUSES, **resource).exists()
    if not busy:
        return []  # freed (or back in service) meanwhile: their offers stand
    offers = Assignment.objects.filter(status=AssignmentStatus.OFFERED, **resource)
    withdrawn_needs = []
    for assignment_id in offers.values_list("pk", flat=True):
        with transaction.atomic():
            assignment = _assignment_locked(assignment_id)
            if assignment.status != AssignmentStatus.OFFERED:
                continue
            _set_status(
                assignment, AssignmentStatus.WITHDRAWN, answered_at=timezone.now(), reason=reason
            )
            _event(EventKind.OFFER_WITHDRAWN, assignment, reason=reason)
            withdrawn_needs.append(assignment.need_id)
    return withdrawn_needs


def _after_taking_a_task(assignment: Assignment, *, volunteer_id: int | None) -> None:
    """What follows once a task is taken (and logged): its vehicle is logged on the
    task, the volunteer doing it (and the vehicle) leave the location index, and their
    other offers are withdrawn and offered to others."""
    if assignment.vehicle_id:
        vehicles.vehicle_status_logged(
            assignment.vehicle_id, VehicleStatus.ASSIGNED, assignment=assignment
        )
    availability_sync_on_commit(
        volunteer_ids=[volunteer_id] if volunteer_id is not None else [],
        vehicle_ids=[assignment.vehicle_id] if assignment.vehicle_id else [],
    )
    if volunteer_id is not None:
        queue.offers_withdraw_from_busy_enqueue(volunteer_id=volunteer_id)
    if assignment.vehicle_id:
        queue.offers_withdraw_from_busy_enqueue(vehicle_id=assignment.vehicle_id)


@transaction.atomic
def assignment_accept(*, assignment_id: int, volunteer: Volunteer) -> Assignment:
    """Accept an offer. Of several volunteers accepting the last place at once, the
    first to take the need's lock wins; the rest are told it is already filled."""
    assignment = _assignment_locked(assignment_id)
    if not _may_answer(assignment, volunteer):
        raise NotYours(_("This offer is not yours."))
    if assignment.status != AssignmentStatus.OFFERED:
        raise OfferClosed(closed_reason(assignment))
    now = timezone.now()
    if assignment.expires_at and assignment.expires_at <= now:
        raise OfferClosed(_("This offer expired and went to someone else."))
    need = assignment.need
    if not need.incident.is_open:
        raise OfferClosed(_incident_closed_reason(need.incident))
    filled = [a for a in _need_assignments(need) if a.status in FILLED_STATUSES]
    if need_open_places(need, filled) <= 0:
        raise OfferClosed(_("Already filled: this task no longer needs you. Thank you."))
    if shifts.shift_reservable(need, volunteer_id=assignment.volunteer_id, now=now):
        _reserve(assignment, volunteer=volunteer, actor=volunteer.user, answered_at=now)
        if need_open_places(need, [*filled, assignment]) <= 0:
            _withdraw_other_offers_of_need(need, keep=assignment, reason=NOT_NEEDED)
        return assignment
    try:
        _take_on(assignment, volunteer_id=volunteer.pk, answered_at=now)
    except IntegrityError:
        raise ResourceBusy(_busy_reason(assignment, volunteer)) from None
    _event(EventKind.OFFER_ACCEPTED, assignment, actor=volunteer.user)
    if need_open_places(need, [*filled, assignment]) <= 0:
        _withdraw_other_offers_of_need(need, keep=assignment, reason=NOT_NEEDED)
    _after_taking_a_task(assignment, volunteer_id=volunteer.pk)
    return assignment


def _reserve(assignment: Assignment, *, volunteer: Volunteer, actor, **fields) -> None:
    """Reserve a future shift (dispatch.shifts): it takes its place of the need but
    engages nobody, so the volunteer stays free and in the location index. Refused
    (ResourceBusy, saying which shift) when it overlaps one they hold or leaves too
    little rest beside it. The caller holds the need's lock; the volunteer's is taken
    here, after it."""
    shifts.shift_volunteer_lock(volunteer.pk)
    if reason := shifts.shift_clash(assignment.need, volunteer_id=volunteer.pk):
        raise ResourceBusy(reason)
    if assignment.pk is None:  # a coordinator's hand
        for name, value in {"status": AssignmentStatus.RESERVED, **fields}.items():
            setattr(assignment, name, value)
        assignment.save()
    else:
        _set_status(assignment, AssignmentStatus.RESERVED, **fields)
    extra = {"manual": True, "reason": fields["reason"]} if "reason" in fields else {}
    _event(EventKind.OFFER_ACCEPTED, assignment, actor=actor, reserved=True, **extra)


def _busy_reason(assignment: Assignment, volunteer: Volunteer) -> str:
    if assignment.vehicle_id and not Engagement.objects.filter(volunteer=volunteer).exists():
        return _("This vehicle is already on another assignment.")
    return _("You are already on another assignment.")


@transaction.atomic
def assignment_decline(*, assignment_id: int, volunteer: Volunteer, reason: str = "") -> Assignment:
    assignment = _assignment_locked(assignment_id)
    if not _may_answer(assignment, volunteer):
        raise NotYours(_("This offer is not yours."))
    if assignment.status != AssignmentStatus.OFFERED:
        raise OfferClosed(closed_reason(assignment))
    _set_status(
        assignment, AssignmentStatus.DECLINED, answered_at=timezone.now(), reason=reason[:300]
    )
    _event(EventKind.OFFER_DECLINED, assignment, actor=volunteer.user, reason=reason[:300])
    queue.needs_dispatch_enqueue(need_ids=[assignment.need_id])
    return assignment


def _offer_acknowledge(*, assignment_id: int, volunteer: Volunteer, field: str, kind) -> bool:
    # The need's lock first, as every writer of its assignments takes it, though no
    # place is at stake: without it, this UPDATE locked the offer's row and then waited
    # for the event sequence, held by an accept of the same need that was waiting for
    # this row to withdraw it ("not needed"): a deadlock (bench/live.py).
    assignment = _assignment_locked(assignment_id)
    if not _may_answer(assignment, volunteer):
        raise NotYours(_("This offer is not yours."))
    # A timestamp, not a state: the conditional UPDATE makes the first report win, and
    # a repeat, from a reconnecting phone say, changes nothing.
    now = timezone.now()
    first = Assignment.objects.filter(pk=assignment_id, **{f"{field}__isnull": True}).update(
        **{field: now}
    )
    if first:
        setattr(assignment, field, now)
        _event(kind, assignment, actor=volunteer.user)
    return bool(first)


@transaction.atomic
def offer_mark_delivered(*, assignment_id: int, volunteer: Volunteer) -> bool:
    """The phone received the offer. True the first time; later reports change nothing."""
    return _offer_acknowledge(
        assignment_id=assignment_id,
        volunteer=volunteer,
        field="delivered_at",
        kind=EventKind.OFFER_DELIVERED,
    )


@transaction.atomic
def offer_mark_seen(*, assignment_id: int, volunteer: Volunteer) -> bool:
    """The volunteer opened the offer (which also proves it was delivered)."""
    offer_mark_delivered(assignment_id=assignment_id, volunteer=volunteer)
    return _offer_acknowledge(
        assignment_id=assignment_id, volunteer=volunteer, field="seen_at", kind=EventKind.OFFER_SEEN
    )


def offers_expire() -> list[int]:
    """Expire every offer past its time and return the needs to offer again. Each
    offer is claimed under its need's lock, so a sweep running twice, or racing an
    accept, expires each offer at most once and never an accepted one."""
    now = timezone.now()
    due = Assignment.objects.filter(status=AssignmentStatus.OFFERED, expires_at__lte=now)
    need_ids = set()
    for assignment_id in due.values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            assignment = _assignment_locked(assignment_id)
            if assignment.status != AssignmentStatus.OFFERED:
                continue
            _set_status(assignment, AssignmentStatus.EXPIRED, answered_at=now)
            _event(EventKind.OFFER_EXPIRED, assignment)
            need_ids.add(assignment.need_id)
    return sorted(need_ids)


# --- after accepting ------------------------------------------------------------------

PROGRESS = {
    AssignmentStatus.EN_ROUTE: ({AssignmentStatus.ACCEPTED}, "en_route_at"),
    AssignmentStatus.ON_SCENE: (
        {AssignmentStatus.ACCEPTED, AssignmentStatus.EN_ROUTE},
        "on_scene_at",
    ),
    AssignmentStatus.COMPLETED: (set(ACTIVE_STATUSES), "finished_at"),
}
PROGRESS_EVENTS = {
    AssignmentStatus.EN_ROUTE: EventKind.ASSIGNMENT_EN_ROUTE,
    AssignmentStatus.ON_SCENE: EventKind.ASSIGNMENT_ON_SCENE,
    AssignmentStatus.COMPLETED: EventKind.ASSIGNMENT_COMPLETED,
}


@transaction.atomic
def assignment_progress(
    *, assignment_id: int, volunteer: Volunteer, status: str, people_moved: int | None = None
) -> Assignment:
    """en route → on scene → completed (with the people moved, for rescues)."""
    if status not in PROGRESS:
        raise InvalidTransition(_("Unknown status %(status)s.") % {"status": repr(status)})
    assignment = _assignment_locked(assignment_id)
    if not _may_answer(assignment, volunteer):
        raise NotYours(_("This assignment is not yours."))
    allowed_from, time_field = PROGRESS[status]
    # A reserved shift that came due before the take-up sweep reached it (beat late or
    # down): setting out or arriving takes it up, logged by that step's own event.
    taking_up = assignment.status == AssignmentStatus.RESERVED and _shift_due(assignment)
    if assignment.status not in allowed_from and not (
        taking_up and status != AssignmentStatus.COMPLETED
    ):
        raise InvalidTransition(
            _("Cannot go from “%(current)s” to “%(next)s”.")
            % {"current": STATUS_LABELS[assignment.status], "next": STATUS_LABELS[status]}
        )
    if people_moved is not None and (status != AssignmentStatus.COMPLETED or people_moved < 0):
        raise InvalidTransition(_("People moved are reported once, when completing."))
    fields = {time_field: timezone.now()}
    if status == AssignmentStatus.COMPLETED:
        fields["people_moved"] = people_moved
    if taking_up:
        _reserved_set_out(assignment, status, **fields)
    else:
        _set_status(assignment, status, **fields)
    _event(PROGRESS_EVENTS[status], assignment, actor=volunteer.user, people_moved=people_moved)
    return assignment


def _shift_due(assignment: Assignment) -> bool:
    return assignment.need.shift_start - timezone.now() <= shifts.reserve_lead()


def _reserved_set_out(assignment: Assignment, status: str, **fields) -> None:
    """A reserved shift goes straight to en route or on scene: it engages its volunteer,
    unless they are still on other work (ResourceBusy)."""
    volunteer_id = assignment.volunteer_id
    shifts.shift_volunteer_lock(volunteer_id)
    try:
        with transaction.atomic():
            _set_status(assignment, status, **fields)
            Engagement.objects.create(volunteer_id=volunteer_id, assignment=assignment)
    except IntegrityError:
        raise ResourceBusy(_("You are still on another task: finish it first.")) from None
    _after_taking_a_task(assignment, volunteer_id=volunteer_id)


# --- coordinators ---------------------------------------------------------------------


def _close_assignment(assignment: Assignment, *, actor, reason: str) -> None:
    """Withdraw an open offer or cancel active work (its people and vehicle are free
    again: _set_status)."""
    if assignment.status == AssignmentStatus.OFFERED:
        _set_status(
            assignment, AssignmentStatus.WITHDRAWN, answered_at=timezone.now(), reason=reason
        )
        _event(EventKind.OFFER_WITHDRAWN, assignment, actor=actor, reason=reason)
    elif assignment.status in (AssignmentStatus.RESERVED, *ACTIVE_STATUSES):
        _set_status(
            assignment, AssignmentStatus.CANCELLED, finished_at=timezone.now(), reason=reason
        )
        _event(EventKind.ASSIGNMENT_CANCELLED, assignment, actor=actor, reason=reason)


def incident_assignments_close(*, incident: Incident, actor, reason: str) -> None:
    """When an incident is resolved or cancelled: withdraw its open offers and free
    everyone on it. Runs in the closing transaction."""
    for need in (
        Need.objects.select_for_update(no_key=True).filter(incident=incident).order_by("pk")
    ):
        need_assignments_close(need, actor=actor, reason=reason)


def need_assignments_close(need: Need, *, actor, reason: str) -> None:
    """Withdraw the need's open offers and stand down everyone on it (a need cancelled,
    its incident closed). The caller holds the need's lock."""
    for assignment in _need_assignments(need):
        if assignment.status in OPEN_STATUSES:
            assignment.need = need
            _close_assignment(assignment, actor=actor, reason=reason)


# --- a live incident that changed (issue 13) ------------------------------------------

# Who is stood down first when a need shrinks: whoever has not set out, then those on
# the way, then those on scene; and of the same progress, the latest to accept. Whoever
# completed is never stood down: their part is done (incidents.services refuses to
# shrink a need below it).
_STAND_DOWN_PROGRESS = {
    AssignmentStatus.RESERVED: -1,  # a shift booked ahead: nobody has set out yet
    AssignmentStatus.ACCEPTED: 0,
    AssignmentStatus.EN_ROUTE: 1,
    AssignmentStatus.ON_SCENE: 2,
}


def _stand_down_order(assignment: Assignment) -> tuple:
    answered = assignment.answered_at.timestamp() if assignment.answered_at else 0.0
    return (_STAND_DOWN_PROGRESS[assignment.status], -answered, -assignment.pk)


def need_surplus_release(need: Need, *, actor, reason: str) -> list[Assignment]:
    """After a need shrank (the caller holds its lock and saved the new size): stand
    down the work it no longer wants, in _stand_down_order, for as long as the need
    stays covered without it; then withdraw the open offers beyond the offers it still
    wants out, the newest first. Returns the assignments closed."""
    assignments = _need_assignments(need)
    filled = [a for a in assignments if a.status in FILLED_STATUSES]
    active = sorted((a for a in filled if a.status in _STAND_DOWN_PROGRESS), key=_stand_down_order)
    released = []
    for assignment in active:
        rest = [a for a in filled if a is not assignment]
        if need_open_places(need, rest) <= 0:
            filled = rest
            released.append(assignment)
    offered = sorted(
        (a for a in assignments if a.status == AssignmentStatus.OFFERED),
        key=lambda a: (a.offered_at, a.pk),
    )
    still_wanted = offers_wanted(
        need=need,
        urgent=need.incident.is_urgent,
        open_places=need_open_places(need, filled),
        outstanding=0,
    )
    released += offered[still_wanted:]
    for assignment in released:
        assignment.need = need
        _close_assignment(assignment, actor=actor, reason=reason)
    return released


def incident_moved(*, incident: Incident, needs: list[Need], actor) -> list[int]:
    """The incident's place changed (the caller holds its needs' locks, `needs`): the
    offers made for the old place are withdrawn, to be planned again from the new one
    (the ids of the needs to dispatch are returned); whoever is already on the task is
    told the new place on their phone."""
    replan = []
    for need in needs:
        for assignment in _need_assignments(need):
            assignment.need = need
            if assignment.status == AssignmentStatus.OFFERED:
                _close_assignment(assignment, actor=actor, reason=PLACE_CHANGED)
                replan.append(need.pk)
            elif assignment.status in _STAND_DOWN_PROGRESS:  # active, or a shift booked
                _event(
                    EventKind.ASSIGNMENT_REROUTED,
                    assignment,
                    actor=actor,
                    latitude=incident.latitude,
                    longitude=incident.longitude,
                    address=incident.address,
                )
    return sorted(set(replan))


@dataclass(frozen=True)
class ManualTarget:
    volunteer: Volunteer | None = None
    vehicle: Vehicle | None = None


@transaction.atomic
def assignment_assign_manually(
    *, need_id: int, target: ManualTarget, actor, reason: str
) -> Assignment:
    """A coordinator assigns someone directly (they agreed on the phone): the
    assignment starts accepted. Refused when the need is full or the person busy."""
    if not reason.strip():
        raise InvalidTransition(_("Say why you assign by hand."))
    if (target.volunteer is None) == (target.vehicle is None):
        raise InvalidTransition(_("Assign one volunteer or one vehicle."))
    need = need_locked(need_id)
    wants_people = need.kind == Need.Kind.PEOPLE
    if wants_people != (target.volunteer is not None):
        raise InvalidTransition(
            _("This need asks for people: assign a volunteer.")
            if wants_people
            else _("This need asks for vehicles: assign a vehicle.")
        )
    if not need.incident.is_open:
        raise OfferClosed(_incident_closed_reason(need.incident))
    if need.is_cancelled:
        raise OfferClosed(_("This need was cancelled."))
    assignments = _need_assignments(need)
    filled = [a for a in assignments if a.status in FILLED_STATUSES]
    if need_open_places(need, filled) <= 0:
        raise OfferClosed(_("This need is already filled."))
    person = getattr(target.volunteer, "pk", None)
    if person is not None and any(
        a.volunteer_id == person and a.status in FILLED_STATUSES for a in assignments
    ):
        raise ResourceBusy(
            _("%(name)s already has a place on this need.") % {"name": target.volunteer.name}
        )
    now = timezone.now()
    previous_offer = next(
        (
            a
            for a in assignments
            if a.status == AssignmentStatus.OFFERED
            and (a.volunteer_id, a.vehicle_id)
            == (getattr(target.volunteer, "pk", None), getattr(target.vehicle, "pk", None))
        ),
        None,
    )
    assignment = previous_offer or Assignment(
        need=need, volunteer=target.volunteer, vehicle=target.vehicle
    )
    if shifts.shift_reservable(need, volunteer_id=person, now=now):
        assignment.need = need
        _reserve(
            assignment,
            volunteer=target.volunteer,
            actor=actor,
            answered_at=now,
            offered_by=actor,
            reason=reason[:300],
        )
        if need_open_places(need, [*filled, assignment]) <= 0:
            _withdraw_other_offers_of_need(need, keep=assignment, reason=NOT_NEEDED)
        return assignment
    try:
        _take_on(
            assignment, volunteer_id=person, answered_at=now, offered_by=actor, reason=reason[:300]
        )
    except IntegrityError:
        raise ResourceBusy(_("Already on another assignment.")) from None
    assignment.need = need
    _event(EventKind.OFFER_ACCEPTED, assignment, actor=actor, manual=True, reason=reason[:300])
    if need_open_places(need, [*filled, assignment]) <= 0:
        _withdraw_other_offers_of_need(need, keep=assignment, reason=NOT_NEEDED)
    _after_taking_a_task(assignment, volunteer_id=person)
    return assignment


@transaction.atomic
def assignment_unassign(*, assignment_id: int, actor, reason: str) -> Assignment:
    """A coordinator takes someone off a need (or withdraws an offer), with a reason;
    the need is offered again."""
    if not reason.strip():
        raise InvalidTransition(_("Say why you unassign."))
    assignment = _assignment_locked(assignment_id)
    if assignment.status not in OPEN_STATUSES:
        raise InvalidTransition(
            _("This assignment is already closed (%(status)s).")
            % {"status": STATUS_LABELS[assignment.status]}
        )
    _close_assignment(assignment, actor=actor, reason=reason[:300])
    queue.needs_dispatch_enqueue(need_ids=[assignment.need_id])
    return assignment


# --- lost withdrawals (issue 10) ------------------------------------------------------


def offers_withdraw_from_busy_sweep() -> list[int]:
    """Withdraw every open offer of a volunteer or vehicle who is busy (or of a vehicle
    out of service), and return the needs to offer again: offers_withdraw_from_busy's
    work, redone from the database for withdrawals whose task was lost (the broker was
    down when the accept committed, or a worker died holding the task, which Redis then
    keeps unacknowledged for hours). Such an offer cannot be accepted (the person is
    busy) and holds its need's place meanwhile, so it must not wait for its expiry.

    Safe to run at any time, twice, or beside the task itself: offers_withdraw_from_busy
    checks again that they are busy, and withdraws each offer under its need's lock,
    once. Reads two sets of ids: those with open offers are few, the busy many."""
    offered = Assignment.objects.filter(status=AssignmentStatus.OFFERED)
    busy_volunteer_ids = (
        set(offered.filter(volunteer__isnull=False).values_list("volunteer_id", flat=True))
        & availability.volunteer_busy_ids()
    )
    # A vehicle out of service is as unable to take its offers as a busy one.
    out_of_service = Vehicle.objects.filter(status=VehicleStatus.OUT_OF_SERVICE)
    unable_vehicle_ids = set(
        offered.filter(vehicle__isnull=False).values_list("vehicle_id", flat=True)
    ) & (availability.vehicle_busy_ids() | set(out_of_service.values_list("pk", flat=True)))
    need_ids: set[int] = set()
    for volunteer_id in sorted(busy_volunteer_ids):
        need_ids.update(offers_withdraw_from_busy(volunteer_id=volunteer_id))
    for vehicle_id in sorted(unable_vehicle_ids):
        need_ids.update(offers_withdraw_from_busy(vehicle_id=vehicle_id))
    return sorted(need_ids)


# --- reserved shifts (issue 13, dispatch.shifts) ----------------------------------------


@transaction.atomic
def assignment_give_up(*, assignment_id: int, volunteer: Volunteer) -> Assignment:
    """The volunteer gives up a shift they reserved: its place is offered to others
    (not to them again: they were asked)."""
    assignment = _assignment_locked(assignment_id)
    if assignment.volunteer_id != volunteer.pk:
        raise NotYours(_("This shift is not yours."))
    if assignment.status != AssignmentStatus.RESERVED:
        raise OfferClosed(
            _("Only a booked shift can be given up; this one is “%(status)s”.")
            % {"status": STATUS_LABELS[assignment.status]}
        )
    _set_status(
        assignment, AssignmentStatus.CANCELLED, finished_at=timezone.now(), reason=SHIFT_GIVEN_UP
    )
    _event(EventKind.ASSIGNMENT_CANCELLED, assignment, actor=volunteer.user, reason=SHIFT_GIVEN_UP)
    queue.needs_dispatch_batched_enqueue(need_ids=[assignment.need_id])
    return assignment


def shifts_take_up(*, now=None) -> list[int]:
    """The take-up sweep (beat, every minute): each reserved shift starting within the
    lead time becomes its volunteer's active work (accepted, engaged, out of the
    location index, their other offers withdrawn), logged as assignment.taken_up.

    Someone still on other work then is not double booked: the coordinators are told
    once (assignment.shift_clash, on the dashboard's feed and the volunteer's phone)
    and the reservation waits, taken up by a later run as soon as they are free; if
    they are still busy when the shift begins, it is released (cancelled, "still on
    other work when the shift began") and its place offered to others. Returns the
    needs to offer again. Each reservation is handled under its need's lock and then
    its volunteer's, so two runs, or a run and a give-up, change it once."""
    now = now or timezone.now()
    released = []
    for assignment_id in shifts.reservations_due(now):
        with transaction.atomic():
            if need_id := _shift_take_up(assignment_id, now=now):
                released.append(need_id)
    if released:
        queue.needs_dispatch_batched_enqueue(need_ids=released)
    return released


def _shift_take_up(assignment_id: int, *, now) -> int | None:
    """One reservation of shifts_take_up; the id of its need when it was released."""
    assignment = _assignment_locked(assignment_id)
    if assignment.status != AssignmentStatus.RESERVED:
        return None  # given up, taken off or taken up meanwhile
    volunteer_id = assignment.volunteer_id
    shifts.shift_volunteer_lock(volunteer_id)
    try:
        _take_on(assignment, volunteer_id=volunteer_id)
    except IntegrityError:  # on other work: rolled back to its savepoint, so reserved
        assignment.status = AssignmentStatus.RESERVED
    else:
        _event(EventKind.ASSIGNMENT_TAKEN_UP, assignment)
        _after_taking_a_task(assignment, volunteer_id=volunteer_id)
        return None
    need = assignment.need
    if now >= need.shift_start:
        _set_status(assignment, AssignmentStatus.CANCELLED, finished_at=now, reason=SHIFT_CLASHED)
        _event(EventKind.ASSIGNMENT_CANCELLED, assignment, reason=SHIFT_CLASHED)
        return need.pk
    if not assignment.events.filter(kind=EventKind.ASSIGNMENT_SHIFT_CLASH).exists():
        busy_on = (
            Engagement.objects.filter(volunteer_id=volunteer_id)
            .values_list("assignment__need__incident_id", flat=True)
            .first()
        )
        _event(
            EventKind.ASSIGNMENT_SHIFT_CLASH,
            assignment,
            shift_start=need.shift_start.isoformat(),
            busy_on=busy_on,
        )
    return None
