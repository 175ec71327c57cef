"""The shape of each deployment-log event's `data`, kind by kind.

Why this exists: `data` is schemaless JSON in the database, yet it is read far from
where it is written. The dashboard and the phones parse it out of every `event` frame
(docs/websockets.md), the API serves it as stored, and the review and the log exports
(dispatch/reports.py) read it back long after the incident. A key renamed, dropped or
retyped in a service breaks them silently, and the log is append-only: old rows keep
the old shape forever. So each kind's keys are written down here, and
tests/dispatch/test_event_schema.py drives every service that logs an event and checks
each row it wrote against this. A service that adds, drops or retypes a key in `data`
must say so here (and in docs/websockets.md, "Event data"), or that test fails.
(Zulip keeps zerver/lib/event_schema.py for the same reason.)

Types are JSON's, as the data reads back from the log: str, int, float (which also
takes an int), bool, None (JSON null), list. A bool is never taken for an int.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from briefings.models import ActivityKind, Audience
from dispatch.models import AssignmentStatus, EventKind
from incidents.models import LocationPrecision
from volunteers.models import VehicleStatus

NULL = type(None)


@dataclass(frozen=True)
class Key:
    """One key of an event's data: its JSON type(s), whether every event of the kind
    has it, a list's item type, and the only values it may take (if limited)."""

    types: tuple[type, ...]
    required: bool = True
    items: type | None = None
    values: frozenset | None = None


def required(*types: type, items: type | None = None, values=None) -> Key:
    return Key(types, True, items, frozenset(values) if values is not None else None)


def optional(*types: type, items: type | None = None, values=None) -> Key:
    return Key(types, False, items, frozenset(values) if values is not None else None)


def _assignment(*statuses: str) -> dict[str, Key]:
    # Every event about an assignment (dispatch.services._event_fields) carries the
    # assignment's status after the change.
    return {"status": required(str, values=statuses or AssignmentStatus.values)}


S = AssignmentStatus

EVENT_DATA: dict[str, dict[str, Key]] = {
    # incidents.services.incident_open
    EventKind.INCIDENT_OPENED: {
        "kind": required(str),  # the incident's kind (flood_rescue …), not the event's
        "title": required(str),
        "priority": required(int),
        "latitude": required(float),
        "longitude": required(float),
        "township": required(int, NULL),  # null when no township is on file
        "needs": required(list, items=int),
        # How precise the place is (issue 12): absent from events logged before it was.
        "location_precision": optional(str, values=LocationPrecision.values),
    },
    # incidents.services._incident_close
    EventKind.INCIDENT_RESOLVED: {"note": required(str)},
    EventKind.INCIDENT_CANCELLED: {"note": required(str)},
    # Issue 13's kinds: empty until their services write them and say their keys here
    # and in docs/websockets.md (tests/dispatch/test_event_schema.NOT_WRITTEN).
    # incidents.services.incident_change: each field changed, as [before, after]
    EventKind.INCIDENT_CHANGED: {
        "title": optional(list, items=str),
        "description": optional(list, items=str),
        "priority": optional(list, items=int),
        "people_affected": optional(list, items=int),
        "latitude": optional(list, items=float),
        "longitude": optional(list, items=float),
        "address": optional(list, items=str),
        "location_precision": optional(list, items=str),
    },
    # incidents.services.need_add: the new need (the frame's `need` is its id)
    EventKind.NEED_ADDED: {
        "kind": required(str, values=("people", "vehicle", "capability")),
        "count": required(int),
        "skill": required(str, NULL),
        "vehicle_kind": required(str),
        "people_to_move": required(int, NULL),
    },
    # incidents.services.need_change: the size or note, as [before, after], and how many
    # were stood down or withdrawn because it shrank
    EventKind.NEED_CHANGED: {
        "count": optional(list, items=int),
        "people_to_move": optional(list, items=int),
        "note": optional(list, items=str),
        "stood_down": required(int),
    },
    # incidents.services.need_cancel: the coordinator's words
    EventKind.NEED_CANCELLED: {"reason": required(str)},
    # dispatch.escalation: a need nobody within reach could take, raised once (the
    # reason is one of dispatch.escalation.UNMET_REASONS) ...
    EventKind.NEED_UNMET: {
        "reason": required(str, values={"none_on_duty", "all_busy", "all_asked", "out_of_reach"}),
        "reach_km": required(int, NULL),  # how far it searched; null: own ranges
        "asked": required(int),
        "declined": required(int),
        "expired": required(int),
        "on_duty": required(int),
        "busy": required(int),
    },
    # ... and its search widened, step by step by itself or by a coordinator
    EventKind.NEED_WIDENED: {
        "by": required(str, values={"escalation", "coordinator"}),
        "reach_km": required(int, NULL),
        "extra_skills": required(list, items=str),
    },
    # briefings.services.broadcast_send: the audience's parameter is the key named by
    # its kind (`township`, `team`, `skill`: an id) or, for an area, its centre and
    # radius; a briefing adds its place and time.
    EventKind.BROADCAST_SENT: {
        "broadcast": required(int),
        "audience": required(str, values=Audience.values),
        "text": required(str),
        "recipients": required(int),
        "briefing": required(bool),
        "township": optional(int),
        "team": optional(int),
        "skill": optional(int),
        "latitude": optional(float),
        "longitude": optional(float),
        "radius_km": optional(float),
        "briefing_place": optional(str),
        "briefing_starts_at": optional(str),
    },
    # briefings.services.activity_record
    EventKind.ACTIVITY_RECORDED: {
        "activity": required(int),
        "kind": required(str, values=ActivityKind.values),
        "title": required(str),
        "starts_at": required(str),
        "audience_size": required(int),
        "township": required(int, NULL),
        "staff": required(list, items=int),
    },
    # volunteers.services.volunteer_set_duty
    EventKind.VOLUNTEER_ON_DUTY: {"township": required(int)},
    EventKind.VOLUNTEER_OFF_DUTY: {"township": required(int)},
    # dispatch.vehicles: a vehicle's status as its work changes it, or as its crew or a
    # coordinator put it out of service and back (with their reason; "" otherwise).
    EventKind.VEHICLE_STATUS: {
        "status": required(str, values=VehicleStatus.values),
        "reason": required(str),
    },
    # dispatch.services: offers_make
    EventKind.OFFER_MADE: {
        **_assignment(S.OFFERED),
        "distance_m": required(int),
        "eta_seconds": required(int),
        "expires_at": required(str),  # ISO 8601
    },
    # _offer_acknowledge: the status is whatever the assignment has by then
    EventKind.OFFER_DELIVERED: _assignment(),
    EventKind.OFFER_SEEN: _assignment(),
    # assignment_accept (neither key) and assignment_assign_manually (both); a future
    # shift is reserved (status reserved, "reserved": true) rather than accepted
    EventKind.OFFER_ACCEPTED: {
        **_assignment(S.ACCEPTED, S.RESERVED),
        "manual": optional(bool, values={True}),
        "reason": optional(str),
        "reserved": optional(bool, values={True}),
    },
    # assignment_decline: the volunteer's reason, "" when none given
    EventKind.OFFER_DECLINED: {**_assignment(S.DECLINED), "reason": required(str)},
    # offers_expire
    EventKind.OFFER_EXPIRED: _assignment(S.EXPIRED),
    # "not needed", "accepted another task", "incident resolved" / "incident
    # cancelled", or a coordinator's own words (assignment_unassign)
    EventKind.OFFER_WITHDRAWN: {**_assignment(S.WITHDRAWN), "reason": required(str)},
    # assignment_progress: people_moved is always present, null before completion
    EventKind.ASSIGNMENT_EN_ROUTE: {**_assignment(S.EN_ROUTE), "people_moved": required(NULL)},
    EventKind.ASSIGNMENT_ON_SCENE: {**_assignment(S.ON_SCENE), "people_moved": required(NULL)},
    EventKind.ASSIGNMENT_COMPLETED: {
        **_assignment(S.COMPLETED),
        "people_moved": required(int, NULL),
    },
    # _close_assignment: "incident resolved" / "incident cancelled" or a coordinator's
    EventKind.ASSIGNMENT_CANCELLED: {**_assignment(S.CANCELLED), "reason": required(str)},
    # dispatch.services.shifts_take_up: a reserved shift came due and became active work;
    # or its volunteer was still on other work (the incident of it, when known), and
    # the shift (its start, ISO 8601) waits for them until it begins
    EventKind.ASSIGNMENT_TAKEN_UP: _assignment(S.ACCEPTED),
    EventKind.ASSIGNMENT_SHIFT_CLASH: {
        **_assignment(S.RESERVED),
        "shift_start": required(str),
        "busy_on": required(int, NULL),
    },
    # dispatch.services.incident_moved: the incident's new place, to those on the task
    EventKind.ASSIGNMENT_REROUTED: {
        **_assignment(S.RESERVED, S.ACCEPTED, S.EN_ROUTE, S.ON_SCENE),
        "latitude": required(float),
        "longitude": required(float),
        "address": required(str),
    },
}


JSON_NAMES = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    NULL: "null",
    list: "list",
    dict: "object",
}


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join(JSON_NAMES[t] for t in types)


def key_type_text(key: Key) -> str:
    """The key's type as docs/websockets.md writes it: "integer or null", "list of
    integers"."""
    if key.items is not None:
        return " or ".join(
            f"list of {JSON_NAMES[key.items]}s" if t is list else JSON_NAMES[t] for t in key.types
        )
    return _type_names(key.types)


def _is_a(value, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, types)


def event_data_check(kind: str, data: Mapping) -> None:
    """Raise ValueError, saying what is wrong, unless `data` has the shape EVENT_DATA
    gives for `kind`."""
    schema = EVENT_DATA.get(kind)
    if schema is None:
        raise ValueError(f"unknown event kind {kind!r}: give it a schema in {__name__}")
    if not isinstance(data, Mapping):
        raise ValueError(f"{kind}: data is {type(data).__name__}, not an object")
    missing = sorted(name for name, key in schema.items() if key.required and name not in data)
    if missing:
        raise ValueError(f"{kind}: data lacks the required key(s) {', '.join(missing)}")
    unexpected = sorted(name for name in data if name not in schema)
    if unexpected:
        raise ValueError(
            f"{kind}: data has the unexpected key(s) {', '.join(unexpected)}; "
            f"a service that adds a key says so in {__name__}"
        )
    for name, value in data.items():
        key = schema[name]
        if not _is_a(value, key.types):
            raise ValueError(
                f"{kind}: data[{name!r}] is {value!r} ({type(value).__name__}), "
                f"not {_type_names(key.types)}"
            )
        if key.items is not None and isinstance(value, list):
            for item in value:
                if not _is_a(item, (key.items,)):
                    raise ValueError(
                        f"{kind}: data[{name!r}] holds {item!r} ({type(item).__name__}), "
                        f"not {_type_names((key.items,))}"
                    )
        if key.values is not None and value not in key.values:
            raise ValueError(
                f"{kind}: data[{name!r}] is {value!r}, not one of {sorted(key.values, key=str)}"
            )
