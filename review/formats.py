"""Numbers, durations and moments as the review shows them, and the totals cards (the
page and the XLSX export show the same)."""

from datetime import datetime

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from briefings.selectors import TalkTotals, safety_talk_totals
from dispatch import reports


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
            # "0/71 · 0 sites" puzzled commanders: the label says what both numbers
            # count, the note where the full shifts were.
            "key": "shifts-staffed",
            "value": _("%(staffed)s of %(shifts)s")
            % {"staffed": number(totals.shifts_staffed), "shifts": number(totals.shifts)},
            "label": pgettext("totals card", "Testing-site shifts fully staffed"),
            "note": ngettext(
                "full shifts at %(sites)s testing site",
                "full shifts at %(sites)s testing sites",
                totals.sites_staffed,
            )
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


def safety_talks_of(filters: reports.LogFilter) -> TalkTotals:
    """The flood-safety talks given in the review's range (issue 13), in its township,
    by its team or volunteer. A talk belongs to no incident: narrowed to an incident or
    an incident kind, the review counts none."""
    if filters.incident or filters.incident_kind:
        return TalkTotals(talks=0, audience=0)
    after, before = filters.window()
    return safety_talk_totals(
        after=after,
        before=before,
        township=filters.township,
        team=filters.team,
        volunteer=filters.volunteer,
    )


def safety_talks_card(talks: TalkTotals) -> dict:
    return {
        "key": "safety-talks",
        "value": number(talks.talks),
        "label": _("Flood-safety talks"),
        "note": ngettext("%(people)s person reached", "%(people)s people reached", talks.audience)
        % {"people": number(talks.audience)},
    }
