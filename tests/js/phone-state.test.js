// phone/static/phone/state.js: which list a row goes in, a snapshot over the state, which
// state replies are newer than what the page shows, and what the crew may do with a vehicle.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { staticModule } from "./static.js";

const {
  acceptedStatus, app, arrange, changeRow, changeVehicle, changedHere, isNewer, isUpcoming, mergeSnapshot, reached,
  remaining, serverNow, serviceChange, setState, takeState, tick, undelivered,
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

  it("keeps a booked (reserved) shift with the upcoming ones, however near, and guesses what accepting makes", () => {
    const booked = [{ id: 9, status: "reserved", shift_start: at(24 * 60) },
      { id: 10, status: "reserved", shift_start: at(20) }, { id: 11, status: "cancelled" }];
    const { offers, current, upcoming } = arrange(booked, NOW);
    assert.deepEqual([offers, current].map((list) => list.length), [0, 0]);
    assert.deepEqual(upcoming.map((row) => row.id), [9, 10]);
    assert.equal(acceptedStatus({ shift_start: at(24 * 60) }, NOW), "reserved");
    assert.equal(acceptedStatus({ shift_start: at(30) }, NOW), "accepted");
    assert.equal(acceptedStatus({ shift_start: null }, NOW), "accepted");
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

describe("isNewer", () => {
  // The page shows the log up to seq 12, applied at tick 5; its last own change at tick 3.
  const current = { seq: 12, at: 5, changed: 3 };

  it("drops a reply asked for before the page's state, at a lower or the same position", () => {
    assert.equal(isNewer(current, { seq: 11, asked: 4 }), false);
    assert.equal(isNewer(current, { seq: 0, asked: 4 }), false);
    assert.equal(isNewer(current, { seq: 12, asked: 4 }), false); // which is newer is unknown
  });

  it("takes a reply asked for before the page's state at a higher position", () => {
    assert.equal(isNewer(current, { seq: 13, asked: 4 }), true);
  });

  it("takes a reply asked for after the page's state, read after it", () => {
    assert.equal(isNewer(current, { seq: 12, asked: 6 }), true);
    assert.equal(isNewer(current, { seq: 13, asked: 6 }), true);
    assert.equal(isNewer(current, { seq: 3, asked: 6 }), true); // the log went back (a restore)
  });

  it("drops a reply asked for before the page's own change, whatever its position", () => {
    const changed = { seq: 12, at: 5, changed: 7 };
    assert.equal(isNewer(changed, { seq: 13, asked: 6 }), false); // maybe read before the change
    assert.equal(isNewer(changed, { seq: 12, asked: 8 }), true); // read after it
  });

  it("drops an overlapping reply when there is no position to compare", () => {
    assert.equal(isNewer({ seq: null, at: 5, changed: 3 }, { seq: 13, asked: 4 }), false);
    assert.equal(isNewer(current, { seq: undefined, asked: 4 }), false);
    assert.equal(isNewer(current, { seq: undefined, asked: 6 }), true); // a server without it
  });
});

describe("takeState and changeRow", () => {
  const state = (seq, status) => ({
    now: new Date().toISOString(),
    last_seq: seq,
    volunteer: { id: 1, on_duty: true },
    assignments: status ? [{ id: 7, status }] : [],
  });
  const shown = () => app.state.assignments.find((row) => row.id === 7)?.status;

  it("never draws a finished task again from a reply that was on its way", () => {
    setState(state(10, "on_scene"));
    const early = tick(); // a refresh asked for while on scene...
    changeRow(7, { status: "completed" }); // ...then the server says yes to "done"
    assert.equal(takeState(state(10, "on_scene"), early), false);
    assert.equal(shown(), "completed");
    const later = tick(); // asked for again
    assert.equal(takeState(state(12, null), later), true);
    assert.equal(app.state.last_seq, 12);
    assert.equal(shown(), undefined);
  });

  it("drops a reply older than a snapshot applied meanwhile, and takes a newer one", () => {
    setState(state(20, "accepted"));
    const early = tick();
    reached(23); // the socket's snapshot at hello's last_seq 23
    assert.equal(takeState(state(21, "accepted"), early), false);
    assert.equal(app.order.seq, 23);
    assert.equal(takeState(state(24, "en_route"), early), true); // overlapped, but newer
    assert.equal(shown(), "en_route");
    assert.equal(takeState(state(24, "on_scene"), tick()), true); // asked for after
    assert.equal(shown(), "on_scene");
  });

  it("changes the row the page shows, not a card's older copy of it", () => {
    setState(state(30, "accepted"));
    const cardsCopy = app.state.assignments[0];
    setState(state(31, "accepted")); // a reply replaced the rows since the card was drawn
    changeRow(cardsCopy.id, { status: "en_route" });
    assert.equal(shown(), "en_route");
  });

  it("counts going on duty as the page's own change", () => {
    setState(state(40, null));
    const early = tick();
    app.state.volunteer.on_duty = false;
    changedHere();
    assert.equal(takeState(state(41, null), early), false);
    assert.equal(app.state.volunteer.on_duty, false);
  });
});

describe("serviceChange and changeVehicle", () => {
  it("offers out of service for an available vehicle, back in service for one out of it", () => {
    assert.equal(serviceChange({ status: "available" }), "out");
    assert.equal(serviceChange({ status: "out_of_service" }), "in");
  });

  it("offers nothing for a vehicle on a task, or in a status it does not know", () => {
    assert.equal(serviceChange({ status: "assigned" }), null);
    assert.equal(serviceChange({ status: "scrapped" }), null);
  });

  const state = (seq, status) => ({
    now: new Date().toISOString(),
    last_seq: seq,
    volunteer: { id: 1, on_duty: true },
    assignments: [],
    vehicles: [{ id: 3, call_sign: "龙湖-舟1", status }],
  });

  it("never draws a vehicle back in service from a reply that was on its way", () => {
    setState(state(50, "available"));
    const cardsCopy = app.state.vehicles[0];
    const early = tick(); // a refresh asked for before the server said yes
    setState(state(50, "available"), Date.now()); // a reply replaced the rows meanwhile
    changeVehicle(cardsCopy.id, { status: "out_of_service" });
    assert.equal(app.state.vehicles[0].status, "out_of_service");
    assert.equal(takeState(state(50, "available"), early), false);
    assert.equal(app.state.vehicles[0].status, "out_of_service");
    assert.equal(takeState(state(51, "out_of_service"), tick()), true);
  });

  it("changes nothing in a state without vehicles (a page from before them)", () => {
    setState({ now: new Date().toISOString(), last_seq: 60, volunteer: {}, assignments: [] });
    changeVehicle(3, { status: "out_of_service" });
    assert.equal(app.state.vehicles, undefined);
  });
});
