"""The rota of a staffed site (issue 13, item 5): for one site (an incident of a staffing
kind) and one local day, each shift window with who holds it (booked ahead, on it,
done) and the places still open; and the spread of shift hours booked across the
volunteers in that week. Reads only.

Hours booked are shift windows held (reserved, active or done: FILLED_STATUSES) whose
shift starts in the local week, Monday to Sunday, at any site: what the fairness term
of matching weighs, not hours served (dispatch.hours counts those).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from statistics import median

from django.utils import timezone

from dispatch.hours import hours_of
from dispatch.labels import STATUS_LABELS, label_of, need_label, skill_name
from dispatch.models import FILLED_STATUSES, Assignment
from incidents.models import Incident, IncidentKind, Need

STAFFING_KINDS = frozenset(
    {IncidentKind.TESTING_SITE, IncidentKind.SHELTER, IncidentKind.DISTRIBUTION}
)


def is_staffed_site(incident: Incident) -> bool:
    return incident.kind in STAFFING_KINDS


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), timezone.get_current_timezone())


@dataclass
class Holder:
    volunteer_id: int
    name: str
    status: str
    status_label: str


@dataclass
class Window:
    need_id: int
    start: datetime
    end: datetime
    need: str  # "2 × 核酸采样", without the window
    skill: str
    count: int
    holders: list[Holder] = field(default_factory=list)

    @property
    def open(self) -> int:
        return max(self.count - len(self.holders), 0)


@dataclass
class HoursBooked:
    volunteer_id: int
    name: str
    hours: Decimal
    shifts: int


@dataclass
class Spread:
    week_start: date
    volunteers: list[HoursBooked]  # most hours first

    @property
    def hours(self) -> list[Decimal]:
        return [row.hours for row in self.volunteers]

    @property
    def least(self) -> Decimal | None:
        return min(self.hours) if self.volunteers else None

    @property
    def most(self) -> Decimal | None:
        return max(self.hours) if self.volunteers else None

    @property
    def middle(self) -> Decimal | None:
        return hours_of(median(float(h) * 3600 for h in self.hours)) if self.volunteers else None


@dataclass
class Rota:
    incident: Incident
    day: date
    windows: list[Window]
    spread: Spread

    @property
    def gaps(self) -> list[Window]:
        return [window for window in self.windows if window.open]

    @property
    def open_places(self) -> int:
        return sum(window.open for window in self.windows)


def site_rota(*, incident: Incident, day: date) -> Rota:
    """The site's shift windows that start on the local `day`, earliest first, each with
    its holders (in the order they took their places) and open places; cancelled needs
    are left out. And the spread of hours booked in that day's week."""
    needs = (
        Need.objects.filter(
            incident=incident,
            cancelled_at__isnull=True,
            shift_start__gte=_day_start(day),
            shift_start__lt=_day_start(day + timedelta(days=1)),
        )
        .select_related("skill")
        .order_by("shift_start", "pk")
    )
    windows = {
        need.pk: Window(
            need_id=need.pk,
            start=need.shift_start,
            end=need.shift_end,
            need=need_label(need, with_shift=False),
            skill=skill_name(need.skill) if need.skill_id else "",
            count=need.count,
        )
        for need in needs
    }
    held = (
        Assignment.objects.filter(
            need_id__in=list(windows), status__in=FILLED_STATUSES, volunteer__isnull=False
        )
        .select_related("volunteer")
        .order_by("answered_at", "pk")
    )
    for assignment in held:
        windows[assignment.need_id].holders.append(
            Holder(
                volunteer_id=assignment.volunteer_id,
                name=assignment.volunteer.name,
                status=assignment.status,
                status_label=str(label_of(STATUS_LABELS, assignment.status)),
            )
        )
    return Rota(
        incident=incident, day=day, windows=list(windows.values()), spread=hours_spread(day=day)
    )


def week_of(day: date) -> date:
    """The Monday of the day's week."""
    return day - timedelta(days=day.weekday())


def hours_spread(*, day: date) -> Spread:
    """The shift hours each volunteer holds in the week of `day` (Monday to Sunday,
    local), at any site: those with at least one shift, most hours first."""
    monday = week_of(day)
    held = Assignment.objects.filter(
        status__in=FILLED_STATUSES,
        volunteer__isnull=False,
        need__shift_start__gte=_day_start(monday),
        need__shift_start__lt=_day_start(monday + timedelta(days=7)),
        need__cancelled_at__isnull=True,
    ).values_list("volunteer_id", "volunteer__name", "need__shift_start", "need__shift_end")
    seconds: dict[int, float] = {}
    names: dict[int, str] = {}
    counts: dict[int, int] = {}
    for volunteer_id, name, start, end in held:
        seconds[volunteer_id] = seconds.get(volunteer_id, 0.0) + (end - start).total_seconds()
        names[volunteer_id] = name
        counts[volunteer_id] = counts.get(volunteer_id, 0) + 1
    rows = [
        HoursBooked(pk, names[pk], hours_of(total), counts[pk]) for pk, total in seconds.items()
    ]
    rows.sort(key=lambda row: (-row.hours, row.name, row.volunteer_id))
    return Spread(week_start=monday, volunteers=rows)


def rota_as_json(rota: Rota) -> dict:
    """The rota as the API gives it: times ISO 8601, hours as strings of one decimal."""

    def hours(value):
        return None if value is None else str(value)

    return {
        "incident": rota.incident.pk,
        "title": rota.incident.title,
        "day": rota.day.isoformat(),
        "windows": [
            {
                "need": window.need_id,
                "start": window.start.isoformat(),
                "end": window.end.isoformat(),
                "need_label": window.need,
                "count": window.count,
                "open": window.open,
                "holders": [
                    {"volunteer": h.volunteer_id, "name": h.name, "status": h.status}
                    for h in window.holders
                ],
            }
            for window in rota.windows
        ],
        "open_places": rota.open_places,
        "hours": {
            "week_start": rota.spread.week_start.isoformat(),
            "min": hours(rota.spread.least),
            "median": hours(rota.spread.middle),
            "max": hours(rota.spread.most),
            "volunteers": [
                {
                    "volunteer": row.volunteer_id,
                    "name": row.name,
                    "hours": str(row.hours),
                    "shifts": row.shifts,
                }
                for row in rota.spread.volunteers
            ],
        },
    }


def rota_day(text: str | None) -> date:
    """The day a rota is asked for (?day=YYYY-MM-DD), today (local) when not given.
    ValueError when it is not a date."""
    if not text:
        return timezone.localdate()
    return date.fromisoformat(text.strip())
