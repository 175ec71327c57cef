"""Admin for incidents and their needs.

Opening, resolving and cancelling are logged state changes that go through
incidents.services: coordinators open incidents from the dashboard or the API, and the
admin resolves and cancels them with actions. The form edits only the words of an open
incident (title, description, people affected), and saves them through
incidents.services.incident_change, which logs the change (issue 13); never its kind,
place, priority or status, which the dashboard and the API change. A closed incident is
read-only.
"""

from django.contrib import admin, messages

from incidents import services
from incidents.models import Incident, Need


class NeedInline(admin.TabularInline):
    model = Need
    extra = 0
    fields = [
        "kind",
        "skill",
        "vehicle_kind",
        "count",
        "people_to_move",
        "water_depth_m",
        "shift_start",
        "shift_end",
        "note",
    ]

    # Needs are written with their incident by incident_open and read by the dispatch
    # engine while it fills them; changing one under it is not an admin form's job.
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("skill")


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "title",
        "kind",
        "priority",
        "status",
        "township",
        "people_affected",
        "opened_at",
        "closed_at",
    ]
    list_display_links = ["id", "title"]
    list_filter = ["status", "kind", "priority", "township"]
    search_fields = ["title", "address"]
    date_hierarchy = "opened_at"
    list_select_related = ["township"]
    # What dispatch acts on — the kind, the place and the priority — changes only through
    # the services, which log it and re-plan the offers (issue 13); the form keeps the
    # words (title, description) that a coordinator may correct.
    readonly_fields = [
        "kind",
        "priority",
        "latitude",
        "longitude",
        "address",
        "location_precision",
        "township",
        "status",
        "closed_at",
        "close_note",
        "reporter",
        "opened_at",
    ]
    inlines = [NeedInline]
    actions = ["resolve", "cancel"]
    # What the form may change: the words. Saved through the service (save_model).
    editable_fields = ["title", "description", "people_affected"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not obj.is_open:
            return [*self.readonly_fields, *self.editable_fields]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        """Through the service: the change is logged, and an incident closed meanwhile
        refuses it rather than taking it behind the log's back."""
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        if not changes:
            return
        try:
            services.incident_change(incident=Incident(pk=obj.pk), actor=request.user, **changes)
        except services.IncidentClosed as closed:
            self.message_user(request, f"{closed} Nothing changed.", messages.WARNING)

    def has_add_permission(self, request):
        # Opened through the API or dashboard, where incident_open logs it and the
        # dispatch engine is told.
        return False

    def has_delete_permission(self, request, obj=None):
        # The deployment log points at incidents; cancel one instead.
        return False

    def _close(self, request, queryset, close, done: str):
        for incident in queryset:
            try:
                close(incident=incident, actor=request.user)
            except services.IncidentClosed:
                # Perhaps another coordinator closed it a moment ago.
                self.message_user(
                    request,
                    f"{incident}: already {incident.status}, nothing changed.",
                    messages.WARNING,
                )
            else:
                self.message_user(request, f"{incident}: {done}.", messages.SUCCESS)

    @admin.action(description="完成 Resolve the selected incidents", permissions=["change"])
    def resolve(self, request, queryset):
        self._close(request, queryset, services.incident_resolve, "resolved")

    @admin.action(description="取消 Cancel the selected incidents", permissions=["change"])
    def cancel(self, request, queryset):
        self._close(request, queryset, services.incident_cancel, "cancelled")
