from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from volunteers.roster import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    RosterConflictError,
    RosterFileError,
    roster_import,
    roster_read,
    roster_reference_load,
    roster_validate,
)


class Command(BaseCommand):
    help = (
        "Import an association's member roster (CSV in UTF-8, or XLSX) keyed by phone: new "
        "members are created, changed rows update their volunteer, the same file twice "
        f"changes nothing. Columns: {', '.join(REQUIRED_COLUMNS)}; optional: "
        f"{', '.join(OPTIONAL_COLUMNS)}. Every row is checked first; if any is rejected "
        "nothing is imported, unless --skip-invalid is given. --dry-run says what would "
        "change and writes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the roster, a CSV or XLSX file")
        parser.add_argument(
            "--sheet", help="the sheet of an XLSX workbook to read (default: the first)"
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check every row and count what would change, but write nothing",
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the valid rows even if some are rejected (they are still reported)",
        )

    def handle(self, *args, file: Path, sheet, dry_run: bool, skip_invalid: bool, **options):
        try:
            raw_rows = roster_read(path=file, sheet=sheet)
        except RosterFileError as error:
            raise CommandError(str(error)) from None
        validation = roster_validate(raw_rows=raw_rows, reference=roster_reference_load())
        for rejection in validation.rejections:
            self.stdout.write(str(rejection))
        rejected = validation.rejected_count
        if rejected and not skip_invalid:
            raise CommandError(
                f"{rejected} of {len(raw_rows)} rows rejected; nothing imported. Fix them, "
                f"or pass --skip-invalid to import the {len(validation.rows)} valid rows."
            )

        try:
            result = roster_import(rows=validation.rows, dry_run=dry_run)
        except RosterConflictError as error:
            raise CommandError(f"{error}; nothing imported.") from None
        if result.new_teams:
            self.stdout.write(
                f"new teams, created as trade branches: {', '.join(result.new_teams)}"
            )
        counts = (
            f"created {result.created}, updated {result.updated}, "
            f"unchanged {result.unchanged}, rejected {rejected}"
        )
        if dry_run:
            self.stdout.write(f"dry run, nothing written: would have {counts}")
        else:
            self.stdout.write(counts)
