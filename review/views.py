"""The commanders' review pages (issue 5 item 3): the deployment log filtered, totals and
charts, one incident's timeline, its ICS-214 activity log, and the exports; hours and
person-times per team and per volunteer (issue 11 item 4), with theirs.

Server-rendered from dispatch.reports' figures: the filters in review.forms, the charts
laid out in review.charts (inline SVG), the downloads made in review.exports.
For commanders and coordinators; a volunteer gets 403, someone signed out the login.
"""

from dataclasses import replace
from datetime import datetime
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from dispatch import hours, reports
from dispatch.labels import (
    INCIDENT_KIND_LABELS,
    INCIDENT_STATUS_LABELS,
    PRIORITY_LABELS,
    township_name,
    user_name,
)
from incidents.models import Incident
from pages.streaming import streamed_download
from review import exports
from review.charts import review_charts, timeline_charts
from review.formats import (
    duration,
    moment_text,
    number,
    safety_talks_card,
    safety_talks_of,
    totals_cards,
)
from review.forms import filter_form, hours_form
from volunteers.roles import Role, user_has_role, user_may_watch

PAGE_SIZE = 50


def reviewer_required(view):
    """Commanders and coordinators (and admins); the login for whoever is signed out."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not user_may_watch(user):
            raise PermissionDenied("Only commanders and coordinators review the log.")
        return view(request, *args, **kwargs)

    return require_GET(wrapped)


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _query_with(request, **values) -> str:
    """The query string with these values set, and those given as None left out."""
    query = request.GET.copy()
    for name, value in values.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return query.urlencode()


# --- the review page ------------------------------------------------------------------


# ?order=oldest pages the log from its first event; by default it opens on the newest
# (a commander reviewing a running operation wants what just happened). The exports keep
# the log's own order, oldest first: a file is read from the top and sorted at will.
OLDEST_FIRST = "oldest"


def _oldest_first(request) -> bool:
    return request.GET.get("order") == OLDEST_FIRST


def _page_links(request, page, *, oldest_first: bool) -> dict:
    """The pager's two buttons: the previous page holds earlier events when the log
    runs oldest first, later ones when it runs newest first."""

    def link(number, label):
        return {"query": _query_with(request, page=number), "label": label}

    earlier, later = _("Earlier"), _("Later")
    before_label, after_label = (earlier, later) if oldest_first else (later, earlier)
    return {
        "previous": link(page.previous_page_number(), before_label)
        if page.has_previous()
        else None,
        "next": link(page.next_page_number(), after_label) if page.has_next() else None,
    }


def _order_links(request) -> list[dict]:
    """Newest first and oldest first, each from its first page, the filters kept."""
    oldest_first = _oldest_first(request)
    return [
        {
            "key": "newest",
            "query": _query_with(request, page=None, order=None),
            "label": _("Newest first"),
            "current": not oldest_first,
        },
        {
            "key": OLDEST_FIRST,
            "query": _query_with(request, page=None, order=OLDEST_FIRST),
            "label": _("Oldest first"),
            "current": oldest_first,
        },
    ]


@reviewer_required
def review(request):
    form = filter_form(request)
    filters = form.log_filter()
    oldest_first = _oldest_first(request)
    events = reports.log_filtered(filters=filters)
    if not oldest_first:
        events = events.order_by("-seq")
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    series = reports.report_series(filters=filters)
    context = {
        "form": form,
        "filters": filters,
        "volunteer": form.cleaned_data.get("volunteer") if hasattr(form, "cleaned_data") else None,
        "cards": [
            *totals_cards(reports.report_totals(filters=filters)),
            safety_talks_card(safety_talks_of(filters)),
        ],
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
        "oldest_first": oldest_first,
        "order_links": _order_links(request),
        "page_links": _page_links(request, page, oldest_first=oldest_first),
    }
    return render(request, "review/review.html", context)


# --- exports --------------------------------------------------------------------------


def _export_filters(request) -> reports.LogFilter | None:
    form = filter_form(request)
    return form.log_filter() if form.is_valid() else None


def _log_download(request, chunks_of, *, content_type: str, extension: str):
    filters = _export_filters(request)
    if filters is None:
        return HttpResponseBadRequest(_("The filters are not valid."))
    return streamed_download(
        chunks_of(filters),
        content_type=content_type,
        filename=exports.export_name(filters, extension),
    )


@reviewer_required
def log_csv(request):
    return _log_download(
        request, exports.log_csv_chunks, content_type=exports.CSV_TYPE, extension="csv"
    )


@reviewer_required
def log_xlsx(request):
    return _log_download(
        request, exports.log_xlsx_chunks, content_type=exports.XLSX_TYPE, extension="xlsx"
    )


# --- one incident ---------------------------------------------------------------------


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
        "kind": INCIDENT_KIND_LABELS.get(incident.kind, incident.kind),
        "status": INCIDENT_STATUS_LABELS.get(incident.status, incident.status),
        "priority": PRIORITY_LABELS.get(incident.priority, incident.priority),
        "township": township_name(incident.township),
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


def _name_on_form(user) -> str:
    """A person in the form's name boxes (3 and 8). user_name falls back to the login
    when nobody recorded a name for the account (a staff login with no volunteer record
    and no first or last name): on a signed form a bare login reads as a person's
    name, so it says what it is, and where the name is missing."""
    name = user_name(user)
    if user is None or name != user.get_username():
        return name
    return _("%(login)s (login: no name on record)") % {"login": name}


def _ics214(incident: Incident) -> reports.Ics214:
    """The form as the page and its CSV show it. Its box 3 names the coordinator who
    opened the incident (reports.incident_ics214)."""
    form = reports.incident_ics214(incident=incident)
    return replace(form, leader=_name_on_form(incident.reporter))


@reviewer_required
def incident_ics214(request, pk: int):
    incident = get_object_or_404(Incident.objects.select_related("township", "reporter"), pk=pk)
    form = _ics214(incident)
    context = {
        "incident": incident,
        "facts": _incident_facts(incident),
        "form": form,
        "prepared_by": _name_on_form(request.user),
        "prepared_position": _role_title(request.user),
        "prepared_at": timezone.now(),
    }
    return render(request, "review/ics214.html", context)


# --- hours and person-times -----------------------------------------------------------


@reviewer_required
def hours_page(request):
    form = hours_form(request)
    report = hours.hours_report(**form.hours_filter())
    query = _query_without(request, "table")
    context = {
        "form": form,
        "report": report,
        "kinds": [
            {"kind": kind, "label": exports.team_kind_label(kind), "row": row}
            for kind, row in report.kinds.items()
        ],
        "teams": [{"row": row, "kind": exports.team_kind_label(row.kind)} for row in report.teams],
        "query": query,
    }
    return render(request, "review/hours.html", context)


def _hours_download(request, extension: str):
    form = hours_form(request)
    table = request.GET.get("table", "volunteers") if extension == "csv" else ""
    if not form.is_valid() or (table and table not in exports.HOURS_TABLES):
        return HttpResponseBadRequest(_("The filters are not valid."))
    report = hours.hours_report(**form.hours_filter())
    if extension == "csv":
        chunks, content_type = exports.hours_csv_chunks(report, table), exports.CSV_TYPE
    else:
        chunks, content_type = exports.hours_xlsx_chunks(report), exports.XLSX_TYPE
    return streamed_download(
        chunks,
        content_type=content_type,
        filename=exports.hours_export_name(report, table, extension),
    )


@reviewer_required
def hours_csv(request):
    """One table of the hours page (?table=teams, volunteers or tasks) as CSV."""
    return _hours_download(request, "csv")


@reviewer_required
def hours_xlsx(request):
    """The hours page's tables, and every task served, as sheets of one workbook."""
    return _hours_download(request, "xlsx")


@reviewer_required
def incident_ics214_csv(request, pk: int):
    incident = get_object_or_404(Incident.objects.select_related("township", "reporter"), pk=pk)
    rows = exports.ics214_rows(
        incident=incident,
        form=_ics214(incident),
        prepared_by=_name_on_form(request.user),
        position=_role_title(request.user),
    )
    return streamed_download(
        exports.csv_chunks(rows),
        content_type=exports.CSV_TYPE,
        filename=f"tongxin-ics214-incident-{incident.pk}.csv",
    )
