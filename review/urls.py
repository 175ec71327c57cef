"""The commanders' review, under /review/ (config/urls.py)."""

from django.urls import path

from review import views

app_name = "review"

urlpatterns = [
    path("", views.review, name="index"),
    path("log.csv", views.log_csv, name="log-csv"),
    path("log.xlsx", views.log_xlsx, name="log-xlsx"),
    path("incidents/<int:pk>/", views.incident_timeline, name="timeline"),
    path("incidents/<int:pk>/ics214/", views.incident_ics214, name="ics214"),
    path("incidents/<int:pk>/ics214.csv", views.incident_ics214_csv, name="ics214-csv"),
    path("hours/", views.hours_page, name="hours"),
    path("hours.csv", views.hours_csv, name="hours-csv"),
    path("hours.xlsx", views.hours_xlsx, name="hours-xlsx"),
]
