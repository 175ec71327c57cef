"""The volunteer's phone page, mounted at /phone/ (config/urls.py)."""

from django.urls import path

from phone import record, views

app_name = "phone"

urlpatterns = [
    path("", views.phone, name="home"),
    path("login/", views.PhoneLoginView.as_view(), name="login"),
    path("login/sms/", views.sign_in_sms, name="sign-in-sms"),
    path("login/code/", views.sign_in_code, name="sign-in-code"),
    path("invitation/<str:secret>/", views.invitation, name="invitation"),
    path("sign-out-everywhere/", views.sign_out_everywhere, name="sign-out-everywhere"),
    path("state/", views.state, name="state"),
    path("assignments/<int:pk>/", views.assignment_status, name="assignment"),
    path("record/", record.record, name="record"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service-worker"),
]
