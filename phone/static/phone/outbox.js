// The page's answers and reports, through the queue (queue.js): every accept, decline,
// en route, on scene and done is kept in localStorage before it is sent, sent at once
// when it can be, and otherwise shown under "Waiting to send" (with a way to cancel)
// and sent by itself, in order, when the phone is back online or the socket is live.

import { request } from "../tongxin/api.js";
import { h, keyed } from "../tongxin/dom.js";
import { notice } from "./notice.js";
import { $, LANG, T, say, url } from "./page.js";
import { enqueue, flush, item, load, pendingFor, save, without } from "./queue.js";
import { act } from "./socket.js";
import { app } from "./state.js";

const storageKey = () => `tongxin.phone.outbox.${app.state.volunteer.id}`;
const read = () => load(localStorage, storageKey());
const write = (queue) => {
  save(localStorage, storageKey(), queue);
  app.render();
};

let inFlight = null; // the key of the item being tried
let flushing = null;
let again = false;
// What to do when an item the volunteer just tapped is sent, or refused, on its first
// try (the card's own words: "Accepted. The coordinators can see…").
const firstTry = new Map(); // key -> {sent(reply), refused(reason)}

export const queued = () => read();
export const pending = (id) => pendingFor(read(), id);

function frameOf(entry) {
  if (entry.action === "accept") {
    return [{ type: "accept", assignment: entry.assignment }, "POST", url("accept", entry.assignment), {}];
  }
  if (entry.action === "decline") {
    const body = { reason: entry.reason ?? "" };
    return [{ type: "decline", assignment: entry.assignment, ...body }, "POST", url("decline", entry.assignment), body];
  }
  const body = {
    status: entry.action,
    ...(entry.people_moved === null || entry.people_moved === undefined ? {} : { people_moved: entry.people_moved }),
  };
  return [{ type: "status", assignment: entry.assignment, ...body }, "POST", url("status", entry.assignment), body];
}

async function send(entry) {
  inFlight = entry.key;
  app.render();
  try {
    const reply = await act(...frameOf(entry));
    // Signed out meanwhile (401): keep it, to send once they are back in.
    if (reply.status === 401) return { ok: false, reason: null };
    return reply;
  } finally {
    inFlight = null;
  }
}

async function statusOf(id) {
  try {
    const found = await request(url("assignment", id), { cache: "no-store" });
    return found.status;
  } catch (error) {
    if (error.status === 404 || error.status === 403) return "gone";
    return null;
  }
}

const actionWords = (entry) => (entry.action === "completed" ? T.done : T[entry.action]);

function words(template, entry, reason = "") {
  return template
    .replace("%(action)s", actionWords(entry))
    .replace("%(title)s", entry.title)
    .replace("%(reason)s", reason || "");
}

function sent(entry, reply) {
  const own = firstTry.get(entry.key);
  firstTry.delete(entry.key);
  if (own) own.sent(reply);
  else notice(words(T.sent_notice, entry), "ok");
  app.refreshSoon(0);
}

function refused(entry, reason, dropped) {
  const own = firstTry.get(entry.key);
  firstTry.delete(entry.key);
  if (own) own.refused(reason);
  else notice(words(T.refused_notice, entry, say(reason)), "error", { sticky: true });
  for (const other of dropped) firstTry.delete(other.key);
  app.refreshSoon(0);
}

async function run() {
  const outcome = await flush({ read, write, send, statusOf, sent, refused });
  if (outcome === "waiting") {
    // What was just tapped waits too: its card is free again, and it is told about
    // as a queued one when it goes.
    const left = new Set(read().map((entry) => entry.key));
    for (const [key, own] of [...firstTry]) {
      if (!left.has(key)) continue;
      firstTry.delete(key);
      own.waiting?.();
    }
  }
  return outcome;
}

// Send what waits, once at a time (and once across the volunteer's tabs, where the
// browser can say so).
export function sendWaiting() {
  if (flushing) {
    again = true;
    return flushing;
  }
  const locked = navigator.locks
    ? () => navigator.locks.request("tongxin-phone-outbox", run)
    : run;
  flushing = locked()
    .catch(() => "waiting")
    .finally(() => {
      flushing = null;
      app.render();
      if (again) {
        again = false;
        sendWaiting();
      }
    });
  return flushing;
}

// Queue `action` on `row` and send it now if it can go; `own` says what the card says
// when this very tap is answered on its first try.
export function submit(action, row, extra, own) {
  const entry = item(action, row, extra);
  const before = read();
  const after = enqueue(before, entry);
  if (after === before) return; // tapped twice: queued once
  if (own) firstTry.set(entry.key, own);
  write(after);
  sendWaiting();
}

export function cancel(key) {
  write(without(read(), key).queue);
  firstTry.delete(key);
}

// "Waiting to send": every item not on its first try right now.
export function renderOutbox() {
  const shown = read().filter((entry) => entry.key !== inFlight || entry.tries > 0);
  const box = $("outbox");
  box.hidden = shown.length === 0;
  document.body.dataset.outbox = String(shown.length); // tests wait on it
  keyed($("outbox-list"), shown, waitingItem, (entry) => JSON.stringify([entry.key, entry.title, LANG]));
}

function waitingItem(entry) {
  return h(
    "li",
    { class: "waiting-item", "data-assignment": entry.assignment, "data-action": entry.action },
    h("span", { class: "waiting-text" }, words(T.waiting_item, entry)),
    h("button", { type: "button", class: "cancel", onclick: () => cancel(entry.key) }, T.cancel),
  );
}
