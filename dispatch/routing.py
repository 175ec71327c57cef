from django.urls import path

from dispatch.consumers import DashboardConsumer, VolunteerConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
    path("ws/volunteer/", VolunteerConsumer.as_asgi()),
]
