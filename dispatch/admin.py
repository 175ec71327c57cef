"""Admin for assignments and the deployment log: both read-only.

The dispatch engine writes assignments through dispatch.services, and the log is
append-only (DESIGN.md §4): no admin form may add, change or delete either.
EventSequence is not registered at all: it is one counter row that only
dispatch.events touches, under its lock.
"""

from django.contrib import admin

from dispatch.models import Assignment, DeploymentEvent, SmsMessage


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "need",
        "volunteer",
        "vehicle",
        "status",
        "offered_at",
        "expires_at",
        "answered_at",
        "finished_at",
    ]
    list_filter = ["status"]
    search_fields = ["volunteer__name", "volunteer__phone", "vehicle__call_sign"]
    # need's __str__ shows its skill; both ends of the assignment are shown by name.
    list_select_related = ["need__skill", "volunteer", "vehicle"]
    # Ready for the day assignments become editable here: no <select> of 32k volunteers.
    raw_id_fields = ["need", "volunteer", "vehicle", "offered_by"]


@admin.register(DeploymentEvent)
class DeploymentEventAdmin(ReadOnlyAdmin):
    list_display = [
        "seq",
        "kind",
        "occurred_at",
        "actor",
        "incident",
        "volunteer",
        "vehicle",
        "published_at",
    ]
    list_filter = ["kind"]
    date_hierarchy = "occurred_at"
    search_fields = ["incident__title", "volunteer__name", "volunteer__phone"]
    list_select_related = ["actor", "incident", "volunteer", "vehicle"]
    # Newest first: the admin is where one looks at what just happened.
    ordering = ["-seq"]


@admin.register(SmsMessage)
class SmsMessageAdmin(ReadOnlyAdmin):
    """Every SMS in and out, free-text replies included: what volunteers answered when
    the app could not reach them."""

    list_display = ["created_at", "direction", "phone", "text", "outcome", "assignment", "error"]
    list_filter = ["direction", "outcome"]
    search_fields = ["phone", "text"]
    date_hierarchy = "created_at"
    list_select_related = ["assignment"]
