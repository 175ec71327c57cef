"""Incidents' REST API, under /api/ (config/urls.py puts it in the "api" namespace)."""

from django.urls import path

from incidents import api

urlpatterns = [
    path("incidents/", api.IncidentListCreate.as_view(), name="incidents"),
    path("incidents/<int:pk>/", api.IncidentDetail.as_view(), name="incident"),
    path(
        "incidents/<int:pk>/resolve/",
        api.IncidentResolve.as_view(),
        name="incident-resolve",
    ),
    path("incidents/<int:pk>/cancel/", api.IncidentCancel.as_view(), name="incident-cancel"),
    path("incidents/<int:pk>/needs/", api.NeedAdd.as_view(), name="incident-needs"),
    path(
        "incidents/<int:pk>/needs/<int:need_pk>/",
        api.NeedDetail.as_view(),
        name="incident-need",
    ),
    path(
        "incidents/<int:pk>/needs/<int:need_pk>/cancel/",
        api.NeedCancel.as_view(),
        name="incident-need-cancel",
    ),
]
