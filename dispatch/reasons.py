"""Why an offer or an assignment closed, in the words a volunteer is told (the refusal of
a late answer, the phone's stand-down notice, the stand-down SMS), and the reasons the
services record. One module of words and constants, no writes: the services, the SMS
sweep and the phone page all read it, and it imports none of them.
"""

from django.utils.translation import gettext as _

from dispatch.models import ACTIVE_STATUSES, Assignment, AssignmentStatus
from incidents.models import Incident

# The reasons the services record on an assignment they close (besides a coordinator's
# own words, and "incident <status>" from incidents.services).
NOT_NEEDED = "not needed"
ACCEPTED_ANOTHER = "accepted another task"
VEHICLE_OUT_OF_SERVICE = "vehicle out of service"
# A live incident changed (incidents.services): its need shrank, a need was cancelled
# ("need cancelled: <the coordinator's words>"), or its place moved and the offers made
# for the old place are planned again.
NEED_REDUCED = "need reduced"
NEED_CANCELLED = "need cancelled"
PLACE_CHANGED = "place changed"
# Reserved shifts (issue 13, dispatch.shifts): the volunteer gave theirs up, or was
# still on other work when it began, so it went to someone else.
SHIFT_GIVEN_UP = "shift given up"
SHIFT_CLASHED = "still on other work when the shift began"


def need_cancelled_reason(words: str) -> str:
    """The reason recorded on the assignments of a need a coordinator cancelled."""
    return f"{NEED_CANCELLED}: {words}"[:300]


def _cancelled_words(reason: str) -> str | None:
    """The coordinator's words of a need_cancelled_reason, or None for another reason."""
    prefix = f"{NEED_CANCELLED}: "
    return reason[len(prefix) :] if reason.startswith(prefix) else None


def closed_reason(assignment: Assignment) -> str:
    """What a volunteer answering a closed offer is told: why it closed."""
    if assignment.status == AssignmentStatus.WITHDRAWN:
        if assignment.reason == NOT_NEEDED:
            return _("Already filled: this task no longer needs you. Thank you.")
        if assignment.reason == ACCEPTED_ANOTHER:
            return _("Withdrawn: you accepted another task.")
        if assignment.reason == VEHICLE_OUT_OF_SERVICE:
            return _("Withdrawn: the vehicle is out of service.")
        if assignment.reason == NEED_REDUCED:
            return _("Withdrawn: the coordinator needs fewer people now.")
        if assignment.reason == PLACE_CHANGED:
            return _("Withdrawn: the place changed, and the task is being planned again.")
        if (words := _cancelled_words(assignment.reason)) is not None:
            return _("Withdrawn: this need was cancelled (%(reason)s).") % {"reason": words}
        # incidents.services closes an incident's offers with "incident <status>".
        if assignment.reason == f"incident {Incident.Status.RESOLVED}":
            return _("Withdrawn: the incident was resolved.")
        if assignment.reason == f"incident {Incident.Status.CANCELLED}":
            return _("Withdrawn: the incident was cancelled.")
        if assignment.reason.startswith("incident "):
            return _("Withdrawn: the incident was closed.")
        return _("Withdrawn by the coordinator: %(reason)s") % {"reason": assignment.reason}
    if assignment.status == AssignmentStatus.EXPIRED:
        return _("This offer expired and went to someone else.")
    if assignment.status == AssignmentStatus.DECLINED:
        return _("You already declined this offer.")
    if assignment.status == AssignmentStatus.COMPLETED:
        return _("This task is already completed.")
    if assignment.status == AssignmentStatus.CANCELLED:
        return _("This assignment is already cancelled.")
    if assignment.status == AssignmentStatus.RESERVED:
        return _("You already booked this shift.")
    if assignment.status in ACTIVE_STATUSES:
        return _("This offer is already accepted.")
    return _("This offer was already answered.")


def stand_down_reason(assignment: Assignment) -> str:
    """Why a volunteer was stood down, as the phone's notice and the SMS say it: an offer
    withdrawn (why it closed), or a task cancelled (the incident closed, or the
    coordinator took them off, and why)."""
    if assignment.status != AssignmentStatus.CANCELLED:
        return closed_reason(assignment)
    if assignment.reason == f"incident {Incident.Status.RESOLVED}":
        return _("Stood down: the incident was resolved.")
    if assignment.reason == f"incident {Incident.Status.CANCELLED}":
        return _("Stood down: the incident was cancelled.")
    if assignment.reason.startswith("incident "):
        return _("Stood down: the incident was closed.")
    if assignment.reason == NEED_REDUCED:
        return _("Stood down: fewer people are needed now. Thank you.")
    if assignment.reason == SHIFT_CLASHED:
        return _("Your shift went to someone else: you were still on another task when it began.")
    if (words := _cancelled_words(assignment.reason)) is not None:
        return _("Stood down: this need was cancelled (%(reason)s).") % {"reason": words}
    return _("Taken off this task by the coordinator: %(reason)s") % {"reason": assignment.reason}


# Withdrawals the volunteer caused themselves: no stand-down to tell them of.
STAND_DOWN_UNSAID = (ACCEPTED_ANOTHER, SHIFT_GIVEN_UP)
