"""Admin for the city's people and resources.

Going on or off duty is a logged state change, so the admin does it through
volunteers.services (actions), never through the form. With 32k volunteers and as many
users, no form renders a <select> of either: raw ids or autocomplete instead.

Coordinators import rosters and fleets from CSV/XLSX on the Volunteer and Vehicle
changelists (volunteers.admin_imports: upload, preview by a dry run, confirm).
"""

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from dispatch.errors import DispatchError
from dispatch.vehicles import vehicle_set_in_service
from signin.admin import (
    may_invite,
    print_team_invitations,
    print_township_invitations,
    revoke_sign_ins,
)
from volunteers import fleet, roster, services
from volunteers.admin_imports import SheetImportAdmin, fleet_run, roster_run
from volunteers.models import Skill, Team, Township, Vehicle, Volunteer
from volunteers.roles import Role, user_has_role


@admin.register(Township)
class TownshipAdmin(admin.ModelAdmin):
    list_display = ["name", "name_en", "kind", "latitude", "longitude"]
    list_filter = ["kind"]
    search_fields = ["name", "name_en"]
    actions = [print_township_invitations]

    def has_invite_permission(self, request):
        return may_invite(request)


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en"]
    search_fields = ["code", "name_zh", "name_en"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "township"]
    list_filter = ["kind", "township"]
    search_fields = ["name"]
    list_select_related = ["township"]
    actions = [print_team_invitations]

    def has_invite_permission(self, request):
        return may_invite(request)


@admin.register(Volunteer)
class VolunteerAdmin(SheetImportAdmin, admin.ModelAdmin):
    sheet_import_run = staticmethod(roster_run)
    sheet_import_columns = roster.COLUMNS
    list_display = ["name", "phone", "township", "on_duty", "travel_mode", "last_located_at"]
    list_filter = ["on_duty", "township", "travel_mode", "skills", "teams"]
    # Also what Vehicle's crew autocomplete searches.
    search_fields = ["name", "phone", "user__username"]
    list_select_related = ["township"]
    raw_id_fields = ["user"]
    filter_horizontal = ["teams", "skills"]
    # on_duty changes only through the actions below, which log it; the last known
    # location is what the phone reported, not something to type in.
    readonly_fields = ["on_duty", "last_latitude", "last_longitude", "last_located_at", "joined_at"]
    actions = ["put_on_duty", "take_off_duty", revoke_sign_ins]
    # Least data (issue 10): where someone lives or was is for the administrators who
    # correct it; a commander reviewing does not see phone numbers either.
    POSITIONS = ["home_latitude", "home_longitude", "last_latitude", "last_longitude"]

    def get_exclude(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_exclude(request, obj)
        return [*(super().get_exclude(request, obj) or ()), *self.POSITIONS]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return fields
        return [field for field in fields if field not in self.POSITIONS]

    def get_list_display(self, request):
        if user_has_role(request.user, Role.COORDINATOR):
            return self.list_display
        return [field for field in self.list_display if field != "phone"]

    def has_invite_permission(self, request):
        return may_invite(request)

    def _set_duty(self, request, queryset, *, on_duty: bool):
        changed = unchanged = 0
        for volunteer in queryset:
            if volunteer.on_duty == on_duty:
                unchanged += 1
                continue
            services.volunteer_set_duty(volunteer=volunteer, on_duty=on_duty, actor=request.user)
            changed += 1
        state = "on duty" if on_duty else "off duty"
        if changed:
            self.message_user(request, f"{changed} volunteer(s) now {state}.", messages.SUCCESS)
        if unchanged:
            self.message_user(
                request, f"{unchanged} volunteer(s) were already {state}.", messages.WARNING
            )

    @admin.action(description="上岗 Put the selected volunteers on duty", permissions=["change"])
    def put_on_duty(self, request, queryset):
        self._set_duty(request, queryset, on_duty=True)

    @admin.action(description="下岗 Take the selected volunteers off duty", permissions=["change"])
    def take_off_duty(self, request, queryset):
        self._set_duty(request, queryset, on_duty=False)


@admin.register(Vehicle)
class VehicleAdmin(SheetImportAdmin, admin.ModelAdmin):
    sheet_import_run = staticmethod(fleet_run)
    sheet_import_columns = fleet.COLUMNS
    list_display = ["call_sign", "kind", "status", "township", "team", "capacity"]
    list_filter = ["kind", "status", "township"]
    search_fields = ["call_sign"]
    list_select_related = ["township", "team"]
    autocomplete_fields = ["crew"]
    # The status follows the vehicle's work, and out of service and back go through
    # dispatch.vehicles (logged, with a reason): the actions below, never the form.
    readonly_fields = ["status", "located_at"]
    actions = ["put_out_of_service", "put_back_in_service"]

    @admin.action(
        description="停用 Put the selected vehicles out of service…", permissions=["change"]
    )
    def put_out_of_service(self, request, queryset):
        return self._set_in_service(request, queryset, in_service=False)

    @admin.action(
        description="恢复 Put the selected vehicles back in service…", permissions=["change"]
    )
    def put_back_in_service(self, request, queryset):
        return self._set_in_service(request, queryset, in_service=True)

    def _set_in_service(self, request, queryset, *, in_service: bool):
        """First a page asking why (the reason is logged), then the change, vehicle by
        vehicle: one on a task is refused with the service's reason, the rest go on."""
        if "apply" not in request.POST:
            return TemplateResponse(
                request,
                "admin/volunteers/vehicle_service.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.model._meta,
                    "vehicles": queryset,
                    "in_service": in_service,
                    "action": request.POST.get("action", ""),
                    "title": "恢复 Back in service" if in_service else "停用 Out of service",
                },
            )
        reason = request.POST.get("reason", "")
        for vehicle in queryset:
            try:
                vehicle_set_in_service(
                    vehicle_id=vehicle.pk, in_service=in_service, actor=request.user, reason=reason
                )
            except DispatchError as refused:
                self.message_user(request, f"{vehicle.call_sign}: {refused}", messages.WARNING)
            else:
                state = "back in service" if in_service else "out of service"
                self.message_user(request, f"{vehicle.call_sign}: {state}.", messages.SUCCESS)
        return None
