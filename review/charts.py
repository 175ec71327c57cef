"""The review's charts, laid out here as plain data for inline SVG (review/_chart.html,
timeline.html): bars and medians per hour, day or week, and an incident's swimlanes.
Pure functions of dispatch.reports' figures: no request, no database."""

import math
from datetime import datetime, timedelta

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from dispatch import reports
from dispatch.labels import (
    EVENT_LABELS,
)
from dispatch.models import EventKind
from review.formats import duration, moment_text, month_day, number

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
        single("shifts", _("Testing-site shifts fully staffed"), series.shifts_staffed),
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

        labels = EVENT_LABELS
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
