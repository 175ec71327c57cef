import datetime

import pytest

from tests.volunteers.workbooks import xlsx_bytes
from volunteers.sheets import (
    Columns,
    InvalidValue,
    SheetFileError,
    cell_text,
    phone_normalize,
    sheet_read,
)

COLUMNS = Columns(required=("name", "phone"), optional=("joined",), aliases={"mobile": "phone"})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (13800000001, "13800000001"),
        (13800000001.0, "13800000001"),
        (1.38e10, "13800000000"),
        (34.454999999999998, "34.455"),
        (0.5, "0.5"),
        (True, "yes"),
        (False, "no"),
        (datetime.datetime(2021, 7, 20), "2021-07-20"),
        (datetime.datetime(2021, 7, 20, 8, 30), "2021-07-20 08:30"),
        (datetime.date(2021, 7, 20), "2021-07-20"),
        (datetime.time(8, 30), "08:30"),
        ("  张伟\u3000", "张伟"),
    ],
)
def test_it_turns_cells_into_what_a_person_typed(value, text):
    assert cell_text(value) == text


@pytest.mark.parametrize(
    ("written", "digits"),
    [("13800000001.0", "13800000001"), ("1.3800000001E+10", "13800000001")],
)
def test_it_reads_phones_a_spreadsheet_wrote_as_numbers(written, digits):
    assert phone_normalize(written) == digits


def test_it_refuses_a_phone_whose_digits_were_rounded_away():
    with pytest.raises(InvalidValue, match="rounded"):
        phone_normalize("1.38E+10")


def test_it_finds_the_header_below_a_title_and_numbers_rows_as_the_sheet(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(
        xlsx_bytes(
            [],
            ["新村镇新联会 会员名册"],
            ["Name", "Mobile", "Joined", "备注"],
            ["张伟", 13800000001, datetime.date(2021, 7, 20), "ignored"],
            [],
            [None, None],
        )
    )

    (row,) = sheet_read(path=path, columns=COLUMNS)

    assert row.line == 4 and row.unit == "row"
    assert row.values == {"name": "张伟", "phone": "13800000001", "joined": "2021-07-20"}


def test_it_refuses_an_old_xls_file(tmp_path):
    path = tmp_path / "x.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)

    with pytest.raises(SheetFileError, match="old Excel .xls"):
        sheet_read(path=path, columns=COLUMNS)


def test_it_refuses_a_broken_workbook(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 100)

    with pytest.raises(SheetFileError, match="not a readable XLSX workbook"):
        sheet_read(path=path, columns=COLUMNS)


def test_it_refuses_an_empty_sheet(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(xlsx_bytes([], []))

    with pytest.raises(SheetFileError, match="the sheet is empty"):
        sheet_read(path=path, columns=COLUMNS)
