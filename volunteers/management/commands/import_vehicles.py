from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from volunteers.fleet import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    fleet_import,
    fleet_read,
    fleet_reference_load,
    fleet_validate,
)
from volunteers.sheets import SheetFileError


class Command(BaseCommand):
    help = (
        "Import vehicles and their crews (CSV in UTF-8, or XLSX) keyed by call sign: new "
        "vehicles are created, changed rows update theirs, the same file twice changes "
        f"nothing. Columns: {', '.join(REQUIRED_COLUMNS)}; optional: "
        f"{', '.join(OPTIONAL_COLUMNS)}. crew: the phones of registered volunteers, "
        "separated by semicolons. If any row is rejected nothing is imported. --dry-run "
        "says what would change and writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the fleet, a CSV or XLSX file")
        parser.add_argument(
            "--sheet", help="the sheet of an XLSX workbook to read (default: the first)"
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check every row and count what would change, but write nothing",
        )

    def handle(self, *args, file: Path, sheet, dry_run: bool, **options):
        try:
            raw_rows = fleet_read(path=file, sheet=sheet)
        except SheetFileError as error:
            raise CommandError(str(error)) from None
        validation = fleet_validate(
            raw_rows=raw_rows, reference=fleet_reference_load(raw_rows=raw_rows)
        )
        for rejection in validation.rejections:
            self.stdout.write(str(rejection))
        rejected = validation.rejected_count
        if rejected:
            raise CommandError(f"{rejected} of {len(raw_rows)} rows rejected; nothing imported.")

        result = fleet_import(rows=validation.rows, dry_run=dry_run)
        counts = f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}"
        if dry_run:
            self.stdout.write(f"dry run, nothing written: would have {counts}")
        else:
            self.stdout.write(counts)
