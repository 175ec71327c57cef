"""Admin for broadcasts, their receipts and activities: read-only. Broadcasts are sent
and activities recorded through briefings.services (the API and the dashboard), each
with its log event; a form here would change them behind the log's back."""

from django.contrib import admin

from briefings.models import Activity, Broadcast, BroadcastReceipt


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReceiptInline(admin.TabularInline):
    model = BroadcastReceipt
    fields = ["volunteer", "delivered_at", "read_at", "confirmed_at", "sms_sent_at"]
    readonly_fields = fields
    raw_id_fields = ["volunteer"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Broadcast)
class BroadcastAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "author",
        "audience",
        "text",
        "briefing_starts_at",
        "recipient_count",
    ]
    list_filter = ["audience"]
    search_fields = ["text", "briefing_place"]
    date_hierarchy = "created_at"
    list_select_related = ["author"]
    inlines = [ReceiptInline]


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ["starts_at", "kind", "title", "township", "audience_size", "recorded_by"]
    list_filter = ["kind", "township"]
    search_fields = ["title", "address"]
    date_hierarchy = "starts_at"
    list_select_related = ["township", "recorded_by"]
