"""Token authentication at the WebSocket handshake, for phones and scripts.

The token travels as a subprotocol (`Sec-WebSocket-Protocol: tongxin, token.<key>`),
not in the URL: URLs end up in proxy and server logs, and a token is long-lived.
"""

from importlib import import_module

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from rest_framework.authtoken.models import Token

User = get_user_model()
SessionStore = import_module(settings.SESSION_ENGINE).SessionStore

TOKEN_PREFIX = "token."


def token_from_subprotocols(subprotocols) -> str | None:
    for protocol in subprotocols or ():
        if protocol.startswith(TOKEN_PREFIX):
            return protocol[len(TOKEN_PREFIX) :]
    return None


def _user_for_key(key: str):
    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token and token.user.is_active else None


# In a thread of the pool, not the process's one thread-sensitive thread (consumers).
_user_for = database_sync_to_async(_user_for_key, thread_sensitive=False)


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] from a token subprotocol, when one is given. A wrong token
    leaves the session's user (usually anonymous): the consumer then refuses."""

    async def __call__(self, scope, receive, send):
        key = token_from_subprotocols(scope.get("subprotocols"))
        if key:
            user = await _user_for(key)
            if user is not None:
                scope = dict(scope, user=user)
        return await super().__call__(scope, receive, send)


def socket_user_now(scope):
    """The user a socket was opened for, read again: None when they have been
    deactivated, or when what let them in is gone — the token revoked or expired, the
    session signed out or expired. Sockets live for days; their handshake does not
    stand for ever (consumers re-check on a period)."""
    user = scope.get("user")
    fresh = User.objects.filter(pk=getattr(user, "pk", None), is_active=True).first()
    if fresh is None:
        return None
    key = token_from_subprotocols(scope.get("subprotocols"))
    if key and Token.objects.filter(key=key, user=fresh).exists():
        return fresh
    session = scope.get("session")
    session_key = getattr(session, "session_key", None)
    if session_key and SessionStore(session_key).get(SESSION_KEY) == str(fresh.pk):
        return fresh
    return None
