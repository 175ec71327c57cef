"""What the sign-in views read from a request."""

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address


def client_address(request) -> str | None:
    """The client's address as django-axes sees it (behind the proxy, uvicorn's
    --proxy-headers has put the client's own there)."""
    return get_client_ip_address(getattr(request, "_request", request))


def number_locked_out(request, number: str) -> bool:
    """Whether django-axes refuses sign-ins for this number (normalised: the username
    members have) or from this address now. When it does, the request is marked so that
    axes' middleware answers 429 as for a password (pages/lockout.py)."""
    django_request = getattr(request, "_request", request)
    locked = AxesProxyHandler.is_locked(django_request, credentials={"username": number})
    if locked:
        django_request.axes_locked_out = True
    return locked
