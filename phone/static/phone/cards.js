// The cards the page shows: an offer to answer (with its countdown), the current task
// (with its steps: en route, on scene, done) and an upcoming shift. Each is built from
// one row of the state; phone.js puts them on the page (keyed: only changed ones).

import { h } from "../tongxin/dom.js";
import { accept, decline, progress } from "./actions.js";
import { coordinates, countdown, place } from "./format.js";
import { T, fmt } from "./page.js";
import { app, remaining } from "./state.js";

function fact(label, value) {
  if (!value) return null;
  return h("div", { class: "fact" }, h("dt", {}, label), h("dd", {}, value));
}

function chip(text, kind = "") {
  return text ? h("span", { class: `chip ${kind}` }, text) : null;
}

function facts(row, { withShift = true } = {}) {
  return h(
    "dl",
    { class: "facts" },
    fact(T.what, row.need_label),
    fact(T.where, place(row)),
    fact(T.vehicle, row.vehicle_label),
    withShift && fact(T.shift, fmt.shiftText(row)),
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

export function offerCard(row) {
  const left = remaining(row);
  const closed = left <= 0;
  const sending = app.busy.has(row.id);
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
        h("span", { style: { width: `${Math.max(0, Math.min(100, (left / total) * 100))}%` } })),
    h("p", { class: "title" }, row.incident_title),
    chips(row),
    facts(row),
    h(
      "div",
      { class: "trip" },
      h("div", {}, h("small", {}, T.distance), h("b", {}, fmt.km(row.distance_m))),
      h("div", {}, h("small", {}, T.eta), h("b", {}, fmt.minutes(row.eta_seconds))),
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
  const sending = app.busy.has(row.id);
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
      done ? `✓ ${T[step]} ${fmt.clock(row[`${step}_at`])}` : T[step],
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
          app.finishing = row.id;
          app.peopleMovedTyped = "";
          app.render();
          document.querySelector(".finish input, .finish .confirm")?.focus();
        },
      },
      T.done,
    ),
  );
  return h("div", { class: "steps" }, buttons);
}

function finishForm(row) {
  const sending = app.busy.has(row.id);
  const input = row.asks_people_moved
    ? h("input", {
        type: "number", name: "people_moved", inputmode: "numeric", min: "0",
        max: "1000000", required: true, autocomplete: "off", value: app.peopleMovedTyped,
        oninput: (event) => (app.peopleMovedTyped = event.target.value),
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
        app.finishing = null;
        app.render();
      } }, T.back),
    ),
  );
}

export function taskCard(row) {
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
    app.finishing === row.id ? finishForm(row) : stepButtons(row),
  );
}

export function shiftItem(row) {
  return h(
    "li",
    { class: "card shift", "data-id": row.id },
    h("p", { class: "when" }, fmt.shiftText(row)),
    h("p", { class: "title" }, row.incident_title),
    facts(row, { withShift: false }),
    mapLinks(row),
  );
}
