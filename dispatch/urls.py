"""Dispatch's REST API (the log, offers and assignments, the SMS webhook), under /api/
(config/urls.py puts it in the "api" namespace)."""

from django.urls import path

from dispatch import api
from dispatch.sms import webhook as sms_webhook

urlpatterns = [
    path("log/", api.DeploymentLog.as_view(), name="log"),
    path("me/assignments/", api.MyAssignments.as_view(), name="my-assignments"),
    path("me/hours/", api.MyHours.as_view(), name="my-hours"),
    path(
        "me/push-subscriptions/",
        api.MyPushSubscriptions.as_view(),
        name="my-push-subscriptions",
    ),
    path(
        "incidents/<int:pk>/assignments/",
        api.IncidentAssignments.as_view(),
        name="incident-assignments",
    ),
    path("incidents/<int:pk>/rota/", api.IncidentRota.as_view(), name="incident-rota"),
    path("needs/<int:pk>/assign/", api.NeedAssign.as_view(), name="need-assign"),
    path("needs/<int:pk>/widen/", api.NeedWiden.as_view(), name="need-widen"),
    path(
        "assignments/<int:pk>/accept/",
        api.AssignmentAccept.as_view(),
        name="assignment-accept",
    ),
    path(
        "assignments/<int:pk>/decline/",
        api.AssignmentDecline.as_view(),
        name="assignment-decline",
    ),
    path(
        "assignments/<int:pk>/status/",
        api.AssignmentProgress.as_view(),
        name="assignment-status",
    ),
    path(
        "assignments/<int:pk>/give-up/",
        api.AssignmentGiveUp.as_view(),
        name="assignment-give-up",
    ),
    path(
        "assignments/<int:pk>/unassign/",
        api.AssignmentUnassign.as_view(),
        name="assignment-unassign",
    ),
    path("vehicles/<int:pk>/service/", api.VehicleService.as_view(), name="vehicle-service"),
    path("sms/inbound/", sms_webhook.SmsInbound.as_view(), name="sms-inbound"),
]
