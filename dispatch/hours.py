"""Hours and person-times (issue 11 item 4): the figures associations report upward —
each member's record of tasks served and hours, and totals per team (association,
trade branch, rescue team) for a date range. Nothing here writes.

The rule, once (docs/decisions.md, "Hours and person-times"):

- An assignment is *served* by one volunteer: a personal assignment by its volunteer;
  a vehicle assignment by the crew member who accepted it for the vehicle (the
  OFFER_ACCEPTED event's actor: only they are engaged by it and go with the vehicle;
  the rest of the crew stay free for other work). The log is read for every vehicle
  assignment, active or finished: dispatch.models.Engagement names the same person,
  but only while the work lasts. A vehicle a coordinator assigned by hand engaged
  nobody, so its work is no one's hours.
- Only assignments that went count (dispatch.reports.WENT_STATUSES: accepted, en
  route, on scene, completed, cancelled). Declined, expired and withdrawn offers count
  nothing.
- The time served runs from acceptance (`answered_at`) to the end of the work
  (`finished_at`, completed or cancelled: a coordinator's cancellation counts the time
  served until then); work still active runs up to now and is marked ongoing.
- A shift need counts its shift window clipped to that: a sampler booked the evening
  before serves from the shift's start, not from the booking, and until the shift's
  end at most (or their earlier finish). A shift that has not begun, or was cancelled
  before it began, served nothing and is left out (the phone lists upcoming shifts).
- A *person-time* is one assignment served. One person holds one piece of work at a
  time (DESIGN.md §4 rule 4), so a volunteer's hours never overlap and simply add up.
- Work falls in a date range by the city's local day its service began (acceptance,
  or the shift's start), and counts whole on that day, even past midnight.
- Teams are the volunteer's teams now (membership keeps no history). A member of two
  teams counts in both teams' rows; the grand total and the totals per team kind
  count each person-time once.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Case, F, Q, QuerySet, When
from django.utils import timezone

from dispatch.labels import INCIDENT_KIND_LABELS, label_of, need_label, vehicle_label
from dispatch.models import ACTIVE_STATUSES, Assignment, DeploymentEvent, EventKind
from dispatch.reports import WENT_STATUSES
from volunteers.models import Team, TeamKind, Volunteer

# --- one assignment served --------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """One assignment served by one volunteer, and the time it counts."""

    assignment_id: int
    volunteer_id: int
    incident_id: int
    incident_title: str
    incident_kind: str  # the label
    need: str  # the label, with its shift window
    vehicle: str  # the vehicle's label for vehicle work, else ""
    status: str
    accepted_at: datetime
    started_at: datetime  # when the time counted begins
    ended_at: datetime  # when it ends (now, for work still going on)
    ongoing: bool
    shift: bool

    @property
    def seconds(self) -> float:
        return max((self.ended_at - self.started_at).total_seconds(), 0.0)

    @property
    def hours(self) -> Decimal:
        return hours_of(self.seconds)


def hours_of(seconds: float) -> Decimal:
    """Hours to one decimal, as the page, the exports and the phone show them."""
    return (Decimal(seconds) / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), timezone.get_current_timezone())


def _crew_accepts(volunteer_ids: list[int] | None = None) -> QuerySet[DeploymentEvent]:
    """Vehicle offers accepted by a crew member (not by a coordinator's hand)."""
    events = DeploymentEvent.objects.filter(
        kind=EventKind.OFFER_ACCEPTED,
        vehicle__isnull=False,
        assignment__isnull=False,
        actor__volunteer__isnull=False,
    ).filter(
        # Not .exclude(data__manual=True): SQL's NOT of a missing key is NULL, not true.
        Q(data__manual__isnull=True) | ~Q(data__manual=True)
    )
    if volunteer_ids is not None:
        events = events.filter(actor__volunteer__in=volunteer_ids)
    return events


def served_assignments(
    *,
    start: date | None = None,
    end: date | None = None,
    volunteer_ids: Iterable[int] | None = None,
    now: datetime | None = None,
) -> list[Served]:
    """The assignments served whose service began on the local days start..end (both
    included; either open), by the given volunteers (or everyone), oldest first."""
    now = now or timezone.now()
    assignments = (
        Assignment.objects.filter(status__in=WENT_STATUSES, answered_at__isnull=False)
        .annotate(
            began_at=Case(
                When(need__shift_start__gt=F("answered_at"), then=F("need__shift_start")),
                default=F("answered_at"),
            )
        )
        .select_related("need__incident", "need__skill", "vehicle")
        .order_by("began_at", "pk")
    )
    if start:
        assignments = assignments.filter(began_at__gte=_day_start(start))
    if end:
        assignments = assignments.filter(began_at__lt=_day_start(end + timedelta(days=1)))
    ids = None if volunteer_ids is None else list(volunteer_ids)
    crew_accepts = _crew_accepts(ids).values("assignment_id")
    mine = Q(volunteer__isnull=False) if ids is None else Q(volunteer_id__in=ids)
    assignments = list(assignments.filter(mine | Q(pk__in=crew_accepts)))
    crew = dict(
        _crew_accepts()
        .filter(assignment_id__in=[a.pk for a in assignments if a.vehicle_id])
        .values_list("assignment_id", "actor__volunteer__id")
    )
    served = []
    for assignment in assignments:
        volunteer_id = assignment.volunteer_id or crew.get(assignment.pk)
        if volunteer_id is None:
            continue
        if one := _served(assignment, volunteer_id, now):
            served.append(one)
    return served


def _served(assignment: Assignment, volunteer_id: int, now: datetime) -> Served | None:
    need = assignment.need
    ongoing = assignment.status in ACTIVE_STATUSES
    started = assignment.answered_at
    ended = now if ongoing else (assignment.finished_at or assignment.answered_at)
    shift = need.shift_start is not None and need.shift_end is not None
    if shift:
        started = max(started, need.shift_start)
        ended = min(ended, need.shift_end)
        if ended <= started:
            return None  # not begun yet, or cancelled before it began
        ongoing = ongoing and now < need.shift_end
    incident = need.incident
    return Served(
        assignment_id=assignment.pk,
        volunteer_id=volunteer_id,
        incident_id=incident.pk,
        incident_title=incident.title,
        incident_kind=label_of(INCIDENT_KIND_LABELS, incident.kind),
        need=need_label(need),
        vehicle=vehicle_label(assignment.vehicle),
        status=assignment.status,
        accepted_at=assignment.answered_at,
        started_at=started,
        ended_at=ended,
        ongoing=ongoing,
        shift=shift,
    )


# --- totals -----------------------------------------------------------------------------


@dataclass
class Tally:
    person_times: int = 0
    seconds: float = 0.0
    ongoing: int = 0

    def add(self, served: Served) -> None:
        self.person_times += 1
        self.seconds += served.seconds
        self.ongoing += served.ongoing

    @property
    def hours(self) -> Decimal:
        return hours_of(self.seconds)


@dataclass
class VolunteerHours:
    volunteer_id: int
    name: str
    teams: str  # the names of their teams, "、"-joined
    tally: Tally = field(default_factory=Tally)
    last_at: datetime | None = None  # the start of their last service in the range


@dataclass
class TeamHours:
    team_id: int | None  # None: volunteers in no team
    name: str
    kind: str  # a TeamKind value, or "" for no team
    volunteers: int = 0  # distinct volunteers who served
    tally: Tally = field(default_factory=Tally)


@dataclass
class HoursReport:
    start: date | None
    end: date | None
    team: Team | None
    served: list[Served]
    volunteers: list[VolunteerHours]  # most hours first
    teams: list[TeamHours]  # by kind (associations, branches, rescue teams), then name
    kinds: dict[str, TeamHours]  # per team kind ("" for no team): each served once
    total: Tally
    total_volunteers: int


KIND_ORDER = [TeamKind.ASSOCIATION, TeamKind.BRANCH, TeamKind.RESCUE, ""]


def hours_report(
    *,
    start: date | None = None,
    end: date | None = None,
    team: Team | None = None,
    now: datetime | None = None,
) -> HoursReport:
    """Hours and person-times per volunteer, per team and per team kind, for the local
    days start..end, of everyone or of one team's members."""
    members = None
    if team is not None:
        members = Volunteer.objects.filter(teams=team).values_list("pk", flat=True)
    served = served_assignments(start=start, end=end, volunteer_ids=members, now=now)
    people = {
        volunteer.pk: volunteer
        for volunteer in Volunteer.objects.filter(
            pk__in={one.volunteer_id for one in served}
        ).prefetch_related("teams")
    }
    by_volunteer: dict[int, VolunteerHours] = {}
    by_team: dict[int | None, TeamHours] = {}
    kinds: dict[str, TeamHours] = {}
    team_people: dict[int | None, set] = defaultdict(set)
    kind_people: dict[str, set] = defaultdict(set)
    total = Tally()
    for one in served:
        volunteer = people[one.volunteer_id]
        teams = [t for t in volunteer.teams.all() if team is None or t.pk == team.pk]
        row = by_volunteer.get(volunteer.pk)
        if row is None:
            names = "、".join(t.name for t in volunteer.teams.all())
            row = by_volunteer[volunteer.pk] = VolunteerHours(volunteer.pk, volunteer.name, names)
        row.tally.add(one)
        row.last_at = one.started_at
        total.add(one)
        for each in teams or [None]:
            key = each.pk if each else None
            if key not in by_team:
                by_team[key] = TeamHours(key, each.name if each else "", each.kind if each else "")
            by_team[key].tally.add(one)
            team_people[key].add(volunteer.pk)
        for kind in {each.kind for each in teams} or {""}:
            kinds.setdefault(kind, TeamHours(None, "", kind)).tally.add(one)
            kind_people[kind].add(volunteer.pk)
    for key, row in by_team.items():
        row.volunteers = len(team_people[key])
    for kind, row in kinds.items():
        row.volunteers = len(kind_people[kind])
    return HoursReport(
        start=start,
        end=end,
        team=team,
        served=served,
        volunteers=sorted(
            by_volunteer.values(), key=lambda r: (-r.tally.seconds, -r.tally.person_times, r.name)
        ),
        teams=sorted(by_team.values(), key=lambda r: (KIND_ORDER.index(r.kind), r.name)),
        kinds={kind: kinds[kind] for kind in KIND_ORDER if kind in kinds},
        total=total,
        total_volunteers=len(by_volunteer),
    )


# --- a volunteer's own record -----------------------------------------------------------


@dataclass
class VolunteerRecord:
    month: Tally
    year: Tally
    last: list[Served]  # newest first


RECORD_LAST = 5


def volunteer_record(
    *, volunteer: Volunteer, now: datetime | None = None, last: int = RECORD_LAST
) -> VolunteerRecord:
    """A member's own record: this month and this year (local), and their last tasks."""
    now = now or timezone.now()
    today = timezone.localtime(now).date()
    # A member's whole history is a few hundred tasks at most.
    served = served_assignments(volunteer_ids=[volunteer.pk], now=now)
    month, year = Tally(), Tally()
    year_start = _day_start(today.replace(month=1, day=1))
    month_start = _day_start(today.replace(day=1))
    for one in served:
        if one.started_at >= year_start:
            year.add(one)
        if one.started_at >= month_start:
            month.add(one)
    latest = served[-last:] if last else []
    return VolunteerRecord(month=month, year=year, last=list(reversed(latest)))
