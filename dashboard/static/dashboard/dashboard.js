// The coordinators' dashboard. The socket (/ws/dashboard/) gives a snapshot of the
// open incidents, then every deployment-log event; an event only says *what* changed,
// so the incident it names is fetched again from the API (the database is the truth).
// LiveSocket resumes with ?since= after a drop, or gets a fresh snapshot.

import { fill, getJSON } from "../tongxin/api.js";
import { embeddedJSON, h, keyed } from "../tongxin/dom.js";
import { LiveSocket } from "../tongxin/live.js";
import { renderBoard } from "./board.js";
import { Broadcasts } from "./broadcasts.js";
import { IncidentDetail } from "./detail.js";
import { arrangeIncidents, isFiltering, liveNeeds, NO_FILTER } from "./filters.js";
import { IncidentForm } from "./form.js";
import { makeContext } from "./format.js";
import { DashboardMap } from "./map.js";
import { UnitBoard } from "./units.js";
import { unmetAlarm } from "./unmet.js";

const config = embeddedJSON("dashboard-config");
const ctx = makeContext(config);
const ACTIVITY_LINES = 40;  // lines kept; six show until "Show more"
const RESOURCES_EVERY_MS = 60000;  // positions are not log events: look again now and then

const state = {
  incidents: new Map(),  // id → incident, as the API gives it (needs with filled / offered)
  offers: new Map(),  // id → the offers last fetched for that incident
  selected: null,
  filter: { ...NO_FILTER },
  titles: new Map(),  // id → title of every incident seen, open or closed (the feed names them)
};

const list = document.getElementById("incident-list");
const urgentList = document.getElementById("urgent-list");
const sitesGroup = document.getElementById("sites-group");
const sitesList = document.getElementById("sites-list");
const drawer = document.getElementById("drawer");

// The status board (coordinators): who is where doing what.
const units = config.urls.units ? new UnitBoard(ctx, {
  url: config.urls.units,
  onIncident: (id) => select(id),
}) : null;

// Messages to those on duty, with their receipts (issue 13).
const broadcasts = new Broadcasts(ctx, document.getElementById("broadcasts"));

const map = new DashboardMap(document.getElementById("map"), ctx, {
  onIncidentClick: (id) => select(id),
  onMapClick: (latlng) => {
    if (!ctx.canEdit) return;
    if (form?.isOpen) form.setPlace({ latitude: latlng.lat, longitude: latlng.lng });
    else map.offerHere(latlng, ctx.t("open_here"), (at) => openForm(at));
  },
  onDraftMoved: (latitude, longitude) => form?.movedOnMap(latitude, longitude),
  personOf: (id) => units?.personOf(id),
  describePerson: (person) => units.describe(person),
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
  nameIncident(incident.id, incident.title);
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
    // The offers show in the detail only: asked for when it is this incident's.
    const withOffers = state.selected === id;
    const [incident, offers] = await Promise.all([
      getJSON(fill(config.urls.incident, id)),
      withOffers ? getJSON(fill(config.urls.offers, id)) : null,
    ]);
    if (offers) state.offers.set(id, offers.assignments);
    else state.offers.delete(id);
    upsert(incident);
  } catch (error) {
    if (error.status === 404) state.incidents.delete(id);
    console.warn("refreshing incident", id, error);
  } finally {
    entry.running = false;
    if (entry.again) { entry.again = false; refreshSoon(id); }
  }
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

// --- the list: filtered, sorted, the staffed sites apart ------------------------------

const filterForm = document.getElementById("incident-filters");

function readFilter() {
  const data = new FormData(filterForm);
  state.filter = Object.fromEntries(Object.keys(NO_FILTER).map((name) => [name, data.get(name) ?? NO_FILTER[name]]));
  renderList();
}
filterForm.addEventListener("input", readFilter);
filterForm.addEventListener("submit", (event) => event.preventDefault());
filterForm.addEventListener("reset", () => setTimeout(readFilter));  // after the fields reset

// The API's objects are replaced when an incident changes: a card is rebuilt only then.
const versions = new WeakMap();
let lastVersion = 0;
function versionOf(incident) {
  if (!versions.has(incident)) versions.set(incident, ++lastVersion);
  return versions.get(incident);
}

function card(incident) {
  return h("li", {
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
  h("ul", { class: "needs" }, liveNeeds(incident).map(needLine)),
  unmetAlarm(incident, ctx));
}

const cardKey = (incident) => `${incident.id}:${versionOf(incident)}:${incident.id === state.selected}`;

// Many events arrive together: the list and the map are drawn once per frame.
let renderQueued = false;
function renderList() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderNow();
  });
}

function renderNow() {
  const arranged = arrangeIncidents(state.incidents.values(), state.filter, {
    staffingKinds: config.staffing_kinds, townshipName: ctx.townshipName });
  const filtering = isFiltering(state.filter);
  document.getElementById("incident-count").textContent = ctx.number(arranged.total);
  document.getElementById("incident-shown").textContent = filtering
    ? ctx.t("shown_of", { shown: ctx.number(arranged.shown), total: ctx.number(arranged.total) }) : "";
  document.getElementById("filters-reset").hidden = !filtering;
  if (!arranged.urgent.length) {
    const empty = arranged.total && filtering ? "none_match" : arranged.sites.length ? null : "no_incidents";
    urgentList.replaceChildren(...(empty ? [h("li", { class: "empty" }, ctx.t(empty))] : []));
  } else {
    if (urgentList.querySelector(".empty")) urgentList.replaceChildren();
    keyed(urgentList, arranged.urgent, card, cardKey);
  }
  sitesGroup.hidden = !arranged.sites.length;
  document.getElementById("sites-count").textContent = arranged.shown === arranged.total
    ? ctx.number(arranged.sites.length)
    : ctx.t("shown_of", { shown: ctx.number(arranged.sites.length), total: ctx.number(arranged.sitesTotal) });
  keyed(sitesList, arranged.sites, card, cardKey);
  map.setIncidents([...arranged.urgent, ...arranged.sites], state.selected);
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
    await units?.load();
  } catch (error) {
    console.warn("loading resources", error);
  }
}

// --- the lower pane: counts, or who is where (coordinators) ----------------------------

function showTab(which) {
  for (const [name, tab, panel] of [["counts", "tab-counts", "board"], ["units", "tab-units", "status-board"]]) {
    document.getElementById(tab).setAttribute("aria-selected", String(name === which));
    document.getElementById(panel).hidden = name !== which;
  }
  document.body.classList.toggle("units-open", which === "units");
  map.resize();
}
if (units) {
  document.getElementById("tab-counts").addEventListener("click", () => showTab("counts"));
  document.getElementById("tab-units").addEventListener("click", () => showTab("units"));
}

// --- the activity feed ---------------------------------------------------------------

const activity = document.getElementById("activity");
const shown = new Set();  // seqs in the feed

// Every incident the feed names is named by its title: those on the board, those
// closed while the page was open, and the others (closed before it) asked for once.
const asking = new Set();

function nameIncident(id, title) {
  if (!id || !title || state.titles.get(id) === title) return;
  state.titles.set(id, title);
  for (const line of activity.querySelectorAll(`li[data-about="${id}"] .about`)) line.textContent = title;
}

async function askTitle(id) {
  if (asking.has(id)) return;
  asking.add(id);
  try {
    const incident = await getJSON(fill(config.urls.incident, id));
    nameIncident(id, incident.title);
  } catch (error) {
    console.warn("naming incident", id, error);
  }
}

function activityLine(event) {
  if (event.data?.title) nameIncident(event.incident, event.data.title);
  const title = state.titles.get(event.incident);
  if (event.incident && !title) askTitle(event.incident);
  return h("li", { class: `ev ${event.kind.replace(".", "-")}`,
                   dataset: { seq: event.seq, about: event.incident ?? "" } },
    h("time", { datetime: event.at }, ctx.time(event.at)), " ",
    h("b", {}, ctx.label("event", event.kind)),
    event.incident ? [" · ", h("span", { class: "about" }, title ?? "…")] : null);
}

function logActivity(event) {
  if (shown.has(event.seq)) return;
  shown.add(event.seq);
  // Newest first, in seq order whatever order they came in (the backfill may answer
  // after live lines).
  const line = activityLine(event);
  const next = [...activity.children].find((child) => Number(child.dataset.seq) < event.seq);
  activity.insertBefore(line, next ?? null);
  while (activity.children.length > ACTIVITY_LINES) activity.lastChild.remove();
}

const activityPane = document.getElementById("activity-pane");
const activityMore = document.getElementById("activity-more");
activityMore.addEventListener("click", () => {
  const expanded = !activityPane.classList.contains("expanded");
  activityPane.classList.toggle("expanded", expanded);
  document.body.classList.toggle("activity-expanded", expanded);
  activityMore.setAttribute("aria-expanded", String(expanded));
  activityMore.textContent = ctx.t(expanded ? "show_less" : "show_more");
});

// What happened just before the page opened, from the log: below anything live.
async function backfillActivity(lastSeq) {
  const since = Math.max(0, lastSeq - ACTIVITY_LINES);
  try {
    const page = await getJSON(`${config.urls.log}?since=${since}&limit=${ACTIVITY_LINES}`);
    for (const event of page.results.reverse()) {
      logActivity({ ...event, at: event.occurred_at });
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
        resourcesSoon(0);  // counts (and the status board) may have changed while we were away
      }
    }
  },
  onFrame(frame) {
    if (frame.type === "resync") state.incidents.clear();
    if (frame.type === "hello") helloSeq = frame.last_seq;
  },
  onSnapshot(frame) {
    state.incidents.clear();
    for (const incident of frame.incidents) {
      state.incidents.set(incident.id, incident);
      nameIncident(incident.id, incident.title);
    }
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
    broadcasts.onEvent(event);
    if (event.incident) refreshSoon(event.incident);
    if (event.volunteer || event.vehicle) units?.touch(event);
    if (event.kind.startsWith("volunteer.") || event.kind.startsWith("vehicle.") ||
        event.kind.startsWith("assignment.") || event.kind === "offer.accepted") {
      resourcesSoon();
    }
  },
});

setInterval(() => {  // keep "5 min ago" true
  for (const time of list.querySelectorAll(".incident-head time[datetime]")) {
    time.textContent = ctx.ago(time.getAttribute("datetime"));
  }
}, 30000);

// For the browser tests and a curious operator's console.
window.dashboard = { live, state, refresh, units, map };

renderList();
loadResources();
