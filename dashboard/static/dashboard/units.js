// The status board ("Who is where", coordinators only): every volunteer on duty or on a
// task and every vehicle, with their state, the incident they work on and since when,
// filterable by team, township and state, phones to tap (GET /dashboard/units/). Kept
// live: a log event naming a volunteer or a vehicle has their rows fetched again
// (?volunteers=…&vehicles=…), a few at a time.

import { getJSON } from "../tongxin/api.js";
import { h, keyed } from "../tongxin/dom.js";
import { NO_PEOPLE_FILTER, telHref, unitMatches, unitOrder } from "./filters.js";

// Rows drawn at most: a filter finds the rest.
const ROWS_SHOWN = 300;
const REFETCH_MS = 250;

// A phone number as a link that dials it (tap-to-call), or nothing.
export function phoneLink(ctx, phone, name = "") {
  const href = telHref(phone);
  if (!href) return null;
  return h("a", { class: "tel", href, title: name ? ctx.t("call", { name }) : null }, phone);
}

export class UnitBoard {
  constructor(ctx, { url, onIncident, onChanged }) {
    this.ctx = ctx;
    this.url = url;
    this.onIncident = onIncident;
    this.onChanged = onChanged;
    this.units = new Map();  // "volunteer:3" / "vehicle:7" → row
    this.teams = new Map();  // id → name
    this.filter = { ...NO_PEOPLE_FILTER };
    this.pending = { volunteers: new Set(), vehicles: new Set() };
    this.timer = null;
    this.body = document.querySelector("#units tbody");
    this.form = document.getElementById("unit-filters");
    this.form?.addEventListener("input", () => this.readFilter());
    this.form?.addEventListener("submit", (event) => event.preventDefault());
  }

  readFilter() {
    const data = new FormData(this.form);
    this.filter = Object.fromEntries(Object.keys(NO_PEOPLE_FILTER).map((name) => [name, data.get(name) ?? ""]));
    this.render();
  }

  person(id) {
    return this.units.get(`volunteer:${id}`) ?? null;
  }

  // A volunteer's row, fetched when the board does not have it (off duty, say).
  async personOf(id) {
    if (!this.units.has(`volunteer:${id}`)) await this.fetchSome({ volunteers: [id], vehicles: [] });
    return this.person(id);
  }

  async load() {
    const data = await getJSON(this.url);
    this.units.clear();
    this.merge(data, { volunteers: null, vehicles: null });
  }

  // Rows of `data` in place of the ones it answers for; a volunteer asked for and no
  // longer there is dropped.
  merge(data, asked) {
    for (const team of data.teams) this.teams.set(team.id, team.name);
    for (const [kind, rows] of [["volunteer", data.volunteers], ["vehicle", data.vehicles]]) {
      const ids = asked[`${kind}s`];
      if (ids) for (const id of ids) this.units.delete(`${kind}:${id}`);
      for (const row of rows) this.units.set(`${kind}:${row.id}`, { ...row, kind });
    }
    this.renderTeams();
    this.render();
    this.onChanged?.(data);
  }

  // A live event named these: their rows again, soon (events come in bursts).
  touch({ volunteer = null, vehicle = null }) {
    if (volunteer) this.pending.volunteers.add(volunteer);
    if (vehicle) this.pending.vehicles.add(vehicle);
    if (!this.timer) this.timer = setTimeout(() => this.flush(), REFETCH_MS);
  }

  async flush() {
    this.timer = null;
    const volunteers = [...this.pending.volunteers];
    const vehicles = [...this.pending.vehicles];
    this.pending.volunteers.clear();
    this.pending.vehicles.clear();
    if (!volunteers.length && !vehicles.length) return;
    try {
      await this.fetchSome({ volunteers, vehicles });
    } catch (error) {
      console.warn("refreshing the status board", error);
    }
  }

  async fetchSome({ volunteers, vehicles }) {
    const query = new URLSearchParams({ volunteers: volunteers.join(","), vehicles: vehicles.join(",") });
    const data = await getJSON(`${this.url}?${query}`);
    this.merge(data, { volunteers, vehicles });
  }

  renderTeams() {
    const select = document.getElementById("unit-team");
    if (!select) return;
    const teams = [...this.teams].sort((a, b) => a[1].localeCompare(b[1], this.ctx.locale));
    const wanted = teams.map(([id]) => String(id)).join(",");
    if (select.dataset.teams === wanted) return;
    const chosen = select.value;
    select.replaceChildren(select.options[0],
      ...teams.map(([id, name]) => h("option", { value: id }, name)));
    select.value = chosen;
    select.dataset.teams = wanted;
  }

  render() {
    const { ctx } = this;
    if (!this.body) return;
    const all = [...this.units.values()];
    const shown = all.filter((row) => unitMatches(row, this.filter)).sort(unitOrder);
    const count = document.getElementById("units-count");
    if (count) count.textContent = ctx.number(all.filter((row) => row.state !== "off_duty").length);
    const drawn = shown.slice(0, ROWS_SHOWN);
    const note = document.getElementById("units-shown");
    if (note) {
      note.textContent = shown.length > ROWS_SHOWN
        ? ctx.t("units_first", { shown: ctx.number(ROWS_SHOWN), total: ctx.number(shown.length) })
        : ctx.t("units_shown", { shown: ctx.number(shown.length), total: ctx.number(all.length) });
    }
    if (!drawn.length) {
      const columns = ctx.canEdit ? 7 : 6;
      this.body.replaceChildren(h("tr", { class: "quiet" }, h("td", { colspan: columns }, ctx.t("no_units"))));
      return;
    }
    keyed(this.body, drawn, (row) => this.row(row), (row) => JSON.stringify(row));
  }

  row(unit) {
    const { ctx } = this;
    const teams = unit.teams.map((id) => this.teams.get(id)).filter(Boolean).join("、");
    return h("tr", { dataset: { unit: `${unit.kind}:${unit.id}`, state: unit.state } },
      h("td", {}, unit.name, unit.kind === "vehicle"
        ? h("small", {}, " ", ctx.label("vehicle_kind", unit.vehicle_kind)) : null),
      h("td", {}, teams),
      h("td", {}, ctx.townshipName(unit.township)),
      h("td", {}, h("span", { class: `unit-state u-${unit.state}` }, ctx.t(`unit_${unit.state}`))),
      h("td", {}, unit.incident
        ? h("button", { type: "button", class: "link", onclick: () => this.onIncident?.(unit.incident) },
          unit.incident_title ?? ctx.t("incident_n", { id: unit.incident }))
        : ""),
      h("td", { title: unit.since ? ctx.when(unit.since) : null },
        unit.since ? h("time", { datetime: unit.since }, ctx.when(unit.since)) : ""),
      // Commanders read the board without phone numbers (DESIGN.md §6): no column.
      ctx.canEdit ? h("td", {}, phoneLink(ctx, unit.phone, unit.name)) : null);
  }

  // What a volunteer's map popup says: name, teams, state and work, since when, phone.
  describe(unit) {
    const { ctx } = this;
    const teams = unit.teams.map((id) => this.teams.get(id)).filter(Boolean).join("、");
    return [
      h("b", { class: "name" }, unit.name),
      teams ? h("div", { class: "teams" }, teams) : null,
      h("div", {}, h("span", { class: `unit-state u-${unit.state}` }, ctx.t(`unit_${unit.state}`)),
        unit.incident_title ? ` · ${unit.incident_title}` : "",
        unit.since ? h("small", { class: "line" }, ctx.t("since", { time: ctx.when(unit.since) })) : null),
      unit.phone ? h("div", {}, phoneLink(ctx, unit.phone, unit.name)) : null,
    ].filter(Boolean);
  }
}
