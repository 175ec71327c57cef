"""The volunteer's phone page, mounted at /phone/ (config/urls.py)."""

from django.urls import path

from phone import views

app_name = "phone"

urlpatterns = [
    path("", views.phone, name="home"),
    path("login/", views.PhoneLoginView.as_view(), name="login"),
    path("state/", views.state, name="state"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service-worker"),
]
