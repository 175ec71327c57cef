"""WebSocket consumers: thin. Authorise in connect, join groups, forward events."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from dispatch.events import DASHBOARD_GROUP
from dispatch.models import EventSequence
from volunteers.roles import Role, user_has_role

CLOSE_FORBIDDEN = 4403


def _may_watch_dashboard(user) -> bool:
    return user_has_role(user, Role.COORDINATOR) or user_has_role(user, Role.COMMANDER)


def _last_seq() -> int:
    return EventSequence.objects.values_list("last_seq", flat=True).get(pk=1)


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """/ws/dashboard/: the deployment log as it happens, for coordinators and commanders."""

    async def connect(self):
        if not await database_sync_to_async(_may_watch_dashboard)(self.scope["user"]):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # Join before reading the position, so no event falls between the two
        # (Zulip's register-then-fetch): the client may see an event twice, never zero
        # times, and drops duplicates by seq.
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        await self.accept()
        last_seq = await database_sync_to_async(_last_seq)()
        await self.send_json({"type": "hello", "last_seq": last_seq})

    async def disconnect(self, code):
        await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        await self.send_json({"type": "error", "reason": f"unknown message type: {kind!r}"})

    async def log_event(self, message):
        await self.send_json(message["event"])
