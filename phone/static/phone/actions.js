// What the volunteer does: answer an offer, report progress on a task, go on or off
// duty, put a vehicle they crew out of service and back. Each shows it is on its way, then the server's answer (or refusal, in its words).
// A yes is shown at once (changeRow, changedHere: no state asked for before it is drawn
// over it), then the state is asked for again. Answers and reports go through the
// page's queue (outbox.js): tapped without a connection, they wait there and are sent
// when it is back.

import { RequestError, postJSON } from "../tongxin/api.js";
import { watchLocation } from "./location.js";
import { clearNotice, notice } from "./notice.js";
import { submit } from "./outbox.js";
import { $, T, URLS, say, url } from "./page.js";
import { act } from "./socket.js";
import { acceptedStatus, app, changeRow, changeVehicle, changedHere, serverNow } from "./state.js";

// One answer or report, through the queue: `done` runs when the server took this very
// tap on its first try, a refusal then is shown in the server's words. (A tap that had
// to wait is told about by the queue when it is sent or refused.)
function send(action, row, extra, done) {
  app.busy.add(row.id);
  app.render();
  const settle = () => {
    app.busy.delete(row.id);
    app.render();
  };
  submit(action, row, extra, {
    sent() {
      done();
      settle();
    },
    refused(reason) {
      notice(say(reason), "error");
      settle();
    },
    // No answer: the card is free again, the tap waits in the queue.
    waiting: settle,
  });
}

export function accept(row) {
  send("accept", row, {}, () => {
    changeRow(row.id, { status: acceptedStatus(row), answered_at: new Date(serverNow()).toISOString() });
    notice(T.accepted_notice, "ok");
  });
}

export function decline(row) {
  send("decline", row, {}, () => {
    changeRow(row.id, { status: "declined" });
    notice(T.declined_notice);
  });
}

export function progress(row, status, peopleMoved = null) {
  if (status === "completed") app.finishing = null;
  send(status, row, peopleMoved === null ? {} : { people_moved: peopleMoved }, () => {
    changeRow(row.id, { status, [`${status}_at`]: new Date(serverNow()).toISOString() });
    if (status === "completed") notice(T.done_notice, "ok");
    else clearNotice(); // "accepted: they see you are coming" is old news once on the way
  });
}

// A shift booked ahead, given up: straight to the server (not through the queue: giving
// up a shift offline and finding it taken back later would be worse than being told
// to try again). Its place is offered to someone else.
export async function giveUp(row) {
  app.busy.add(row.id);
  app.render();
  try {
    await postJSON(url("give_up", row.id), {});
    app.givingUp = null;
    changeRow(row.id, { status: "cancelled" });
    notice(T.given_up_notice, "ok");
  } catch (error) {
    const refusal = error instanceof RequestError ? RequestError.sentence(error.body) : null;
    notice(refusal ? say(refusal) : T.no_answer, "error");
  } finally {
    app.busy.delete(row.id);
    app.render();
  }
}

// --- duty ------------------------------------------------------------------------------

export async function toggleDuty() {
  if (app.dutyBusy) return;
  const wanted = !app.state.volunteer.on_duty;
  app.dutyBusy = true;
  renderDuty();
  const reply = await act({ type: "duty", on_duty: wanted }, "PATCH", URLS.volunteer, {
    on_duty: wanted,
  });
  app.dutyBusy = false;
  if (reply.ok) setDuty(wanted);
  else {
    notice(say(reply.reason), "error");
    renderDuty();
  }
}

export function setDuty(onDuty) {
  app.state.volunteer.on_duty = onDuty;
  changedHere();
  app.render();
  watchLocation();
}

export function renderDuty() {
  const onDuty = app.state.volunteer.on_duty;
  const button = $("duty");
  button.classList.toggle("on", onDuty);
  button.setAttribute("aria-checked", String(onDuty));
  button.setAttribute("aria-busy", String(app.dutyBusy));
  button.disabled = app.dutyBusy;
  button.querySelector(".duty-state").textContent = onDuty ? T.on_duty : T.off_duty;
  button.querySelector(".duty-hint").textContent = app.dutyBusy
    ? T.sending : onDuty ? T.on_duty_hint : T.off_duty_hint;
}

// --- the vehicles they crew ------------------------------------------------------------

// Out of service (with the reason they typed) or back in service, over the REST API
// (the socket has no such request). A refusal ("…is on a task: take it off the task
// first.") is shown as the server said it.
export async function setInService(vehicle, inService, reason = "") {
  if (app.vehiclesBusy.has(vehicle.id)) return;
  app.vehiclesBusy.add(vehicle.id);
  app.render();
  let answer = null;
  let refusal = null;
  try {
    answer = await postJSON(url("vehicle_service", vehicle.id), { in_service: inService, reason });
  } catch (error) {
    refusal = say(error instanceof RequestError ? RequestError.sentence(error.body) : null);
  }
  app.vehiclesBusy.delete(vehicle.id);
  if (refusal === null) {
    changeVehicle(vehicle.id, { status: answer.status });
    app.stopping = null;
    app.reasonTyped = "";
    const words = inService ? T.in_service_notice : T.out_of_service_notice;
    notice(words.replace("%(call_sign)s", vehicle.call_sign), "ok");
  } else {
    notice(refusal, "error");
  }
  app.render();
  app.refreshSoon(0);
}
