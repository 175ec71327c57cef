// Stand-downs that people notice (issue 13): an offer withdrawn or a task cancelled does
// not just vanish from the page. The state's `stood_down` rows (phone.views._stand_downs:
// the last half hour's, each with why) show as cards until the volunteer taps "OK"; what
// they dismissed is kept per volunteer in localStorage, so it does not come back on the
// next state or a reload.

import { h, keyed } from "../tongxin/dom.js";
import { $, LANG, T, fmt } from "./page.js";
import { app } from "./state.js";

const MOST_KEPT = 50;
const storageKey = () => `tongxin.phone.stood-down.${app.state.volunteer.id}`;

function dismissed() {
  try {
    return new Set(JSON.parse(localStorage.getItem(storageKey()) || "[]"));
  } catch {
    return new Set();
  }
}

function dismiss(id) {
  const ids = [...dismissed(), id].slice(-MOST_KEPT);
  localStorage.setItem(storageKey(), JSON.stringify(ids));
  renderStandDowns();
}

function standDownCard(row) {
  return h("article", { class: "card stood-down", dataset: { id: row.id, status: row.status } },
    h("h2", {}, row.status === "cancelled" ? T.stood_down_task : T.stood_down_offer),
    h("p", { class: "title" }, row.incident_title),
    h("p", { class: "muted" }, [row.need_label, row.vehicle, row.at ? fmt.clock(row.at) : null]
      .filter(Boolean).join(" · ")),
    h("p", { class: "why" }, row.why),
    h("button", { type: "button", class: "ok", onclick: () => dismiss(row.id) }, T.stood_down_ok));
}

export function renderStandDowns() {
  const hidden = dismissed();
  const rows = (app.state.stood_down ?? []).filter((row) => !hidden.has(row.id));
  keyed($("stood-down"), rows, standDownCard, (row) => JSON.stringify([row, LANG]));
}
