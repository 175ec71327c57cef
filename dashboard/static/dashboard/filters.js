// What the incident list and the status board show, and in what order: pure functions
// over the API's plain data (no DOM), so Node's test runner checks them
// (tests/js/dashboard-filters.test.js).

// The incident list's filter as the page starts: everything, most urgent first.
export const NO_FILTER = Object.freeze({ q: "", kind: "", priority: "", township: "", state: "", sort: "urgent" });

// Words compared as typed, without case or width differences: "ＡＢ" finds "ab".
export function folded(text) {
  return String(text ?? "").normalize("NFKC").toLowerCase().replace(/\s+/g, " ").trim();
}

// The needs still asked for: a cancelled need (issue 13) stays listed in the detail,
// struck through, but counts nowhere.
export const liveNeeds = (incident) => (incident.needs ?? []).filter((need) => !need.cancelled_at);

// How far an open incident has got: "unfilled" (a place nobody holds yet, and nobody
// asked), "waiting" (places open, offers out), "filled" (every place taken). A
// capability need counts as filled once it has a vehicle (it has no count of places).
export function fillState(incident) {
  let open = false;
  let waiting = false;
  for (const need of liveNeeds(incident)) {
    const places = need.kind === "capability" ? 1 : need.count;
    if ((need.filled ?? 0) < places) {
      open = true;
      if (need.offered) waiting = true;
    }
  }
  if (!open) return "filled";
  return waiting ? "waiting" : "unfilled";
}

// Whether an incident passes the filter. `townshipName(id)` gives the words a search
// also looks in (the township, beside the title and the address).
export function incidentMatches(incident, filter, townshipName = () => "") {
  if (filter.kind && incident.kind !== filter.kind) return false;
  if (filter.priority && String(incident.priority) !== String(filter.priority)) return false;
  if (filter.township && String(incident.township ?? "") !== String(filter.township)) return false;
  if (filter.state && fillState(incident) !== filter.state) return false;
  const q = folded(filter.q);
  if (q) {
    const text = folded([incident.title, incident.address, townshipName(incident.township)].join(" "));
    if (!q.split(" ").every((word) => text.includes(word))) return false;
  }
  return true;
}

const opened = (incident) => Date.parse(incident.opened_at) || 0;

// "urgent": the highest priority first, then the longest waiting; "newest": the last
// opened first. Ties by id, so the order never flickers between two renders.
export function incidentOrder(sort) {
  if (sort === "newest") return (a, b) => opened(b) - opened(a) || b.id - a.id;
  return (a, b) => b.priority - a.priority || opened(a) - opened(b) || a.id - b.id;
}

// The list as shown: the urgent work and the staffed sites (testing sites, shelters,
// distribution points: `staffingKinds`) apart, each filtered and sorted, with how many
// are shown of how many there are.
export function arrangeIncidents(incidents, filter, { staffingKinds = [], townshipName } = {}) {
  const staffed = new Set(staffingKinds);
  const order = incidentOrder(filter.sort);
  const all = [...incidents];
  const shown = all.filter((incident) => incidentMatches(incident, filter, townshipName)).sort(order);
  return {
    total: all.length,
    shown: shown.length,
    urgent: shown.filter((incident) => !staffed.has(incident.kind)),
    sites: shown.filter((incident) => staffed.has(incident.kind)),
    sitesTotal: all.filter((incident) => staffed.has(incident.kind)).length,
  };
}

// Whether a filter narrows anything (the count then says "12 of 40 shown").
export function isFiltering(filter) {
  return Boolean(folded(filter.q) || filter.kind || filter.priority || filter.township || filter.state);
}

// The places still open on closing an incident: [{need, filled, places}], for the
// warning that names them. A capability need is open while it has no vehicle.
export function unfilledNeeds(incident) {
  return liveNeeds(incident).flatMap((need) => {
    const places = need.kind === "capability" ? 1 : need.count;
    const filled = need.filled ?? 0;
    return filled < places ? [{ need, filled, places }] : [];
  });
}

// --- the status board ----------------------------------------------------------------

// A person's or a vehicle's state, in the order the board lists them: working first.
export const UNIT_STATES = ["on_scene", "en_route", "accepted", "offered", "free", "off_duty"];

export const NO_PEOPLE_FILTER = Object.freeze({ q: "", team: "", township: "", state: "" });

// Whether a row of the status board (a volunteer or a vehicle) passes the filter.
export function unitMatches(row, filter) {
  if (filter.team && !(row.teams ?? []).map(String).includes(String(filter.team))) return false;
  if (filter.township && String(row.township ?? "") !== String(filter.township)) return false;
  if (filter.state) {
    // "busy" is any state on a task (accepted, en route, on scene).
    const wanted = filter.state === "busy" ? ["accepted", "en_route", "on_scene"] : [filter.state];
    if (!wanted.includes(row.state)) return false;
  }
  const q = folded(filter.q);
  if (q) {
    const text = folded([row.name, row.phone, row.incident_title].join(" "));
    if (!q.split(" ").every((word) => text.includes(word))) return false;
  }
  return true;
}

// Working first (on scene, en route, …), then by how long they have been so, then name.
export function unitOrder(a, b) {
  const rank = (row) => {
    const at = UNIT_STATES.indexOf(row.state);
    return at < 0 ? UNIT_STATES.length : at;
  };
  return rank(a) - rank(b) || (Date.parse(a.since) || Infinity) - (Date.parse(b.since) || Infinity) ||
    String(a.name).localeCompare(String(b.name)) || a.id - b.id;
}

// Digits a tel: link dials: "+86 139-0000-0001" → "+8613900000001"; "" for none.
export function telHref(phone) {
  const digits = String(phone ?? "").replace(/[^\d+]/g, "");
  return /\d/.test(digits) ? `tel:${digits}` : "";
}
