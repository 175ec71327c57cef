// phone/static/phone/state.js: which list a row goes in, and a snapshot over the state.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { staticModule } from "./static.js";

const {
  app, arrange, isUpcoming, mergeSnapshot, remaining, serverNow, setState, undelivered,
} = await staticModule("phone/state.js");

const NOW = Date.parse("2026-06-04T08:00:00Z");
const at = (minutes) => new Date(NOW + minutes * 60_000).toISOString();

describe("remaining", () => {
  it("is the time left to answer, Infinity without a deadline", () => {
    assert.equal(remaining({ expires_at: at(1.5) }, NOW), 90_000);
    assert.equal(remaining({ expires_at: at(-1) }, NOW), -60_000);
    assert.equal(remaining({ expires_at: null }, NOW), Infinity);
  });
});

describe("isUpcoming and arrange", () => {
  const rows = [
    { id: 1, status: "offered" },
    { id: 2, status: "accepted" },
    { id: 3, status: "accepted", shift_start: at(30) },
    { id: 4, status: "accepted", shift_start: at(61) },
    { id: 5, status: "en_route", shift_start: at(120) },
    { id: 6, status: "on_scene" },
    { id: 7, status: "declined" },
    { id: 8, status: "completed" },
  ];

  it("keeps an accepted shift starting over an hour away for later", () => {
    assert.equal(isUpcoming(rows[3], NOW), true);
    assert.equal(isUpcoming(rows[2], NOW), false); // within the hour: the current task
    assert.equal(isUpcoming(rows[1], NOW), false); // no shift
    assert.equal(isUpcoming(rows[4], NOW), false); // already on the way
  });

  it("puts offers, current tasks and upcoming shifts apart, and drops the rest", () => {
    const { offers, current, upcoming } = arrange(rows, NOW);
    assert.deepEqual(offers.map((row) => row.id), [1]);
    assert.deepEqual(current.map((row) => row.id), [2, 3, 5, 6]);
    assert.deepEqual(upcoming.map((row) => row.id), [4]);
  });
});

describe("mergeSnapshot", () => {
  it("takes the snapshot's fields over the page's and keeps the page's words", () => {
    const known = [{ id: 1, status: "offered", need_label: "水上救援 · 2人", kind_label: "防汛救援" }];
    const { assignments, complete } = mergeSnapshot(known, [
      { id: 1, status: "accepted", need_text: "rescue × 2" },
    ]);
    assert.equal(complete, true);
    assert.deepEqual(assignments, [{
      id: 1, status: "accepted", need_text: "rescue × 2", need_label: "水上救援 · 2人", kind_label: "防汛救援",
    }]);
  });

  it("shows a new row's need_text until a refresh brings its words", () => {
    const { assignments, complete } = mergeSnapshot([], [{ id: 2, status: "offered", need_text: "rescue × 1" }]);
    assert.equal(complete, false);
    assert.equal(assignments[0].need_label, "rescue × 1");
  });

  it("drops the rows the snapshot no longer has", () => {
    const { assignments } = mergeSnapshot([{ id: 1 }, { id: 2 }], [{ id: 2 }]);
    assert.deepEqual(assignments.map((row) => row.id), [2]);
  });
});

describe("undelivered", () => {
  it("lists the offers the server has not heard reached the phone", () => {
    const rows = [
      { id: 1, status: "offered", delivered_at: null },
      { id: 2, status: "offered", delivered_at: at(0) },
      { id: 3, status: "accepted", delivered_at: null },
    ];
    assert.deepEqual(undelivered(rows).map((row) => row.id), [1]);
  });
});

describe("setState and serverNow", () => {
  it("keeps the state and follows the server's clock", () => {
    const ahead = new Date(Date.now() + 3_600_000).toISOString();
    setState({ now: ahead, volunteer: { id: 1 }, assignments: [] });
    assert.equal(app.state.now, ahead);
    assert.ok(Math.abs(app.skewMs - 3_600_000) < 1000, app.skewMs);
    assert.ok(Math.abs(serverNow() - Date.parse(ahead)) < 1000);
  });

  it("takes half the round trip off the skew", () => {
    const sent = Date.now() - 2000; // asked two seconds ago
    setState({ now: new Date(Date.now() - 1000).toISOString(), assignments: [] }, sent);
    assert.ok(Math.abs(app.skewMs) < 100, app.skewMs);
  });
});
