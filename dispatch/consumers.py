"""WebSocket consumers (docs/websockets.md): thin. Authorise in connect, join the
groups, then send where the client stands; requests go to the services."""

import asyncio
import json
import logging
import math
import time
from collections import deque
from types import SimpleNamespace
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation

from briefings import services as briefings
from briefings.selectors import broadcasts_unread
from dispatch import layer_watch, live, services
from dispatch.events import DASHBOARD_GROUP, volunteer_group
from dispatch.models import Assignment
from dispatch.ws_auth import socket_user_now
from volunteers.roles import user_may_watch
from volunteers.services import LocationError, volunteer_set_duty, volunteer_update_location

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429
CLOSE_TOO_BIG = 1009
# The channel layer (Redis) is down: nothing live could reach this socket. Accepted and
# closed at once, so that the client sees the code (a refused handshake reaches a
# browser as an HTTP error and close code 1006), and backs off before trying again.
CLOSE_TRY_LATER = 4503
SUBPROTOCOL = "tongxin"
# Deeper JSON is refused before it is parsed. The parser recurses once a level, and
# where it runs out depends on how deep the stack already is: at about a thousand levels
# the same frame was read or refused by chance. No frame of the protocol nests more than
# three levels.
MAX_JSON_DEPTH = 64


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text opens more than `limit` arrays or objects inside each other
    (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= limit:
        return False  # every frame a client really sends: no scan
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _db(function):
    """Run database work off the event loop, in a thread of the pool. Not
    thread-sensitive (channels' default), which runs every consumer's database work of
    the process in one thread, one call at a time: with a thousand phones, acks took
    seconds (bench/live.py)."""
    return database_sync_to_async(function, thread_sensitive=False)


class BadRequest(Exception):
    """A client frame that cannot be acted on; the message goes back in an error frame."""


def _since(scope) -> int | None:
    values = parse_qs(scope.get("query_string", b"").decode()).get("since")
    if not values:
        return None
    try:
        since = int(values[0])
    except ValueError:
        return -1  # nonsense: treated as too old, so the client gets a snapshot
    return since


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """What both sockets share: the handshake, resume, limits and error frames."""

    role = ""

    async def may_connect(self, user) -> bool:
        raise NotImplementedError

    def groups_to_join(self) -> list[str]:
        raise NotImplementedError

    async def snapshot(self) -> dict:
        raise NotImplementedError

    async def replay(self, since: int) -> tuple[list[dict], int] | None:
        raise NotImplementedError

    async def frames_missed(self, before: int) -> list[dict]:
        """The frames between what the client has and the live frame `before` that
        the client may see, read from the log."""
        raise NotImplementedError

    async def refuse(self, code: int) -> None:
        """Accept, then close with `code`: a socket closed before it is accepted reaches
        the browser as a bare 1006 (the handshake failed), and the page could not tell
        "sign in again" (4401, 4403) or "later" (4503) from a network blip."""
        wants_protocol = SUBPROTOCOL in self.scope.get("subprotocols", ())
        await self.accept(subprotocol=SUBPROTOCOL if wants_protocol else None)
        await self.close(code=code)

    async def connect(self):
        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            await self.refuse(CLOSE_UNAUTHENTICATED)
            return
        if not await self.may_connect(user):
            await self.refuse(CLOSE_FORBIDDEN)
            return
        self.recent_frames = deque()
        wants_protocol = SUBPROTOCOL in self.scope.get("subprotocols", ())
        # Join before reading the log's position, so no event falls between the two
        # (Zulip's register-then-fetch): an event may arrive twice, never zero times,
        # and the client drops what it has by seq.
        self.joined = []
        try:
            for group in self.groups_to_join():
                await self.channel_layer.group_add(group, self.channel_name)
                self.joined.append(group)
        except Exception:
            # Redis down: refuse with a code that says "later", not a 500. The groups
            # joined so far are left to the layer's group expiry (Redis is unreachable
            # to discard them anyway).
            logger.warning("refusing %s's socket: the channel layer is down", user, exc_info=True)
            self.joined = []
            await self.refuse(CLOSE_TRY_LATER)
            return
        # Should Redis restart, the groups just joined are lost with it: the socket is
        # then closed (4503) and the client resumes from the log (dispatch/layer_watch.py).
        await layer_watch.socket_joined(self, close_code=CLOSE_TRY_LATER)
        await self.accept(subprotocol=SUBPROTOCOL if wants_protocol else None)
        last_seq = await _db(live.last_seq)()
        await self.send_json({"type": "hello", "last_seq": last_seq, "role": self.role})
        # The log position up to which the client has everything it may see: every
        # frame at or below it is dropped, every frame above it goes out in seq order.
        self.client_upto = await self._send_where_the_client_stands(_since(self.scope), last_seq)
        self.watch = asyncio.create_task(self._watch())

    async def _watch(self):
        """A socket lives for days (a phone left open on duty, a dashboard on a wall):
        every WS_RECHECK_SECONDS it makes sure its user may still have it — not
        deactivated, the token or session not revoked, the role kept — and closes it
        (4401, 4403) when not; and it re-joins its groups, which the channel layer
        otherwise drops CHANNEL_GROUP_EXPIRY_SECONDS after they were joined, silently:
        the pings would still get their pongs."""
        while True:
            await asyncio.sleep(settings.WS_RECHECK_SECONDS)
            user = await _db(socket_user_now)(self.scope)
            if user is None:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            if not await self.may_connect(user):
                await self.close(code=CLOSE_FORBIDDEN)
                return
            try:
                for group in self.joined:
                    await self.channel_layer.group_add(group, self.channel_name)
            except Exception:
                # Redis down: the client resumes from the log when it reconnects.
                logger.warning("could not re-join %s's groups", user, exc_info=True)

    async def _send_where_the_client_stands(self, since: int | None, last_seq: int) -> int:
        if since is not None:
            replayed = await self.replay(since) if since >= 0 else None
            if replayed is not None:
                frames, upto = replayed
                for frame in frames:
                    await self.send_json(frame)
                return upto
            await self.send_json({"type": "resync", "reason": "too far behind to replay"})
        # Read after last_seq: it shows the effect of every event up to there.
        await self.send_json(await self.snapshot())
        return last_seq

    async def disconnect(self, code):
        if getattr(self, "watch", None):
            self.watch.cancel()
        layer_watch.socket_left(self)
        for group in getattr(self, "joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > settings.WS_MAX_FRAME_BYTES:
            logger.warning("closing %s: a %d-byte frame", self.scope["user"], size)
            await self.close(code=CLOSE_TOO_BIG)
            return
        if self._over_rate_limit():
            logger.warning("closing %s: over the frame rate limit", self.scope["user"])
            await self.send_json({"type": "error", "reason": "too many messages"})
            await self.close(code=CLOSE_TOO_MANY)
            return
        if json_too_deep(text_data or ""):
            await self.send_json({"type": "error", "reason": "JSON nested too deeply"})
            return
        try:
            content = json.loads(text_data or "")
        except ValueError:
            await self.send_json({"type": "error", "reason": "not JSON"})
            return
        except RecursionError:  # "[[[[…": the parser recurses once a level
            await self.send_json({"type": "error", "reason": "JSON nested too deeply"})
            return
        await self.receive_json(content)

    def _over_rate_limit(self) -> bool:
        now = time.monotonic()
        self.recent_frames.append(now)
        while self.recent_frames and self.recent_frames[0] < now - 60:
            self.recent_frames.popleft()
        return len(self.recent_frames) > settings.WS_RATE_LIMIT_PER_MINUTE

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "reason": "expected a JSON object"})
            return
        ref = content.get("ref")
        ref = ref if isinstance(ref, str) and len(ref) <= 64 else None
        kind = content.get("type")
        handler = self.handlers().get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self.send_json({"type": "error", "ref": ref, "reason": f"unknown type {kind!r}"})
            return
        # The services say why they refuse in the user's language, as the pages do.
        with translation.override(_language(self.scope)):
            try:
                result = await handler(content)
            except (BadRequest, services.DispatchError, LocationError) as refused:
                await self.send_json({"type": "error", "ref": ref, "reason": _reason(refused)})
                return
        await self.send_json({"type": "ack", "ref": ref, **(result or {})})

    def handlers(self) -> dict:
        return {"ping": self.on_ping}

    async def on_ping(self, content):
        await self.send_json({"type": "pong"})
        return {"of": "ping"}

    async def log_event(self, message):
        """A live frame from the channel layer. Frames reach the groups out of seq order
        when two processes publish at once (the worker's offers, the server's accepts),
        and twice when the relay re-sends one or a replay already had it. The client
        gets each frame once, in seq order, so the last seq it saw is exactly where it
        resumes. An event below this frame is committed already (events commit in seq
        order), so what the client may have missed is read from the log, not waited for.
        The channel layer hands a consumer one message at a time: no locking here."""
        frame = message["event"]
        seq = frame["seq"]
        if seq <= self.client_upto:
            return
        # On the dashboard, which gets every event, a gap is a frame still on its way;
        # a phone sees a few of the log's events, and only the log knows whether one of
        # theirs lies in the gap.
        if seq > self.client_upto + 1:
            for missed in await self.frames_missed(before=seq):
                await self.send_json(missed)
        await self.send_json(frame)
        self.client_upto = seq


def _reason(error: Exception) -> str:
    if isinstance(error, LocationError):
        return " ".join(error.messages)
    return str(error)


def _language(scope) -> str:
    """The user's language, chosen from the handshake as LocaleMiddleware chooses a
    page's: the language switch's cookie, else Accept-Language, else LANGUAGE_CODE."""
    headers = dict(scope.get("headers", ()))
    handshake = SimpleNamespace(
        COOKIES=scope.get("cookies", {}),  # channels' CookieMiddleware
        META={"HTTP_ACCEPT_LANGUAGE": headers.get(b"accept-language", b"").decode("latin-1")},
    )
    return translation.get_language_from_request(handshake)


def _field(content: dict, name: str, kind: type, *, required: bool = True):
    value = content.get(name)
    if value is None and not required:
        return None
    # bool is an int in Python; an id or a count of True is a client bug.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(f"{name}: expected {kind.__name__}")
    if kind is str and not _storable(value):
        raise BadRequest(f"{name}: text with a NUL or a lone surrogate")
    return value


def _storable(text: str) -> bool:
    """JSON carries a NUL or a lone surrogate (escaped: \\u0000, \\ud800); PostgreSQL
    stores neither, and the write would fail."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


class DashboardConsumer(LiveConsumer):
    """/ws/dashboard/: the deployment log as it happens, for coordinators and commanders."""

    role = "dashboard"

    async def may_connect(self, user) -> bool:
        return await _db(user_may_watch)(user)

    def groups_to_join(self) -> list[str]:
        return [DASHBOARD_GROUP]

    async def snapshot(self) -> dict:
        return await _db(live.dashboard_snapshot)()

    async def replay(self, since: int):
        return await _db(live.replay)(since=since)

    async def frames_missed(self, before: int) -> list[dict]:
        return await _db(live.frames_between)(after=self.client_upto, before=before)


class VolunteerConsumer(LiveConsumer):
    """/ws/volunteer/: a volunteer's own offers and assignments, and their answers."""

    role = "volunteer"

    async def may_connect(self, user) -> bool:
        self.volunteer = await _db(lambda: getattr(user, "volunteer", None))()
        return self.volunteer is not None

    def groups_to_join(self) -> list[str]:
        return [volunteer_group(self.volunteer.pk)]

    async def snapshot(self) -> dict:
        return await _db(live.volunteer_snapshot)(self.volunteer.pk)

    async def replay(self, since: int):
        return await _db(live.replay)(since=since, volunteer_id=self.volunteer.pk)

    async def frames_missed(self, before: int) -> list[dict]:
        return await _db(live.frames_between)(
            after=self.client_upto, before=before, volunteer_id=self.volunteer.pk
        )

    def handlers(self) -> dict:
        return {
            **super().handlers(),
            "delivered": self.on_delivered,
            "seen": self.on_seen,
            "accept": self.on_accept,
            "decline": self.on_decline,
            "status": self.on_status,
            "location": self.on_location,
            "duty": self.on_duty,
            "broadcast_delivered": self.on_broadcast_delivered,
            "broadcast_read": self.on_broadcast_read,
            "broadcast_confirm": self.on_broadcast_confirm,
        }

    async def _send_where_the_client_stands(self, since, last_seq):
        upto = await super()._send_where_the_client_stands(since, last_seq)
        # Messages to those on duty are not log events: a phone that connects (first,
        # or again after a drop) gets its unread ones, if any, read after joining the
        # group, so one sent meanwhile comes twice at worst (the page keeps each id once).
        unread = await _db(broadcasts_unread)(self.volunteer.pk)
        if unread:
            await self.send_json({"type": "broadcasts", "broadcasts": unread})
        return upto

    async def broadcast_message(self, message):
        """A message to those on duty (briefings.services.broadcast_publish)."""
        await self.send_json({"type": "broadcast", "broadcast": message["broadcast"]})

    async def _receipt(self, service, content):
        broadcast_id = _field(content, "broadcast", int)
        try:
            first = await self._call(service, broadcast_id=broadcast_id)
        except briefings.BriefingRefused as refused:
            raise BadRequest(str(refused)) from None
        return {"broadcast": broadcast_id, "first": first}

    async def on_broadcast_delivered(self, content):
        return await self._receipt(briefings.broadcast_mark_delivered, content)

    async def on_broadcast_read(self, content):
        return await self._receipt(briefings.broadcast_mark_read, content)

    async def on_broadcast_confirm(self, content):
        return await self._receipt(briefings.broadcast_confirm, content)

    async def _call(self, service, **kwargs):
        return await _db(service)(volunteer=self.volunteer, **kwargs)

    async def _answer(self, service, content, **kwargs):
        assignment_id = _field(content, "assignment", int)
        try:
            assignment = await self._call(service, assignment_id=assignment_id, **kwargs)
        except Assignment.DoesNotExist:
            raise BadRequest(f"no assignment {assignment_id}") from None
        return {"assignment": assignment.pk, "status": assignment.status}

    async def on_delivered(self, content):
        return await self._acknowledge(services.offer_mark_delivered, content)

    async def on_seen(self, content):
        return await self._acknowledge(services.offer_mark_seen, content)

    async def _acknowledge(self, service, content):
        assignment_id = _field(content, "assignment", int)
        try:
            first = await self._call(service, assignment_id=assignment_id)
        except Assignment.DoesNotExist:
            raise BadRequest(f"no assignment {assignment_id}") from None
        return {"assignment": assignment_id, "first": first}

    async def on_accept(self, content):
        return await self._answer(services.assignment_accept, content)

    async def on_decline(self, content):
        reason = _field(content, "reason", str, required=False) or ""
        return await self._answer(services.assignment_decline, content, reason=reason[:300])

    async def on_status(self, content):
        status = _field(content, "status", str)
        people_moved = _field(content, "people_moved", int, required=False)
        if people_moved is not None and not 0 <= people_moved <= 1_000_000:
            raise BadRequest("people_moved: expected 0 to 1,000,000")
        return await self._answer(
            services.assignment_progress, content, status=status, people_moved=people_moved
        )

    async def on_location(self, content):
        latitude = _number(content, "latitude")
        longitude = _number(content, "longitude")
        await self._call(volunteer_update_location, latitude=latitude, longitude=longitude)
        return {"of": "location"}

    async def on_duty(self, content):
        on_duty = _field(content, "on_duty", bool)
        await self._call(volunteer_set_duty, on_duty=on_duty)
        return {"on_duty": on_duty}


def _number(content: dict, name: str) -> float:
    value = content.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{name}: expected a number")
    try:
        return float(value)
    except OverflowError:  # an integer no float holds (10**400): as far off the map as inf
        return math.inf if value > 0 else -math.inf
