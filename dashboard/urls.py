"""The coordinators' dashboard, under /dashboard/ (config/urls.py)."""

from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.dashboard, name="index"),
    path("geocode/", views.geocode, name="geocode"),
    path("resources/", views.resources, name="resources"),
    path("markers/", views.markers, name="markers"),
    path("units/", views.units, name="units"),
    path("incidents/<int:pk>/offers/", views.offers, name="offers"),
    path("incidents/<int:pk>/rota/", views.rota, name="rota"),
    path("needs/<int:pk>/candidates/", views.candidates, name="candidates"),
]
