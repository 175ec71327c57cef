"""Reading the sheets associations keep — CSV or XLSX — into raw rows, and the cell
parsers the imports share (volunteers.roster: members; volunteers.fleet: vehicles).

A file becomes a list of `RawRow`s: strings keyed by column name, each with the number
a person finds the row under — the line of a CSV file, the row of the sheet as Excel or
WPS shows it. Cells of a sheet are turned into the text a person typed: a phone typed as
a number (13800000001, shown as 1.38E+10) is "13800000001", a date is "2021-07-20".
Validation is the importers' own, pure over these rows; a problem is a `Rejection`.
"""

import csv
import datetime
import io
import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zipfile import BadZipFile

from django.db import models

from volunteers.models import Township

# An XLSX file is a zip archive; the old binary .xls an OLE2 compound file.
XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"
# A sheet's header may sit below a title row ("新村镇新联会会员名册"): it is the first of
# this many non-blank rows that names a known column.
HEADER_SEARCH_ROWS = 10

MOBILE_NUMBER = re.compile(r"1\d{10}")
# Spaces (also the full-width one), dashes and brackets people type between digit groups.
PHONE_SEPARATORS = re.compile(r"[\s\u3000\-()]")
# Chinese keyboards type the full-width semicolon; both separate list items.
LIST_SEPARATORS = re.compile(r"[;；]")
# What a number saved as text looks like: "13800000001.0", "1.3800000001E+10".
WHOLE_WITH_DECIMALS = re.compile(r"(\d+)\.0*")
SCIENTIFIC = re.compile(r"\d(\.\d+)?[eE][+]?\d+")

YES_WORDS = {"1", "yes", "y", "true", "是"}
NO_WORDS = {"0", "no", "n", "false", "否"}


class SheetFileError(ValueError):
    """The file as a whole cannot be read: wrong encoding, missing columns..."""


class InvalidValue(ValueError):
    pass


@dataclass(frozen=True)
class Columns:
    """The columns an import reads. `aliases` are other header words for them."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + self.optional

    def order(self, column: str) -> int:
        return self.known.index(column) if column in self.known else len(self.known)


@dataclass(frozen=True)
class RawRow:
    line: int
    values: dict[str, str]
    # What `line` counts: "line" of a CSV file, "row" of a sheet.
    unit: str = "line"


@dataclass(frozen=True)
class Rejection:
    line: int
    column: str
    value: str
    reason: str
    unit: str = "line"

    def __str__(self):
        return f'{self.unit} {self.line}: {self.column} "{self.value}": {self.reason}'


# --- reading ----------------------------------------------------------------------------


def sheet_read(*, path: Path, columns: Columns, sheet: str | None = None) -> list[RawRow]:
    """The rows of a CSV (UTF-8) or XLSX file, told apart by their content. `sheet`
    names the sheet of a workbook to read; the first one by default."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise SheetFileError(f"{path}: cannot read the file ({error.strerror})") from None
    if data.startswith(XLSX_MAGIC):
        return xlsx_parse(data=data, columns=columns, sheet=sheet)
    if data.startswith(XLS_MAGIC):
        raise SheetFileError(
            f"{path}: an old Excel .xls file; save it as .xlsx (Excel workbook) or as "
            '"CSV UTF-8 (comma delimited)"'
        )
    if sheet:
        raise SheetFileError(f"{path}: a CSV file has no sheets (asked for {sheet!r})")
    try:
        # utf-8-sig drops the byte order mark Excel puts in front of "CSV UTF-8" files.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SheetFileError(
            f"{path}: not UTF-8 (byte {error.start}). Chinese Excel saves plain CSV as "
            'GBK: choose "CSV UTF-8 (comma delimited)" when saving, or send the .xlsx.'
        ) from None
    return csv_parse(text=text, columns=columns)


def csv_parse(*, text: str, columns: Columns) -> list[RawRow]:
    """Raw rows keyed by column name, each with the line it starts on. The header is
    line 1. Blank rows (trailing newlines, rows of empty cells) are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SheetFileError("the file is empty: expected a header row") from None
    except csv.Error as error:
        raise SheetFileError(f"line 1: {error}") from None
    names = _columns_check(_header_names(header, columns), columns, where="line 1", csv=True)
    rows = []
    while True:
        # A quoted cell may span lines; report the line a row starts on.
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise SheetFileError(f"line {line}: {error}") from None
        row = _raw_row(line, names, cells, columns, unit="line")
        if row is not None:
            rows.append(row)
    return rows


def xlsx_parse(*, data: bytes, columns: Columns, sheet: str | None = None) -> list[RawRow]:
    """Raw rows of one sheet of a workbook, numbered as the sheet shows them. The header
    is the first non-blank row naming a known column (title rows above it are skipped);
    blank rows, trailing ones too, are skipped."""
    # Imported here: openpyxl takes a while to load, and only sheets need it.
    from openpyxl import load_workbook

    try:
        # read_only streams the rows; data_only reads what formulas last computed.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError) as error:
        raise SheetFileError(f"not a readable XLSX workbook ({error})") from None
    try:
        if sheet:
            if sheet not in workbook.sheetnames:
                raise SheetFileError(
                    f"no sheet named {sheet!r}; the workbook has "
                    f"{', '.join(repr(name) for name in workbook.sheetnames)}"
                )
            worksheet = workbook[sheet]
        else:
            worksheet = workbook.worksheets[0]
        # Some programs write a wrong size into the file; read every row there is.
        worksheet.reset_dimensions()
        return _sheet_rows(worksheet, columns)
    finally:
        workbook.close()


def _sheet_rows(worksheet, columns: Columns) -> list[RawRow]:
    names, header_row, seen = None, None, 0
    rows = []
    # Rows come from row 1, blank ones included, so the count is the sheet's number.
    for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
        cells = [cell_text(value) for value in values]
        if names is None:
            if not any(cells):
                continue
            seen += 1
            candidate = _header_names(cells, columns)
            if header_row is None:
                header_row = (number, candidate)
            if set(candidate) & set(columns.known) or seen >= HEADER_SEARCH_ROWS:
                names = _columns_check(candidate, columns, where=f"row {number}")
            continue
        row = _raw_row(number, names, cells, columns, unit="row")
        if row is not None:
            rows.append(row)
    if names is None:
        if header_row is None:
            raise SheetFileError("the sheet is empty: expected a header row")
        number, candidate = header_row
        _columns_check(candidate, columns, where=f"row {number}")
    return rows


def _raw_row(line: int, names: list[str], cells: list[str], columns: Columns, unit: str):
    if not any(cell.strip() for cell in cells):
        return None
    cells = list(cells) + [""] * (len(names) - len(cells))
    values = {
        name: cell.strip()
        for name, cell in zip(names, cells, strict=False)
        if name in columns.known
    }
    return RawRow(line=line, values=values, unit=unit)


def _header_names(cells: Sequence[str], columns: Columns) -> list[str]:
    """Header cells as column names: "Call sign", "call-sign" → call_sign."""
    names = []
    for cell in cells:
        name = re.sub(r"[\s\-]+", "_", cell.strip().lower())
        names.append(columns.aliases.get(name, name))
    return names


def _columns_check(names: list[str], columns: Columns, *, where: str, csv=False) -> list[str]:
    missing = [column for column in columns.required if column not in names]
    if missing:
        shown = ", ".join(repr(name) for name in names if name)
        expected = ", ".join(columns.required)
        if columns.optional:
            expected += f" (and optionally {', '.join(columns.optional)})"
        raise SheetFileError(
            f"{where}: missing column(s) {', '.join(missing)}; the header has {shown}. "
            f"Expected {expected}" + (", separated by commas." if csv else ".")
        )
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise SheetFileError(f"{where}: column(s) {', '.join(repeated)} appear more than once")
    return names


def cell_text(value) -> str:
    """A cell's value as the text a person typed or sees: whole numbers without ".0"
    and without an exponent, dates as 2021-07-20, times as 08:30, booleans as yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        # A sheet keeps 15 significant digits: 34.454999999999998 is the 34.455 typed.
        return f"{value:.15g}"
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="minutes" if not value.second else "seconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return value.isoformat(timespec="minutes" if not value.second else "seconds")
    return str(value).strip()


# --- parsing cells ----------------------------------------------------------------------


def lookup_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def choice_words(choices: type[models.TextChoices], **more: str) -> dict[str, str]:
    """Every word a sheet may use for a choice → its value: the value, and the Chinese
    and English halves of its label ("冲锋舟 assault boat"), plus `more` (word=value)."""
    words = {}
    for choice in choices:
        label = str(choice.label)
        chinese, _, english = label.partition(" ")
        for word in (choice.value, label, chinese, english):
            if word:
                words[lookup_key(word)] = choice.value
    words.update({lookup_key(word): value for word, value in more.items()})
    return words


def townships_by_name() -> dict[str, int]:
    """Lower-cased Chinese and English township names → ids."""
    townships = {}
    for township_id, name, name_en in Township.objects.values_list("id", "name", "name_en"):
        townships[lookup_key(name)] = township_id
        if name_en:
            townships[lookup_key(name_en)] = township_id
    return townships


def parse_township(value: str, townships: Mapping[str, int]) -> int:
    if not value:
        raise InvalidValue("missing")
    try:
        return townships[lookup_key(value)]
    except KeyError:
        raise InvalidValue("not one of the city's townships") from None


def phone_normalize(value: str) -> str:
    """Digits only: '+86 138-0013-8000' → '13800138000'. A number a spreadsheet saved as
    text is read as the number: '13800138000.0', '1.3800138000E+10'."""
    if not value:
        raise InvalidValue("missing")
    digits = PHONE_SEPARATORS.sub("", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    whole = WHOLE_WITH_DECIMALS.fullmatch(digits)
    if whole:
        digits = whole.group(1)
    elif SCIENTIFIC.fullmatch(digits):
        number = Decimal(digits)
        if number.as_tuple().exponent > 0:
            raise InvalidValue(
                "a rounded number (the sheet showed it as 1.38E+10 and saved that): its "
                "last digits are lost; format the column as text and type them again"
            )
        digits = str(int(number))
    if not MOBILE_NUMBER.fullmatch(digits):
        raise InvalidValue("not an 11-digit mobile number")
    return digits


def list_items(value: str, separators: re.Pattern = LIST_SEPARATORS) -> tuple[str, ...]:
    items = (item.strip() for item in separators.split(value))
    # dict.fromkeys: drop repeats, keep the file's order.
    return tuple(dict.fromkeys(item for item in items if item))


def parse_number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InvalidValue("not a number") from None
    if not math.isfinite(number):
        raise InvalidValue("not a number")
    return number


def parse_decimal(value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InvalidValue("not a number") from None
    if not number.is_finite():
        raise InvalidValue("not a number")
    return number


def parse_coordinate(value: str, *, limit: float) -> float | None:
    if not value:
        return None
    number = parse_number(value)
    if not -limit <= number <= limit:
        raise InvalidValue(f"out of range [-{limit}, {limit}]")
    return number


def location_pair_check(raw: RawRow) -> list[Rejection]:
    """Latitude and longitude come together or not at all."""
    latitude, longitude = raw.values.get("latitude", ""), raw.values.get("longitude", "")
    if bool(latitude) == bool(longitude):
        return []
    missing, given = ("latitude", "longitude") if not latitude else ("longitude", "latitude")
    return [
        Rejection(
            raw.line,
            missing,
            "",
            f"missing while {given} is given (give both or neither)",
            raw.unit,
        )
    ]


def parse_yes_no(value: str) -> bool | None:
    word = value.casefold()
    if not word:
        return None
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    raise InvalidValue("not one of 1, 0, yes, no")


def duplicates_reject(
    raw_rows: Sequence[RawRow], *, column: str, what: str, key: Callable[[str], str]
) -> list[Rejection]:
    """Every row whose key (`key` of its `column`) appears on another row too. All of
    them are rejected: which one is right is for the sender to say, not for the import
    to guess. Rows whose key does not parse are left to their own rejection."""
    rows_by_key = defaultdict(list)
    for raw in raw_rows:
        try:
            rows_by_key[key(raw.values.get(column, ""))].append(raw)
        except InvalidValue:
            continue
    rejections = []
    for rows in rows_by_key.values():
        if len(rows) < 2:
            continue
        for raw in rows:
            others = ", ".join(str(other.line) for other in rows if other is not raw)
            rejections.append(
                Rejection(
                    raw.line,
                    column,
                    raw.values[column],
                    f"the same {what} is also on {raw.unit} {others}",
                    raw.unit,
                )
            )
    return rejections
