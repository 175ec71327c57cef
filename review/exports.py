"""The review's downloads: the filtered deployment log as CSV and XLSX, an incident's
ICS-214 as CSV, and hours and person-times (teams, volunteers, tasks) as CSV and XLSX.
Each is made row by row as it is sent (pages.streaming), so a month of a city's log
never sits in the server's memory whole (the hours are totals, a row per person and
per task served, made before the first row is sent).

Free text (a decline reason, a close note) never becomes a formula in a commander's
spreadsheet: CSV cells that start like one are quoted, XLSX cells stay text. Counts,
hours and durations are XLSX numbers, so a spreadsheet adds them up.
"""

import csv
import itertools
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from dispatch import hours, reports
from dispatch.labels import STATUS_LABELS, TEAM_KIND_LABELS
from review.formats import safety_talks_of

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Rows per chunk sent, and per database round trip.
CHUNK_ROWS = 2000


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


def local_naive(moment: datetime) -> datetime:
    """Local wall-clock time to the second, as spreadsheets read it."""
    return timezone.localtime(moment).replace(tzinfo=None, microsecond=0)


def log_values(row: reports.LogRow) -> list:
    """One row of the exports, in the order of log_columns()."""
    return [
        row.seq,
        local_naive(row.occurred_at),
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


def export_name(filters: reports.LogFilter, extension: str) -> str:
    parts = ["tongxin-log"]
    if filters.incident:
        parts.append(f"incident-{filters.incident}")
    if filters.start:
        parts.append(f"{filters.start:%Y%m%d}")
    if filters.end:
        parts.append(f"to-{filters.end:%Y%m%d}")
    return "-".join(parts) + f".{extension}"


def _log_rows(filters: reports.LogFilter) -> Iterator[reports.LogRow]:
    events = reports.log_filtered(filters=filters).iterator(chunk_size=CHUNK_ROWS)
    return reports.log_rows(events)


# --- CSV ------------------------------------------------------------------------------

# A cell starting with one of these is a formula to Excel.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


class _Line:
    """What csv.writer writes to: it hands each line back instead of storing it."""

    def write(self, line: str) -> str:
        return line


def csv_chunks(rows: Iterable[list]) -> Iterator[str]:
    """CSV text, a chunk of rows at a time, in UTF-8 with a byte-order mark first:
    Excel then reads the Chinese right."""
    writer = csv.writer(_Line())
    yield "\ufeff"
    rows = iter(rows)
    while batch := list(itertools.islice(rows, CHUNK_ROWS)):
        yield "".join(writer.writerow([_csv_text(value) for value in row]) for row in batch)


def log_csv_chunks(filters: reports.LogFilter) -> Iterator[str]:
    values = (log_values(row) for row in _log_rows(filters))
    return csv_chunks(itertools.chain([log_columns()], values))


# --- XLSX -----------------------------------------------------------------------------

# Column widths of the XLSX log, in characters, in the order of log_columns().
XLSX_WIDTHS = (8, 20, 20, 12, 10, 30, 12, 12, 22, 10, 12, 20, 12, 10, 30)
FILE_BLOCK_BYTES = 64 * 1024


def _xlsx_value(sheet, value):
    """Text stays text: openpyxl would store "=..." as a formula."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value


def _log_sheet(workbook: Workbook, filters: reports.LogFilter) -> None:
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
    for row in _log_rows(filters):
        values = log_values(row)
        time_cell = WriteOnlyCell(sheet, value=values[1])
        time_cell.number_format = "yyyy-mm-dd hh:mm:ss"
        sheet.append([values[0], time_cell, *(_xlsx_value(sheet, v) for v in values[2:])])


def _duration(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=round(seconds))


def totals_values(totals: reports.Totals) -> list[tuple[str, int | timedelta | None]]:
    """The totals as a spreadsheet adds them up: one number a row. The page's cards
    show some figures together ("1 of 2") and as words ("1 min 30 s"), which a
    spreadsheet can only hold as text."""
    return [
        (_("Incidents"), totals.incidents),
        (_("Vehicle dispatches"), totals.vehicle_dispatches),
        (_("Boats"), totals.boats),
        (_("Boat dispatches"), totals.boat_dispatches),
        (_("Person-times"), totals.person_times),
        (_("People moved"), totals.people_moved),
        (_("Testing-site shifts"), totals.shifts),
        (_("Testing-site shifts fully staffed"), totals.shifts_staffed),
        (_("Testing sites with a full shift"), totals.sites_staffed),
        (_("Median time to accept"), _duration(totals.median_accept_seconds)),
        (_("Median time to arrive"), _duration(totals.median_arrive_seconds)),
    ]


def _totals_sheet(workbook: Workbook, filters: reports.LogFilter) -> None:
    summary = workbook.create_sheet(_("Totals"))
    summary.column_dimensions["A"].width = 34
    summary.column_dimensions["B"].width = 14
    talks = safety_talks_of(filters)
    rows = [
        *totals_values(reports.report_totals(filters=filters)),
        (_("Flood-safety talks"), talks.talks),
        (_("People reached by safety talks"), talks.audience),
    ]
    for label, value in rows:
        cell = WriteOnlyCell(summary, value=value)
        if isinstance(value, timedelta):
            # A duration is a number of days to Excel; shown as hours:minutes:seconds.
            cell.number_format = "[h]:mm:ss"
        summary.append([label, cell])


def log_xlsx_chunks(filters: reports.LogFilter) -> Iterator[bytes]:
    """The log and its totals as an XLSX workbook. A workbook is a zip file, whose
    directory comes last: it is written to a temporary file (openpyxl's write-only mode
    keeps rows out of memory), then sent from there block by block."""
    workbook = Workbook(write_only=True)
    _log_sheet(workbook, filters)
    _totals_sheet(workbook, filters)
    yield from _workbook_chunks(workbook)


# --- ICS 214 --------------------------------------------------------------------------


def ics214_rows(*, incident, form: reports.Ics214, prepared_by: str, position: str) -> list:
    return [
        [_("ICS 214 activity log")],
        [_("1. Incident name"), f"#{incident.pk} {incident.title}"],
        [
            _("2. Operational period"),
            local_naive(form.period_from),
            local_naive(form.period_to),
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
        *([local_naive(a.at), a.text] for a in form.activities),
        [],
        [_("8. Prepared by"), prepared_by, position, local_naive(timezone.now())],
    ]


# --- hours and person-times -----------------------------------------------------------

HOURS_TABLES = ("teams", "volunteers", "tasks")


def team_kind_label(kind: str) -> str:
    return str(TEAM_KIND_LABELS.get(kind, "")) if kind else _("No team")


def hours_team_columns() -> list[str]:
    return [_("Team"), _("Kind"), _("Volunteers"), _("Person-times"), _("Hours"), _("Ongoing")]


def hours_team_values(report: hours.HoursReport) -> Iterator[list]:
    """Each team's row, then each team kind's total (a person-time once), then all."""
    for row in report.teams:
        name = row.name or _("No team")
        yield [name, team_kind_label(row.kind), *_tally_values(row.volunteers, row.tally)]
    for kind, row in report.kinds.items():
        label = _("All: %(kind)s") % {"kind": team_kind_label(kind)}
        yield [label, team_kind_label(kind), *_tally_values(row.volunteers, row.tally)]
    yield [_("Total"), "", *_tally_values(report.total_volunteers, report.total)]


def _tally_values(volunteers: int, tally: hours.Tally) -> list:
    return [volunteers, tally.person_times, tally.hours, tally.ongoing]


def hours_volunteer_columns() -> list[str]:
    return [
        _("Volunteer no."),
        _("Volunteer"),
        _("Teams"),
        _("Person-times"),
        _("Hours"),
        _("Ongoing"),
        _("Last served (%(zone)s)") % {"zone": timezone.get_current_timezone_name()},
    ]


def hours_volunteer_values(report: hours.HoursReport) -> Iterator[list]:
    for row in report.volunteers:
        yield [
            row.volunteer_id,
            row.name,
            row.teams,
            row.tally.person_times,
            row.tally.hours,
            row.tally.ongoing,
            local_naive(row.last_at) if row.last_at else None,
        ]


def hours_task_columns() -> list[str]:
    zone = timezone.get_current_timezone_name()
    return [
        _("Volunteer no."),
        _("Volunteer"),
        _("Incident no."),
        _("Incident"),
        _("Incident type"),
        _("Need"),
        _("Vehicle"),
        _("Status"),
        _("Accepted (%(zone)s)") % {"zone": zone},
        _("Counted from (%(zone)s)") % {"zone": zone},
        _("Counted to (%(zone)s)") % {"zone": zone},
        _("Hours"),
        _("Ongoing"),
    ]


def hours_task_values(report: hours.HoursReport) -> Iterator[list]:
    names = {row.volunteer_id: row.name for row in report.volunteers}
    for one in report.served:
        yield [
            one.volunteer_id,
            names.get(one.volunteer_id, ""),
            one.incident_id,
            one.incident_title,
            one.incident_kind,
            one.need,
            one.vehicle,
            str(STATUS_LABELS.get(one.status, one.status)),
            local_naive(one.accepted_at),
            local_naive(one.started_at),
            local_naive(one.ended_at),
            one.hours,
            _("yes") if one.ongoing else "",
        ]


HOURS_TABLE_PARTS = {
    "teams": (hours_team_columns, hours_team_values),
    "volunteers": (hours_volunteer_columns, hours_volunteer_values),
    "tasks": (hours_task_columns, hours_task_values),
}


def _hours_table(report: hours.HoursReport, table: str) -> tuple[list[str], Iterator[list]]:
    columns, values = HOURS_TABLE_PARTS[table]
    return columns(), values(report)


def hours_export_name(report: hours.HoursReport, table: str, extension: str) -> str:
    parts = ["tongxin-hours"]
    if table:
        parts.append(table)
    if report.team:
        parts.append(f"team-{report.team.pk}")
    if report.start:
        parts.append(f"{report.start:%Y%m%d}")
    if report.end:
        parts.append(f"to-{report.end:%Y%m%d}")
    return "-".join(parts) + f".{extension}"


def hours_csv_chunks(report: hours.HoursReport, table: str) -> Iterator[str]:
    columns, values = _hours_table(report, table)
    return csv_chunks(itertools.chain([columns], values))


def _plain_sheet(workbook: Workbook, title: str, columns: list[str], rows: Iterable[list]):
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in columns:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for values in rows:
        cells = []
        for value in values:
            if isinstance(value, datetime):
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
                cells.append(cell)
            else:
                cells.append(_xlsx_value(sheet, value))
        sheet.append(cells)


def hours_xlsx_chunks(report: hours.HoursReport) -> Iterator[bytes]:
    """The three tables as sheets of one workbook: teams, volunteers, tasks."""
    workbook = Workbook(write_only=True)
    titles = {"teams": _("Per team"), "volunteers": _("Per volunteer"), "tasks": _("Tasks")}
    for table in HOURS_TABLES:
        columns, values = _hours_table(report, table)
        _plain_sheet(workbook, titles[table], columns, values)
    yield from _workbook_chunks(workbook)


def _workbook_chunks(workbook: Workbook) -> Iterator[bytes]:
    with tempfile.TemporaryFile() as file:
        workbook.save(file)
        file.seek(0)
        while block := file.read(FILE_BLOCK_BYTES):
            yield block
