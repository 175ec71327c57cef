// The volunteer's phone page (volunteers/templates/volunteers/phone.html).
//
// The page starts from the state the server embedded, listens on /ws/volunteer/ through
// the shared LiveSocket, and refetches its state from /phone/state/ whenever an event
// says something changed (event frames are small, docs/websockets.md). Answers go over
// the socket when it is up, else over the REST API; either way the server's refusal
// reason is shown. No framework: a few DOM helpers and one render per change.
import { LiveSocket } from "../tongxin/live.js";

const $ = (id) => document.getElementById(id);
const embedded = (id) => JSON.parse($(id).textContent);

const T = embedded("phone-strings");
const URLS = embedded("phone-urls");
const root = $("phone");
const LANG = document.documentElement.lang || "zh-hans";
const TIME_ZONE = root.dataset.timeZone || undefined;
const BASE_TITLE = document.title;

let state = embedded("phone-state"); // {now, volunteer, assignments}
let skewMs = Date.parse(state.now) - Date.now(); // server clock minus ours
const serverNow = () => Date.now() + skewMs;

const ACTIVE = new Set(["accepted", "en_route", "on_scene"]);
const SOON_MS = 60 * 60 * 1000; // a shift starting within the hour is the current task
const busy = new Set(); // assignments with an answer on its way
const sentDelivered = new Set();
const sentSeen = new Set();
let finishing = null; // the assignment whose "done" form is open
let peopleMovedTyped = ""; // and what was typed in it, kept when the card is redrawn
let dutyBusy = false;

// --- formatting, in the page's language ----------------------------------------------

function numberFormat(options) {
  try {
    return new Intl.NumberFormat(LANG, options);
  } catch {
    return null;
  }
}

function dateFormat(options) {
  try {
    return new Intl.DateTimeFormat(LANG, { timeZone: TIME_ZONE, ...options });
  } catch {
    return new Intl.DateTimeFormat(undefined, options);
  }
}

const KM = numberFormat({ style: "unit", unit: "kilometer", maximumFractionDigits: 1 });
const MINUTES = numberFormat({ style: "unit", unit: "minute", unitDisplay: "short" });
const CLOCK = dateFormat({ hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const DAY = dateFormat({ month: "short", day: "numeric", weekday: "short" });

function km(metres) {
  if (metres === null || metres === undefined) return "–";
  const value = metres / 1000;
  return KM ? KM.format(value) : `${value.toFixed(1)} km`;
}

function minutes(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const value = Math.max(1, Math.round(seconds / 60));
  return `≈ ${MINUTES ? MINUTES.format(value) : `${value} min`}`;
}

function clock(iso) {
  return iso ? CLOCK.format(new Date(iso)) : "";
}

function shiftText(row) {
  if (!row.shift_start) return "";
  const start = new Date(row.shift_start);
  return `${DAY.format(start)} ${CLOCK.format(start)}–${clock(row.shift_end)}`;
}

function countdown(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = String(total % 60).padStart(2, "0");
  return `${m}:${s}`;
}

// The address, then the township unless the address names it already: an address typed
// as the township's name ("龙湖镇") would otherwise read "龙湖镇 · 龙湖镇".
function place(row) {
  const address = (row.incident_address || "").trim();
  const township = row.township && !address.includes(row.township) ? row.township : "";
  return [address, township].filter(Boolean).join(" · ") || coordinates(row);
}

function coordinates(row) {
  if (row.latitude === undefined || row.latitude === null) return "";
  return `${row.latitude.toFixed(5)}, ${row.longitude.toFixed(5)}`;
}

// A refusal's reason comes in the page's language: the REST API and the socket pick it
// as the page does (the language switch's cookie, else the browser's languages).
function say(reason) {
  return reason || T.no_answer;
}

// --- DOM helpers -----------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false || child === "") continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

// Rebuild only the cards whose content changed, and leave the list alone when none did:
// a form being typed into survives an unrelated event.
function keyed(container, rows, build, key) {
  const old = new Map([...container.children].map((child) => [child.dataset.key, child]));
  const wanted = rows.map((row) => {
    const k = key(row);
    if (old.has(k)) return old.get(k);
    const element = build(row);
    element.dataset.key = k;
    return element;
  });
  const same = wanted.length === container.children.length &&
    wanted.every((element, index) => container.children[index] === element);
  if (!same) container.replaceChildren(...wanted);
}

function fact(label, value) {
  if (!value) return null;
  return h("div", { class: "fact" }, h("dt", {}, label), h("dd", {}, value));
}

function chip(text, kind = "") {
  return text ? h("span", { class: `chip ${kind}` }, text) : null;
}

// --- talking to the server -------------------------------------------------------------

class PhoneSocket extends LiveSocket {
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

const pending = new Map(); // ref -> resolve
let refs = 0;
let lastHeard = Date.now();

function socketRequest(frame, timeoutMs = 10000) {
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

function csrfToken() {
  const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : root.dataset.csrf;
}

async function restRequest(method, url, body = {}) {
  try {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify(body),
    });
    if (response.ok) return { ok: true };
    let reason = null;
    try {
      const answer = await response.json();
      reason = answer.detail ?? Object.values(answer).flat().join(" ");
      if (Array.isArray(reason)) reason = reason.join(" ");
    } catch {
      // not JSON: say there was no usable answer
    }
    return { ok: false, reason };
  } catch {
    return { ok: false, reason: null };
  }
}

// A request over the socket when it is up (no new connection on a slow network), over
// REST otherwise. Never queued for later: an answer sent minutes late is not wanted.
function act(frame, method, url, body) {
  if (live.current === "live") return socketRequest(frame);
  return restRequest(method, url, body);
}

const url = (name, id) => URLS[name].replace("{id}", id);

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
    const sent = Date.now();
    const response = await fetch(URLS.state, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
    if (response.status === 401) {
      location.reload(); // signed out elsewhere: the sign-in page
      return;
    }
    httpWorks = response.ok;
    showBanner();
    if (response.ok) {
      const fresh = await response.json();
      skewMs = Date.parse(fresh.now) - (sent + Date.now()) / 2;
      applyState(fresh);
    }
  } catch {
    // offline: the socket's reconnect brings us back here
    httpWorks = false;
    showBanner();
  } finally {
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      refreshSoon(0);
    }
  }
}

function applyState(fresh) {
  state = fresh;
  for (const row of state.assignments) {
    if (row.status === "offered" && !row.delivered_at) markDelivered(row.id);
  }
  render();
}

function markDelivered(id) {
  if (sentDelivered.has(id)) return;
  sentDelivered.add(id);
  live.send({ type: "delivered", assignment: id });
}

function markSeen(row) {
  if (row.seen_at || sentSeen.has(row.id)) return;
  sentSeen.add(row.id);
  sentDelivered.add(row.id); // seen implies delivered, on the server too
  live.send({ type: "seen", assignment: row.id });
}

// --- the socket's frames ---------------------------------------------------------------

const QUIET = new Set(["offer.delivered", "offer.seen"]);

function onSnapshot(frame) {
  const known = new Map(state.assignments.map((row) => [row.id, row]));
  let complete = true;
  state.volunteer.on_duty = frame.volunteer.on_duty;
  state.volunteer.last_located_at = frame.volunteer.last_located_at;
  state.assignments = frame.assignments.map((fresh) => {
    const row = known.get(fresh.id);
    if (!row) complete = false;
    // The snapshot's rows are the state's without the page's words (labels in the
    // page's language): a new row has them with the refresh below.
    return { need_label: fresh.need_text, ...row, ...fresh };
  });
  for (const row of state.assignments) {
    if (row.status === "offered" && !row.delivered_at) markDelivered(row.id);
  }
  render();
  if (!complete) refreshSoon(0);
}

function onEvent(event) {
  if (event.kind === "volunteer.on_duty" || event.kind === "volunteer.off_duty") {
    if (event.volunteer === state.volunteer.id) setDuty(event.kind === "volunteer.on_duty");
    return;
  }
  if (event.kind === "offer.made") {
    markDelivered(event.assignment);
    navigator.vibrate?.([400, 150, 400]);
  }
  if (QUIET.has(event.kind)) return;
  refreshSoon();
}

function onFrame(frame) {
  lastHeard = Date.now();
  if ((frame.type === "ack" || frame.type === "error") && pending.has(frame.ref)) {
    pending.get(frame.ref)({ ok: frame.type === "ack", reason: frame.reason, frame });
  }
}

let everLive = false;
let wasDown = false;
let bannerTimer = null;
let httpWorks = null; // did the last state request get through (while the socket is down)?

function showBanner() {
  const banner = $("banner");
  if (!wasDown) return;
  const polling = Boolean(httpWorks) && navigator.onLine !== false;
  banner.textContent = polling ? T.polling_banner : T.offline_banner;
  banner.classList.toggle("polling", polling);
  banner.hidden = false;
}

function onState(name) {
  const shown = navigator.onLine === false ? "offline" : name;
  const pill = $("connection");
  pill.textContent = T[shown];
  pill.className = `connection ${shown}`;
  root.dataset.connection = shown;
  clearTimeout(bannerTimer);
  if (shown === "live") {
    lastHeard = Date.now();
    $("banner").hidden = true;
    if (wasDown) {
      wasDown = false;
      notice(T.back_online);
      refreshSoon(0);
      if (lastPosition) sendPosition(lastPosition, true);
    }
    everLive = true;
    return;
  }
  // Refused for being signed out (the socket then stops retrying)? The state's 401
  // says so, and the reload shows the sign-in page. Otherwise this fails quietly.
  if (name === "offline" && navigator.onLine !== false) refreshSoon(1000);
  // A short blink (the first connect, a quick reconnect) is not worth a banner.
  const wait = shown === "offline" ? 0 : everLive ? 1500 : 4000;
  bannerTimer = setTimeout(() => {
    if (live.current === "live" && navigator.onLine !== false) return;
    wasDown = true;
    showBanner();
  }, wait);
}

const live = new PhoneSocket("/ws/volunteer/", { onSnapshot, onEvent, onFrame, onState });

window.addEventListener("offline", () => {
  onState("offline");
  live.drop(); // do not wait for the dead socket to time out
});
window.addEventListener("online", () => live.reconnectNow());

// Some networks (proxies, captive portals) let HTTP through but not websockets: while
// the socket is down, ask for the state every half minute so no offer waits for it.
setInterval(() => {
  if (live.current !== "live" && navigator.onLine !== false) refreshSoon(0);
}, 30000);

// A socket can die silently on a mobile network: ask now and then, drop it when the
// server has said nothing for too long (the LiveSocket then reconnects and catches up).
setInterval(() => {
  if (live.current !== "live") return;
  const quiet = Date.now() - lastHeard;
  if (quiet > 45000) live.drop();
  else if (quiet > 20000) live.send({ type: "ping" });
}, 5000);

// --- notices ---------------------------------------------------------------------------

let noticeTimer = null;

function notice(text, kind = "") {
  const box = $("notice");
  box.querySelector(".notice-text").textContent = text;
  box.className = `notice ${kind}`;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (box.hidden = true), kind === "error" ? 20000 : 8000);
}

function clearNotice() {
  clearTimeout(noticeTimer);
  $("notice").hidden = true;
}

$("notice").querySelector(".notice-close").addEventListener("click", clearNotice);

// --- duty and location -----------------------------------------------------------------

async function toggleDuty() {
  if (dutyBusy) return;
  const wanted = !state.volunteer.on_duty;
  dutyBusy = true;
  renderDuty();
  const reply = await act({ type: "duty", on_duty: wanted }, "PATCH", URLS.volunteer, {
    on_duty: wanted,
  });
  dutyBusy = false;
  if (reply.ok) setDuty(wanted);
  else {
    notice(say(reply.reason), "error");
    renderDuty();
  }
}

function setDuty(onDuty) {
  state.volunteer.on_duty = onDuty;
  render();
  watchLocation();
}

const SHARE_KEY = "tongxin.phone.shareLocation";
const canLocate = "geolocation" in navigator && window.isSecureContext !== false;
let watchId = null;
let locationProblem = canLocate ? null : T.location_unavailable;
let finding = false;
let lastPosition = null;
let lastSent = null;

function sharing() {
  return localStorage.getItem(SHARE_KEY) !== "0";
}

function watchLocation() {
  const wanted = canLocate && state.volunteer.on_duty && sharing();
  if (wanted && watchId === null) {
    finding = true;
    watchId = navigator.geolocation.watchPosition(onPosition, onPositionError, {
      enableHighAccuracy: true,
      maximumAge: 30000,
      timeout: 60000,
    });
  } else if (!wanted && watchId !== null) {
    navigator.geolocation.clearWatch(watchId);
    watchId = null;
    finding = false;
  }
  renderLocation();
}

function metresBetween(a, b) {
  const rad = Math.PI / 180;
  const x = (b.longitude - a.longitude) * rad * Math.cos(((a.latitude + b.latitude) / 2) * rad);
  const y = (b.latitude - a.latitude) * rad;
  return Math.hypot(x, y) * 6371000;
}

function onPosition(position) {
  finding = false;
  locationProblem = null;
  lastPosition = { latitude: position.coords.latitude, longitude: position.coords.longitude };
  sendPosition(lastPosition, false);
}

// At most once a minute, or sooner after moving 100 m: enough for matching, kind to a
// prepaid data plan and to the server.
async function sendPosition(where, force) {
  const now = Date.now();
  if (!force && lastSent) {
    const age = now - lastSent.at;
    const moved = metresBetween(lastSent, where);
    if (age < 60000 && !(moved > 100 && age > 10000)) return renderLocation();
  }
  lastSent = { at: now, ...where };
  const reply = await act({ type: "location", ...where }, "PATCH", URLS.volunteer, where);
  if (reply.ok) state.volunteer.last_located_at = new Date(serverNow()).toISOString();
  else lastSent = null; // the next fix tries again
  renderLocation();
}

function onPositionError(error) {
  finding = false;
  if (error.code === error.PERMISSION_DENIED) {
    locationProblem = T.location_denied;
    navigator.geolocation.clearWatch(watchId);
    watchId = null;
  }
  renderLocation();
}

$("share-location").addEventListener("change", (event) => {
  localStorage.setItem(SHARE_KEY, event.target.checked ? "1" : "0");
  if (event.target.checked) locationProblem = canLocate ? null : T.location_unavailable;
  watchLocation();
});

// --- answering and reporting -----------------------------------------------------------

async function accept(row) {
  busy.add(row.id);
  render();
  const reply = await act({ type: "accept", assignment: row.id }, "POST", url("accept", row.id));
  busy.delete(row.id);
  if (reply.ok) {
    row.status = "accepted";
    row.answered_at = new Date(serverNow()).toISOString();
    notice(T.accepted_notice, "ok");
  } else {
    notice(say(reply.reason), "error");
  }
  render();
  refreshSoon(0);
}

async function decline(row) {
  busy.add(row.id);
  render();
  const reply = await act({ type: "decline", assignment: row.id }, "POST", url("decline", row.id));
  busy.delete(row.id);
  if (reply.ok) {
    row.status = "declined";
    notice(T.declined_notice);
  } else {
    notice(say(reply.reason), "error");
  }
  render();
  refreshSoon(0);
}

async function progress(row, status, peopleMoved = null) {
  busy.add(row.id);
  render();
  const body = { status, ...(peopleMoved === null ? {} : { people_moved: peopleMoved }) };
  const reply = await act(
    { type: "status", assignment: row.id, ...body },
    "POST",
    url("status", row.id),
    body,
  );
  busy.delete(row.id);
  if (reply.ok) {
    row.status = status;
    row[`${status}_at`] = new Date(serverNow()).toISOString();
    if (status === "completed") {
      finishing = null;
      notice(T.done_notice, "ok");
    } else {
      clearNotice(); // "accepted: they see you are coming" is old news once on the way
    }
  } else {
    notice(say(reply.reason), "error");
  }
  render();
  refreshSoon(0);
}

// --- rendering -------------------------------------------------------------------------

function remaining(row) {
  return row.expires_at ? Date.parse(row.expires_at) - serverNow() : Infinity;
}

function isUpcoming(row) {
  return (
    row.status === "accepted" &&
    row.shift_start &&
    Date.parse(row.shift_start) - serverNow() > SOON_MS
  );
}

function facts(row, { withShift = true } = {}) {
  return h(
    "dl",
    { class: "facts" },
    fact(T.what, row.need_label),
    fact(T.where, place(row)),
    fact(T.vehicle, row.vehicle_label),
    withShift && fact(T.shift, shiftText(row)),
  );
}

function chips(row) {
  const urgent = row.incident_priority >= 3;
  return h(
    "p",
    { class: "chips" },
    chip(row.kind_label),
    chip(row.priority_label && T.priority.replace("%(level)s", row.priority_label),
      urgent ? "urgent" : ""),
  );
}

function offerCard(row) {
  const left = remaining(row);
  const closed = left <= 0;
  const sending = busy.has(row.id);
  const total = row.expires_at && row.offered_at
    ? Date.parse(row.expires_at) - Date.parse(row.offered_at) : 0;
  return h(
    "article",
    { class: `card offer${closed ? " expired" : ""}`, "data-id": row.id },
    h(
      "header",
      { class: "offer-head" },
      h("h2", {}, T.offer_heading),
      row.expires_at &&
        h(
          "p",
          { class: "countdown" },
          h("small", {}, closed ? T.expired : T.answer_within),
          h("b", { "data-expires": row.expires_at }, closed ? "0:00" : countdown(left)),
        ),
    ),
    total > 0 &&
      h("div", { class: "time-left", "data-expires": row.expires_at, "data-total": total },
        h("span", { style: `width:${Math.max(0, Math.min(100, (left / total) * 100))}%` })),
    h("p", { class: "title" }, row.incident_title),
    chips(row),
    facts(row),
    h(
      "div",
      { class: "trip" },
      h("div", {}, h("small", {}, T.distance), h("b", {}, km(row.distance_m))),
      h("div", {}, h("small", {}, T.eta), h("b", {}, minutes(row.eta_seconds))),
    ),
    h(
      "div",
      { class: "answer" },
      h(
        "button",
        { type: "button", class: "accept", disabled: closed || sending, onclick: () => accept(row) },
        sending ? T.sending : T.accept,
      ),
      h(
        "button",
        { type: "button", class: "decline", disabled: closed || sending, onclick: () => decline(row) },
        T.decline,
      ),
    ),
  );
}

function mapLinks(row) {
  if (row.latitude === undefined || row.latitude === null) return null;
  const { latitude: lat, longitude: lon } = row;
  const name = encodeURIComponent(row.incident_title || "");
  return h(
    "div",
    { class: "map" },
    h("a", { class: "button", href: `geo:${lat},${lon}?q=${lat},${lon}(${name})` }, T.open_map),
    h(
      "a",
      {
        class: "button",
        href: `https://uri.amap.com/marker?position=${lon},${lat}&name=${name}&coordinate=wgs84&callnative=1`,
        target: "_blank",
        rel: "noopener",
      },
      T.amap,
    ),
    h("small", { class: "muted coordinates" }, coordinates(row)),
  );
}

const STEPS = ["en_route", "on_scene"];

function stepButtons(row) {
  const sending = busy.has(row.id);
  const reached = (step) => Boolean(row[`${step}_at`]) ||
    STEPS.indexOf(row.status) >= STEPS.indexOf(step);
  const next = STEPS.find((step) => !reached(step)) || "completed";
  const buttons = STEPS.map((step) => {
    const done = reached(step);
    return h(
      "button",
      {
        type: "button",
        class: `step${done ? " reached" : ""}${step === next ? " next" : ""}`,
        "data-step": step,
        disabled: done || sending,
        onclick: () => progress(row, step),
      },
      done ? `✓ ${T[step]} ${clock(row[`${step}_at`])}` : T[step],
    );
  });
  buttons.push(
    h(
      "button",
      {
        type: "button",
        class: `step done${next === "completed" ? " next" : ""}`,
        "data-step": "completed",
        disabled: sending,
        onclick: () => {
          finishing = row.id;
          peopleMovedTyped = "";
          render();
          document.querySelector(".finish input, .finish .confirm")?.focus();
        },
      },
      T.done,
    ),
  );
  return h("div", { class: "steps" }, buttons);
}

function finishForm(row) {
  const sending = busy.has(row.id);
  const input = row.asks_people_moved
    ? h("input", {
        type: "number", name: "people_moved", inputmode: "numeric", min: "0",
        max: "1000000", required: true, autocomplete: "off", value: peopleMovedTyped,
        oninput: (event) => (peopleMovedTyped = event.target.value),
      })
    : null;
  return h(
    "form",
    {
      class: "finish",
      onsubmit: (event) => {
        event.preventDefault();
        const moved = input ? Number.parseInt(input.value, 10) : null;
        if (input && !(moved >= 0)) return input.reportValidity();
        progress(row, "completed", moved);
      },
    },
    h("label", {}, row.asks_people_moved ? T.people_moved_question : T.finish_question, input),
    h(
      "div",
      { class: "answer" },
      h("button", { type: "submit", class: "confirm", disabled: sending }, T.confirm_done),
      h("button", { type: "button", class: "decline", onclick: () => {
        finishing = null;
        render();
      } }, T.back),
    ),
  );
}

function taskCard(row) {
  return h(
    "article",
    { class: "card task", "data-id": row.id },
    h(
      "header",
      { class: "offer-head" },
      h("h2", {}, T.task_heading),
      chip(T[row.status], "state"),
    ),
    h("p", { class: "title" }, row.incident_title),
    chips(row),
    facts(row),
    row.description && h("p", { class: "description" }, row.description),
    mapLinks(row),
    finishing === row.id ? finishForm(row) : stepButtons(row),
  );
}

function shiftItem(row) {
  return h(
    "li",
    { class: "card shift", "data-id": row.id },
    h("p", { class: "when" }, shiftText(row)),
    h("p", { class: "title" }, row.incident_title),
    facts(row, { withShift: false }),
    mapLinks(row),
  );
}

function renderDuty() {
  const onDuty = state.volunteer.on_duty;
  const button = $("duty");
  button.classList.toggle("on", onDuty);
  button.setAttribute("aria-checked", String(onDuty));
  button.setAttribute("aria-busy", String(dutyBusy));
  button.disabled = dutyBusy;
  button.querySelector(".duty-state").textContent = onDuty ? T.on_duty : T.off_duty;
  button.querySelector(".duty-hint").textContent = dutyBusy
    ? T.sending : onDuty ? T.on_duty_hint : T.off_duty_hint;
}

function renderLocation() {
  $("share-location").checked = sharing();
  const last = state.volunteer.last_located_at;
  let text = last ? T.location_last.replace("%(time)s", clock(last)) : T.location_never;
  if (finding && !lastSent) text = T.location_finding;
  if (locationProblem) text = locationProblem;
  $("location-status").textContent = text;
  $("location-status").classList.toggle("problem", Boolean(locationProblem));
}

function render() {
  renderDuty();
  renderLocation();
  const rows = state.assignments;
  const offers = rows.filter((row) => row.status === "offered");
  const active = rows.filter((row) => ACTIVE.has(row.status));
  const upcoming = active.filter(isUpcoming);
  const current = active.filter((row) => !isUpcoming(row));
  const uiKey = (row) => JSON.stringify([row, busy.has(row.id), finishing === row.id,
    remaining(row) <= 0, LANG]);
  keyed($("offers"), offers, offerCard, uiKey);
  keyed($("tasks"), current, taskCard, uiKey);
  keyed($("shift-list"), upcoming, shiftItem, uiKey);
  $("shifts").hidden = upcoming.length === 0;
  const idle = $("idle");
  idle.hidden = offers.length + current.length > 0;
  idle.textContent = state.volunteer.on_duty ? T.idle_on : T.idle_off;
  idle.classList.toggle("on", state.volunteer.on_duty);
  document.title = offers.length ? `(${offers.length}) ${T.offer_heading} · ${BASE_TITLE}` : BASE_TITLE;
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
  const expired = state.assignments.filter((row) => row.status === "offered" && remaining(row) <= 0);
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

// The kept copy of the page is this volunteer's: it goes when they sign out, and they
// land on the phone's sign-in page.
document.querySelector("form.signout")?.addEventListener("submit", async (event) => {
  const form = event.target;
  form.append(h("input", { type: "hidden", name: "next", value: URLS.login }));
  if (!("caches" in window)) return;
  event.preventDefault();
  const names = await caches.keys();
  await Promise.all(names.filter((n) => n.startsWith("tongxin-phone-")).map((n) => caches.delete(n)));
  form.submit();
});

for (const row of state.assignments) {
  if (row.status === "offered" && !row.delivered_at) markDelivered(row.id);
}
render();
watchLocation();
