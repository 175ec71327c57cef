"""The words people read for the system's values, once, for every face (dashboard, phone,
review), the exports and the SMS: one label per value, one format per need, and one
language fallback.

The models' choices carry fixed bilingual strings ("防汛救援 flood rescue") for the admin
and the API schema; people read one language at a time, so the labels here are
translatable (dispatch/locale). A page that has no language active (a task, a command)
speaks the project's default, LANGUAGE_CODE.

Nothing here reads the database beyond the objects it is handed.
"""

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from dispatch.models import AssignmentStatus, EventKind
from incidents.models import Incident, IncidentKind, IncidentStatus, Need
from volunteers.models import TeamKind, VehicleKind, VehicleStatus

# --- the language ---------------------------------------------------------------------


def language_is_chinese() -> bool:
    """Whether to speak Chinese: the active language, else the project's default."""
    return (translation.get_language() or settings.LANGUAGE_CODE).startswith("zh")


def in_language(chinese: str, english: str) -> str:
    """One of a pair of names kept in both languages (townships, skills), the Chinese
    one when there is no English."""
    return chinese if language_is_chinese() else (english or chinese)


# --- the values -----------------------------------------------------------------------

INCIDENT_KIND_LABELS = {
    IncidentKind.FLOOD_RESCUE: gettext_lazy("Flood rescue"),
    IncidentKind.EVACUATION: gettext_lazy("Evacuation"),
    IncidentKind.MEDICAL: gettext_lazy("Medical"),
    IncidentKind.SEARCH: gettext_lazy("Search"),
    IncidentKind.TESTING_SITE: gettext_lazy("Testing site"),
    IncidentKind.SHELTER: gettext_lazy("Shelter"),
    IncidentKind.DISTRIBUTION: gettext_lazy("Distribution point"),
}
INCIDENT_STATUS_LABELS = {
    IncidentStatus.OPEN: gettext_lazy("Open"),
    IncidentStatus.RESOLVED: gettext_lazy("Resolved"),
    IncidentStatus.CANCELLED: gettext_lazy("Cancelled"),
}
PRIORITY_LABELS = {
    Incident.Priority.LOW: gettext_lazy("Low"),
    Incident.Priority.NORMAL: gettext_lazy("Normal"),
    Incident.Priority.HIGH: gettext_lazy("High"),
    Incident.Priority.CRITICAL: gettext_lazy("Critical"),
}
NEED_KIND_LABELS = {
    Need.Kind.PEOPLE: pgettext_lazy("need kind", "People"),
    Need.Kind.VEHICLE: pgettext_lazy("need kind", "Vehicles"),
    Need.Kind.CAPABILITY: pgettext_lazy("need kind", "Capability"),
}
VEHICLE_KIND_LABELS = {
    VehicleKind.BOAT: gettext_lazy("Assault boat"),
    VehicleKind.TRUCK: gettext_lazy("Truck"),
    VehicleKind.AMBULANCE: gettext_lazy("Ambulance"),
    VehicleKind.VAN: gettext_lazy("Van"),
    VehicleKind.CAR: gettext_lazy("Car"),
    VehicleKind.BUS: gettext_lazy("Bus"),
}
VEHICLE_STATUS_LABELS = {
    VehicleStatus.AVAILABLE: pgettext_lazy("vehicle status", "Available"),
    VehicleStatus.ASSIGNED: pgettext_lazy("vehicle status", "On a task"),
    VehicleStatus.OUT_OF_SERVICE: pgettext_lazy("vehicle status", "Out of service"),
}
TEAM_KIND_LABELS = {
    TeamKind.ASSOCIATION: pgettext_lazy("team kind", "Association"),
    TeamKind.BRANCH: pgettext_lazy("team kind", "Trade branch"),
    TeamKind.RESCUE: pgettext_lazy("team kind", "Rescue team"),
}
STATUS_LABELS = {
    AssignmentStatus.OFFERED: pgettext_lazy("assignment status", "Offered"),
    AssignmentStatus.RESERVED: pgettext_lazy("assignment status", "Booked"),
    AssignmentStatus.ACCEPTED: pgettext_lazy("assignment status", "Accepted"),
    AssignmentStatus.EN_ROUTE: pgettext_lazy("assignment status", "En route"),
    AssignmentStatus.ON_SCENE: pgettext_lazy("assignment status", "On scene"),
    AssignmentStatus.COMPLETED: pgettext_lazy("assignment status", "Completed"),
    AssignmentStatus.DECLINED: pgettext_lazy("assignment status", "Declined"),
    AssignmentStatus.EXPIRED: pgettext_lazy("assignment status", "Expired"),
    AssignmentStatus.WITHDRAWN: pgettext_lazy("assignment status", "Withdrawn"),
    AssignmentStatus.CANCELLED: pgettext_lazy("assignment status", "Stood down"),
}
# An offer as a coordinator follows it: sent, delivered to the phone, seen by the
# volunteer while it waits; its status once answered (dashboard.views.offer_state).
OFFER_STATE_LABELS = {
    "sent": pgettext_lazy("offer state", "Sent"),
    "delivered": pgettext_lazy("offer state", "Delivered"),
    "seen": pgettext_lazy("offer state", "Seen"),
    **{status: label for status, label in STATUS_LABELS.items() if status != "offered"},
}
# What became of an offer, as the timeline says it.
ANSWER_LABELS = {
    "accepted": pgettext_lazy("offer answer", "Accepted"),
    AssignmentStatus.DECLINED: pgettext_lazy("offer answer", "Declined"),
    AssignmentStatus.EXPIRED: pgettext_lazy("offer answer", "Expired"),
    AssignmentStatus.WITHDRAWN: pgettext_lazy("offer answer", "Withdrawn"),
    AssignmentStatus.OFFERED: pgettext_lazy("offer answer", "No answer yet"),
}
# What happened, as the log, the dashboard's activity feed and the exports name it.
EVENT_LABELS = {
    EventKind.INCIDENT_OPENED: pgettext_lazy("log event", "Incident opened"),
    EventKind.INCIDENT_RESOLVED: pgettext_lazy("log event", "Incident resolved"),
    EventKind.INCIDENT_CANCELLED: pgettext_lazy("log event", "Incident cancelled"),
    EventKind.INCIDENT_CHANGED: pgettext_lazy("log event", "Incident changed"),
    EventKind.NEED_ADDED: pgettext_lazy("log event", "Need added"),
    EventKind.NEED_CHANGED: pgettext_lazy("log event", "Need changed"),
    EventKind.NEED_CANCELLED: pgettext_lazy("log event", "Need cancelled"),
    EventKind.NEED_UNMET: pgettext_lazy("log event", "Nobody left to ask"),
    EventKind.NEED_WIDENED: pgettext_lazy("log event", "Search widened"),
    EventKind.VOLUNTEER_ON_DUTY: pgettext_lazy("log event", "Went on duty"),
    EventKind.VOLUNTEER_OFF_DUTY: pgettext_lazy("log event", "Went off duty"),
    EventKind.VEHICLE_STATUS: pgettext_lazy("log event", "Vehicle status"),
    EventKind.OFFER_MADE: pgettext_lazy("log event", "Offered"),
    EventKind.OFFER_DELIVERED: pgettext_lazy("log event", "Delivered"),
    EventKind.OFFER_SEEN: pgettext_lazy("log event", "Seen"),
    EventKind.OFFER_ACCEPTED: pgettext_lazy("log event", "Accepted"),
    EventKind.OFFER_DECLINED: pgettext_lazy("log event", "Declined"),
    EventKind.OFFER_EXPIRED: pgettext_lazy("log event", "Expired"),
    EventKind.OFFER_WITHDRAWN: pgettext_lazy("log event", "Withdrawn"),
    EventKind.ASSIGNMENT_EN_ROUTE: pgettext_lazy("log event", "En route"),
    EventKind.ASSIGNMENT_ON_SCENE: pgettext_lazy("log event", "On scene"),
    EventKind.ASSIGNMENT_COMPLETED: pgettext_lazy("log event", "Completed"),
    EventKind.ASSIGNMENT_CANCELLED: pgettext_lazy("log event", "Stood down"),
    EventKind.ASSIGNMENT_REROUTED: pgettext_lazy("log event", "Place changed"),
    EventKind.ASSIGNMENT_TAKEN_UP: pgettext_lazy("log event", "Shift taken up"),
    EventKind.ASSIGNMENT_SHIFT_CLASH: pgettext_lazy("log event", "Shift clash"),
    EventKind.BROADCAST_SENT: pgettext_lazy("log event", "Message sent"),
    EventKind.ACTIVITY_RECORDED: pgettext_lazy("log event", "Activity recorded"),
}
# The families a log filter may name instead of one kind ("offer" matches offer.*).
EVENT_FAMILIES = {
    "incident": gettext_lazy("All incident events"),
    "offer": gettext_lazy("All offers and answers"),
    "assignment": gettext_lazy("All progress on scene"),
    "volunteer": gettext_lazy("All duty changes"),
}
# The reasons the services themselves write (dispatch.services); people's own reasons
# are shown as they typed them.
SYSTEM_REASONS = {
    "not needed": gettext_lazy("not needed: the need was filled"),
    "accepted another task": gettext_lazy("accepted another task"),
    "incident resolved": gettext_lazy("the incident was resolved"),
    "incident cancelled": gettext_lazy("the incident was cancelled"),
    "shift given up": gettext_lazy("the volunteer gave the shift up"),
    "still on other work when the shift began": gettext_lazy(
        "still on other work when the shift began"
    ),
}


def labels_as_json() -> dict[str, dict[str, str]]:
    """Every table above in the active language, keyed by value, for a page's script."""
    tables = {
        "incident_kind": INCIDENT_KIND_LABELS,
        "incident_status": INCIDENT_STATUS_LABELS,
        "priority": PRIORITY_LABELS,
        "need_kind": NEED_KIND_LABELS,
        "vehicle_kind": VEHICLE_KIND_LABELS,
        "vehicle_status": VEHICLE_STATUS_LABELS,
        "team_kind": TEAM_KIND_LABELS,
        "offer_state": OFFER_STATE_LABELS,
        "event": EVENT_LABELS,
    }
    return {
        name: {str(value): str(label) for value, label in table.items()}
        for name, table in tables.items()
    }


def label_of(table: dict, value) -> str:
    """A value's label, or the value itself when the table has none (an old value)."""
    return str(table.get(value, value))


# --- things -----------------------------------------------------------------------------


def township_name(township) -> str:
    return "" if township is None else in_language(township.name, township.name_en)


def skill_name(skill) -> str:
    return "" if skill is None else in_language(skill.name_zh, skill.name_en)


def user_name(user) -> str:
    """A person as the log names them: their volunteer name, else their account."""
    if user is None:
        return _("the system")
    volunteer = getattr(user, "volunteer", None)
    if volunteer is not None:
        return volunteer.name
    return user.get_full_name() or user.get_username()


def reason_text(reason: str) -> str:
    return str(SYSTEM_REASONS.get(reason, reason))


def shift_text(need: Need) -> str:
    """A shift window as the city's clock reads it: "08:00–12:00"."""
    start, end = timezone.localtime(need.shift_start), timezone.localtime(need.shift_end)
    return f"{start:%H:%M}–{end:%H:%M}"


def need_label(need: Need | None, *, with_shift: bool = True) -> str:
    """What a need asks for: "2 × 急救", "1 × 冲锋舟", "move 40 people through 1.2 m of
    water", and its shift window when it has one."""
    if need is None:
        return ""
    if need.kind == Need.Kind.PEOPLE:
        text = f"{need.count} × {skill_name(need.skill)}"
    elif need.kind == Need.Kind.VEHICLE:
        text = f"{need.count} × {label_of(VEHICLE_KIND_LABELS, need.vehicle_kind)}"
    else:
        text = _("move %(people)d people through %(depth)s m of water") % {
            "people": need.people_to_move,
            "depth": f"{need.water_depth_m.normalize():f}",
        }
    if with_shift and need.shift_start and need.shift_end:
        text += f" ({shift_text(need)})"
    return text


def vehicle_label(vehicle) -> str:
    if vehicle is None:
        return ""
    return f"{vehicle.call_sign} ({label_of(VEHICLE_KIND_LABELS, vehicle.kind)})"


def resource_label(volunteer, vehicle) -> str:
    return volunteer.name if volunteer is not None else vehicle_label(vehicle)
