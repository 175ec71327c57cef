// The cards the page shows: an offer to answer (with its countdown), the current task
// (with its steps: en route, on scene, done), an upcoming shift, and a vehicle the
// volunteer crews (with "out of service…" or "back in service"). Each is built from
// one row of the state; phone.js puts them on the page (keyed: only changed ones).

import { h } from "../tongxin/dom.js";
import { accept, decline, progress, setInService } from "./actions.js";
import { coordinates, countdown, place } from "./format.js";
import { T, fmt } from "./page.js";
import { app, remaining, serviceChange } from "./state.js";

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

// "Out of service…" opens this form in the vehicle's row: why (the coordinators see it
// in the log), then confirm or go back.
function stopForm(vehicle) {
  const sending = app.vehiclesBusy.has(vehicle.id);
  const input = h("input", {
    type: "text", name: "reason", required: true, maxlength: "300", autocomplete: "off",
    placeholder: T.out_of_service_placeholder, value: app.reasonTyped,
    oninput: (event) => (app.reasonTyped = event.target.value),
  });
  return h(
    "form",
    {
      class: "stop",
      onsubmit: (event) => {
        event.preventDefault();
        const reason = input.value.trim();
        if (!reason) {
          input.value = "";
          return input.reportValidity();
        }
        setInService(vehicle, false, reason);
      },
    },
    h("label", {}, T.out_of_service_question, input),
    h(
      "div",
      { class: "answer" },
      h("button", { type: "submit", class: "stop-confirm", disabled: sending },
        sending ? T.sending : T.out_of_service_confirm),
      h("button", { type: "button", class: "decline", disabled: sending, onclick: () => {
        app.stopping = null;
        app.render();
      } }, T.back),
    ),
  );
}

export function vehicleItem(vehicle) {
  const sending = app.vehiclesBusy.has(vehicle.id);
  const change = serviceChange(vehicle);
  let action = null;
  if (change === "in") {
    action = h(
      "button",
      { type: "button", class: "service back-in", disabled: sending,
        onclick: () => setInService(vehicle, true) },
      sending ? T.sending : T.back_in_service,
    );
  } else if (change === "out" && app.stopping !== vehicle.id) {
    action = h(
      "button",
      { type: "button", class: "service take-out", disabled: sending, onclick: () => {
        app.stopping = vehicle.id;
        app.reasonTyped = "";
        app.render();
        document.querySelector(".vehicle .stop input")?.focus();
      } },
      T.out_of_service_ask,
    );
  }
  return h(
    "li",
    { class: `vehicle ${vehicle.status}`, "data-id": vehicle.id },
    h(
      "div",
      { class: "vehicle-head" },
      h("p", { class: "call-sign" }, vehicle.call_sign, h("small", {}, vehicle.kind_label)),
      chip(T[`vehicle_${vehicle.status}`] || vehicle.status, `vehicle-status ${vehicle.status}`),
    ),
    change === "out" && app.stopping === vehicle.id ? stopForm(vehicle) : action,
  );
}
