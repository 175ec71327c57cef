// phone/static/phone/queue.js: answers and reports tapped offline, kept in order across a
// reload, sent once each; a refusal that means "already done" counts as sent.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { staticModule } from "./static.js";

const {
  enqueue, flush, item, load, pendingFor, save, settled, verdict, without,
} = await staticModule("phone/queue.js");

const row = (id, title = "龙湖镇 泰山村 群众被困") => ({ id, incident_title: title });

class MemoryStorage {
  constructor() { this.kept = new Map(); }
  getItem(key) { return this.kept.has(key) ? this.kept.get(key) : null; }
  setItem(key, value) { this.kept.set(key, String(value)); }
  removeItem(key) { this.kept.delete(key); }
}

// A server: assignments' statuses, and the moves it allows (as dispatch.services does:
// compare-and-set, a repeat refused). Counts the changes it made.
function server(statuses) {
  const moves = {
    accept: [["offered"], "accepted"],
    decline: [["offered"], "declined"],
    en_route: [["accepted"], "en_route"],
    on_scene: [["accepted", "en_route"], "on_scene"],
    completed: [["accepted", "en_route", "on_scene"], "completed"],
  };
  const fake = { statuses, changes: [], offline: false, lostReplies: 0 };
  fake.send = async (entry) => {
    if (fake.offline) return { ok: false, reason: null };
    const [from, to] = moves[entry.action];
    const now = fake.statuses[entry.assignment];
    if (!from.includes(now)) return { ok: false, reason: `refused: ${now}` };
    fake.statuses[entry.assignment] = to;
    fake.changes.push([entry.assignment, to]);
    if (fake.lostReplies > 0) {
      fake.lostReplies -= 1;
      return { ok: false, reason: null }; // done, but the reply never came back
    }
    return { ok: true };
  };
  fake.statusOf = async (id) => (fake.offline ? null : fake.statuses[id] ?? "gone");
  return fake;
}

function outbox(storage, the) {
  const key = "tongxin.phone.outbox.7";
  const told = { sent: [], refused: [] };
  const run = () => flush({
    read: () => load(storage, key),
    write: (queue) => save(storage, key, queue),
    send: the.send,
    statusOf: the.statusOf,
    sent: (entry) => told.sent.push(entry.action),
    refused: (entry, reason, dropped) => told.refused.push([entry.action, reason, dropped.map((d) => d.action)]),
  });
  return { key, told, run, queue: () => load(storage, key) };
}

describe("settled", () => {
  it("says whether the action's effect already holds", () => {
    assert.equal(settled({ action: "accept" }, "accepted"), true);
    assert.equal(settled({ action: "accept" }, "on_scene"), true);
    assert.equal(settled({ action: "accept" }, "expired"), false);
    assert.equal(settled({ action: "accept" }, "withdrawn"), false);
    assert.equal(settled({ action: "decline" }, "declined"), true);
    assert.equal(settled({ action: "decline" }, "accepted"), false);
    assert.equal(settled({ action: "en_route" }, "on_scene"), true);
    assert.equal(settled({ action: "on_scene" }, "en_route"), false);
    assert.equal(settled({ action: "completed" }, "completed"), true);
    assert.equal(settled({ action: "completed" }, "cancelled"), false);
  });
});

describe("verdict", () => {
  it("tells sent, no answer and a refusal apart", () => {
    assert.equal(verdict({ ok: true }), "sent");
    assert.equal(verdict({ ok: false, reason: null }), "retry");
    assert.equal(verdict({ ok: false }), "retry");
    assert.equal(verdict({ ok: false, reason: "Already filled" }), "refused");
  });
});

describe("enqueue, without and pendingFor", () => {
  it("keeps the order tapped and queues a second tap once", () => {
    let queue = [];
    queue = enqueue(queue, item("accept", row(1)));
    queue = enqueue(queue, item("en_route", row(1)));
    queue = enqueue(queue, item("decline", row(2)));
    const again = enqueue(queue, item("en_route", row(1)));
    assert.equal(again, queue);
    assert.deepEqual(queue.map((e) => [e.assignment, e.action]), [[1, "accept"], [1, "en_route"], [2, "decline"]]);
    assert.deepEqual(pendingFor(queue, 1), ["accept", "en_route"]);
    assert.equal(queue[0].title, "龙湖镇 泰山村 群众被困");
    assert.notEqual(queue[0].key, queue[1].key);
  });

  it("drops an item with the later ones of the same assignment, which depended on it", () => {
    const queue = [item("en_route", row(1)), item("decline", row(2)), item("on_scene", row(1))];
    const { queue: rest, dropped } = without(queue, queue[0].key);
    assert.deepEqual(rest.map((e) => e.action), ["decline"]);
    assert.deepEqual(dropped.map((e) => e.action), ["en_route", "on_scene"]);
    assert.deepEqual(without(queue, "nope").queue, queue);
  });
});

describe("load and save", () => {
  it("keeps the queue across a reload, in order", () => {
    const storage = new MemoryStorage();
    const queue = [item("accept", row(1)), item("en_route", row(1))];
    save(storage, "k", queue);
    assert.deepEqual(load(storage, "k"), queue);
    save(storage, "k", []);
    assert.equal(storage.getItem("k"), null);
  });

  it("reads nothing from garbage", () => {
    const storage = new MemoryStorage();
    storage.setItem("k", "{not json");
    assert.deepEqual(load(storage, "k"), []);
    storage.setItem("k", '{"a": 1}');
    assert.deepEqual(load(storage, "k"), []);
  });
});

describe("flush", () => {
  it("sends in order, each once, and empties the queue", async () => {
    const storage = new MemoryStorage();
    const the = server({ 1: "offered" });
    const box = outbox(storage, the);
    save(storage, box.key, [item("accept", row(1)), item("en_route", row(1)), item("on_scene", row(1))]);
    assert.equal(await box.run(), "empty");
    assert.deepEqual(the.changes, [[1, "accepted"], [1, "en_route"], [1, "on_scene"]]);
    assert.deepEqual(box.told.sent, ["accept", "en_route", "on_scene"]);
    assert.equal(storage.getItem(box.key), null);
  });

  it("keeps everything while offline, counting the tries, and sends it when back", async () => {
    const storage = new MemoryStorage();
    const the = server({ 1: "offered", 2: "offered" });
    the.offline = true;
    const box = outbox(storage, the);
    save(storage, box.key, [item("accept", row(1)), item("decline", row(2))]);
    assert.equal(await box.run(), "waiting");
    assert.equal(await box.run(), "waiting");
    assert.deepEqual(box.queue().map((e) => [e.action, e.tries]), [["accept", 2], ["decline", 0]]);
    assert.deepEqual(the.changes, []);
    the.offline = false;
    assert.equal(await box.run(), "empty");
    assert.deepEqual(the.changes, [[1, "accepted"], [2, "declined"]]);
  });

  it("counts a try whose reply was lost as sent once the repeat is refused as done", async () => {
    const storage = new MemoryStorage();
    const the = server({ 1: "offered" });
    the.lostReplies = 1;
    const box = outbox(storage, the);
    save(storage, box.key, [item("accept", row(1))]);
    assert.equal(await box.run(), "waiting"); // it got through; the page does not know
    assert.equal(await box.run(), "empty"); // the repeat: refused, already accepted
    assert.deepEqual(the.changes, [[1, "accepted"]]);
    assert.deepEqual(box.told.sent, ["accept"]);
    assert.deepEqual(box.told.refused, []);
  });

  it("shows a real refusal and drops it with the steps that depended on it", async () => {
    const storage = new MemoryStorage();
    const the = server({ 1: "expired", 2: "offered" });
    const box = outbox(storage, the);
    save(storage, box.key, [item("accept", row(1)), item("decline", row(2)), item("en_route", row(1))]);
    assert.equal(await box.run(), "empty");
    assert.deepEqual(box.told.refused, [["accept", "refused: expired", ["accept", "en_route"]]]);
    assert.deepEqual(box.told.sent, ["decline"]);
    assert.deepEqual(the.changes, [[2, "declined"]]);
  });

  it("keeps a refused item when where it stands cannot be asked", async () => {
    const storage = new MemoryStorage();
    const the = server({ 1: "accepted" });
    const box = outbox(storage, the);
    the.statusOf = async () => null;
    save(storage, box.key, [item("accept", row(1))]);
    assert.equal(await box.run(), "waiting");
    assert.equal(box.queue().length, 1);
  });

  it("drops an item whose assignment the server does not know as theirs", async () => {
    const storage = new MemoryStorage();
    const the = server({});
    the.send = async () => ({ ok: false, reason: "Not found." });
    const box = outbox(storage, the);
    save(storage, box.key, [item("accept", row(9))]);
    assert.equal(await box.run(), "empty");
    assert.deepEqual(box.told.refused, [["accept", "Not found.", ["accept"]]]);
  });

  it("leaves an item cancelled while its try was on the way cancelled", async () => {
    const storage = new MemoryStorage();
    const the = server({ 1: "offered", 2: "offered" });
    const box = outbox(storage, the);
    save(storage, box.key, [item("accept", row(1)), item("decline", row(2))]);
    const send = the.send;
    the.send = async (entry) => {
      if (entry.assignment === 1) save(storage, box.key, box.queue().filter((e) => e.assignment !== 2));
      return send(entry);
    };
    assert.equal(await box.run(), "empty");
    assert.deepEqual(the.changes, [[1, "accepted"]]);
  });
});
