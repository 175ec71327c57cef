"""Reads for the commanders' review (issue 5): the deployment log filtered, one
incident's timeline, its ICS-214 activity log, and totals in the terms the real
operations used (DESIGN.md §1). Nothing here writes.

The terms, once (docs/decisions.md, "Commander review"):

- An assignment *went* when it was accepted, whatever followed: accepted, en route, on
  scene, completed, or cancelled (only active work can be cancelled, so a cancelled
  assignment had been accepted). Declined, expired and withdrawn offers did not go.
- Assignments fall in a date range by when they were offered, incidents by when they
  were opened, shifts by when they start. So the bars of a chart add up to its total.
- A *vehicle dispatch* is a vehicle assignment that went; *person-times* are volunteer
  assignments that went (a vehicle's crew is not counted again: the record says which
  vehicle went, not who of its crew was aboard).
- A *testing-site shift staffed* is a shift need of a testing site that as many people
  went to as it asked for.
- The medians are of urgent response only (flood rescue, evacuation, medical, search):
  offered → answered for the accepted offers the engine made (a coordinator's manual
  assignment is "accepted" the moment it is made), and answered → on scene. Shift
  staffing is booked hours ahead and would drown the figure that matters.
"""

import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from dispatch.labels import (
    ANSWER_LABELS,
    EVENT_LABELS,
    INCIDENT_KIND_LABELS,
    PRIORITY_LABELS,
    STATUS_LABELS,
    need_label,
    reason_text,
    resource_label,
    township_name,
    user_name,
    vehicle_label,
)
from dispatch.models import Assignment, AssignmentStatus, DeploymentEvent, EventKind
from dispatch.selectors import log_events
from incidents.models import URGENT_KINDS, Incident, IncidentKind, Need
from volunteers.models import Vehicle, VehicleKind, Volunteer

WENT_STATUSES = (
    AssignmentStatus.ACCEPTED,
    AssignmentStatus.EN_ROUTE,
    AssignmentStatus.ON_SCENE,
    AssignmentStatus.COMPLETED,
    AssignmentStatus.CANCELLED,
)

# --- the filtered log -----------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    """What a commander narrows the review to. Days are the city's local days, both
    ends included."""

    start: date | None = None
    end: date | None = None
    incident: int | None = None
    kind: str = ""  # an event kind ("offer.accepted") or a family ("offer")
    incident_kind: str = ""
    township: int | None = None
    team: int | None = None
    volunteer: int | None = None

    def window(self) -> tuple[datetime | None, datetime | None]:
        """[after, before) as aware datetimes: local midnight of start, and of the day
        after end."""
        zone = timezone.get_current_timezone()
        after = datetime.combine(self.start, time(), zone) if self.start else None
        before = datetime.combine(self.end + timedelta(days=1), time(), zone) if self.end else None
        return after, before


def _team_members(team_id: int):
    return Volunteer.objects.filter(teams=team_id).values("pk")


def _crewed_by(volunteer_id: int):
    return Vehicle.objects.filter(crew=volunteer_id).values("pk")


def log_filtered(*, filters: LogFilter) -> QuerySet[DeploymentEvent]:
    """The deployment log, narrowed, in sequence order.

    An event is in a township when its incident is; an event with no incident (going
    on duty) when its volunteer or vehicle is based there. A team's events are its
    members' and its vehicles'; a volunteer's are their own and those of the vehicles
    they crew (the crew answers for a vehicle)."""
    after, before = filters.window()
    events = log_events(
        incident=filters.incident, kind=filters.kind or None, after=after, before=before
    ).select_related(
        "actor__volunteer",
        "incident__township",
        "need__skill",
        "volunteer",
        "vehicle",
    )
    if filters.incident_kind:
        events = events.filter(incident__kind=filters.incident_kind)
    if filters.township:
        events = events.filter(
            Q(incident__township_id=filters.township)
            | Q(incident__isnull=True, volunteer__township_id=filters.township)
            | Q(incident__isnull=True, vehicle__township_id=filters.township)
        )
    if filters.team:
        events = events.filter(
            Q(volunteer__in=_team_members(filters.team))
            | Q(vehicle__in=Vehicle.objects.filter(team=filters.team).values("pk"))
        )
    if filters.volunteer:
        events = events.filter(
            Q(volunteer_id=filters.volunteer) | Q(vehicle__in=_crewed_by(filters.volunteer))
        )
    return events


def _event_details(event: DeploymentEvent) -> str:
    data = event.data or {}
    kind = event.kind
    if kind == EventKind.OFFER_MADE and data.get("distance_m") is not None:
        km = data["distance_m"] / 1000
        if data.get("eta_seconds") is None:
            return _("%(km).1f km away") % {"km": km}
        minutes = max(round(data["eta_seconds"] / 60), 1)
        return _("%(km).1f km away, about %(minutes)d min") % {"km": km, "minutes": minutes}
    if kind == EventKind.OFFER_ACCEPTED and data.get("manual"):
        return _("assigned by hand: %(reason)s") % {"reason": data.get("reason", "")}
    if kind == EventKind.ASSIGNMENT_COMPLETED and data.get("people_moved") is not None:
        return _("%(people)d people moved") % {"people": data["people_moved"]}
    if kind in (EventKind.INCIDENT_RESOLVED, EventKind.INCIDENT_CANCELLED):
        return data.get("note", "")
    if kind == EventKind.INCIDENT_OPENED and data.get("priority"):
        label = PRIORITY_LABELS.get(data["priority"], data["priority"])
        return _("priority: %(priority)s") % {"priority": label}
    if kind == EventKind.VEHICLE_STATUS:
        return str(data.get("status", ""))
    if kind == EventKind.BROADCAST_SENT:
        return _("“%(text)s”, to %(count)d on duty") % {
            "text": data.get("text", ""),
            "count": data.get("recipients", 0),
        }
    if kind == EventKind.ACTIVITY_RECORDED:
        return _("%(title)s, %(people)d people reached") % {
            "title": data.get("title", ""),
            "people": data.get("audience_size", 0),
        }
    if data.get("reason"):
        return reason_text(data["reason"])
    return ""


@dataclass(frozen=True)
class LogRow:
    """One log event as the table, the CSV and the XLSX show it."""

    seq: int
    occurred_at: datetime
    kind: str
    kind_label: str
    incident_id: int | None
    incident_title: str
    incident_kind: str
    township: str
    need: str
    volunteer_id: int | None
    volunteer: str
    vehicle: str
    actor: str
    people_moved: int | None
    details: str

    @property
    def who(self) -> str:
        return self.volunteer or self.vehicle


def log_row(event: DeploymentEvent) -> LogRow:
    incident = event.incident
    people_moved = (event.data or {}).get("people_moved")
    return LogRow(
        seq=event.seq,
        occurred_at=event.occurred_at,
        kind=event.kind,
        kind_label=str(EVENT_LABELS.get(event.kind, event.kind)),
        incident_id=event.incident_id,
        incident_title=incident.title if incident else "",
        incident_kind=str(INCIDENT_KIND_LABELS.get(incident.kind, incident.kind))
        if incident
        else "",
        township=township_name(incident.township) if incident else "",
        need=need_label(event.need),
        volunteer_id=event.volunteer_id,
        volunteer=event.volunteer.name if event.volunteer else "",
        vehicle=vehicle_label(event.vehicle),
        actor=user_name(event.actor) if event.actor_id else "",
        people_moved=people_moved if event.kind == EventKind.ASSIGNMENT_COMPLETED else None,
        details=_event_details(event),
    )


def log_rows(events: Iterable[DeploymentEvent]) -> Iterator[LogRow]:
    for event in events:
        yield log_row(event)


# --- totals ---------------------------------------------------------------------------


def assignments_filtered(*, filters: LogFilter) -> QuerySet[Assignment]:
    """The assignments the totals count: offered in the range, on the chosen incidents,
    and of the chosen team or volunteer. The event-kind filter narrows the log only."""
    assignments = _in_window(Assignment.objects.all(), "offered_at", filters)
    assignments = assignments.filter(_incident_conditions(filters, to_incident="need__incident__"))
    if filters.team:
        assignments = assignments.filter(
            Q(volunteer__in=_team_members(filters.team)) | Q(vehicle__team_id=filters.team)
        )
    if filters.volunteer:
        assignments = assignments.filter(
            Q(volunteer_id=filters.volunteer) | Q(vehicle__in=_crewed_by(filters.volunteer))
        )
    return assignments


def _incident_conditions(filters: LogFilter, *, to_incident: str) -> Q:
    """The filters on the incident itself, reached from the model being filtered
    through `to_incident` ("" for Incident, "incident__" for Need, "need__incident__"
    for Assignment)."""
    conditions = Q()
    if filters.incident:
        conditions &= Q(**{f"{to_incident}pk": filters.incident})
    if filters.incident_kind:
        conditions &= Q(**{f"{to_incident}kind": filters.incident_kind})
    if filters.township:
        conditions &= Q(**{f"{to_incident}township_id": filters.township})
    return conditions


def _in_window(queryset, field: str, filters: LogFilter):
    after, before = filters.window()
    if after:
        queryset = queryset.filter(**{f"{field}__gte": after})
    if before:
        queryset = queryset.filter(**{f"{field}__lt": before})
    return queryset


def _incidents_filtered(filters: LogFilter, went: QuerySet[Assignment]) -> QuerySet[Incident]:
    incidents = _in_window(Incident.objects.all(), "opened_at", filters)
    incidents = incidents.filter(_incident_conditions(filters, to_incident=""))
    if filters.team or filters.volunteer:
        # The incidents the team or volunteer went to.
        incidents = incidents.filter(pk__in=went.values("need__incident_id"))
    return incidents


def _shifts_filtered(filters: LogFilter, went: QuerySet[Assignment]) -> QuerySet[Need]:
    """Testing-site shifts starting in the range, each with how many went to it."""
    shifts = Need.objects.filter(
        incident__kind=IncidentKind.TESTING_SITE, shift_start__isnull=False
    )
    shifts = _in_window(shifts, "shift_start", filters)
    shifts = shifts.filter(_incident_conditions(filters, to_incident="incident__"))
    if filters.team or filters.volunteer:
        shifts = shifts.filter(pk__in=went.values("need_id"))
    return shifts.annotate(
        went=Count("assignments", filter=Q(assignments__status__in=WENT_STATUSES))
    )


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


@dataclass(frozen=True)
class Totals:
    incidents: int
    vehicle_dispatches: int
    boats: int  # distinct boats that went
    boat_dispatches: int
    person_times: int
    people_moved: int
    shifts: int  # testing-site shifts in the range
    shifts_staffed: int
    sites_staffed: int  # distinct testing sites with a staffed shift
    median_accept_seconds: float | None
    median_arrive_seconds: float | None


def _response_times(went: QuerySet[Assignment]) -> tuple[list[float], list[float]]:
    """Seconds to accept and to arrive, of the urgent assignments the engine offered."""
    rows = went.filter(need__incident__kind__in=URGENT_KINDS, offered_by__isnull=True).values_list(
        "offered_at", "answered_at", "on_scene_at"
    )
    accept, arrive = [], []
    for offered_at, answered_at, on_scene_at in rows:
        if (seconds := _seconds(offered_at, answered_at)) is not None:
            accept.append(seconds)
        if (seconds := _seconds(answered_at, on_scene_at)) is not None:
            arrive.append(seconds)
    return accept, arrive


def report_totals(*, filters: LogFilter) -> Totals:
    went = assignments_filtered(filters=filters).filter(status__in=WENT_STATUSES)
    counts = went.aggregate(
        vehicle_dispatches=Count("pk", filter=Q(vehicle__isnull=False)),
        boat_dispatches=Count("pk", filter=Q(vehicle__kind=VehicleKind.BOAT)),
        boats=Count("vehicle", filter=Q(vehicle__kind=VehicleKind.BOAT), distinct=True),
        person_times=Count("pk", filter=Q(volunteer__isnull=False)),
        people_moved=Sum("people_moved"),
    )
    shifts = _shifts_filtered(filters, went)
    staffed = shifts.filter(went__gte=F("count"))
    accept, arrive = _response_times(went)
    return Totals(
        incidents=_incidents_filtered(filters, went).count(),
        vehicle_dispatches=counts["vehicle_dispatches"],
        boats=counts["boats"],
        boat_dispatches=counts["boat_dispatches"],
        person_times=counts["person_times"],
        people_moved=counts["people_moved"] or 0,
        shifts=shifts.count(),
        shifts_staffed=staffed.count(),
        sites_staffed=staffed.values("incident_id").distinct().count(),
        median_accept_seconds=_median(accept),
        median_arrive_seconds=_median(arrive),
    )


# --- over time ------------------------------------------------------------------------

HOUR, DAY, WEEK = "hour", "day", "week"
STEPS = {HOUR: timedelta(hours=1), DAY: timedelta(days=1), WEEK: timedelta(days=7)}
# Up to two days are drawn per hour, up to three months per day, longer per week.
HOURLY_UP_TO = timedelta(days=2)
DAILY_UP_TO = timedelta(days=93)


# More buckets than this and the range is narrowed to the data.
MAX_BUCKETS = 400


def _unit(span: timedelta) -> str:
    return HOUR if span <= HOURLY_UP_TO else DAY if span <= DAILY_UP_TO else WEEK


def _floor(moment: datetime, unit: str) -> datetime:
    """The start of the bucket holding `moment`, as a naive local wall-clock time."""
    local = timezone.localtime(moment).replace(tzinfo=None)
    if unit == HOUR:
        return local.replace(minute=0, second=0, microsecond=0)
    day = datetime.combine(local.date(), time())
    if unit == DAY:
        return day
    return day - timedelta(days=day.weekday())  # weeks start on Monday


@dataclass
class Series:
    """Totals per bucket: `buckets` are the naive local starts, every list is as long."""

    unit: str
    buckets: list[datetime]
    incidents: list[int] = field(default_factory=list)
    vehicle_dispatches: list[int] = field(default_factory=list)
    boat_dispatches: list[int] = field(default_factory=list)
    person_times: list[int] = field(default_factory=list)
    people_moved: list[int] = field(default_factory=list)
    shifts_staffed: list[int] = field(default_factory=list)
    median_accept_seconds: list[float | None] = field(default_factory=list)
    median_arrive_seconds: list[float | None] = field(default_factory=list)


def report_series(*, filters: LogFilter) -> Series:
    """The totals of report_totals per hour, day or week across the range (or across
    the data, for an open end). Each count is bucketed by the same time its total is
    ranged by, so the bars add up to the totals."""
    went = assignments_filtered(filters=filters).filter(status__in=WENT_STATUSES)
    incidents = list(_incidents_filtered(filters, went).values_list("opened_at", flat=True))
    assignments = list(
        went.values_list(
            "offered_at",
            "answered_at",
            "on_scene_at",
            "volunteer_id",
            "vehicle__kind",
            "people_moved",
            "offered_by_id",
            "need__incident__kind",
        )
    )
    staffed = list(
        _shifts_filtered(filters, went)
        .filter(went__gte=F("count"))
        .values_list("shift_start", flat=True)
    )
    moments = incidents + [row[0] for row in assignments] + staffed
    after, before = filters.window()
    first = after or (min(moments) if moments else None)
    last = (before - timedelta(microseconds=1)) if before else (max(moments) if moments else None)
    if first is None or last is None or last < first:
        return Series(unit=DAY, buckets=[])
    unit = _unit(last - first)
    if moments and (last - first) / STEPS[unit] > MAX_BUCKETS:
        # A range far wider than its data (since 1970, say): draw where the data is.
        first, last = max(first, min(moments)), min(last, max(moments))
        unit = _unit(last - first)
    start, end = _floor(first, unit), _floor(last, unit)
    buckets = []
    while start <= end:
        buckets.append(start)
        start += STEPS[unit]
    position = {bucket: n for n, bucket in enumerate(buckets)}

    def counter() -> list[int]:
        return [0] * len(buckets)

    series = Series(
        unit=unit,
        buckets=buckets,
        incidents=counter(),
        vehicle_dispatches=counter(),
        boat_dispatches=counter(),
        person_times=counter(),
        people_moved=counter(),
        shifts_staffed=counter(),
    )

    def slot(moment: datetime) -> int | None:
        return position.get(_floor(moment, unit))

    for opened_at in incidents:
        if (n := slot(opened_at)) is not None:
            series.incidents[n] += 1
    accept, arrive = defaultdict(list), defaultdict(list)
    for offered, answered, on_scene, volunteer, vehicle_kind, moved, by, kind in assignments:
        n = slot(offered)
        if n is None:
            continue
        if volunteer:
            series.person_times[n] += 1
        else:
            series.vehicle_dispatches[n] += 1
            series.boat_dispatches[n] += vehicle_kind == VehicleKind.BOAT
        series.people_moved[n] += moved or 0
        if kind in URGENT_KINDS and by is None:
            if (seconds := _seconds(offered, answered)) is not None:
                accept[n].append(seconds)
            if (seconds := _seconds(answered, on_scene)) is not None:
                arrive[n].append(seconds)
    for shift_start in staffed:
        if (n := slot(shift_start)) is not None:
            series.shifts_staffed[n] += 1
    series.median_accept_seconds = [_median(accept[n]) for n in range(len(buckets))]
    series.median_arrive_seconds = [_median(arrive[n]) for n in range(len(buckets))]
    return series


# --- one incident ---------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineLine:
    """One offer of the incident and its life, as the timeline draws it."""

    assignment: Assignment
    resource: str
    need: str
    offered_at: datetime
    delivered_at: datetime | None
    seen_at: datetime | None
    answer: str  # "accepted", declined, expired, withdrawn, offered (no answer yet)
    answered_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    finished_at: datetime | None
    status: str
    people_moved: int | None
    reason: str
    manual: bool

    @property
    def went(self) -> bool:
        return self.answer == "accepted"

    @property
    def answer_label(self) -> str:
        return str(ANSWER_LABELS.get(self.answer, self.answer))

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def seconds_to_answer(self) -> float | None:
        return _seconds(self.offered_at, self.answered_at)

    @property
    def seconds_to_arrive(self) -> float | None:
        return _seconds(self.answered_at, self.on_scene_at)

    @property
    def ended_at(self) -> datetime:
        """The last moment the line knows of."""
        moments = [
            self.offered_at,
            self.delivered_at,
            self.seen_at,
            self.answered_at,
            self.en_route_at,
            self.on_scene_at,
            self.finished_at,
        ]
        return max(moment for moment in moments if moment is not None)


@dataclass(frozen=True)
class Timeline:
    incident: Incident
    lines: list[TimelineLine]
    events: list[DeploymentEvent]

    @property
    def started_at(self) -> datetime:
        return self.incident.opened_at

    @property
    def ended_at(self) -> datetime:
        moments = [self.incident.opened_at, self.incident.closed_at]
        moments += [line.ended_at for line in self.lines]
        moments += [event.occurred_at for event in self.events[-1:]]
        return max(moment for moment in moments if moment is not None)


def _answer(assignment: Assignment) -> str:
    if assignment.status in WENT_STATUSES:
        return "accepted"
    return assignment.status


def incident_timeline(*, incident: Incident) -> Timeline:
    """Every offer of the incident in the order it was made, and its log events in
    sequence order."""
    assignments = (
        Assignment.objects.filter(need__incident=incident)
        .select_related("need__skill", "volunteer", "vehicle")
        .order_by("offered_at", "pk")
    )
    lines = [
        TimelineLine(
            assignment=assignment,
            resource=resource_label(assignment.volunteer, assignment.vehicle),
            need=need_label(assignment.need),
            offered_at=assignment.offered_at,
            delivered_at=assignment.delivered_at,
            seen_at=assignment.seen_at,
            answer=_answer(assignment),
            answered_at=assignment.answered_at,
            en_route_at=assignment.en_route_at,
            on_scene_at=assignment.on_scene_at,
            finished_at=assignment.finished_at,
            status=assignment.status,
            people_moved=assignment.people_moved,
            reason=reason_text(assignment.reason),
            manual=assignment.offered_by_id is not None,
        )
        for assignment in assignments
    ]
    events = list(log_filtered(filters=LogFilter(incident=incident.pk)))
    return Timeline(incident=incident, lines=lines, events=events)


# --- ICS-214 --------------------------------------------------------------------------

# Receipts are delivery mechanics, not notable activities: the timeline shows them.
ICS214_SKIPPED = {EventKind.OFFER_DELIVERED, EventKind.OFFER_SEEN}


@dataclass(frozen=True)
class Ics214Resource:
    name: str
    position: str
    agency: str


@dataclass(frozen=True)
class Ics214Activity:
    at: datetime
    text: str


@dataclass(frozen=True)
class Ics214:
    """The incident's activity log in the shape of FEMA's ICS 214 form: 1 incident
    name, 2 operational period, 3–5 name, position and home agency of whoever ran it,
    6 resources assigned, 7 the time-stamped activities."""

    incident: Incident
    period_from: datetime
    period_to: datetime
    leader: str
    leader_position: str
    leader_agency: str
    resources: list[Ics214Resource]
    activities: list[Ics214Activity]


def _agency_of_volunteer(volunteer: Volunteer) -> str:
    teams = [team.name for team in volunteer.teams.all()]
    return "、".join(teams) if teams else township_name(volunteer.township)


def activity_text(row: LogRow) -> str:
    """One line of an activity log: what happened, to whom, for what, by whom."""
    text = " · ".join(part for part in (row.kind_label, row.who, row.need) if part)
    if row.actor and row.actor != row.volunteer and row.kind != EventKind.OFFER_MADE:
        text = _("%(text)s (by %(name)s)") % {"text": text, "name": row.actor}
    if row.details:
        text = _("%(text)s: %(details)s") % {"text": text, "details": row.details}
    return text


def incident_ics214(*, incident: Incident) -> Ics214:
    timeline = incident_timeline(incident=incident)
    went = (
        Assignment.objects.filter(need__incident=incident, status__in=WENT_STATUSES)
        .select_related("need__skill", "volunteer__township", "vehicle__team", "vehicle__township")
        .prefetch_related("volunteer__teams")
        .order_by("answered_at", "pk")
    )
    resources, seen = [], set()
    for assignment in went:
        key = (assignment.volunteer_id, assignment.vehicle_id, assignment.need_id)
        if key in seen:
            continue
        seen.add(key)
        if assignment.volunteer:
            name = assignment.volunteer.name
            agency = _agency_of_volunteer(assignment.volunteer)
        else:
            vehicle = assignment.vehicle
            name = vehicle_label(vehicle)
            agency = vehicle.team.name if vehicle.team else township_name(vehicle.township)
        resources.append(
            Ics214Resource(name=name, position=need_label(assignment.need), agency=agency)
        )
    activities = [
        Ics214Activity(at=row.occurred_at, text=activity_text(row))
        for row in log_rows(timeline.events)
        if row.kind not in ICS214_SKIPPED
    ]
    reporter = incident.reporter
    try:
        leader_agency = _agency_of_volunteer(reporter.volunteer)
    except Volunteer.DoesNotExist:
        leader_agency = ""
    return Ics214(
        incident=incident,
        period_from=incident.opened_at,
        period_to=incident.closed_at or timeline.ended_at,
        leader=user_name(reporter),
        leader_position=_("Coordinator"),
        leader_agency=leader_agency,
        resources=resources,
        activities=activities,
    )
