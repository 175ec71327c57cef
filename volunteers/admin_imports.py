"""Importing rosters and fleets from the admin: upload → preview (a dry run) → confirm.

Added to the Volunteer and Vehicle changelists ("导入 Import from CSV/XLSX") for
coordinators (and superusers). The steps, all on one page of the admin:

1. upload: the file (CSV or XLSX, optionally a sheet's name) is kept server-side in a
   temporary file named by a random token; the token goes into the user's session;
2. preview: every row is checked and the import run and rolled back (dry_run), so the
   page shows exactly what would change — new, updated, unchanged, rows refused with
   their reasons — and nothing is written;
3. confirm: the form sends the token back; it must be the session's. The kept file is
   read and checked again against the database as it is *now* (a volunteer deleted since
   the preview refuses the row that named them) and imported, all or nothing.

The file is kept rather than re-uploaded so the confirm is one click and imports the
very bytes that were previewed. Kept files live in the server's temporary directory
(IMPORT_DIR below): one web machine, or a shared temporary directory when the ASGI
servers are spread over several; a file is removed when imported, replaced by a new
upload, or after a day.
"""

import os
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from volunteers import fleet, roster
from volunteers.roles import Role, user_has_role
from volunteers.sheets import Columns, Rejection, SheetFileError

IMPORT_DIR = Path(tempfile.gettempdir()) / "tongxin-imports"
KEEP_SECONDS = 24 * 3600
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# Rejections shown on the page; the count says how many more there are.
REJECTIONS_SHOWN = 500


@dataclass
class Outcome:
    """What reading, checking and (dry-)importing a file came to."""

    rows_read: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    rejected: int = 0
    error: str = ""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error and not self.rejected


def roster_run(*, path: Path, sheet: str | None, dry_run: bool) -> Outcome:
    try:
        raw_rows = roster.roster_read(path=path, sheet=sheet)
    except SheetFileError as error:
        return Outcome(error=str(error))
    validation = roster.roster_validate(raw_rows=raw_rows, reference=roster.roster_reference_load())
    outcome = Outcome(
        rows_read=len(raw_rows),
        rejections=validation.rejections,
        rejected=validation.rejected_count,
    )
    if outcome.rejected:
        return outcome
    try:
        result = roster.roster_import(rows=validation.rows, dry_run=dry_run)
    except roster.RosterConflictError as error:
        outcome.error = str(error)
        return outcome
    outcome.created, outcome.updated, outcome.unchanged = (
        result.created,
        result.updated,
        result.unchanged,
    )
    if result.new_teams:
        outcome.notes.append(
            f"新队伍 new teams, created as trade branches: {', '.join(result.new_teams)}"
        )
    return outcome


def fleet_run(*, path: Path, sheet: str | None, dry_run: bool) -> Outcome:
    try:
        raw_rows = fleet.fleet_read(path=path, sheet=sheet)
    except SheetFileError as error:
        return Outcome(error=str(error))
    validation = fleet.fleet_validate(
        raw_rows=raw_rows, reference=fleet.fleet_reference_load(raw_rows=raw_rows)
    )
    outcome = Outcome(
        rows_read=len(raw_rows),
        rejections=validation.rejections,
        rejected=validation.rejected_count,
    )
    if outcome.rejected:
        return outcome
    result = fleet.fleet_import(rows=validation.rows, dry_run=dry_run)
    outcome.created, outcome.updated, outcome.unchanged = (
        result.created,
        result.updated,
        result.unchanged,
    )
    return outcome


class UploadForm(forms.Form):
    file = forms.FileField(label="文件 File (CSV UTF-8 or XLSX)")
    sheet = forms.CharField(
        label="工作表 Sheet", required=False, max_length=100, help_text="default: the first"
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"larger than {MAX_UPLOAD_BYTES // 1024 // 1024} MB")
        return upload


class SheetImportAdmin:
    """A ModelAdmin mixin: the import page of one kind of sheet. Set `sheet_import_run`
    (staticmethod(roster_run) or staticmethod(fleet_run)) and `sheet_import_columns`."""

    sheet_import_run = None
    sheet_import_columns: Columns

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_import"
        # Before the model's own URLs, whose "<path:object_id>/" would take "import/".
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name=name),
            *super().get_urls(),
        ]

    def has_import_permission(self, request) -> bool:
        return user_has_role(request.user, Role.COORDINATOR)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "may_import": self.has_import_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        form, outcome, token = UploadForm(), None, ""
        confirming = request.method == "POST" and "token" in request.POST
        if confirming:
            kept = self._kept(request, request.POST["token"])
            if kept is None:
                messages.error(
                    request,
                    "这次上传已失效 That upload is gone (imported, replaced or expired): "
                    "upload the file again.",
                )
                return redirect(request.path)
            outcome = self.sheet_import_run(path=kept[0], sheet=kept[1], dry_run=False)
            # Imported, or refused by the database as it is now: either way this
            # upload is done with.
            self._forget(request)
            if outcome.ok:
                messages.success(
                    request,
                    f"已导入 Imported: created {outcome.created}, updated "
                    f"{outcome.updated}, unchanged {outcome.unchanged}. " + " ".join(outcome.notes),
                )
                changelist = f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"
                return redirect(reverse(changelist))
        elif request.method == "POST":
            form = UploadForm(request.POST, request.FILES)
            if form.is_valid():
                token = self._keep(request, form.cleaned_data["file"], form.cleaned_data["sheet"])
                kept = self._kept(request, token)
                outcome = self.sheet_import_run(path=kept[0], sheet=kept[1], dry_run=True)
                if not outcome.ok:
                    self._forget(request)
                    token = ""
        shown = outcome.rejections[:REJECTIONS_SHOWN] if outcome else []
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"导入 Import {self.opts.verbose_name_plural} from CSV/XLSX",
            "form": form,
            "outcome": outcome,
            "rejections_shown": shown,
            "rejections_more": len(outcome.rejections) - len(shown) if outcome else 0,
            "confirming": confirming,
            "token": token,
            "columns": self.sheet_import_columns,
        }
        return TemplateResponse(request, "admin/volunteers/sheet_import.html", context)

    # --- the kept file ----------------------------------------------------------------

    def _session_key(self) -> str:
        return f"sheet_import:{self.opts.model_name}"

    def _keep(self, request, upload, sheet: str) -> str:
        """Write the upload to a file of its own, named by a new token kept in the
        session (replacing, and removing, this user's previous one)."""
        self._forget(request)
        _old_files_remove()
        token = secrets.token_urlsafe(24)
        IMPORT_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(IMPORT_DIR / token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as kept:
            for chunk in upload.chunks():
                kept.write(chunk)
        request.session[self._session_key()] = {"token": token, "sheet": sheet or ""}
        return token

    def _kept(self, request, token: str) -> tuple[Path, str | None] | None:
        held = request.session.get(self._session_key())
        if not held or not token or not secrets.compare_digest(held["token"], token):
            return None
        kept_path = IMPORT_DIR / held["token"]
        if not kept_path.exists():
            return None
        return kept_path, held["sheet"] or None

    def _forget(self, request) -> None:
        held = request.session.pop(self._session_key(), None)
        if held:
            (IMPORT_DIR / held["token"]).unlink(missing_ok=True)


def _old_files_remove() -> None:
    if not IMPORT_DIR.exists():
        return
    cutoff = time.time() - KEEP_SECONDS
    for kept in IMPORT_DIR.iterdir():
        try:
            if kept.stat().st_mtime < cutoff:
                kept.unlink()
        except OSError:
            continue  # removed meanwhile by another process
