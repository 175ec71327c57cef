"""Fleets: reading a sheet of vehicles and their crews, checking every row, writing them.

The same three steps as the member roster (volunteers.roster), from the same files (CSV
or XLSX, volunteers.sheets):

1. `fleet_read` turns the file into raw rows;
2. `fleet_validate` checks them, pure over plain data, against a `FleetReference`
   (townships, teams, and the volunteers the crew cells name);
3. `fleet_import` writes the accepted rows in one transaction; with `dry_run` it
   writes them and rolls back, to say what would change.

The call sign is the key: the same file twice changes nothing, a changed row updates its
vehicle, vehicles missing from the file are left alone. The crew cell is the vehicle's
whole crew: phones of volunteers *already registered* (import the roster first); a phone
nobody has rejects the row, naming it. A vehicle's status is not the sheet's to say: a
new one is available, an existing one keeps its status.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from dispatch.availability import index_rebuild
from volunteers.models import Team, Vehicle, VehicleKind, Volunteer
from volunteers.sheets import (
    Columns,
    InvalidValue,
    RawRow,
    Rejection,
    choice_words,
    duplicates_reject,
    list_items,
    location_pair_check,
    lookup_key,
    parse_coordinate,
    parse_decimal,
    parse_number,
    parse_township,
    phone_normalize,
    sheet_read,
    townships_by_name,
)

REQUIRED_COLUMNS = ("call_sign", "kind", "township", "capacity", "crew")
OPTIONAL_COLUMNS = ("max_water_depth_m", "team", "latitude", "longitude")
COLUMNS = Columns(
    required=REQUIRED_COLUMNS,
    optional=OPTIONAL_COLUMNS,
    aliases={
        "seats": "capacity",
        "crew_phones": "crew",
        "max_water_depth": "max_water_depth_m",
        "water_depth_m": "max_water_depth_m",
    },
)

CALL_SIGN_MAX_LENGTH = Vehicle._meta.get_field("call_sign").max_length
CAPACITY_MAX = 32767  # PositiveSmallIntegerField
DEPTH_FIELD = Vehicle._meta.get_field("max_water_depth_m")
DEPTH_MAX = Decimal(10) ** (DEPTH_FIELD.max_digits - DEPTH_FIELD.decimal_places) - Decimal("0.01")

KIND_WORDS = choice_words(
    VehicleKind,
    船=VehicleKind.BOAT.value,
    舟艇=VehicleKind.BOAT.value,
    橡皮艇=VehicleKind.BOAT.value,
    货车=VehicleKind.TRUCK.value,
    客车=VehicleKind.BUS.value,
    大巴=VehicleKind.BUS.value,
    轿车=VehicleKind.CAR.value,
)
KINDS_SHOWN = ", ".join(f"{kind.value}/{str(kind.label).partition(' ')[0]}" for kind in VehicleKind)
# Crew phones: one per line of the cell, or separated by semicolons, commas or 、.
CREW_SEPARATORS = re.compile(r"[;；,，、\n]")


@dataclass(frozen=True)
class FleetRow:
    """One accepted row. The optional columns are None when left out or blank: a new
    vehicle then gets no team, no position and a depth of 0 m; an existing one keeps
    what it has."""

    line: int
    call_sign: str
    kind: str
    township_id: int
    capacity: int
    crew_ids: frozenset[int]
    max_water_depth_m: Decimal | None = None
    team_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class FleetReference:
    """Lower-cased township and team names → ids, and phone → volunteer id of the
    volunteers the file names (fleet_reference_load)."""

    townships: dict[str, int]
    teams: dict[str, int]
    volunteers: dict[str, int]


@dataclass
class FleetValidation:
    rows: list[FleetRow]
    rejections: list[Rejection]

    @property
    def rejected_count(self) -> int:
        return len({rejection.line for rejection in self.rejections})


@dataclass(frozen=True)
class FleetImportResult:
    created: int
    updated: int
    unchanged: int


# --- reading ----------------------------------------------------------------------------


def fleet_read(*, path: Path, sheet: str | None = None) -> list[RawRow]:
    """The fleet's rows from a CSV (UTF-8) or XLSX file; `sheet` names a workbook's
    sheet (the first by default)."""
    return sheet_read(path=path, columns=COLUMNS, sheet=sheet)


# --- validating -------------------------------------------------------------------------


def fleet_reference_load(*, raw_rows: Sequence[RawRow]) -> FleetReference:
    phones = set()
    for raw in raw_rows:
        for item in crew_items(raw.values.get("crew", "")):
            try:
                phones.add(phone_normalize(item))
            except InvalidValue:
                continue
    volunteers = {}
    phones = sorted(phones)
    for start in range(0, len(phones), 900):
        chunk = phones[start : start + 900]
        volunteers.update(Volunteer.objects.filter(phone__in=chunk).values_list("phone", "id"))
    teams = {lookup_key(name): team_id for team_id, name in Team.objects.values_list("id", "name")}
    return FleetReference(townships=townships_by_name(), teams=teams, volunteers=volunteers)


def fleet_validate(*, raw_rows: Sequence[RawRow], reference: FleetReference) -> FleetValidation:
    """Check every row; a row with any problem is rejected whole, with one Rejection
    per problem. Rows sharing a call sign are all rejected."""
    rows, rejections = [], []
    for raw in raw_rows:
        row, problems = _row_validate(raw, reference)
        rejections += problems
        if row is not None:
            rows.append(row)
    duplicates = duplicates_reject(
        raw_rows, column="call_sign", what="call sign", key=parse_call_sign
    )
    rejections += duplicates
    duplicate_lines = {rejection.line for rejection in duplicates}
    rows = [row for row in rows if row.line not in duplicate_lines]
    rejections.sort(key=lambda rejection: (rejection.line, COLUMNS.order(rejection.column)))
    return FleetValidation(rows=rows, rejections=rejections)


def _row_validate(raw: RawRow, reference: FleetReference):
    problems = []

    def check(column: str, parse: Callable[[str], object]):
        value = raw.values.get(column, "")
        try:
            return parse(value)
        except InvalidValue as error:
            problems.append(Rejection(raw.line, column, value, str(error), raw.unit))
            return None

    call_sign = check("call_sign", parse_call_sign)
    kind = check("kind", parse_kind)
    township_id = check("township", lambda value: parse_township(value, reference.townships))
    capacity = check("capacity", parse_capacity)
    crew_ids = check("crew", lambda value: parse_crew(value, reference.volunteers))
    depth = check("max_water_depth_m", lambda value: parse_water_depth(value, kind=kind))
    team_id = check("team", lambda value: parse_team(value, reference.teams))
    latitude = check("latitude", lambda value: parse_coordinate(value, limit=90))
    longitude = check("longitude", lambda value: parse_coordinate(value, limit=180))
    problems += location_pair_check(raw)
    if problems:
        return None, problems
    row = FleetRow(
        line=raw.line,
        call_sign=call_sign,
        kind=kind,
        township_id=township_id,
        capacity=capacity,
        crew_ids=crew_ids,
        max_water_depth_m=depth,
        team_id=team_id,
        latitude=latitude,
        longitude=longitude,
    )
    return row, []


def parse_call_sign(value: str) -> str:
    call_sign = " ".join(value.split())
    if not call_sign:
        raise InvalidValue("missing")
    if len(call_sign) > CALL_SIGN_MAX_LENGTH:
        raise InvalidValue(f"longer than {CALL_SIGN_MAX_LENGTH} characters")
    return call_sign


def parse_kind(value: str) -> str:
    if not value:
        raise InvalidValue("missing")
    try:
        return KIND_WORDS[lookup_key(value)]
    except KeyError:
        raise InvalidValue(f"not one of {KINDS_SHOWN}") from None


def parse_capacity(value: str) -> int:
    if not value:
        raise InvalidValue("missing")
    number = parse_number(value)
    if not number.is_integer():
        raise InvalidValue("not a whole number of people")
    if not 0 <= number <= CAPACITY_MAX:
        raise InvalidValue(f"not between 0 and {CAPACITY_MAX}")
    return int(number)


def parse_water_depth(value: str, *, kind: str | None) -> Decimal | None:
    if not value:
        if kind == VehicleKind.BOAT:
            raise InvalidValue("missing: a boat is sent by the depth of water it works in")
        return None
    depth = parse_decimal(value)
    if not 0 <= depth <= DEPTH_MAX:
        raise InvalidValue(f"not between 0 and {DEPTH_MAX} m")
    if depth != depth.quantize(Decimal("0.01")):
        raise InvalidValue("more precise than centimetres (at most 2 decimals)")
    return depth.quantize(Decimal("0.01"))


def parse_team(value: str, teams: dict[str, int]) -> int | None:
    if not value:
        return None
    try:
        return teams[lookup_key(value)]
    except KeyError:
        raise InvalidValue(
            "no team of this name (teams come with the roster import or the admin)"
        ) from None


def crew_items(value: str) -> tuple[str, ...]:
    return list_items(value, CREW_SEPARATORS)


def parse_crew(value: str, volunteers: dict[str, int]) -> frozenset[int]:
    """The volunteers named by phone. Blank: no crew. Every phone must be a registered
    volunteer's; the reason names those that are not."""
    phones, malformed, unknown = [], [], []
    for item in crew_items(value):
        try:
            phone = phone_normalize(item)
        except InvalidValue:
            malformed.append(item)
            continue
        (phones if phone in volunteers else unknown).append(phone)
    reasons = []
    if malformed:
        reasons.append(f"not an 11-digit mobile number: {', '.join(malformed)}")
    if unknown:
        reasons.append(
            f"no volunteer has the phone {', '.join(unknown)} (import them with the roster first)"
        )
    if reasons:
        raise InvalidValue("; ".join(reasons))
    return frozenset(volunteers[phone] for phone in phones)


# --- writing ----------------------------------------------------------------------------

# The Vehicle fields a row sets (the optional ones only when given).
ROW_FIELDS = ("kind", "township_id", "capacity")
OPTIONAL_FIELDS = ("max_water_depth_m", "team_id")


def fleet_import(*, rows: Sequence[FleetRow], dry_run: bool = False) -> FleetImportResult:
    """Create or update one vehicle per row, keyed by call sign, with its crew, in one
    transaction. Rows must come from fleet_validate (one row per call sign). A dry run
    writes the same and rolls it back."""
    with transaction.atomic():
        result = _fleet_write(rows)
        if dry_run:
            transaction.set_rollback(True)
    return result


def _fleet_write(rows: Sequence[FleetRow]) -> FleetImportResult:
    # Positions, kinds and crews may change: rebuild the location index after the
    # commit (a failure, Redis down, is logged; the periodic rebuild repairs it).
    transaction.on_commit(index_rebuild, robust=True)
    # Locked: an import running at the same time waits for this one on the vehicles
    # both name, so neither overwrites the other's crew half-way.
    existing = {
        vehicle.call_sign: vehicle
        for vehicle in Vehicle.objects.select_for_update().filter(
            call_sign__in=[row.call_sign for row in rows]
        )
    }
    crews = {}
    for vehicle_id, volunteer_id in Vehicle.crew.through.objects.filter(
        vehicle__in=[vehicle.pk for vehicle in existing.values()]
    ).values_list("vehicle_id", "volunteer_id"):
        crews.setdefault(vehicle_id, set()).add(volunteer_id)

    created = updated = unchanged = 0
    now = timezone.now()
    for row in rows:
        vehicle = existing.get(row.call_sign)
        if vehicle is None:
            vehicle = Vehicle(call_sign=row.call_sign, max_water_depth_m=Decimal(0))
            _vehicle_apply_row(vehicle, row, now=now)
            vehicle.save()
            vehicle.crew.set(row.crew_ids)
            created += 1
            continue
        fields = _vehicle_apply_row(vehicle, row, now=now)
        if fields:
            # Only these columns: a status set meanwhile by the dispatch is kept.
            vehicle.save(update_fields=fields)
        crew_changed = crews.get(vehicle.pk, set()) != row.crew_ids
        if crew_changed:
            vehicle.crew.set(row.crew_ids)
        if fields or crew_changed:
            updated += 1
        else:
            unchanged += 1
    return FleetImportResult(created=created, updated=updated, unchanged=unchanged)


def _vehicle_apply_row(vehicle: Vehicle, row: FleetRow, *, now) -> list[str]:
    """Set the row's values on `vehicle`; the names of the fields that differed."""
    values = {name: getattr(row, name) for name in ROW_FIELDS}
    for name in OPTIONAL_FIELDS:
        value = getattr(row, name)
        if value is not None:
            values[name] = value
    if row.latitude is not None:
        values["latitude"], values["longitude"] = row.latitude, row.longitude
    changed = []
    for name, value in values.items():
        if getattr(vehicle, name) != value:
            setattr(vehicle, name, value)
            changed.append(name.removesuffix("_id"))
    if "latitude" in changed or "longitude" in changed:
        vehicle.located_at = now
        changed.append("located_at")
    return changed
