// The volunteer's phone page (phone/templates/phone/phone.html): the entry, which wires
// the parts together.
//
// The page starts from the state the server embedded, listens on /ws/volunteer/ through
// the shared LiveSocket, and refetches its state from /phone/state/ whenever an event
// says something changed (event frames are small, docs/websockets.md). Answers go over
// the socket when it is up, else over the REST API; either way the server's refusal
// reason is shown. No framework: a few DOM helpers and one render per change.
//
//   state.js       what the page knows (pure)      format.js   numbers, times, places (pure)
//   page.js        the embedded words and URLs     socket.js   the socket, requests
//   cards.js       offer, task, shift, vehicle     actions.js  answering, reporting, duty,
//                                                              a vehicle out of service
//   location.js    sharing the position            connection.js, notice.js  what it says
//   alerts.js      the tone, notifications,        queue.js    answers waiting to be sent (pure)
//                  the screen kept on              outbox.js   …kept, sent, shown
//   sketch.js      where an offer lies from here

import { request, sendJSON } from "../tongxin/api.js";
import { embeddedJSON, h, keyed } from "../tongxin/dom.js";
import { renderDuty, setDuty, toggleDuty } from "./actions.js";
import { setupAlerts, updateAlerts } from "./alerts.js";
import { offerCard, shiftItem, taskCard, vehicleItem } from "./cards.js";
import { httpWorked, onState } from "./connection.js";
import { countdown, place } from "./format.js";
import { myPosition, renderLocation, setupLocation, watchLocation } from "./location.js";
import { renderMessages, takeMessages } from "./messages.js";
import { notice, setupNotice } from "./notice.js";
import { pending, queued, renderOutbox, sendWaiting } from "./outbox.js";
import { pushUnsubscribe } from "./push.js";
import { $, BASE_TITLE, LANG, T, URLS, fmt, root } from "./page.js";
import { renderStandDowns } from "./standdown.js";
import { drop, markDelivered, markSeen, openSocket, reconnectNow, socketState } from "./socket.js";
import {
  app, arrange, isNewer, mergeSnapshot, reached, remaining, serverNow, serviceChange, setState,
  takeState, tick, undelivered,
} from "./state.js";

setState(embeddedJSON("phone-state")); // {now, volunteer, assignments, vehicles}
app.render = render;
app.refreshSoon = refreshSoon;

// --- the state, from the server ----------------------------------------------------------

let refreshTimer = null;
let refreshing = false;
let refreshAgain = false;

function refreshSoon(delayMs = 150) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, delayMs);
}

async function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  try {
    const asked = tick();
    const sent = Date.now();
    const fresh = await request(URLS.state, { cache: "no-store" });
    httpWorked(true);
    if (!takeState(fresh, asked, sent)) {
      // Older than what the page shows (asked for before it): drop it, ask again.
      refreshAgain = true;
      return;
    }
    deliveredAll();
    render();
  } catch (error) {
    if (error.status === 401) {
      location.reload(); // signed out elsewhere: the sign-in page
      return;
    }
    // offline (the socket's reconnect brings us back here), or the server failed
    httpWorked(false);
  } finally {
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      refreshSoon(0);
    }
  }
}

function deliveredAll() {
  for (const row of undelivered(app.state.assignments)) markDelivered(row.id);
}

// --- the socket's frames ---------------------------------------------------------------

const QUIET = new Set(["offer.delivered", "offer.seen"]);

// A snapshot is as new as its hello's last_seq (read before it), asked for when the
// socket began to connect.
let socketAsked = 0;
let helloSeq = null;

function onSocketState(name) {
  if (name === "connecting") socketAsked = tick();
  onState(name);
  if (name === "live") sendWaiting(); // what was tapped offline goes now
}

function onFrame(frame) {
  if (frame.type === "hello") helloSeq = frame.last_seq;
  // Messages to those on duty (messages.js): not log events, frames of their own.
  if (frame.type === "broadcasts") takeMessages(frame.broadcasts);
  if (frame.type === "broadcast" && takeMessages([frame.broadcast])) navigator.vibrate?.([200, 100, 200]);
}

function onSnapshot(frame) {
  if (!isNewer(app.order, { seq: helloSeq, asked: socketAsked })) {
    refreshSoon(0); // older than what the page shows
    return;
  }
  reached(helloSeq);
  const { state } = app;
  state.volunteer.on_duty = frame.volunteer.on_duty;
  state.volunteer.last_located_at = frame.volunteer.last_located_at;
  const { assignments, complete } = mergeSnapshot(state.assignments, frame.assignments);
  state.assignments = assignments;
  deliveredAll();
  render();
  if (!complete) refreshSoon(0);
}

function onEvent(event) {
  if (event.kind === "volunteer.on_duty" || event.kind === "volunteer.off_duty") {
    if (event.volunteer === app.state.volunteer.id) setDuty(event.kind === "volunteer.on_duty");
    return; // setDuty marks the change: a state asked for before it is asked for again
  }
  if (event.kind === "offer.made") {
    markDelivered(event.assignment);
    navigator.vibrate?.([400, 150, 400]);
  }
  if (event.kind === "assignment.shift_clash") {
    // A shift they booked comes due while they are still on other work: finish it in
    // time, or give the shift up (it goes to someone else once it begins).
    notice(T.shift_clash, "warn", { sticky: true });
    navigator.vibrate?.([200, 100, 200]);
  }
  if (event.kind === "assignment.rerouted") {
    // The incident of their task moved: told until they close it, and the card (after
    // the refresh below) shows the new place and its map links.
    notice(T.place_changed.replace("%(address)s", event.data.address || T.place_changed_map),
           "warn", { sticky: true });
    navigator.vibrate?.([200, 100, 200]);
  }
  if (QUIET.has(event.kind)) return;
  refreshSoon();
}

openSocket("/ws/volunteer/", { onSnapshot, onEvent, onFrame, onState: onSocketState });

window.addEventListener("offline", () => {
  onState("offline");
  drop(); // do not wait for the dead socket to time out
});
window.addEventListener("online", () => {
  reconnectNow();
  sendWaiting(); // over HTTP at once, without waiting for the socket
});

// Some networks (proxies, captive portals) let HTTP through but not websockets: while
// the socket is down, ask for the state every half minute so no offer waits for it.
setInterval(() => {
  if (socketState() !== "live" && navigator.onLine !== false) refreshSoon(0);
}, 30000);

// --- rendering -------------------------------------------------------------------------

function render() {
  root.dataset.seq = app.order.seq ?? ""; // the log position the page shows (tests wait on it)
  renderDuty();
  renderLocation();
  renderOutbox();
  const { offers, current, upcoming } = arrange(app.state.assignments);
  const here = myPosition();
  const where = here ? [here.latitude.toFixed(3), here.longitude.toFixed(3)] : null;
  const uiKey = (row) => JSON.stringify([row, app.busy.has(row.id), app.finishing === row.id, app.givingUp === row.id,
    remaining(row) <= 0, pending(row.id), where, LANG]);
  renderStandDowns();
  renderMessages();
  keyed($("offers"), offers, offerCard, uiKey);
  keyed($("tasks"), current, taskCard, uiKey);
  keyed($("shift-list"), upcoming, shiftItem, uiKey);
  $("shifts").hidden = upcoming.length === 0;
  // The vehicles they crew: a vehicle.status event (theirs reach this socket) refreshes
  // the state, as every other event does.
  const vehicles = app.state.vehicles ?? [];
  const stopping = vehicles.find((vehicle) => vehicle.id === app.stopping);
  if (app.stopping !== null && !(stopping && serviceChange(stopping) === "out")) app.stopping = null;
  const vehicleKey = (vehicle) => JSON.stringify([vehicle, app.vehiclesBusy.has(vehicle.id),
    app.stopping === vehicle.id, LANG]);
  keyed($("vehicle-list"), vehicles, vehicleItem, vehicleKey);
  $("vehicles").hidden = vehicles.length === 0;
  const idle = $("idle");
  idle.hidden = offers.length + current.length > 0;
  idle.textContent = app.state.volunteer.on_duty ? T.idle_on : T.idle_off;
  idle.classList.toggle("on", app.state.volunteer.on_duty);
  document.title = offers.length ? `(${offers.length}) ${T.offer_heading} · ${BASE_TITLE}` : BASE_TITLE;
  const answered = new Set(queued().filter((entry) => entry.action === "accept" || entry.action === "decline")
    .map((entry) => entry.assignment));
  updateAlerts(offers, answered, app.state.volunteer.on_duty);
  if (document.visibilityState === "visible") {
    for (const row of offers) if (remaining(row) > 0) markSeen(row);
  }
}

// Countdowns tick between renders; an offer running out re-renders and, a little later,
// asks the server what became of it.
let expiredSeen = new Set();
setInterval(() => {
  for (const element of document.querySelectorAll("[data-expires]")) {
    const left = Date.parse(element.dataset.expires) - serverNow();
    if (element.dataset.total) {
      const share = Math.max(0, Math.min(100, (left / Number(element.dataset.total)) * 100));
      element.firstChild.style.width = `${share}%`;
    } else {
      element.textContent = countdown(left);
    }
  }
  const expired = app.state.assignments.filter((row) => row.status === "offered" && remaining(row) <= 0);
  if (expired.some((row) => !expiredSeen.has(row.id))) {
    expiredSeen = new Set(expired.map((row) => row.id));
    render();
    refreshSoon(6000);
  }
}, 1000);
// A shift whose start comes near moves from "upcoming" to the current task.
setInterval(render, 60000);

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") render();
});

$("duty").addEventListener("click", toggleDuty);
setupNotice();
setupLocation();
setupAlerts({
  T,
  button: $("alerts-enable"),
  status: $("alerts-status"),
  wake: $("wake"),
  now: serverNow,
  icon: $("alerts-enable").dataset.icon,
  push: { key: $("alerts-enable").dataset.pushKey, url: URLS.push_subscriptions, send: sendJSON },
  // The notification: what and where, as the card's top lines say it.
  describe: (row) => ({
    title: `${T.offer_heading}: ${row.incident_title}`,
    body: [row.need_label, place(row), fmt.km(row.distance_m)].filter(Boolean).join(" · "),
  }),
});

// --- installing, and signing out -------------------------------------------------------

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register(URLS.service_worker).catch(() => {});
}

let installPrompt = null;
window.addEventListener("beforeinstallprompt", (event) => {
  event.preventDefault();
  installPrompt = event;
  $("install").hidden = false;
});
$("install").addEventListener("click", async () => {
  $("install").hidden = true;
  await installPrompt?.prompt();
  installPrompt = null;
});

// The kept copy of the page and the push subscription are this volunteer's: they go
// when they sign out, and they land on the phone's sign-in page.
document.querySelector("form.signout")?.addEventListener("submit", async (event) => {
  const form = event.target;
  form.append(h("input", { type: "hidden", name: "next", value: URLS.login }));
  event.preventDefault();
  await pushUnsubscribe({ url: URLS.push_subscriptions, send: sendJSON });
  const names = "caches" in window ? await caches.keys() : [];
  await Promise.all(names.filter((n) => n.startsWith("tongxin-phone-")).map((n) => caches.delete(n)));
  form.submit();
});

deliveredAll();
render();
watchLocation();
sendWaiting(); // kept from before a reload
