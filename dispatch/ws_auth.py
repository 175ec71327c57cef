"""Token authentication at the WebSocket handshake, for phones and scripts.

The token travels as a subprotocol (`Sec-WebSocket-Protocol: tongxin, token.<key>`),
not in the URL: URLs end up in proxy and server logs, and a token is long-lived.
"""

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from rest_framework.authtoken.models import Token

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
