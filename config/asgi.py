"""ASGI entry point: HTTP, websockets and (for the embedded default) lifespan."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.lifespan import lifespan  # noqa: E402
from dispatch.routing import websocket_urlpatterns  # noqa: E402
from dispatch.ws_auth import TokenAuthMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin first (a page on another site must not ride a user's session cookie),
        # then the user: the session's, or a token's (phones); consumers refuse anyone
        # without the right role.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
        "lifespan": lifespan,
    }
)
