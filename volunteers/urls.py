"""Volunteers' REST API, under /api/ (config/urls.py puts it in the "api" namespace)."""

from django.urls import path

from volunteers import api

urlpatterns = [
    path("auth/token/", api.TokenSignIn.as_view(), name="token"),
    path("me/", api.Me.as_view(), name="me"),
    path("me/volunteer/", api.MyVolunteerProfile.as_view(), name="my-volunteer"),
    path("volunteers/", api.VolunteerList.as_view(), name="volunteers"),
    path("volunteers/<int:pk>/", api.VolunteerDetail.as_view(), name="volunteer"),
    path("vehicles/", api.VehicleList.as_view(), name="vehicles"),
    path("teams/", api.TeamList.as_view(), name="teams"),
    path("skills/", api.SkillList.as_view(), name="skills"),
    path("townships/", api.TownshipList.as_view(), name="townships"),
]
