// What the phone page knows: the state the server sent (embedded in the page, then from
// /phone/state/ and the socket's snapshots), the server's clock, and what the page is in
// the middle of. No DOM here: the entry (phone.js) fills `app` in, including the two
// things every part may ask for, render() and refreshSoon().

export const ACTIVE = new Set(["accepted", "en_route", "on_scene"]);
export const SOON_MS = 60 * 60 * 1000; // a shift starting within the hour is the current task

export const app = {
  state: { now: null, volunteer: {}, assignments: [], vehicles: [] }, // as /phone/state/ gives it
  order: { seq: null, at: 0, changed: 0 }, // how new app.state is (isNewer)
  skewMs: 0, // server clock minus ours
  busy: new Set(), // assignments with an answer on its way
  finishing: null, // the assignment whose "done" form is open
  givingUp: null, // the booked shift whose "give up?" question is open
  peopleMovedTyped: "", // and what was typed in it, kept when the card is redrawn
  dutyBusy: false,
  vehiclesBusy: new Set(), // vehicles with a change of service on its way
  stopping: null, // the vehicle whose "out of service" form is open
  reasonTyped: "", // and the reason typed in it, kept when the card is redrawn
  render: () => {}, // draw the page again from app.state
  refreshSoon: () => {}, // (delayMs = 150) fetch the state again, then render
};

export const serverNow = () => Date.now() + app.skewMs;

// --- the order of what the page shows ----------------------------------------------------
//
// The page's state comes from several places that race: /phone/state/ replies, the
// socket's snapshot, and the page's own changes once the server said yes to an answer.
// A reply already on its way when something newer was shown must not draw the older
// state over it (a finished task coming back). So the page keeps how new its state is:
//   seq      the deployment log's position it reflects, at least: a state's `last_seq`
//            (read before its rows), a snapshot's hello `last_seq`;
//   at       when (on the page's own clock, `tick`) that state was applied;
//   changed  when the page last changed what it shows by itself (an answer the server
//            accepted, a duty event): that has no position to compare.
// A reply is {seq, asked}: its position and when it was asked for. It is newer, to be
// applied, when
//   - it was asked for after the page's last change of its own (one asked before may
//     have been read before the change), and
//   - it was asked for after the page applied the state it shows (then the server read
//     it later: it is at least as new, even when its position is lower, which can only
//     mean the log itself went back, a restored database), or, asked before (the two
//     overlapped), its position is higher.
// Anything else is dropped, and the page asks again: a new request is newer.
let clock = 0;
export const tick = () => ++clock;

export function isNewer(current, reply) {
  if (reply.asked < current.changed) return false;
  if (reply.asked > current.at) return true;
  return current.seq !== null && typeof reply.seq === "number" && reply.seq > current.seq;
}

// The page changed what it shows by itself: no reply asked for before it goes over it.
export function changedHere() {
  app.order.changed = tick();
}

// The page's state from the server's answer, whatever it was, and how far our clock is
// off from the server's. `sent` is when we asked (the answer's "now" is about half-way
// there and back).
export function setState(fresh, sent = Date.now()) {
  app.state = fresh;
  reached(fresh.last_seq);
  app.skewMs = Date.parse(fresh.now) - (sent + Date.now()) / 2;
}

// A /phone/state/ reply, asked for at `asked` (tick) and `sent` (Date.now()): applied
// when it is newer than what the page shows. Returns whether it was.
export function takeState(fresh, asked, sent = Date.now()) {
  if (!isNewer(app.order, { seq: fresh.last_seq, asked })) return false;
  setState(fresh, sent);
  return true;
}

// A state applied in part (the socket's snapshot): the page now stands at `seq`.
export function reached(seq) {
  app.order = { ...app.order, seq: seq ?? null, at: tick() };
}

// The page's own change to one row, once the server said yes to it: made to the row the
// page shows now (a card may hold an older copy, from before the last reply), and
// marked, so that no reply asked for before it draws the row as it was.
export function changeRow(id, fields) {
  for (const row of app.state.assignments) if (row.id === id) Object.assign(row, fields);
  changedHere();
}

// The same for a vehicle the volunteer crews (its status, once the server said yes).
export function changeVehicle(id, fields) {
  for (const vehicle of app.state.vehicles ?? []) if (vehicle.id === id) Object.assign(vehicle, fields);
  changedHere();
}

// What the crew may do with a vehicle: put it out of service ("out"), back in service
// ("in"), or nothing while it is on a task (the server refuses: take it off the task
// first) or in a status the page does not know.
export function serviceChange(vehicle) {
  if (vehicle.status === "available") return "out";
  if (vehicle.status === "out_of_service") return "in";
  return null;
}

// Milliseconds left to answer an offer (Infinity when it has no deadline).
export function remaining(row, now = serverNow()) {
  return row.expires_at ? Date.parse(row.expires_at) - now : Infinity;
}

// A shift booked ahead (reserved: it holds the place, not the person), or an accepted
// shift starting more than an hour from now, waits in "upcoming shifts".
export function isUpcoming(row, now = serverNow()) {
  if (row.status === "reserved") return true;
  return Boolean(
    row.status === "accepted" &&
    row.shift_start &&
    Date.parse(row.shift_start) - now > SOON_MS,
  );
}

// What accepting an offer makes of it: a shift starting beyond the hour is booked
// (reserved), anything else is work now (the server decides; this is the page's guess
// until its answer is drawn).
export const acceptedStatus = (row, now = serverNow()) =>
  row.shift_start && Date.parse(row.shift_start) - now > SOON_MS ? "reserved" : "accepted";

// The page's three lists: offers to answer, the current tasks, the upcoming shifts.
export function arrange(rows, now = serverNow()) {
  const offers = rows.filter((row) => row.status === "offered");
  const active = rows.filter((row) => ACTIVE.has(row.status) || row.status === "reserved");
  return {
    offers,
    current: active.filter((row) => !isUpcoming(row, now)),
    upcoming: active.filter((row) => isUpcoming(row, now)),
  };
}

// A snapshot's rows over the page's: the snapshot's fields win, the page's words stay.
// The snapshot's rows are the state's without the page's words (labels in the page's
// language): for a row the page has not seen, `complete` is false and a refresh brings
// them (until then it shows the snapshot's need_text).
export function mergeSnapshot(known, fresh) {
  const byId = new Map(known.map((row) => [row.id, row]));
  let complete = true;
  const assignments = fresh.map((row) => {
    const old = byId.get(row.id);
    if (!old) complete = false;
    return { need_label: row.need_text, ...old, ...row };
  });
  return { assignments, complete };
}

// Offers the server has not heard were delivered to this phone.
export const undelivered = (rows) =>
  rows.filter((row) => row.status === "offered" && !row.delivered_at);
