// What the phone page knows: the state the server sent (embedded in the page, then from
// /phone/state/ and the socket's snapshots), the server's clock, and what the page is in
// the middle of. No DOM here: the entry (phone.js) fills `app` in, including the two
// things every part may ask for, render() and refreshSoon().

export const ACTIVE = new Set(["accepted", "en_route", "on_scene"]);
export const SOON_MS = 60 * 60 * 1000; // a shift starting within the hour is the current task

export const app = {
  state: { now: null, volunteer: {}, assignments: [] }, // as /phone/state/ gives it
  skewMs: 0, // server clock minus ours
  busy: new Set(), // assignments with an answer on its way
  finishing: null, // the assignment whose "done" form is open
  peopleMovedTyped: "", // and what was typed in it, kept when the card is redrawn
  dutyBusy: false,
  render: () => {}, // draw the page again from app.state
  refreshSoon: () => {}, // (delayMs = 150) fetch the state again, then render
};

export const serverNow = () => Date.now() + app.skewMs;

// The page's state from the server's answer, and how far our clock is off from its.
// `sent` is when we asked (the answer's "now" is about half-way there and back).
export function setState(fresh, sent = Date.now()) {
  app.state = fresh;
  app.skewMs = Date.parse(fresh.now) - (sent + Date.now()) / 2;
}

// Milliseconds left to answer an offer (Infinity when it has no deadline).
export function remaining(row, now = serverNow()) {
  return row.expires_at ? Date.parse(row.expires_at) - now : Infinity;
}

// An accepted shift starting more than an hour from now waits in "upcoming shifts".
export function isUpcoming(row, now = serverNow()) {
  return Boolean(
    row.status === "accepted" &&
    row.shift_start &&
    Date.parse(row.shift_start) - now > SOON_MS,
  );
}

// The page's three lists: offers to answer, the current tasks, the upcoming shifts.
export function arrange(rows, now = serverNow()) {
  const offers = rows.filter((row) => row.status === "offered");
  const active = rows.filter((row) => ACTIVE.has(row.status));
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
