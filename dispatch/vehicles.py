"""Vehicles as their work and their crews make them (issue 11).

- **Status follows work.** A vehicle is ASSIGNED ("on a task") while an assignment of it
  is active and AVAILABLE again when that ends: dispatch.services writes both, in the
  transaction that starts or ends the work (vehicle_take_on_work, vehicle_work_ended),
  each with a vehicle.status log event, so the dashboard's board follows live.
- **Out of service** when its crew or a coordinator says so, with a reason, logged
  (vehicle_set_in_service). It is then never offered, and its open offers are withdrawn
  and offered to others. Not while it is on a task: the coordinator takes it off the
  task first, so no work is left without its vehicle unnoticed.
- **Its position follows its crew**: each position the phone of the crew member on its
  task reports moves the vehicle too (vehicles_follow_crew_member).
- **Manned**: it is offered only while someone of its crew is on duty and free
  (dispatch.availability.vehicles_manned).

Status writes are conditional UPDATEs, from the status they expect: the vehicle's row
decides, so an accept racing an out-of-service report cannot both win.

Lock order, the same in every transaction: needs, then vehicles, then the event
sequence (dispatch/events.py: events are recorded last, after every row lock). An
accept writes the vehicle's row before it records anything (vehicle_take_on_work, then
vehicle_status_logged once the accept is logged): written after its event, it deadlocked
against an out-of-service report holding the vehicle and waiting for the sequence
(tests/dispatch/test_vehicles.py, the race). vehicle_set_in_service locks one vehicle
and no need (its withdrawals run after it commits), and refuses a vehicle on a task
before it logs anything, so the services that end a task (and free its vehicle after
logging another) never wait for a vehicle it holds.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dispatch import queue
from dispatch.availability import availability_sync_on_commit
from dispatch.errors import InvalidTransition, ResourceBusy
from dispatch.events import events_record
from dispatch.models import ACTIVE_STATUSES, Engagement, EventKind
from volunteers.models import Vehicle, VehicleStatus


def vehicle_status_logged(
    vehicle_id: int, status: str, *, actor=None, reason: str = "", assignment=None
) -> None:
    """The vehicle.status event; with the work that changed it, if one did."""
    work = (
        {
            "assignment_id": assignment.pk,
            "need_id": assignment.need_id,
            "incident_id": assignment.need.incident_id,
        }
        if assignment is not None
        else {}
    )
    events_record(
        [
            {
                "kind": EventKind.VEHICLE_STATUS,
                "actor": actor,
                "vehicle_id": vehicle_id,
                "data": {"status": status, "reason": reason},
                **work,
            }
        ]
    )


def vehicle_take_on_work(assignment) -> None:
    """The vehicle of `assignment` goes on that task: AVAILABLE → ON A TASK, written
    before the transaction records its first event (see the lock order above); the
    caller logs it (vehicle_status_logged) after the accept. Raises ResourceBusy,
    writing nothing, when it cannot: out of service, or on other work."""
    taken = Vehicle.objects.filter(pk=assignment.vehicle_id, status=VehicleStatus.AVAILABLE).update(
        status=VehicleStatus.ASSIGNED
    )
    if not taken:
        status = Vehicle.objects.values_list("status", flat=True).get(pk=assignment.vehicle_id)
        if status == VehicleStatus.OUT_OF_SERVICE:
            raise ResourceBusy(_("This vehicle is out of service."))
        raise ResourceBusy(_("This vehicle is already on another assignment."))


def vehicle_work_ended(assignment) -> None:
    """The task of `assignment` is over (completed or cancelled): its vehicle is
    available again. One that was put out of service meanwhile stays so."""
    freed = Vehicle.objects.filter(pk=assignment.vehicle_id, status=VehicleStatus.ASSIGNED).update(
        status=VehicleStatus.AVAILABLE
    )
    if freed:
        vehicle_status_logged(assignment.vehicle_id, VehicleStatus.AVAILABLE, assignment=assignment)


@transaction.atomic
def vehicle_set_in_service(*, vehicle_id: int, in_service: bool, actor, reason: str) -> Vehicle:
    """Its crew or a coordinator puts a vehicle out of service (a reason is required)
    or back in service. Out of service, its open offers are withdrawn once this commits
    (dispatch.services.offers_withdraw_from_busy) and go to others."""
    reason = reason.strip()[:300]
    vehicle = Vehicle.objects.select_for_update().get(pk=vehicle_id)
    if in_service:
        if vehicle.status != VehicleStatus.OUT_OF_SERVICE:
            raise InvalidTransition(_("%(call_sign)s is in service.") % _named(vehicle))
        new_status = VehicleStatus.AVAILABLE
    else:
        if not reason:
            raise InvalidTransition(_("Say why the vehicle is out of service."))
        if vehicle.status == VehicleStatus.ASSIGNED:
            raise InvalidTransition(
                _("%(call_sign)s is on a task: take it off the task first.") % _named(vehicle)
            )
        if vehicle.status == VehicleStatus.OUT_OF_SERVICE:
            raise InvalidTransition(_("%(call_sign)s is already out of service.") % _named(vehicle))
        new_status = VehicleStatus.OUT_OF_SERVICE
    vehicle.status = new_status
    vehicle.save(update_fields=["status"])
    vehicle_status_logged(vehicle_id, new_status, actor=actor, reason=reason)
    availability_sync_on_commit(vehicle_ids=[vehicle_id])
    if new_status == VehicleStatus.OUT_OF_SERVICE:
        queue.offers_withdraw_from_busy_enqueue(vehicle_id=vehicle_id)
    return vehicle


def _named(vehicle: Vehicle) -> dict:
    return {"call_sign": vehicle.call_sign}


def vehicles_follow_crew_member(*, volunteer_id: int, latitude: float, longitude: float) -> int:
    """The vehicle whose task this volunteer went on is where they are now. Returns how
    many vehicles moved (0 or 1: a volunteer is engaged on one piece of work)."""
    vehicle_ids = Engagement.objects.filter(
        volunteer_id=volunteer_id,
        assignment__vehicle__isnull=False,
        assignment__status__in=ACTIVE_STATUSES,
    ).values("assignment__vehicle_id")
    return Vehicle.objects.filter(pk__in=vehicle_ids).update(
        latitude=latitude, longitude=longitude, located_at=timezone.now()
    )
