"""Broadcasts' and activities' REST API, under /api/ (config/urls.py puts it in the "api"
namespace)."""

from django.urls import path

from briefings import api

urlpatterns = [
    path("broadcasts/", api.BroadcastListSend.as_view(), name="broadcasts"),
    path("broadcasts/<int:pk>/", api.BroadcastDetail.as_view(), name="broadcast"),
    path("me/broadcasts/", api.MyBroadcasts.as_view(), name="my-broadcasts"),
    path(
        "me/broadcasts/<int:pk>/delivered/",
        api.MyBroadcastDelivered.as_view(),
        name="my-broadcast-delivered",
    ),
    path("me/broadcasts/<int:pk>/read/", api.MyBroadcastRead.as_view(), name="my-broadcast-read"),
    path(
        "me/broadcasts/<int:pk>/confirm/",
        api.MyBroadcastConfirm.as_view(),
        name="my-broadcast-confirm",
    ),
    path("activities/", api.ActivityListRecord.as_view(), name="activities"),
]
