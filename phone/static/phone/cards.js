// The cards the page shows: an offer to answer (with its countdown), the current task
// (with its steps: en route, on scene, done), an upcoming shift, and a vehicle the
// volunteer crews (with "out of service…" or "back in service"). Each is built from
// one row of the state; phone.js puts them on the page (keyed: only changed ones).

import { h } from "../tongxin/dom.js";
import { accept, decline, giveUp, progress, setInService } from "./actions.js";
import { openOffer } from "./alerts.js";
import { coordinates, countdown, place } from "./format.js";
import { myPosition } from "./location.js";
import { pending } from "./outbox.js";
import { LANG, T, fmt } from "./page.js";
import { fromYou, sketch } from "./sketch.js";
import { app, remaining, serviceChange } from "./state.js";

function fact(label, value) {
  if (!value) return null;
  return h("div", { class: "fact" }, h("dt", {}, label), h("dd", {}, value));
}

function chip(text, kind = "") {
  return text ? h("span", { class: `chip ${kind}` }, text) : null;
}

// A place found only as a township's or the city's centre (or a street) is not where
// to drive: the card says so beside it (incidents.geocoding, the place's precision).
function approximate(row) {
  const warning = {
    township: T.approximate_township,
    city: T.approximate_city,
    street: T.approximate_street,
  }[row.incident_location_precision];
  return warning ? h("small", { class: "approximate", role: "note" }, warning) : null;
}

function facts(row, { withShift = true } = {}) {
  return h(
    "dl",
    { class: "facts" },
    fact(T.what, row.need_label),
    fact(T.where, [place(row), approximate(row)]),
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

const number = (value, options = {}) => new Intl.NumberFormat(LANG, options).format(value);

function metres(value) {
  try {
    return number(value, { style: "unit", unit: "meter", maximumFractionDigits: 2 });
  } catch {
    return `${value} m`;
  }
}

// What the volunteer decides on before accepting: what happened (the reporter's words),
// how many people, how deep the water, how many places are taken and who else is going.
export function situation(row) {
  const places = row.need_count
    ? T.places_value.replace("%(filled)s", number(row.need_filled ?? 0)).replace("%(count)s", number(row.need_count))
    : "";
  return h(
    "div",
    { class: "situation" },
    row.description && h("p", { class: "description" }, row.description),
    h(
      "dl",
      { class: "facts situation-facts" },
      row.people_affected > 0 && fact(T.people_affected, number(row.people_affected)),
      row.people_to_move > 0 && fact(T.people_to_move, number(row.people_to_move)),
      row.water_depth_m !== null && row.water_depth_m !== undefined &&
        fact(T.water_depth, metres(row.water_depth_m)),
      fact(T.places, places),
      fact(T.others_going, row.others_going > 0 ? number(row.others_going) : T.nobody_yet),
    ),
  );
}

// Where it is from here: the sketch, and "3.2 km north-east of you".
function whereFromHere(row) {
  if (row.latitude === undefined || row.latitude === null) return null;
  const me = myPosition();
  const target = { latitude: row.latitude, longitude: row.longitude };
  const words = fromYou(me, target, T, fmt.km);
  return h(
    "div",
    { class: "from-here" },
    sketch(me, target, { label: words || T.sketch_label, you: T.you, north: T.north_letter }),
    h("p", { class: `bearing${words ? "" : " muted"}` }, words || T.position_unknown),
  );
}

export function offerCard(row) {
  const left = remaining(row);
  const closed = left <= 0;
  const waiting = pending(row.id).find((action) => action === "accept" || action === "decline");
  const sending = app.busy.has(row.id) || Boolean(waiting);
  const total = row.expires_at && row.offered_at
    ? Date.parse(row.expires_at) - Date.parse(row.offered_at) : 0;
  return h(
    "article",
    {
      class: `card offer${closed ? " expired" : ""}${waiting ? " waiting" : ""}`,
      "data-id": row.id,
      id: `offer-${row.id}`,
      onclick: () => openOffer(row.id), // a tap on it stops its ringing
    },
    h(
      "header",
      { class: "offer-head" },
      h("div", {}, h("h2", {}, T.offer_heading),
        row.offered_at && h("small", { class: "arrived" }, T.arrived.replace("%(time)s", fmt.clock(row.offered_at)))),
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
    h("p", { class: "need" }, row.need_label),
    chips(row),
    facts(row),
    h(
      "div",
      { class: "trip" },
      h("div", {}, h("small", {}, T.distance), h("b", {}, fmt.km(row.distance_m))),
      h("div", {}, h("small", {}, T.eta), h("b", {}, fmt.minutes(row.eta_seconds))),
    ),
    whereFromHere(row),
    situation(row),
    waiting && h("p", { class: "waiting-note" }, T.waiting_answer),
    h(
      "div",
      { class: "answer" },
      h(
        "button",
        { type: "button", class: "accept", disabled: closed || sending, onclick: () => accept(row) },
        waiting === "accept" ? T.accept : app.busy.has(row.id) ? T.sending : T.accept,
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
  const queued = pending(row.id);
  const finishing = queued.includes("completed");
  const sending = app.busy.has(row.id) || finishing;
  const reached = (step) => Boolean(row[`${step}_at`]) ||
    STEPS.indexOf(row.status) >= STEPS.indexOf(step) || queued.includes(step);
  const next = STEPS.find((step) => !reached(step)) || "completed";
  const label = (step) => {
    if (queued.includes(step)) return `${T[step]} · ${T.waiting_short}`;
    if (reached(step)) return `✓ ${T[step]} ${fmt.clock(row[`${step}_at`])}`;
    return T[step];
  };
  const buttons = STEPS.map((step) => {
    const done = reached(step);
    return h(
      "button",
      {
        type: "button",
        class: `step${done ? " reached" : ""}${queued.includes(step) ? " waiting" : ""}${step === next ? " next" : ""}`,
        "data-step": step,
        disabled: done || sending,
        onclick: () => progress(row, step),
      },
      label(step),
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
      finishing ? `${T.done} · ${T.waiting_short}` : T.done,
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
  const booked = row.status === "reserved";
  return h(
    "li",
    { class: `card shift${booked ? " booked" : ""}`, "data-id": row.id },
    h("p", { class: "when" }, booked ? T.booked.replace("%(window)s", fmt.shiftText(row)) : fmt.shiftText(row)),
    h("p", { class: "title" }, row.incident_title),
    facts(row, { withShift: false }),
    mapLinks(row),
    booked && giveUpControls(row),
  );
}

// A booked shift holds its place, not the volunteer: they may give it up (asked once
// more first), and it is offered to someone else.
function giveUpControls(row) {
  const sending = app.busy.has(row.id);
  if (app.givingUp !== row.id) {
    return h("div", { class: "answer" }, h("button", {
      type: "button", class: "decline give-up", disabled: sending,
      onclick: () => {
        app.givingUp = row.id;
        app.render();
      },
    }, T.give_up));
  }
  return h(
    "div",
    { class: "give-up-question" },
    h("p", {}, T.give_up_question),
    h(
      "div",
      { class: "answer" },
      h("button", { type: "button", class: "confirm", disabled: sending, onclick: () => giveUp(row) },
        T.give_up_confirm),
      h("button", { type: "button", class: "decline", onclick: () => {
        app.givingUp = null;
        app.render();
      } }, T.back),
    ),
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
