from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from briefings import urls as briefings_urls
from config import views
from dispatch import urls as dispatch_urls
from incidents import urls as incidents_urls
from pages import views as pages_views
from signin import urls as signin_urls
from volunteers import urls as volunteers_urls

# Each domain app routes its own REST API; the schema, the docs and a JSON 404 for
# unknown /api/ paths come last.
api_patterns = [
    *volunteers_urls.urlpatterns,
    *incidents_urls.urlpatterns,
    *dispatch_urls.urlpatterns,
    *signin_urls.urlpatterns,
    *briefings_urls.urlpatterns,
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its script as a file of its own (?script): no inline script
    # (config/csp.py).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("", views.api_root, name="root"),
    path("<path:rest>", views.api_not_found),
]

urlpatterns = [
    path("", pages_views.home, name="home"),
    path("favicon.ico", pages_views.favicon, name="favicon"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # The faces: one app each (README: Architecture).
    path("dashboard/", include("dashboard.urls")),
    path("phone/", include("phone.urls")),
    path("review/", include("review.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("api/", include((api_patterns, "api"))),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
]

# The site's own 404 page (pages/templates/404.html), JSON under /api/; Django's default
# 500 view renders pages/templates/500.html, and config.api's middleware answers JSON
# for /api/.
handler404 = pages_views.not_found
