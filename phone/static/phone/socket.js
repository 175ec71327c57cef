// Talking to the server: the shared LiveSocket (/ws/volunteer/), made to reconnect at
// once when the phone is back online, and the page's requests — over the socket when it
// is up, over the REST API otherwise. Either way a request resolves to {ok, reason}: the
// server's refusal in its words, or reason null when no answer came.

import { RequestError, sendJSON } from "../tongxin/api.js";
import { LiveSocket } from "../tongxin/live.js";

export class PhoneSocket extends LiveSocket {
  // One socket at a time, and a way to reconnect at once when the phone is back online
  // instead of waiting out the back-off.
  connect() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    super.connect();
  }

  reconnectNow() {
    this.retryMs = 500;
    this.connect();
  }

  drop() {
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close();
  }
}

let live = null;
const pending = new Map(); // ref -> resolve
let refs = 0;
let lastHeard = Date.now();
const sentDelivered = new Set();
const sentSeen = new Set();

// Opens the page's socket: the handlers as LiveSocket's. Replies to requests (ack and
// error frames with our ref) are taken here first.
export function openSocket(path, handlers) {
  live = new PhoneSocket(path, {
    ...handlers,
    onState(name) {
      if (name === "live") lastHeard = Date.now();
      handlers.onState?.(name);
    },
    onFrame(frame) {
      lastHeard = Date.now();
      if ((frame.type === "ack" || frame.type === "error") && pending.has(frame.ref)) {
        pending.get(frame.ref)({ ok: frame.type === "ack", reason: frame.reason, frame });
      }
      handlers.onFrame?.(frame);
    },
  });
  // A socket can die silently on a mobile network: ask now and then, drop it when the
  // server has said nothing for too long (the LiveSocket then reconnects and catches up).
  setInterval(() => {
    if (live.current !== "live") return;
    const quiet = Date.now() - lastHeard;
    if (quiet > 45000) live.drop();
    else if (quiet > 20000) live.send({ type: "ping" });
  }, 5000);
  return live;
}

// "connecting" | "live" | "offline" (null before the socket is opened).
export const socketState = () => live?.current ?? null;
export const drop = () => live.drop();
export const reconnectNow = () => live.reconnectNow();

export function socketRequest(frame, timeoutMs = 10000) {
  const ref = `p${++refs}`;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pending.delete(ref);
      resolve({ ok: false, reason: null });
    }, timeoutMs);
    pending.set(ref, (reply) => {
      clearTimeout(timer);
      pending.delete(ref);
      resolve(reply);
    });
    live.send({ ...frame, ref });
  });
}

export async function restRequest(method, url, body = {}) {
  try {
    await sendJSON(method, url, body);
    return { ok: true };
  } catch (error) {
    // A refusal says why (with its status); no answer at all (offline), or a server
    // error with no sentence (a proxy's 502), says nothing: reason null.
    if (!(error instanceof RequestError)) return { ok: false, reason: null };
    const reason = error.status >= 500 ? null : (RequestError.sentence(error.body) ?? `HTTP ${error.status}`);
    return { ok: false, reason, status: error.status };
  }
}

// A request over the socket when it is up (no new connection on a slow network), over
// REST otherwise. Answers and reports go through the page's queue (outbox.js), which
// tries again what got no answer.
export function act(frame, method, url, body) {
  if (live.current === "live") return socketRequest(frame);
  return restRequest(method, url, body);
}

// The offer reached this phone / was on its screen: told once each, over the socket
// (queued while it is down). There is no REST endpoint for either.
export function markDelivered(id) {
  if (sentDelivered.has(id)) return;
  sentDelivered.add(id);
  live.send({ type: "delivered", assignment: id });
}

export function markSeen(row) {
  if (row.seen_at || sentSeen.has(row.id)) return;
  sentSeen.add(row.id);
  sentDelivered.add(row.id); // seen implies delivered, on the server too
  live.send({ type: "seen", assignment: row.id });
}
