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


def closed_reason(assignment: Assignment) -> str:
    """What a volunteer answering a closed offer is told: why it closed."""
    if assignment.status == AssignmentStatus.WITHDRAWN:
        if assignment.reason == NOT_NEEDED:
            return _("Already filled: this task no longer needs you. Thank you.")
        if assignment.reason == ACCEPTED_ANOTHER:
            return _("Withdrawn: you accepted another task.")
        if assignment.reason == VEHICLE_OUT_OF_SERVICE:
            return _("Withdrawn: the vehicle is out of service.")
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
    return _("Taken off this task by the coordinator: %(reason)s") % {"reason": assignment.reason}


# Withdrawals the volunteer caused themselves: no stand-down to tell them of.
STAND_DOWN_UNSAID = (ACCEPTED_ANOTHER,)
