"""The commanders' review pages (issue 5 item 3): the deployment log filtered, totals and
charts, one incident's timeline, its ICS-214 activity log, and the exports.

Server-rendered; the charts are inline SVG drawn here from dispatch.reports' figures.
For commanders and coordinators; a volunteer gets 403, someone signed out the login.
"""

import csv
import io
import math
import re
from datetime import date, datetime, timedelta
from functools import wraps

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from dispatch import reports
from dispatch.models import EventKind
from incidents.models import Incident, IncidentKind
from volunteers.models import Team, Township, Volunteer
from volunteers.roles import Role, user_has_role

PAGE_SIZE = 50


def reviewer_required(view):
    """Commanders and coordinators (and admins); the login for whoever is signed out."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (user_has_role(user, Role.COMMANDER) or user_has_role(user, Role.COORDINATOR)):
            raise PermissionDenied("Only commanders and coordinators review the log.")
        return view(request, *args, **kwargs)

    return require_GET(wrapped)


# --- the filter form ------------------------------------------------------------------


class IncidentChoice(forms.ModelChoiceField):
    def label_from_instance(self, incident):
        opened = formats.date_format(timezone.localtime(incident.opened_at), "MONTH_DAY_FORMAT")
        return f"#{incident.pk} {incident.title} ({opened})"


class TownshipChoice(forms.ModelChoiceField):
    def label_from_instance(self, township):
        return reports.township_name(township)


def _kind_choices():
    families = [(family, label) for family, label in reports.EVENT_FAMILIES.items()]
    kinds = [(kind.value, reports.EVENT_LABELS[kind]) for kind in EventKind]
    return [
        ("", gettext_lazy("All events")),
        (gettext_lazy("Groups"), families),
        (gettext_lazy("One kind"), kinds),
    ]


def _incident_kind_choices():
    return [("", gettext_lazy("All types"))] + [
        (kind.value, reports.INCIDENT_KIND_LABELS[kind]) for kind in IncidentKind
    ]


DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# Dates outside these are typing errors (and year 9999 would overflow a day later).
EARLIEST, LATEST = date(1970, 1, 1), date(2099, 12, 31)


class ReviewFilterForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=DATE_WIDGET)
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=DATE_WIDGET)
    incident = IncidentChoice(
        label=gettext_lazy("Incident"),
        queryset=Incident.objects.order_by("-opened_at", "-pk"),
        required=False,
        empty_label=gettext_lazy("All incidents"),
    )
    incident_kind = forms.ChoiceField(
        label=gettext_lazy("Incident type"), required=False, choices=_incident_kind_choices
    )
    kind = forms.ChoiceField(label=gettext_lazy("Event"), required=False, choices=_kind_choices)
    township = TownshipChoice(
        label=gettext_lazy("Township"),
        queryset=Township.objects.all(),
        required=False,
        empty_label=gettext_lazy("All townships"),
    )
    team = forms.ModelChoiceField(
        label=gettext_lazy("Team"),
        queryset=Team.objects.all(),
        required=False,
        empty_label=gettext_lazy("All teams"),
    )
    volunteer = forms.CharField(
        label=gettext_lazy("Volunteer"),
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("Name, phone or number")}),
    )

    def clean_volunteer(self) -> Volunteer | None:
        """A volunteer by number (links use it), phone, or name when only one has it."""
        text = self.cleaned_data["volunteer"].strip()
        if not text:
            return None
        if re.fullmatch(r"\d{1,10}", text):
            found = Volunteer.objects.filter(pk=int(text))
        elif re.fullmatch(r"\+?\d{11,15}", text):
            found = Volunteer.objects.filter(phone=text.removeprefix("+86").lstrip("+"))
        else:
            found = Volunteer.objects.filter(name=text)
        volunteers = list(found[:2])
        if not volunteers:
            raise forms.ValidationError(_("No volunteer is called or numbered that."))
        if len(volunteers) > 1:
            raise forms.ValidationError(
                _("Several volunteers have that name: give the phone number.")
            )
        return volunteers[0]

    def _clean_day(self, name):
        day = self.cleaned_data[name]
        if day is not None and not EARLIEST <= day <= LATEST:
            raise forms.ValidationError(
                _("Choose a day between %(first)s and %(last)s.")
                % {"first": EARLIEST.year, "last": LATEST.year}
            )
        return day

    def clean_start(self):
        return self._clean_day("start")

    def clean_end(self):
        return self._clean_day("end")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", _("The end is before the start."))
            cleaned.pop("end", None)
        return cleaned

    def log_filter(self) -> reports.LogFilter:
        """The filter of the fields that are valid (the invalid ones are shown)."""
        data = getattr(self, "cleaned_data", {})

        def pk(name):
            value = data.get(name)
            return value.pk if value is not None else None

        return reports.LogFilter(
            start=data.get("start"),
            end=data.get("end"),
            incident=pk("incident"),
            kind=data.get("kind") or "",
            incident_kind=data.get("incident_kind") or "",
            township=pk("township"),
            team=pk("team"),
            volunteer=pk("volunteer"),
        )


def _form(request) -> ReviewFilterForm:
    form = ReviewFilterForm(request.GET)
    form.is_valid()
    return form


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


# --- formatting -----------------------------------------------------------------------


def number(value) -> str:
    return formats.number_format(value, use_l10n=True, force_grouping=True)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return _("%(seconds)d s") % {"seconds": seconds}
    if seconds < 3600:
        minutes, seconds = divmod(seconds, 60)
        return _("%(minutes)d min %(seconds)02d s") % {"minutes": minutes, "seconds": seconds}
    hours, rest = divmod(seconds, 3600)
    return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": rest // 60}


def month_day(moment) -> str:
    return formats.date_format(moment, "MONTH_DAY_FORMAT")


def moment_text(moment: datetime | None, *, day_of) -> str:
    """A time on the incident's timeline: the clock, and the day when it is not the day
    the incident was opened."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    clock = formats.date_format(local, "H:i:s")
    if local.date() == timezone.localtime(day_of).date():
        return clock
    return f"{month_day(local)} {clock}"


# --- charts ---------------------------------------------------------------------------

CHART_WIDTH, CHART_HEIGHT = 420, 180
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 40, 10, 14, 34
MAX_X_LABELS = 7
MEDIAN_AXIS_MIN_MINUTES = 1


def _scale(highest: float, *, whole: bool) -> tuple[float, float]:
    """The axis top and tick step for values up to `highest`: a round step (1, 2, 2.5,
    5 × 10^n; whole numbers only for counts) and at most four intervals."""
    if highest <= 0:
        return 1, 1
    magnitude = 10 ** math.floor(math.log10(highest))
    steps = [m * magnitude / 10 for m in (1, 2, 2.5, 5, 10, 20, 25, 50, 100)]
    for step in steps:
        if whole and step != int(step):
            continue
        if math.ceil(highest / step) <= 4:
            return math.ceil(highest / step) * step, step
    return steps[-1] * 4, steps[-1]


def _bucket_labels(series: reports.Series) -> list[tuple[str, str, str]]:
    """(tick label, second line, tooltip) for each bucket."""
    labels = []
    for n, bucket in enumerate(series.buckets):
        if series.unit == reports.HOUR:
            tick = f"{bucket:%H}:00"
            day = month_day(bucket) if n == 0 or bucket.hour == 0 else ""
            labels.append(
                (tick, day, f"{month_day(bucket)} {bucket:%H}:00–{bucket.hour + 1:02d}:00")
            )
        elif series.unit == reports.DAY:
            labels.append((month_day(bucket), "", formats.date_format(bucket, "DATE_FORMAT")))
        else:
            labels.append(
                (
                    month_day(bucket),
                    "",
                    _("week of %(day)s") % {"day": formats.date_format(bucket, "DATE_FORMAT")},
                )
            )
    return labels


def _x_axis(series: reports.Series, plot_width: float) -> tuple[float, list[dict]]:
    count = len(series.buckets)
    slot = plot_width / max(count, 1)
    every = max(math.ceil(count / MAX_X_LABELS), 1)
    ticks = []
    for n, (tick, second, _tip) in enumerate(_bucket_labels(series)):
        if n % every == 0 or (second and series.unit == reports.HOUR):
            ticks.append({"x": PLOT_LEFT + slot * (n + 0.5), "label": tick, "second": second})
    # Two labels too close to read (a date line forced next to a regular tick): keep
    # the first.
    kept = []
    for tick in ticks:
        if kept and tick["x"] - kept[-1]["x"] < 34:
            if tick["second"] and not kept[-1]["second"]:
                kept[-1] = tick
            continue
        kept.append(tick)
    return slot, kept


def _y_axis(top: float, step: float) -> tuple[float, list[dict]]:
    plot_height = CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM
    ticks = []
    for n in range(round(top / step) + 1):
        value = n * step
        text = number(int(value) if value == int(value) else value)
        ticks.append({"y": PLOT_TOP + plot_height * (1 - value / top), "label": text})
    return plot_height, ticks


def _chart(*, key: str, title: str, series: reports.Series, scale: tuple) -> dict:
    plot_width = CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT
    slot, x_ticks = _x_axis(series, plot_width)
    plot_height, y_ticks = _y_axis(*scale)
    return {
        "key": key,
        "title": title,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "plot_left": PLOT_LEFT,
        "plot_right": CHART_WIDTH - PLOT_RIGHT,
        "baseline": PLOT_TOP + plot_height,
        "slot": slot,
        "plot_height": plot_height,
        "bars": [],
        "legend": [],
    }


def bar_chart(*, key: str, title: str, series: reports.Series, parts: list[dict]) -> dict:
    """Bars per bucket, each stacked from `parts` ([{"name", "class", "values"}], the
    first at the bottom), for dispatch/_chart.html."""
    totals = [sum(values) for values in zip(*(part["values"] for part in parts), strict=True)]
    scale = _scale(max(totals, default=0), whole=True)
    top = scale[0]
    chart = _chart(key=key, title=title, series=series, scale=scale)
    slot, plot_height, baseline = chart["slot"], chart["plot_height"], chart["baseline"]
    labels = _bucket_labels(series)
    for n, total in enumerate(totals):
        stacked = 0
        for part in parts:
            value = part["values"][n]
            if not value:
                continue
            height = plot_height * value / top
            tip = f"{labels[n][2]}: {number(total)}"
            if len(parts) > 1:
                tip += f" ({part['name']} {number(value)})"
            chart["bars"].append(
                {
                    "x": PLOT_LEFT + slot * n + slot * 0.15,
                    "y": baseline - stacked - height,
                    "width": max(slot * 0.7, 1.5),
                    "height": height,
                    "class": part["class"],
                    "tip": tip,
                }
            )
            stacked += height
    chart["total"] = number(sum(totals))
    if len(parts) > 1:
        chart["legend"] = [{"name": part["name"], "class": part["class"]} for part in parts]
    return chart


def median_chart(*, key: str, title: str, series: reports.Series, groups: list[dict]) -> dict:
    """Side-by-side bars of minutes per bucket, one per group ([{"name", "class",
    "values" (seconds or None)}]); a bucket without data has no bar."""
    minutes = [[v / 60 for v in group["values"] if v is not None] for group in groups]
    # At least a minute high: answers within seconds gave an axis of 0.005-minute steps.
    highest = max((v for values in minutes for v in values), default=0)
    scale = _scale(max(highest, MEDIAN_AXIS_MIN_MINUTES), whole=False)
    top = scale[0]
    chart = _chart(key=key, title=title, series=series, scale=scale)
    slot, plot_height, baseline = chart["slot"], chart["plot_height"], chart["baseline"]
    labels = _bucket_labels(series)
    width = slot * 0.8 / len(groups)
    for g, group in enumerate(groups):
        for n, seconds in enumerate(group["values"]):
            if seconds is None:
                continue
            height = max(plot_height * seconds / 60 / top, 1.5)
            chart["bars"].append(
                {
                    "x": PLOT_LEFT + slot * n + slot * 0.1 + width * g,
                    "y": baseline - height,
                    "width": max(width, 1.5),
                    "height": height,
                    "class": group["class"],
                    "tip": f"{labels[n][2]} · {group['name']}: {duration(seconds)}",
                }
            )
    chart["legend"] = [{"name": group["name"], "class": group["class"]} for group in groups]
    return chart


def review_charts(series: reports.Series) -> list[dict]:
    if not series.buckets:
        return []
    other_vehicles = [
        vehicles - boats
        for vehicles, boats in zip(series.vehicle_dispatches, series.boat_dispatches, strict=True)
    ]

    def single(key, title, values):
        parts = [{"name": title, "class": key, "values": values}]
        return bar_chart(key=key, title=title, series=series, parts=parts)

    return [
        single("incidents", _("Incidents"), series.incidents),
        bar_chart(
            key="vehicles",
            title=_("Vehicle dispatches"),
            series=series,
            parts=[
                {"name": _("boats"), "class": "boats", "values": series.boat_dispatches},
                {"name": _("other vehicles"), "class": "vehicles", "values": other_vehicles},
            ],
        ),
        single("person-times", _("Person-times"), series.person_times),
        single("people-moved", _("People moved"), series.people_moved),
        single("shifts", _("Testing-site shifts staffed"), series.shifts_staffed),
        median_chart(
            key="medians",
            title=_("Median minutes to accept and to arrive"),
            series=series,
            groups=[
                {"name": _("to accept"), "class": "accept", "values": series.median_accept_seconds},
                {"name": _("to arrive"), "class": "arrive", "values": series.median_arrive_seconds},
            ],
        ),
    ]


def totals_cards(totals: reports.Totals) -> list[dict]:
    """The totals as the page shows them, in the real operations' terms."""
    return [
        {"key": "incidents", "value": number(totals.incidents), "label": _("Incidents")},
        {
            "key": "vehicle-dispatches",
            "value": number(totals.vehicle_dispatches),
            "label": _("Vehicle dispatches"),
        },
        {
            "key": "boats",
            "value": number(totals.boats),
            "label": _("Boats"),
            "note": ngettext(
                "%(dispatches)s boat dispatch",
                "%(dispatches)s boat dispatches",
                totals.boat_dispatches,
            )
            % {"dispatches": number(totals.boat_dispatches)},
        },
        {"key": "person-times", "value": number(totals.person_times), "label": _("Person-times")},
        {"key": "people-moved", "value": number(totals.people_moved), "label": _("People moved")},
        {
            "key": "shifts-staffed",
            "value": f"{number(totals.shifts_staffed)} / {number(totals.shifts)}",
            "label": _("Testing-site shifts staffed"),
            "note": ngettext("at %(sites)s site", "at %(sites)s sites", totals.sites_staffed)
            % {"sites": number(totals.sites_staffed)},
        },
        {
            "key": "median-accept",
            "value": duration(totals.median_accept_seconds),
            "label": _("Median time to accept"),
            "note": _("urgent response, offered → accepted"),
        },
        {
            "key": "median-arrive",
            "value": duration(totals.median_arrive_seconds),
            "label": _("Median time to arrive"),
            "note": _("urgent response, accepted → on scene"),
        },
    ]


# --- the review page ------------------------------------------------------------------


@reviewer_required
def review(request):
    form = _form(request)
    filters = form.log_filter()
    events = reports.log_filtered(filters=filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    series = reports.report_series(filters=filters)
    context = {
        "form": form,
        "filters": filters,
        "volunteer": form.cleaned_data.get("volunteer") if hasattr(form, "cleaned_data") else None,
        "cards": totals_cards(reports.report_totals(filters=filters)),
        "charts": review_charts(series),
        "unit": {
            reports.HOUR: _("per hour"),
            reports.DAY: _("per day"),
            reports.WEEK: _("per week"),
        }[series.unit],
        "page": page,
        "rows": list(reports.log_rows(page.object_list)),
        "event_count": number(page.paginator.count),
        "query": _query_without(request, "page"),
    }
    return render(request, "review/review.html", context)


# --- exports --------------------------------------------------------------------------


def log_columns() -> list[str]:
    return [
        _("Seq"),
        _("Time (%(zone)s)") % {"zone": timezone.get_current_timezone_name()},
        _("Event code"),
        _("Event"),
        _("Incident no."),
        _("Incident"),
        _("Incident type"),
        _("Township"),
        _("Need"),
        _("Volunteer no."),
        _("Volunteer"),
        _("Vehicle"),
        _("By"),
        _("People moved"),
        _("Details"),
    ]


def _local_naive(moment: datetime) -> datetime:
    return timezone.localtime(moment).replace(tzinfo=None, microsecond=0)


def log_values(row: reports.LogRow) -> list:
    """One row of the exports; the time as local wall-clock time, to the second."""
    return [
        row.seq,
        _local_naive(row.occurred_at),
        row.kind,
        row.kind_label,
        row.incident_id,
        row.incident_title,
        row.incident_kind,
        row.township,
        row.need,
        row.volunteer_id,
        row.volunteer,
        row.vehicle,
        row.actor,
        row.people_moved,
        row.details,
    ]


# A cell starting with one of these is a formula to Excel: free text (a decline reason,
# a close note) must not become one in a commander's spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_response(rows, *, filename: str) -> HttpResponse:
    """CSV in UTF-8 with a byte-order mark: Excel then reads the Chinese right."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")
    writer = csv.writer(response)
    for row in rows:
        writer.writerow([_csv_text(value) for value in row])
    return response


def _export_filters(request) -> reports.LogFilter | None:
    form = _form(request)
    return form.log_filter() if form.is_valid() else None


def _export_name(filters: reports.LogFilter, extension: str) -> str:
    parts = ["tongxin-log"]
    if filters.incident:
        parts.append(f"incident-{filters.incident}")
    if filters.start:
        parts.append(f"{filters.start:%Y%m%d}")
    if filters.end:
        parts.append(f"to-{filters.end:%Y%m%d}")
    return "-".join(parts) + f".{extension}"


@reviewer_required
def log_csv(request):
    filters = _export_filters(request)
    if filters is None:
        return HttpResponseBadRequest(_("The filters are not valid."))
    events = reports.log_filtered(filters=filters).iterator(chunk_size=2000)
    rows = [log_columns(), *(log_values(row) for row in reports.log_rows(events))]
    return csv_response(rows, filename=_export_name(filters, "csv"))


def _xlsx_value(sheet, value):
    """Text stays text: openpyxl would store "=..." as a formula."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


# Column widths of the XLSX log, in characters, in the order of log_columns().
XLSX_WIDTHS = (8, 20, 20, 12, 10, 30, 12, 12, 22, 10, 12, 20, 12, 10, 30)


@reviewer_required
def log_xlsx(request):
    filters = _export_filters(request)
    if filters is None:
        return HttpResponseBadRequest(_("The filters are not valid."))
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Deployment log"))
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJKLMNO", XLSX_WIDTHS, strict=True):
        sheet.column_dimensions[letter].width = width
    bold = Font(bold=True)
    header = []
    for title in log_columns():
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in reports.log_rows(reports.log_filtered(filters=filters).iterator(chunk_size=2000)):
        values = log_values(row)
        time_cell = WriteOnlyCell(sheet, value=values[1])
        time_cell.number_format = "yyyy-mm-dd hh:mm:ss"
        sheet.append([values[0], time_cell, *(_xlsx_value(sheet, v) for v in values[2:])])

    totals = reports.report_totals(filters=filters)
    summary = workbook.create_sheet(_("Totals"))
    summary.column_dimensions["A"].width = 30
    summary.column_dimensions["B"].width = 14
    for card in totals_cards(totals):
        summary.append([card["label"], card["value"]])

    content = io.BytesIO()
    workbook.save(content)
    response = HttpResponse(
        content.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{_export_name(filters, "xlsx")}"'
    return response


# --- one incident ---------------------------------------------------------------------

TIMELINE_LABEL_WIDTH = 170
TIMELINE_WIDTH = 1120
TIMELINE_ROW = 26
TIMELINE_TOP = 28
# Tick spacings the time axis may use, in seconds.
TICK_STEPS = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]


def _time_ticks(start: datetime, end: datetime, width: float) -> list[tuple[str, float]]:
    """(label, offset) of round times between start and end, at most about ten."""
    span = max((end - start).total_seconds(), 1)
    step = next((s for s in TICK_STEPS if span / s <= 10), TICK_STEPS[-1])
    local = timezone.localtime(start)
    moment = local.replace(minute=0, second=0, microsecond=0)
    ticks = []
    while moment <= timezone.localtime(end):
        if moment >= local:
            text = moment_text(moment, day_of=start)
            label = text if step < 60 else text[:-3]  # seconds only when they matter
            ticks.append((label, width * (moment - start).total_seconds() / span))
        moment += timedelta(seconds=step)
    return ticks


# The answers come within minutes, the work takes hours: when the answers take less
# than this share of the whole, the first minutes get a chart of their own.
RESPONSE_ZOOM_SHARE = 0.25


def timeline_chart(
    timeline: reports.Timeline, *, until: datetime | None = None, key: str = "whole"
) -> dict:
    """A swimlane per offer: waiting for an answer, then en route and on scene, with a
    mark for each step (offered, delivered, seen, the answer, arrival, completion).
    `until` draws only the time up to it (what goes on after is cut at the edge)."""
    start, end = timeline.started_at, until or timeline.ended_at
    span = max((end - start).total_seconds(), 1)
    plot_width = TIMELINE_WIDTH - TIMELINE_LABEL_WIDTH - 20

    def x(moment):
        moment = min(moment, end)
        return TIMELINE_LABEL_WIDTH + plot_width * (moment - start).total_seconds() / span

    rows = []
    for n, line in enumerate(timeline.lines):
        y = TIMELINE_TOP + TIMELINE_ROW * n + TIMELINE_ROW / 2
        segments, marks = [], []
        answered = line.answered_at or (line.ended_at if line.answer == "offered" else None)
        if answered:
            segments.append({"class": "waiting", "x1": x(line.offered_at), "x2": x(answered)})
        if line.went and line.answered_at and line.answered_at < end:
            travel_end = line.on_scene_at or line.finished_at or line.ended_at
            segments.append({"class": "travel", "x1": x(line.answered_at), "x2": x(travel_end)})
            if line.on_scene_at and line.on_scene_at < end:
                scene_end = line.finished_at or line.ended_at
                segments.append({"class": "scene", "x1": x(line.on_scene_at), "x2": x(scene_end)})

        labels = reports.EVENT_LABELS
        steps = [
            ("offered", line.offered_at, labels[EventKind.OFFER_MADE]),
            ("delivered", line.delivered_at, labels[EventKind.OFFER_DELIVERED]),
            ("seen", line.seen_at, labels[EventKind.OFFER_SEEN]),
            (f"answer-{line.answer}", line.answered_at, line.answer_label),
            ("en-route", line.en_route_at, labels[EventKind.ASSIGNMENT_EN_ROUTE]),
            ("on-scene", line.on_scene_at, labels[EventKind.ASSIGNMENT_ON_SCENE]),
            ("finished", line.finished_at, line.status_label),
        ]
        for kind, moment, label in steps:
            if moment is not None and moment <= end:
                when = moment_text(moment, day_of=start)
                marks.append({"class": kind, "x": x(moment), "tip": f"{label} {when}"})
        assignment = line.assignment
        rows.append(
            {
                "y": y,
                # A vehicle's call sign is enough beside the lane; the kind is in the table.
                "label": assignment.vehicle.call_sign if assignment.vehicle else line.resource,
                "need": f"{line.resource}: {line.need}",
                "segments": segments,
                "marks": marks,
                "band": n % 2 == 1,
            }
        )
    height = TIMELINE_TOP + TIMELINE_ROW * max(len(rows), 1) + 10
    ticks = [
        {"x": TIMELINE_LABEL_WIDTH + offset, "label": label}
        for label, offset in _time_ticks(start, end, plot_width)
    ]
    return {
        "key": key,
        "width": TIMELINE_WIDTH,
        "height": height,
        "rows": rows,
        "ticks": ticks,
        "label_width": TIMELINE_LABEL_WIDTH,
        "row_height": TIMELINE_ROW,
        "top": TIMELINE_TOP,
        "bottom": height - 10,
    }


def timeline_charts(timeline: reports.Timeline) -> list[dict]:
    """The whole incident; and before it, when the answers came quickly compared with
    the work, its first minutes, where offers, receipts and answers can be told apart."""
    whole = timeline_chart(timeline)
    answers = [line.answered_at for line in timeline.lines if line.answered_at]
    if not answers:
        return [whole]
    answered_by = max(answers)
    whole_span = (timeline.ended_at - timeline.started_at).total_seconds()
    answer_span = (answered_by - timeline.started_at).total_seconds()
    if whole_span <= 0 or answer_span > whole_span * RESPONSE_ZOOM_SHARE:
        return [whole]
    until = answered_by + timedelta(seconds=max(answer_span * 0.15, 30))
    zoom = timeline_chart(timeline, until=until, key="response")
    zoom["minutes"] = math.ceil((until - timeline.started_at).total_seconds() / 60)
    return [zoom, whole]


def _line_cells(line: reports.TimelineLine, day_of: datetime) -> dict:
    def when(moment):
        return moment_text(moment, day_of=day_of)

    answer = line.answer_label
    if line.answered_at:
        answer += f" {when(line.answered_at)}"
        if line.seconds_to_answer is not None:
            answer += f" (+{duration(line.seconds_to_answer)})"
    return {
        "line": line,
        "offered": when(line.offered_at),
        "delivered": when(line.delivered_at),
        "seen": when(line.seen_at),
        "answer": answer,
        "en_route": when(line.en_route_at),
        "on_scene": when(line.on_scene_at),
        "arrive": duration(line.seconds_to_arrive) if line.on_scene_at else "",
        "finished": when(line.finished_at),
        "people_moved": number(line.people_moved) if line.people_moved is not None else "",
    }


def _incident_facts(incident: Incident) -> dict:
    return {
        "kind": reports.INCIDENT_KIND_LABELS.get(incident.kind, incident.kind),
        "status": reports.INCIDENT_STATUS_LABELS.get(incident.status, incident.status),
        "priority": reports.PRIORITY_LABELS.get(incident.priority, incident.priority),
        "township": reports.township_name(incident.township),
        "people_affected": number(incident.people_affected),
    }


@reviewer_required
def incident_timeline(request, pk: int):
    incident = get_object_or_404(Incident.objects.select_related("township", "reporter"), pk=pk)
    timeline = reports.incident_timeline(incident=incident)
    went = [line for line in timeline.lines if line.went]
    context = {
        "incident": incident,
        "facts": _incident_facts(incident),
        "charts": timeline_charts(timeline),
        "lines": [_line_cells(line, incident.opened_at) for line in timeline.lines],
        "rows": [
            {"row": row, "when": moment_text(row.occurred_at, day_of=incident.opened_at)}
            for row in reports.log_rows(timeline.events)
        ],
        "summary": {
            "offers": number(len(timeline.lines)),
            "went": number(len(went)),
            "people_moved": number(sum(line.people_moved or 0 for line in went)),
            "duration": duration((timeline.ended_at - timeline.started_at).total_seconds()),
        },
    }
    return render(request, "review/timeline.html", context)


def _role_title(user) -> str:
    if user_has_role(user, Role.COMMANDER) and not user.is_superuser:
        return _("Commander")
    if user_has_role(user, Role.COORDINATOR) and not user.is_superuser:
        return _("Coordinator")
    return _("Administrator")


@reviewer_required
def incident_ics214(request, pk: int):
    incident = get_object_or_404(Incident.objects.select_related("township", "reporter"), pk=pk)
    form = reports.incident_ics214(incident=incident)
    context = {
        "incident": incident,
        "facts": _incident_facts(incident),
        "form": form,
        "prepared_by": reports.user_name(request.user),
        "prepared_position": _role_title(request.user),
        "prepared_at": timezone.now(),
    }
    return render(request, "review/ics214.html", context)


@reviewer_required
def incident_ics214_csv(request, pk: int):
    incident = get_object_or_404(Incident.objects.select_related("township", "reporter"), pk=pk)
    form = reports.incident_ics214(incident=incident)
    rows = [
        [_("ICS 214 activity log")],
        [_("1. Incident name"), f"#{incident.pk} {incident.title}"],
        [
            _("2. Operational period"),
            _local_naive(form.period_from),
            _local_naive(form.period_to),
        ],
        [_("3. Name"), form.leader],
        [_("4. ICS position"), form.leader_position],
        [_("5. Home agency (and unit)"), form.leader_agency],
        [],
        [_("6. Resources assigned")],
        [_("Name"), _("ICS position"), _("Home agency (and unit)")],
        *([r.name, r.position, r.agency] for r in form.resources),
        [],
        [_("7. Activity log")],
        [_("Date/time"), _("Notable activities")],
        *([_local_naive(a.at), a.text] for a in form.activities),
        [],
        [
            _("8. Prepared by"),
            reports.user_name(request.user),
            _role_title(request.user),
            _local_naive(timezone.now()),
        ],
    ]
    return csv_response(rows, filename=f"tongxin-ics214-incident-{incident.pk}.csv")
