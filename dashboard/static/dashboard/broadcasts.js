// Messages to those on duty (issue 13, briefings/): the coordinators' compact form —
// to a township, a team, a skill, an area or everyone on duty, optionally a briefing
// with a place and a time — and the recent messages with their receipts counted
// (delivered, read, confirmed, texted). Receipts are not log events: the list is read
// from GET /api/broadcasts/ when a broadcast.sent event arrives, after sending, and
// every few seconds while a recent message still waits for receipts.

import { getJSON, postCreating, RequestError } from "../tongxin/api.js";
import { h, keyed } from "../tongxin/dom.js";

const SHOWN = 8;
const POLL_FAST_MS = 5000; // while a message of the last half hour is not all read
const POLL_SLOW_MS = 60000;
const RECENT_MS = 30 * 60000;

// The words of one message's receipts: "2/3 delivered · 1 read", and those confirmed
// (briefings) and texted when there are any.
export function receiptsText(receipts, isBriefing, words) {
  const fill = (text, params) => text.replace(/%\((\w+)\)s/g, (_, name) => params[name] ?? "");
  const parts = [fill(words.counts, receipts)];
  if (isBriefing) parts.push(fill(words.confirmed, receipts));
  if (receipts.texted) parts.push(fill(words.texted, receipts));
  return parts.join(" · ");
}

// Whether a message still waits for receipts worth watching closely.
export function waiting(broadcast, now = Date.now()) {
  const { receipts } = broadcast;
  return now - Date.parse(broadcast.created_at) < RECENT_MS && receipts.read < receipts.total;
}

export class Broadcasts {
  constructor(ctx, section) {
    this.ctx = ctx;
    this.section = section;
    this.list = section.querySelector("#broadcast-list");
    this.form = section.querySelector("#broadcast-form");
    this.words = Object.fromEntries(Object.entries(section.dataset)
      .filter(([name]) => name.startsWith("t") && name !== "teamsUrl")
      .map(([name, value]) => [name[1].toLowerCase() + name.slice(2), value]));
    this.rows = [];
    this.timer = null;
    if (this.form) this.setUpForm();
    this.load();
  }

  // --- the list ------------------------------------------------------------------------

  async load() {
    clearTimeout(this.timer);
    try {
      const page = await getJSON(`${this.section.dataset.url}?limit=${SHOWN}`);
      this.rows = page.results ?? page;
      this.render();
    } catch {
      // offline or refused: the next turn tries again
    }
    const fast = this.rows.some((broadcast) => waiting(broadcast));
    this.timer = setTimeout(() => this.load(), fast ? POLL_FAST_MS : POLL_SLOW_MS);
  }

  // A log event from the dashboard's socket: a new message is listed at once.
  onEvent(event) {
    if (event.kind === "broadcast.sent") this.load();
  }

  render() {
    keyed(this.list, this.rows, (broadcast) => this.item(broadcast), (broadcast) =>
      JSON.stringify([broadcast.id, broadcast.receipts, this.ctx.when(broadcast.created_at)]));
  }

  item(broadcast) {
    const isBriefing = Boolean(broadcast.briefing_starts_at);
    const { receipts } = broadcast;
    return h("li", { class: isBriefing ? "briefing" : "", dataset: {
      id: broadcast.id, total: receipts.total, delivered: receipts.delivered, read: receipts.read,
      confirmed: receipts.confirmed, texted: receipts.texted,
    } },
    h("div", { class: "broadcast-head" },
      h("time", { datetime: broadcast.created_at }, this.ctx.when(broadcast.created_at)),
      " ", h("b", {}, this.words.to.replace("%(audience)s", broadcast.audience_label)),
      isBriefing ? h("span", { class: "chip" }, this.words.briefing) : null),
    h("p", { class: "broadcast-text", title: broadcast.text }, broadcast.text),
    isBriefing ? h("p", { class: "broadcast-where" },
      `${broadcast.briefing_place} · ${this.ctx.when(broadcast.briefing_starts_at)}`) : null,
    h("p", { class: "receipts" }, receiptsText(receipts, isBriefing, this.words)));
  }

  // --- the form ------------------------------------------------------------------------

  setUpForm() {
    const { form } = this;
    form.audience.addEventListener("change", () => this.showFields());
    form.briefing.addEventListener("change", () => this.showFields());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.section.querySelector("#broadcast-compose").addEventListener("toggle", () => this.loadTeams());
    this.showFields();
  }

  async loadTeams() {
    if (this.teamsLoaded) return;
    this.teamsLoaded = true;
    try {
      const page = await getJSON(`${this.section.dataset.teamsUrl}?limit=500`);
      const teams = page.results ?? page;
      this.form.team.replaceChildren(...teams.map((team) => h("option", { value: team.id }, team.name)));
    } catch {
      this.teamsLoaded = false;
    }
  }

  showFields() {
    const audience = this.form.audience.value;
    for (const element of this.form.querySelectorAll("[data-for]")) {
      const wanted = element.dataset.for === "briefing" ? this.form.briefing.checked
        : element.dataset.for === audience;
      element.hidden = !wanted;
    }
    if (audience === "team") this.loadTeams();
  }

  // The request: the audience's own parameter only (the API refuses the others).
  request() {
    const { form } = this;
    const audience = form.audience.value;
    const data = { text: form.text.value.trim(), audience };
    const number = (name) => (form[name].value === "" ? null : Number(form[name].value));
    if (audience === "township") data.township = Number(form.township.value);
    if (audience === "team") data.team = form.team.value ? Number(form.team.value) : null;
    if (audience === "skill") data.skill = form.skill.value;
    if (audience === "area") {
      Object.assign(data, { latitude: number("latitude"), longitude: number("longitude"),
                            radius_km: number("radius_km") });
    }
    if (form.briefing.checked) {
      // A datetime-local value has no offset: the API reads it as the city's time.
      Object.assign(data, { briefing_place: form.briefing_place.value.trim(),
                            briefing_starts_at: form.briefing_starts_at.value || null });
    }
    return data;
  }

  async send() {
    const errors = this.section.querySelector("#broadcast-errors");
    const status = this.section.querySelector("#broadcast-status");
    const button = this.form.querySelector("[type=submit]");
    errors.textContent = "";
    status.textContent = "";
    button.disabled = true;
    try {
      const sent = await postCreating(this.section.dataset.url, this.request());
      status.textContent = this.words.sent.replace("%(total)s", this.ctx.number(sent.receipts.total));
      this.form.text.value = "";
      this.form.briefing.checked = false;
      this.showFields();
      this.load();
    } catch (error) {
      errors.textContent = error instanceof RequestError ? error.message : this.words.failed;
    } finally {
      button.disabled = false;
    }
  }
}
