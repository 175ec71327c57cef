from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import ObtainAuthToken

from config import views
from dispatch import api as dispatch_api
from dispatch import sms as dispatch_sms
from incidents import api as incidents_api
from volunteers import api as volunteers_api

api_patterns = [
    path("auth/token/", ObtainAuthToken.as_view(), name="token"),
    path("me/", volunteers_api.Me.as_view(), name="me"),
    path("me/volunteer/", volunteers_api.MyVolunteerProfile.as_view(), name="my-volunteer"),
    path("incidents/", incidents_api.IncidentListCreate.as_view(), name="incidents"),
    path("incidents/<int:pk>/", incidents_api.IncidentDetail.as_view(), name="incident"),
    path(
        "incidents/<int:pk>/resolve/",
        incidents_api.IncidentResolve.as_view(),
        name="incident-resolve",
    ),
    path(
        "incidents/<int:pk>/cancel/", incidents_api.IncidentCancel.as_view(), name="incident-cancel"
    ),
    path("volunteers/", volunteers_api.VolunteerList.as_view(), name="volunteers"),
    path("volunteers/<int:pk>/", volunteers_api.VolunteerDetail.as_view(), name="volunteer"),
    path("vehicles/", volunteers_api.VehicleList.as_view(), name="vehicles"),
    path("teams/", volunteers_api.TeamList.as_view(), name="teams"),
    path("skills/", volunteers_api.SkillList.as_view(), name="skills"),
    path("townships/", volunteers_api.TownshipList.as_view(), name="townships"),
    path("log/", dispatch_api.DeploymentLog.as_view(), name="log"),
    path("me/assignments/", dispatch_api.MyAssignments.as_view(), name="my-assignments"),
    path(
        "incidents/<int:pk>/assignments/",
        dispatch_api.IncidentAssignments.as_view(),
        name="incident-assignments",
    ),
    path("needs/<int:pk>/assign/", dispatch_api.NeedAssign.as_view(), name="need-assign"),
    path(
        "assignments/<int:pk>/accept/",
        dispatch_api.AssignmentAccept.as_view(),
        name="assignment-accept",
    ),
    path(
        "assignments/<int:pk>/decline/",
        dispatch_api.AssignmentDecline.as_view(),
        name="assignment-decline",
    ),
    path(
        "assignments/<int:pk>/status/",
        dispatch_api.AssignmentProgress.as_view(),
        name="assignment-status",
    ),
    path(
        "assignments/<int:pk>/unassign/",
        dispatch_api.AssignmentUnassign.as_view(),
        name="assignment-unassign",
    ),
    path("sms/inbound/", dispatch_sms.SmsInbound.as_view(), name="sms-inbound"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", views.api_root, name="root"),
    path("<path:rest>", views.api_not_found),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # The three faces (issue 5) add their pages below.
    path("review/", include("dispatch.urls")),
    path("phone/", include("volunteers.urls")),
    path("dashboard/", include("incidents.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("api/", include((api_patterns, "api"))),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
]
