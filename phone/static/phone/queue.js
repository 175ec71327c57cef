// Answers and reports waiting to be sent: accept, decline, en route, on scene, done,
// tapped while the phone had no connection (or whose request got no answer). Kept in
// the browser's storage, so a reload keeps them, and sent in the order they were tapped
// when the connection is back. No DOM here: Node's test runner checks it (tests/js/).
//
// Sending one twice changes nothing: the server changes an assignment by compare-and-set
// (an accept of an offer no longer offered is refused), so a second try is refused, and
// a refusal is checked against where the assignment stands now (`settled`): already
// where the action would have put it means the first try got through, and it counts
// as sent. Any other refusal (the offer expired meanwhile, the need filled) is the
// server's answer: shown, and dropped with the steps queued after it for the same
// assignment, which depended on it.

// An item: {key, action, assignment, title, queued_at, tries, people_moved?, reason?}
// where action is "accept", "decline", "en_route", "on_scene" or "completed".
export const STEPS = ["en_route", "on_scene", "completed"];

// The statuses in which an action's effect holds. An accepted offer that went on to be
// done, or was cancelled by a coordinator, was accepted.
const SETTLED = {
  accept: ["accepted", "en_route", "on_scene", "completed", "cancelled"],
  decline: ["declined"],
  en_route: ["en_route", "on_scene", "completed"],
  on_scene: ["on_scene", "completed"],
  completed: ["completed"],
};

export function settled(entry, status) {
  return (SETTLED[entry.action] ?? []).includes(status);
}

// What to make of a reply to one try: {ok} sent, {ok: false, reason: null} no answer
// (offline, a timeout, a server error: try again later), a reason: refused.
export function verdict(reply) {
  if (reply.ok) return "sent";
  if (reply.reason === null || reply.reason === undefined) return "retry";
  return "refused";
}

let made = 0;

// A new item for `action` on the assignment `row` (what the page shows of it).
export function item(action, row, extra = {}, now = Date.now()) {
  made += 1;
  return {
    key: `${now.toString(36)}-${made}-${Math.random().toString(36).slice(2, 8)}`,
    action,
    assignment: row.id,
    title: row.incident_title ?? "",
    queued_at: new Date(now).toISOString(),
    tries: 0,
    ...extra,
  };
}

// The queue with `entry` at its end; the same action on the same assignment twice (a
// second tap) is queued once.
export function enqueue(queue, entry) {
  const twice = queue.some(
    (queued) => queued.assignment === entry.assignment && queued.action === entry.action);
  return twice ? queue : [...queue, entry];
}

// The queue without the item `key` and the items queued after it for the same
// assignment (they depended on it: no "on scene" for an offer not accepted). Returns
// {queue, dropped}, dropped in order, the item first.
export function without(queue, key) {
  const index = queue.findIndex((queued) => queued.key === key);
  if (index < 0) return { queue, dropped: [] };
  const first = queue[index];
  const dropped = queue.filter(
    (queued, at) => at === index || (at > index && queued.assignment === first.assignment));
  return { queue: queue.filter((queued) => !dropped.includes(queued)), dropped };
}

// The actions queued for one assignment, in order.
export const pendingFor = (queue, id) =>
  queue.filter((queued) => queued.assignment === id).map((queued) => queued.action);

// --- kept in the browser's storage ----------------------------------------------------

export function load(storage, key) {
  try {
    const kept = JSON.parse(storage.getItem(key) || "[]");
    return Array.isArray(kept) ? kept.filter((entry) => entry && entry.key && entry.action) : [];
  } catch {
    return [];
  }
}

export function save(storage, key, queue) {
  try {
    if (queue.length) storage.setItem(key, JSON.stringify(queue));
    else storage.removeItem(key);
  } catch {
    // storage full or refused (a private window): the queue lives on in memory
  }
}

// --- sending --------------------------------------------------------------------------

// Sends the queue, in order, until it is empty or a try gets no answer. The parts:
//   read() / write(queue)  the queue as stored (read again after every await: the
//                          volunteer may cancel an item meanwhile, another tab send one)
//   send(item)             one try: {ok, reason} (verdict)
//   statusOf(id)           where the assignment stands now: its status, "gone" when the
//                          server knows no such assignment of theirs, null for no answer
//   sent(item, reply), refused(item, reason, dropped)   told after each
// Returns "empty" or "waiting" (something is left, to try when the connection is back).
export async function flush({ read, write, send, statusOf, sent = () => {}, refused = () => {} }) {
  for (;;) {
    const first = read()[0];
    if (!first) return "empty";
    const reply = await send(first);
    let outcome = verdict(reply);
    if (outcome === "refused") {
      const status = await statusOf(first.assignment);
      if (status === null) outcome = "retry";
      else if (settled(first, status)) outcome = "sent";
    }
    const queue = read();
    if (outcome === "retry") {
      write(queue.map((queued) => (queued.key === first.key ? { ...queued, tries: queued.tries + 1 } : queued)));
      return "waiting";
    }
    if (outcome === "sent") {
      write(queue.filter((queued) => queued.key !== first.key));
      sent(first, reply);
    } else {
      const rest = without(queue, first.key);
      write(rest.queue);
      refused(first, reply.reason, rest.dropped.length ? rest.dropped : [first]);
    }
  }
}
