"""The review's filter forms: for the log, the date window, an incident, its type, an
event kind or family, a township, a team, a volunteer; for the hours, days and a team."""

import re
from datetime import date

from django import forms
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dispatch import reports
from dispatch.labels import (
    EVENT_FAMILIES,
    EVENT_LABELS,
    INCIDENT_KIND_LABELS,
    township_name,
)
from dispatch.models import EventKind
from incidents.models import Incident, IncidentKind
from volunteers.models import Team, Township, Volunteer


class IncidentChoice(forms.ModelChoiceField):
    def label_from_instance(self, incident):
        opened = formats.date_format(timezone.localtime(incident.opened_at), "MONTH_DAY_FORMAT")
        return f"#{incident.pk} {incident.title} ({opened})"


class TownshipChoice(forms.ModelChoiceField):
    def label_from_instance(self, township):
        return township_name(township)


def _kind_choices():
    families = [(family, label) for family, label in EVENT_FAMILIES.items()]
    kinds = [(kind.value, EVENT_LABELS[kind]) for kind in EventKind]
    return [
        ("", gettext_lazy("All events")),
        (gettext_lazy("Groups"), families),
        (gettext_lazy("One kind"), kinds),
    ]


def _incident_kind_choices():
    return [("", gettext_lazy("All types"))] + [
        (kind.value, INCIDENT_KIND_LABELS[kind]) for kind in IncidentKind
    ]


DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# Dates outside these are typing errors (and year 9999 would overflow a day later).
EARLIEST, LATEST = date(1970, 1, 1), date(2099, 12, 31)


class DayRange(forms.Form):
    """From and to, local days, both included: sane years, the end not before the start."""

    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=DATE_WIDGET)
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=DATE_WIDGET)

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


class ReviewFilterForm(DayRange):
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


def filter_form(request) -> ReviewFilterForm:
    """The review's filters from the query string, validated (the invalid ones are
    shown on the page and left out of the filter)."""
    form = ReviewFilterForm(request.GET)
    form.is_valid()
    return form


class HoursFilterForm(DayRange):
    """The hours page's filters: the local days (of when service began) and a team."""

    team = forms.ModelChoiceField(
        label=gettext_lazy("Team"),
        queryset=Team.objects.all(),
        required=False,
        empty_label=gettext_lazy("All teams"),
    )

    def hours_filter(self) -> dict:
        """start, end and team of the fields that are valid (the invalid ones are shown)."""
        data = getattr(self, "cleaned_data", {})
        return {"start": data.get("start"), "end": data.get("end"), "team": data.get("team")}


def hours_form(request) -> HoursFilterForm:
    form = HoursFilterForm(request.GET)
    form.is_valid()
    return form
