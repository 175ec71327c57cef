"""The words of the "nobody left to ask" alarm (issue 13; dashboard/static/dashboard/
unmet.js), in the page's language: kept apart from views._strings so the alarm's
sentences stay together."""

from django.utils.translation import pgettext


def unmet_strings() -> dict:
    return {
        "unmet_title": pgettext("dashboard", "Nobody left to ask:"),
        # Why (dispatch.escalation.UNMET_REASONS).
        "unmet_none_on_duty": pgettext("dashboard", "nobody on duty has this skill."),
        "unmet_all_busy": pgettext("dashboard", "everyone who could go is on another task."),
        "unmet_all_asked": pgettext(
            "dashboard", "everyone within reach was asked and declined or did not answer."
        ),
        "unmet_out_of_reach": pgettext(
            "dashboard", "those free are further away than the search reached."
        ),
        "unmet_counts": pgettext(
            "dashboard",
            "asked %(asked)s · declined %(declined)s · no answer %(expired)s · "
            "on duty %(on_duty)s, of them busy %(busy)s",
        ),
        "unmet_reach": pgettext("dashboard", "searched up to %(km)s km"),
        "unmet_widen_to": pgettext("dashboard", "Search up to"),
        "unmet_widen": pgettext("dashboard", "Widen"),
        "unmet_also_accept": pgettext("dashboard", "Also accept"),
        "unmet_accept": pgettext("dashboard", "Accept skill"),
        "unmet_by_hand": pgettext(
            "dashboard", "Or call someone and assign them by hand (Assign…)."
        ),
    }
