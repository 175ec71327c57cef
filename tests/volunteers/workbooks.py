"""XLSX files for the import tests, built with openpyxl (no binary fixtures)."""

from collections.abc import Sequence
from io import BytesIO

from openpyxl import Workbook


def xlsx_bytes(*rows: Sequence, sheets: dict[str, list[Sequence]] | None = None) -> bytes:
    """A workbook whose first sheet holds `rows` (None: an empty cell), followed by the
    named `sheets`."""
    workbook = Workbook()
    first = workbook.active
    first.title = "名册"
    for row in rows:
        first.append(list(row))
    for title, sheet_rows in (sheets or {}).items():
        sheet = workbook.create_sheet(title)
        for row in sheet_rows:
            sheet.append(list(row))
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
