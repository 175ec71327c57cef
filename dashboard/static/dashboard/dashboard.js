// The coordinators' dashboard. The socket (/ws/dashboard/) gives a snapshot of the
// open incidents, then every deployment-log event; an event only says *what* changed,
// so the incident it names is fetched again from the API (the database is the truth).
// LiveSocket resumes with ?since= after a drop, or gets a fresh snapshot.

import { fill, getJSON } from "../tongxin/api.js";
import { embeddedJSON, h } from "../tongxin/dom.js";
import { LiveSocket } from "../tongxin/live.js";
import { renderBoard } from "./board.js";
import { IncidentDetail } from "./detail.js";
import { IncidentForm } from "./form.js";
import { makeContext } from "./format.js";
import { DashboardMap } from "./map.js";

const config = embeddedJSON("dashboard-config");
const ctx = makeContext(config);
const ACTIVITY_LINES = 40;
const RESOURCES_EVERY_MS = 60000;  // positions are not log events: look again now and then

const state = {
  incidents: new Map(),  // id → incident, as the API gives it (needs with filled / offered)
  offers: new Map(),  // id → the offers last fetched for that incident
  selected: null,
};

const list = document.getElementById("incident-list");
const drawer = document.getElementById("drawer");

const map = new DashboardMap(document.getElementById("map"), ctx, {
  onIncidentClick: (id) => select(id),
  onMapClick: (latlng) => {
    if (!ctx.canEdit) return;
    if (form?.isOpen) form.setPlace({ latitude: latlng.lat, longitude: latlng.lng });
    else map.offerHere(latlng, ctx.t("open_here"), (at) => openForm(at));
  },
  onDraftMoved: (latitude, longitude) => form?.movedOnMap(latitude, longitude),
});

const form = ctx.canEdit ? new IncidentForm(ctx, map, {
  onOpened: (incident) => {
    upsert(incident);
    select(incident.id);
  },
}) : null;

const detail = new IncidentDetail(ctx, {
  onChanged: (id, closed) => {
    if (closed) upsert(closed);
    refresh(id);
  },
});

// --- the drawer: a form or a detail at a time ------------------------------------------

function showDrawer(which) {
  drawer.hidden = which === null;
  document.body.classList.toggle("with-drawer", which !== null);
  if (which !== "form" && form?.isOpen) form.close();
  if (which !== "detail") detail.hide();
  map.resize();  // the centre column changed width: before any flyTo
}

function openForm(latlng = null) {
  state.selected = null;
  showDrawer("form");
  form.open(latlng);
  renderList();
}

for (const button of drawer.querySelectorAll("[data-close]")) {
  button.addEventListener("click", () => {
    state.selected = null;
    showDrawer(null);
    renderList();
  });
}
document.getElementById("new-incident")?.addEventListener("click", () => openForm());

async function select(id) {
  state.selected = id;
  showDrawer("detail");
  const incident = state.incidents.get(id);
  if (incident) {
    detail.show(incident, state.offers.get(id));
    map.focus(incident);
  }
  renderList();
  await refresh(id);
}

// --- incidents and their fill ---------------------------------------------------------

function upsert(incident) {
  if (incident.status === "open") state.incidents.set(incident.id, incident);
  else state.incidents.delete(incident.id);
  renderList();
  if (detail.id === incident.id) detail.render(incident, state.offers.get(incident.id));
}

const refreshing = new Map();  // id → {timer, running}: one fetch at a time, events coalesced

function refreshSoon(id) {
  const entry = refreshing.get(id) ?? {};
  clearTimeout(entry.timer);
  entry.timer = setTimeout(() => refresh(id), 150);
  refreshing.set(id, entry);
}

async function refresh(id) {
  const entry = refreshing.get(id) ?? {};
  refreshing.set(id, entry);
  if (entry.running) { entry.again = true; return; }
  entry.running = true;
  try {
    const [incident, offers] = await Promise.all([
      getJSON(fill(config.urls.incident, id)),
      getJSON(fill(config.urls.offers, id)),
    ]);
    state.offers.set(id, offers.assignments);
    upsert(incident);
  } catch (error) {
    if (error.status === 404) state.incidents.delete(id);
    console.warn("refreshing incident", id, error);
  } finally {
    entry.running = false;
    if (entry.again) { entry.again = false; refreshSoon(id); }
  }
}

function sorted() {
  return [...state.incidents.values()].sort((a, b) =>
    b.priority - a.priority || new Date(b.opened_at) - new Date(a.opened_at));
}

function needLine(need) {
  const places = ctx.places(need);
  const share = places ? need.filled / places : need.filled ? 1 : 0;
  return h("li", { class: share >= 1 ? "need full" : "need", dataset: { need: need.id } },
    h("span", { class: "need-text", title: ctx.shiftText(need) || null },
      need.shift_start ? h("small", { class: "shift" }, ctx.shiftShort(need), " ") : null,
      need.kind === "capability" ? ctx.t("capability_short", {
        people: ctx.number(need.people_to_move), depth: ctx.depth(need.water_depth_m) })
        : ctx.needText(need)),
    h("span", { class: "fill" }, h("span", { style: { width: `${Math.round(Math.min(1, share) * 100)}%` } })),
    h("span", { class: "filled-count" },
      places ? `${ctx.number(need.filled)}/${ctx.number(places)}`
        : ctx.t("vehicles_n", { count: ctx.number(need.filled) })),
    need.offered ? h("span", { class: "waiting", title: ctx.t("waiting") },
      `+${ctx.number(need.offered)}`) : null);
}

function renderList() {
  const incidents = sorted();
  document.getElementById("incident-count").textContent = ctx.number(incidents.length);
  if (!incidents.length) {
    list.replaceChildren(h("li", { class: "empty" }, ctx.t("no_incidents")));
  } else {
    list.replaceChildren(...incidents.map((incident) => h("li", {
      class: `incident p${incident.priority}${incident.id === state.selected ? " selected" : ""}`,
      dataset: { incident: incident.id }, tabindex: 0,
      onclick: () => select(incident.id),
      onkeydown: (event) => { if (event.key === "Enter") select(incident.id); },
    },
    h("div", { class: "incident-head" },
      h("span", { class: "title" }, incident.title),
      h("time", { datetime: incident.opened_at, title: ctx.when(incident.opened_at) }, ctx.ago(incident.opened_at))),
    h("div", { class: "meta" },
      h("span", { class: `priority-tag p${incident.priority}` }, ctx.label("priority", incident.priority)),
      " ", ctx.label("incident_kind", incident.kind),
      incident.township ? ` · ${ctx.townshipName(incident.township)}` : ""),
    h("ul", { class: "needs" }, incident.needs.map(needLine)))));
  }
  map.setIncidents(incidents, state.selected);
}

// --- the resource board and the map's markers ----------------------------------------

let resourcesTimer = null;
function resourcesSoon(delay = 800) {
  clearTimeout(resourcesTimer);
  resourcesTimer = setTimeout(loadResources, delay);
}

async function loadResources() {
  clearTimeout(resourcesTimer);
  resourcesTimer = setTimeout(loadResources, RESOURCES_EVERY_MS);
  try {
    const [counts, markers] = await Promise.all([
      getJSON(config.urls.resources), getJSON(config.urls.markers)]);
    renderBoard(counts, ctx);
    map.setResources(markers);
  } catch (error) {
    console.warn("loading resources", error);
  }
}

// --- the activity feed ---------------------------------------------------------------

const activity = document.getElementById("activity");
const shown = new Set();  // seqs in the feed

function activityLine(event) {
  const incident = state.incidents.get(event.incident);
  const about = incident?.title ?? event.data?.title ??
    (event.incident ? ctx.t("incident_n", { id: event.incident }) : "");
  return h("li", { class: `ev ${event.kind.replace(".", "-")}`, dataset: { seq: event.seq } },
    h("time", { datetime: event.at }, ctx.time(event.at)), " ",
    h("b", {}, ctx.label("event", event.kind)), about ? ` · ${about}` : "");
}

function logActivity(event, { older = false } = {}) {
  if (shown.has(event.seq)) return;
  shown.add(event.seq);
  if (older) activity.append(activityLine(event));
  else activity.prepend(activityLine(event));
  while (activity.children.length > ACTIVITY_LINES) activity.lastChild.remove();
}

// What happened just before the page opened, from the log: below anything live.
async function backfillActivity(lastSeq) {
  const since = Math.max(0, lastSeq - ACTIVITY_LINES);
  try {
    const page = await getJSON(`${config.urls.log}?since=${since}&limit=${ACTIVITY_LINES}`);
    for (const event of page.results.reverse()) {
      logActivity({ ...event, at: event.occurred_at }, { older: true });
    }
  } catch (error) {
    console.warn("reading the log", error);
  }
}

// --- live ----------------------------------------------------------------------------

const connection = document.getElementById("connection");
let wasOffline = false;
let helloSeq = null;
let backfilled = false;

function showConnection(name, words) {
  connection.className = `connection ${name}`;
  connection.textContent = ctx.t(words);
  document.body.dataset.connection = name;
}

const live = new LiveSocket(config.urls.socket, {
  onState(name) {
    showConnection(name, name);
    if (name === "offline") wasOffline = true;
    if (name === "live") {
      // Signed out elsewhere (4401) or no longer allowed (4403): the socket stops
      // retrying, and the page says why instead of "reconnecting" for ever.
      live.ws.addEventListener("close", (closed) => {
        if (closed.code === 4401 || closed.code === 4403) showConnection("offline", "signed_out");
      });
      if (wasOffline) {
        wasOffline = false;
        resourcesSoon(0);  // counts may have changed while we were away
      }
    }
  },
  onFrame(frame) {
    if (frame.type === "resync") state.incidents.clear();
    if (frame.type === "hello") helloSeq = frame.last_seq;
  },
  onSnapshot(frame) {
    state.incidents.clear();
    for (const incident of frame.incidents) state.incidents.set(incident.id, incident);
    renderList();
    // After the snapshot, so the lines can name the incidents.
    if (!backfilled && helloSeq !== null) {
      backfilled = true;
      backfillActivity(helloSeq);
    }
    if (state.selected !== null) refresh(state.selected);
  },
  onEvent(event) {
    logActivity(event);
    if (event.incident) refreshSoon(event.incident);
    if (event.kind.startsWith("volunteer.") || event.kind.startsWith("vehicle.") ||
        event.kind.startsWith("assignment.") || event.kind === "offer.accepted") {
      resourcesSoon();
    }
  },
});

setInterval(() => {  // keep "5 min ago" true
  for (const time of list.querySelectorAll("time[datetime]")) {
    time.textContent = ctx.ago(time.getAttribute("datetime"));
  }
}, 30000);

// For the browser tests and a curious operator's console.
window.dashboard = { live, state, refresh };

renderList();
loadResources();
