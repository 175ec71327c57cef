"""The four roles of DESIGN.md §6. Coordinator, volunteer and commander are groups;
admin is Django's superuser (or staff for the admin site)."""

from django.db.models import TextChoices


class Role(TextChoices):
    COORDINATOR = "coordinator", "调度员 coordinator"
    VOLUNTEER = "volunteer", "志愿者 volunteer"
    COMMANDER = "commander", "指挥长 commander"


# The model permissions each group holds, as (app_label, codename). They let the admin
# site show each role what it may touch; the API checks roles with user_has_role.
ROLE_PERMISSIONS = {
    Role.COORDINATOR: [
        ("incidents", "add_incident"),
        ("incidents", "change_incident"),
        ("incidents", "view_incident"),
        ("incidents", "add_need"),
        ("incidents", "change_need"),
        ("incidents", "view_need"),
        ("dispatch", "view_assignment"),
        ("dispatch", "change_assignment"),
        ("dispatch", "view_deploymentevent"),
        ("volunteers", "view_volunteer"),
        ("volunteers", "view_vehicle"),
        ("volunteers", "change_vehicle"),
        ("volunteers", "view_team"),
        ("volunteers", "view_skill"),
        ("volunteers", "view_township"),
    ],
    Role.COMMANDER: [
        ("incidents", "view_incident"),
        ("incidents", "view_need"),
        ("dispatch", "view_assignment"),
        ("dispatch", "view_deploymentevent"),
        ("volunteers", "view_volunteer"),
        ("volunteers", "view_vehicle"),
        ("volunteers", "view_team"),
        ("volunteers", "view_skill"),
        ("volunteers", "view_township"),
    ],
    Role.VOLUNTEER: [
        ("volunteers", "view_skill"),
        ("volunteers", "view_township"),
    ],
}


def user_has_role(user, role: Role) -> bool:
    if not user or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name=role.value).exists()


def user_may_watch(user) -> bool:
    """Coordinators and commanders (and admins) watch the dashboard, the live log and the
    review; volunteers and the public do not."""
    if not user or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=[Role.COORDINATOR, Role.COMMANDER]).exists()


def user_roles(user) -> list[str]:
    if not user or not user.is_authenticated:
        return []
    names = set(user.groups.values_list("name", flat=True))
    if user.is_superuser:
        names |= {role.value for role in Role} | {"admin"}
    return sorted(names)
