"""Association rosters: reading a member sheet, checking every row, writing the volunteers.

Three steps, so the command (and the admin's import page) can report every problem
before anything is written:

1. `roster_read` turns the file — CSV or XLSX (volunteers.sheets) — into raw rows
   (strings, with their line or row numbers);
2. `roster_validate` checks them against the city's townships and skills, pure over
   plain data, and returns the rows it accepts plus one `Rejection` per problem;
3. `roster_import` writes the accepted rows in one transaction, in bulk; with
   `dry_run` it writes them and rolls back, to say what would change.

The phone number is the key: importing the same file twice changes nothing, and a
changed row updates its volunteer. Volunteers missing from the file are left alone,
since an association's roster is only its own members.
"""

import secrets
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import Group
from django.db import connection, models, transaction

from dispatch.availability import index_rebuild
from volunteers.models import (
    TRAVEL_RANGE_KM_MAX,
    TRAVEL_RANGE_KM_MIN,
    Skill,
    Team,
    TravelMode,
    Volunteer,
)
from volunteers.roles import Role
from volunteers.sheets import (
    Columns,
    InvalidValue,
    RawRow,
    Rejection,
    SheetFileError,
    choice_words,
    csv_parse,
    duplicates_reject,
    list_items,
    location_pair_check,
    lookup_key,
    parse_coordinate,
    parse_number,
    parse_yes_no,
    phone_normalize,
    sheet_read,
    townships_by_name,
)
from volunteers.sheets import parse_township as township_find

REQUIRED_COLUMNS = ("name", "phone", "township", "teams", "skills", "latitude", "longitude")
OPTIONAL_COLUMNS = ("travel_range_km", "travel_mode", "on_duty")
COLUMNS = Columns(required=REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS)

# Rows per bulk statement and per `__in` lookup. SQLite builds may allow as few as 999
# variables in one statement; 900 keeps every lookup under that on any build.
BATCH_SIZE = 900

NAME_MAX_LENGTH = Volunteer._meta.get_field("name").max_length
TEAM_NAME_MAX_LENGTH = Team._meta.get_field("name").max_length

TRAVEL_MODE_WORDS = choice_words(TravelMode)

# The file as a whole cannot be read: wrong encoding, missing columns... (the name the
# command and its callers have always caught).
RosterFileError = SheetFileError


class RosterConflictError(ValueError):
    """A row collides with data already in the database in a way only a person can
    resolve (its phone is already the login of another volunteer)."""


@dataclass(frozen=True)
class RosterRow:
    """One accepted row, resolved to database ids where the city's data is fixed.
    Team names stay names: unknown teams are created by the import.
    The optional columns are None when the file leaves them out or blank: a new
    volunteer then gets the model's default and an existing one keeps their value."""

    line: int
    name: str
    phone: str
    township_id: int
    team_names: tuple[str, ...]
    skill_ids: frozenset[int]
    home_latitude: float | None
    home_longitude: float | None
    travel_range_km: float | None = None
    travel_mode: str | None = None
    on_duty: bool | None = None


@dataclass(frozen=True)
class RosterReference:
    """What validation looks names up in: lower-cased names and codes → ids."""

    townships: dict[str, int]
    skills: dict[str, int]


@dataclass
class RosterValidation:
    rows: list[RosterRow]
    rejections: list[Rejection]

    @property
    def rejected_count(self) -> int:
        return len({rejection.line for rejection in self.rejections})


@dataclass(frozen=True)
class RosterImportResult:
    created: int
    updated: int
    unchanged: int
    new_teams: list[str]


# --- reading ----------------------------------------------------------------------------


def roster_read(*, path: Path, sheet: str | None = None) -> list[RawRow]:
    """The roster's rows from a CSV (UTF-8) or XLSX file; `sheet` names a workbook's
    sheet (the first by default)."""
    return sheet_read(path=path, columns=COLUMNS, sheet=sheet)


def roster_parse(*, text: str) -> list[RawRow]:
    """Raw rows of CSV text keyed by lower-cased column name, each with the line it
    starts on. Blank rows (trailing newlines, rows of empty cells) are skipped."""
    return csv_parse(text=text, columns=COLUMNS)


# --- validating -------------------------------------------------------------------------


def roster_reference_load() -> RosterReference:
    skills = {}
    for skill_id, code, name_zh in Skill.objects.values_list("id", "code", "name_zh"):
        skills[lookup_key(code)] = skill_id
        skills[lookup_key(name_zh)] = skill_id
    return RosterReference(townships=townships_by_name(), skills=skills)


def roster_validate(*, raw_rows: Sequence[RawRow], reference: RosterReference) -> RosterValidation:
    """Check every row. A row with any problem is rejected as a whole, with one
    Rejection per problem so that one pass over the report fixes the file."""
    rows, rejections = [], []
    for raw in raw_rows:
        row, problems = _row_validate(raw, reference)
        rejections += problems
        if row is not None:
            rows.append(row)
    duplicates = duplicates_reject(raw_rows, column="phone", what="phone", key=phone_normalize)
    rejections += duplicates
    duplicate_lines = {rejection.line for rejection in duplicates}
    rows = [row for row in rows if row.line not in duplicate_lines]
    rejections.sort(key=_report_order)
    return RosterValidation(rows=rows, rejections=rejections)


def _report_order(rejection: Rejection) -> tuple[int, int]:
    return rejection.line, COLUMNS.order(rejection.column)


def _row_validate(raw: RawRow, reference: RosterReference):
    problems = []

    def check(column: str, parse: Callable[[str], object]):
        value = raw.values.get(column, "")
        try:
            return parse(value)
        except InvalidValue as error:
            problems.append(Rejection(raw.line, column, value, str(error), raw.unit))
            return None

    name = check("name", parse_name)
    phone = check("phone", phone_normalize)
    township_id = check("township", lambda value: parse_township(value, reference))
    team_names = check("teams", parse_team_names)
    skill_ids = check("skills", lambda value: parse_skills(value, reference))
    latitude = check("latitude", lambda value: parse_coordinate(value, limit=90))
    longitude = check("longitude", lambda value: parse_coordinate(value, limit=180))
    travel_range_km = check("travel_range_km", parse_travel_range)
    travel_mode = check("travel_mode", parse_travel_mode)
    on_duty = check("on_duty", parse_yes_no)
    problems += location_pair_check(raw)
    if problems:
        return None, problems
    row = RosterRow(
        line=raw.line,
        name=name,
        phone=phone,
        township_id=township_id,
        team_names=team_names,
        skill_ids=skill_ids,
        home_latitude=latitude,
        home_longitude=longitude,
        travel_range_km=travel_range_km,
        travel_mode=travel_mode,
        on_duty=on_duty,
    )
    return row, []


def parse_name(value: str) -> str:
    if not value:
        raise InvalidValue("missing")
    if len(value) > NAME_MAX_LENGTH:
        raise InvalidValue(f"longer than {NAME_MAX_LENGTH} characters")
    return value


def parse_township(value: str, reference: RosterReference) -> int:
    return township_find(value, reference.townships)


def parse_team_names(value: str) -> tuple[str, ...]:
    names = list_items(value)
    for name in names:
        if len(name) > TEAM_NAME_MAX_LENGTH:
            raise InvalidValue(
                f'team "{name[:20]}…" is longer than {TEAM_NAME_MAX_LENGTH} characters'
            )
    return names


def parse_skills(value: str, reference: RosterReference) -> frozenset[int]:
    unknown = [item for item in list_items(value) if lookup_key(item) not in reference.skills]
    if unknown:
        raise InvalidValue(
            f"unknown skill(s) {', '.join(unknown)} (use the codes or Chinese names of "
            "volunteers/reference.py, e.g. first_aid or 急救)"
        )
    return frozenset(reference.skills[lookup_key(item)] for item in list_items(value))


def parse_travel_range(value: str) -> float | None:
    if not value:
        return None
    number = parse_number(value)
    if not TRAVEL_RANGE_KM_MIN <= number <= TRAVEL_RANGE_KM_MAX:
        raise InvalidValue(f"not between {TRAVEL_RANGE_KM_MIN} and {TRAVEL_RANGE_KM_MAX} km")
    return number


def parse_travel_mode(value: str) -> str | None:
    if not value:
        return None
    try:
        return TRAVEL_MODE_WORDS[lookup_key(value)]
    except KeyError:
        raise InvalidValue("not one of foot, car, boat") from None


# --- writing ----------------------------------------------------------------------------


@dataclass
class NewVolunteer:
    """A volunteer to create: an unsaved Volunteer (user not set yet) and its teams
    and skills by id. Shared by the roster import and the demo seed."""

    volunteer: Volunteer
    team_ids: Collection[int] = ()
    skill_ids: Collection[int] = ()


def roster_import(*, rows: Sequence[RosterRow], dry_run: bool = False) -> RosterImportResult:
    """Create or update one volunteer per row, keyed by phone, in one transaction.
    Rows must come from roster_validate (one row per phone). A dry run writes the same
    and rolls it back: its counts are what the import would do, conflicts included."""
    with transaction.atomic():
        result = _roster_write(rows)
        if dry_run:
            # Everything is undone, the index rebuild registered on commit dropped too.
            transaction.set_rollback(True)
    return result


def _roster_write(rows: Sequence[RosterRow]) -> RosterImportResult:
    # Duty, positions and skills may all change: rebuild the location index once the
    # import committed, rather than syncing thousands of volunteers one by one. A failure
    # (Redis down) is logged, not raised after the commit: the periodic rebuild repairs it.
    transaction.on_commit(index_rebuild, robust=True)
    team_ids, new_teams = _teams_ensure(names=[name for row in rows for name in row.team_names])
    existing = _volunteers_by_phone([row.phone for row in rows])
    current_teams = _through_pairs(Volunteer.teams.through, "team", existing.values())
    current_skills = _through_pairs(Volunteer.skills.through, "skill", existing.values())

    changed, new, unchanged = [], [], 0
    teams_wanted, skills_wanted = {}, {}
    for row in rows:
        wanted_team_ids = {team_ids[name] for name in row.team_names}
        volunteer = existing.get(row.phone)
        if volunteer is None:
            new.append(
                NewVolunteer(
                    volunteer=_volunteer_from_row(row),
                    team_ids=wanted_team_ids,
                    skill_ids=row.skill_ids,
                )
            )
            continue
        fields_changed = _volunteer_apply_row(volunteer, row)
        teams_changed = wanted_team_ids != current_teams[volunteer.pk].keys()
        skills_changed = row.skill_ids != current_skills[volunteer.pk].keys()
        if fields_changed:
            changed.append(volunteer)
        if teams_changed:
            teams_wanted[volunteer.pk] = wanted_team_ids
        if skills_changed:
            skills_wanted[volunteer.pk] = row.skill_ids
        if not (fields_changed or teams_changed or skills_changed):
            unchanged += 1

    instances_update(objs=changed, fields=ROW_FIELDS)
    _through_replace(Volunteer.teams.through, "team", current_teams, teams_wanted)
    _through_replace(Volunteer.skills.through, "skill", current_skills, skills_wanted)
    volunteers_create_in_bulk(new=new)
    return RosterImportResult(
        created=len(new),
        updated=len(rows) - len(new) - unchanged,
        unchanged=unchanged,
        new_teams=new_teams,
    )


# The Volunteer fields a roster row sets, written for the rows that changed.
ROW_FIELDS = [
    "name",
    "township",
    "home_latitude",
    "home_longitude",
    "travel_range_km",
    "travel_mode",
    "on_duty",
]


def _volunteer_from_row(row: RosterRow) -> Volunteer:
    volunteer = Volunteer(phone=row.phone)
    _volunteer_apply_row(volunteer, row)
    return volunteer


def _volunteer_apply_row(volunteer: Volunteer, row: RosterRow) -> bool:
    """Set the row's values on `volunteer`; True when any of them differed."""
    values = {
        "name": row.name,
        "township_id": row.township_id,
        "home_latitude": row.home_latitude,
        "home_longitude": row.home_longitude,
    }
    # Optional columns left blank keep what the volunteer has (or the model default).
    for attribute in ("travel_range_km", "travel_mode", "on_duty"):
        if getattr(row, attribute) is not None:
            values[attribute] = getattr(row, attribute)
    changed = False
    for attribute, value in values.items():
        if getattr(volunteer, attribute) != value:
            setattr(volunteer, attribute, value)
            changed = True
    return changed


def _teams_ensure(*, names: Iterable[str]) -> tuple[dict[str, int], list[str]]:
    """Ids of the named teams, creating unknown ones as trade branches."""
    names = list(dict.fromkeys(names))
    team_ids = {}
    for chunk in in_chunks(names):
        team_ids.update(Team.objects.filter(name__in=chunk).values_list("name", "id"))
    new_names = [name for name in names if name not in team_ids]
    # ignore_conflicts: a team created meanwhile by another import is just reused.
    Team.objects.bulk_create(
        [Team(name=name, kind=Team.Kind.BRANCH) for name in new_names],
        batch_size=BATCH_SIZE,
        ignore_conflicts=True,
    )
    for chunk in in_chunks(new_names):
        team_ids.update(Team.objects.filter(name__in=chunk).values_list("name", "id"))
    return team_ids, new_names


def _volunteers_by_phone(phones: Sequence[str]) -> dict[str, Volunteer]:
    volunteers = {}
    for chunk in in_chunks(phones):
        for volunteer in Volunteer.objects.filter(phone__in=chunk).only("phone", *ROW_FIELDS):
            volunteers[volunteer.phone] = volunteer
    return volunteers


def _through_pairs(through, target: str, volunteers: Iterable[Volunteer]) -> dict:
    """volunteer id → {target id: through row id} for these volunteers."""
    pairs = defaultdict(dict)
    ids = [volunteer.pk for volunteer in volunteers]
    for chunk in in_chunks(ids):
        rows = through.objects.filter(volunteer__in=chunk).values_list("id", "volunteer", target)
        for row_id, volunteer_id, target_id in rows:
            pairs[volunteer_id][target_id] = row_id
    return pairs


def _through_replace(through, target: str, current: dict, wanted: dict[int, Collection[int]]):
    stale, missing = [], []
    for volunteer_id, target_ids in wanted.items():
        have = current[volunteer_id]
        stale += [row_id for target_id, row_id in have.items() if target_id not in target_ids]
        missing += [(volunteer_id, target_id) for target_id in target_ids if target_id not in have]
    for chunk in in_chunks(stale):
        through.objects.filter(id__in=chunk).delete()
    pairs_insert(through=through, fields=("volunteer", target), pairs=missing)


def volunteers_create_in_bulk(
    *, new: Sequence[NewVolunteer], progress: Callable[[int], None] | None = None
) -> None:
    """Create volunteers with their logins (username = phone, unusable password, in the
    volunteer group), teams and skills: a handful of statements per batch, so tens of
    thousands take seconds. `progress` is told how many each batch wrote."""
    group, _ = Group.objects.get_or_create(name=Role.VOLUNTEER.value)
    for batch in in_chunks(new):
        phones = [item.volunteer.phone for item in batch]
        user_ids = _volunteer_logins_ensure(phones=phones, group=group)
        for item in batch:
            item.volunteer.user_id = user_ids[item.volunteer.phone]
        instances_insert(objs=[item.volunteer for item in batch])
        volunteer_ids = dict(Volunteer.objects.filter(phone__in=phones).values_list("phone", "id"))
        pairs_insert(
            through=Volunteer.teams.through,
            fields=("volunteer", "team"),
            pairs=[
                (volunteer_ids[item.volunteer.phone], team_id)
                for item in batch
                for team_id in item.team_ids
            ],
        )
        pairs_insert(
            through=Volunteer.skills.through,
            fields=("volunteer", "skill"),
            pairs=[
                (volunteer_ids[item.volunteer.phone], skill_id)
                for item in batch
                for skill_id in item.skill_ids
            ],
        )
        if progress:
            progress(len(batch))


def _volunteer_logins_ensure(*, phones: list[str], group: Group) -> dict[str, int]:
    """phone → user id of a login in the volunteer group. A user whose username is
    already the phone (say a coordinator who also volunteers) becomes the volunteer's
    login; one that already signs in another volunteer is a conflict a person must
    resolve."""
    User = get_user_model()
    existing = User.objects.filter(username__in=phones)
    taken = list(existing.filter(volunteer__isnull=False).values_list("username", flat=True))
    if taken:
        raise RosterConflictError(
            f"phone(s) {', '.join(sorted(taken))} already sign in another volunteer "
            "(whose phone was changed since): fix that volunteer's phone or login first"
        )
    reused = dict(existing.values_list("username", "id"))
    new_phones = [phone for phone in phones if phone not in reused]
    # Volunteers sign in by other means, so no password hash (~0.5 s each). The random
    # suffix is make_password(None)'s, from one urandom call instead of 40 choices.
    instances_insert(
        objs=[
            User(username=phone, password=UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(20))
            for phone in new_phones
        ]
    )
    created = dict(User.objects.filter(username__in=new_phones).values_list("username", "id"))
    membership = User.groups.through
    pairs_insert(
        through=membership,
        fields=("user", "group"),
        pairs=[(user_id, group.pk) for user_id in created.values()],
    )
    membership.objects.bulk_create(
        [membership(user_id=user_id, group_id=group.pk) for user_id in reused.values()],
        ignore_conflicts=True,  # a reused login may be in the group already
    )
    return {**reused, **created}


# --- bulk writes ------------------------------------------------------------------------
#
# bulk_create spends some 5 µs on every value in its SQL compiler, most of the time of
# a 33k-volunteer import, and bulk_update builds a CASE per field and row that took
# over a minute for 33k changed volunteers. These write plain rows instead:
#
# - SQLite: executemany, one prepared statement run over all rows in C;
# - PostgreSQL: one array per column, UNNEST-ed into rows, which is how bulk_create
#   inserts there too. One statement per 10,000 rows keeps planning cheap (a VALUES
#   list that long plans slowly; a statement per row costs a round trip each).


def instances_insert(*, objs: Sequence[models.Model]) -> None:
    """INSERT new instances of one model that has an auto-increment primary key. The
    instances get no primary key: look their rows up by a unique field."""
    if not objs:
        return
    meta = objs[0]._meta
    fields = [field for field in meta.concrete_fields if field is not meta.pk]
    preparers = [_value_preparer(field) for field in fields]
    # pre_save is what sets auto_now_add fields, as in save() and bulk_create.
    rows = [
        tuple(
            prepare(field.pre_save(obj, True))
            for field, prepare in zip(fields, preparers, strict=True)
        )
        for obj in objs
    ]
    _rows_insert(meta.db_table, fields, rows)


def instances_update(*, objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """UPDATE these fields of saved instances of one model, whatever their values."""
    if not objs:
        return
    meta = objs[0]._meta
    fields = [meta.get_field(name) for name in fields]
    preparers = [_value_preparer(field) for field in fields]
    rows = [
        (
            *(
                prepare(getattr(obj, field.attname))
                for field, prepare in zip(fields, preparers, strict=True)
            ),
            obj.pk,
        )
        for obj in objs
    ]
    _rows_update(meta.db_table, fields, meta.pk, rows)


def pairs_insert(*, through, fields: tuple[str, str], pairs: Sequence[tuple[int, int]]) -> None:
    """INSERT many-to-many rows given as (id, id) pairs, without building instances."""
    if pairs:
        _rows_insert(
            through._meta.db_table, [through._meta.get_field(name) for name in fields], pairs
        )


# Values every driver takes as they are.
PLAIN_TYPES = frozenset({int, str, float, bool, type(None)})


def _value_preparer(field) -> Callable:
    """How one field's values become what the driver takes. Plain values pass as they
    are (get_db_prep_save on each would double the time of a 33k import); others
    (datetimes, decimals) go through the field, as bulk_create does. A float field's
    ints become floats: a PostgreSQL array takes one type per column."""
    if isinstance(field, models.FloatField):
        return lambda value: None if value is None else float(value)

    def prepare(value):
        if type(value) in PLAIN_TYPES:
            return value
        return field.get_db_prep_save(value, connection)

    return prepare


def _rows_insert(table: str, fields: Sequence, rows: Sequence[tuple]) -> None:
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(table)} ({', '.join(quote(field.column) for field in fields)})"
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.executemany(f"{head} VALUES ({', '.join(['%s'] * len(fields))})", rows)
            return
        for chunk in in_chunks(rows, 10_000):
            cursor.execute(
                f"{head} SELECT * FROM UNNEST({_typed_arrays(fields)})",
                _columns(chunk),
            )


def _rows_update(table: str, fields: Sequence, key, rows: Sequence[tuple]) -> None:
    """rows: the fields' values, then the key's."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
            cursor.executemany(
                f"UPDATE {quote(table)} SET {assignments} WHERE {quote(key.column)} = %s", rows
            )
            return
        assignments = ", ".join(
            f"{quote(field.column)} = u.{quote(field.column)}" for field in fields
        )
        names = ", ".join(quote(field.column) for field in [*fields, key])
        for chunk in in_chunks(rows, 10_000):
            cursor.execute(
                f"UPDATE {quote(table)} SET {assignments} "
                f"FROM UNNEST({_typed_arrays([*fields, key])}) AS u({names}) "
                f"WHERE {quote(table)}.{quote(key.column)} = u.{quote(key.column)}",
                _columns(chunk),
            )


def _columns(rows: Sequence[tuple]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


def _typed_arrays(fields: Sequence) -> str:
    # varchar[] rather than varchar(20)[], as bulk_create does: lengths were checked.
    return ", ".join(f"%s::{field.db_type(connection).split('(')[0]}[]" for field in fields)


def in_chunks(values: Sequence, size: int = BATCH_SIZE) -> Iterator[Sequence]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]
