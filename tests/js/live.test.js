// pages/static/tongxin/live.js and the phone's requests over it (phone/static/phone/socket.js),
// against a stand-in WebSocket.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";

import { staticModule } from "./static.js";

const { LiveSocket } = await staticModule("tongxin/live.js");
// phone/socket.js imports ../tongxin/api.js: pages/static/tongxin/api.js, as in the browser.
const { restRequest } = await staticModule("phone/socket.js");

class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static made = [];

  constructor(url) {
    this.url = url;
    this.readyState = FakeWebSocket.CONNECTING;
    this.sent = [];
    FakeWebSocket.made.push(this);
  }

  send(text) { this.sent.push(JSON.parse(text)); }

  // What the server does.
  open() {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen();
  }

  frame(data) { this.onmessage({ data: JSON.stringify(data) }); }

  close(code = 1006) {
    this.readyState = 3;
    this.onclose({ code });
  }
}

describe("LiveSocket", () => {
  beforeEach(() => {
    FakeWebSocket.made = [];
    globalThis.WebSocket = FakeWebSocket;
    globalThis.location = { protocol: "https:", host: "tongxin.example" };
    mock.timers.enable({ apis: ["setTimeout"] });
  });

  afterEach(() => {
    mock.timers.reset();
    delete globalThis.WebSocket;
    delete globalThis.location;
  });

  function socket() {
    const seen = { states: [], events: [], snapshots: [], frames: [] };
    const live = new LiveSocket("/ws/volunteer/", {
      onState: (name) => seen.states.push(name),
      onEvent: (event) => seen.events.push(event.seq),
      onSnapshot: (frame) => seen.snapshots.push(frame),
      onFrame: (frame) => seen.frames.push(frame.type),
    });
    return { live, seen, ws: () => FakeWebSocket.made.at(-1) };
  }

  it("connects at once, on wss: under https", () => {
    const { live, seen, ws } = socket();
    assert.equal(ws().url, "wss://tongxin.example/ws/volunteer/");
    assert.deepEqual(seen.states, ["connecting"]);
    ws().open();
    assert.equal(live.current, "live");
  });

  it("hands each event to the page once, in order", () => {
    const { seen, ws } = socket();
    ws().open();
    ws().frame({ type: "hello", last_seq: 10 });
    ws().frame({ type: "snapshot", assignments: [] });
    for (const seq of [11, 12, 12, 9, 13]) ws().frame({ type: "event", seq, kind: "offer.made" });
    assert.deepEqual(seen.events, [11, 12, 13]);
    assert.equal(seen.snapshots.length, 1);
    // A repeated event goes no further, not even to onFrame.
    assert.deepEqual(seen.frames, ["hello", "snapshot", "event", "event", "event"]);
  });

  it("reconnects with ?since= the last event seen, backing off", () => {
    const { live, seen, ws } = socket();
    ws().open();
    ws().frame({ type: "hello", last_seq: 10 });
    ws().frame({ type: "event", seq: 11, kind: "offer.made" });
    ws().close();
    assert.equal(seen.states.at(-1), "offline");
    mock.timers.tick(500);
    assert.equal(FakeWebSocket.made.length, 2);
    assert.equal(ws().url, "wss://tongxin.example/ws/volunteer/?since=11");
    assert.equal(live.retryMs, 1000);
    ws().close();
    mock.timers.tick(999);
    assert.equal(FakeWebSocket.made.length, 2);
    mock.timers.tick(1);
    assert.equal(FakeWebSocket.made.length, 3);
  });

  it("does not retry once signed out", () => {
    const { ws } = socket();
    ws().open();
    ws().close(4401);
    mock.timers.tick(60_000);
    assert.equal(FakeWebSocket.made.length, 1);
  });

  it("keeps what is sent while down and sends it once back", () => {
    const { live, ws } = socket();
    live.send({ type: "delivered", assignment: 3 });
    assert.deepEqual(ws().sent, []);
    ws().open();
    live.send({ type: "seen", assignment: 3 });
    assert.deepEqual(ws().sent, [{ type: "delivered", assignment: 3 }, { type: "seen", assignment: 3 }]);
  });
});

describe("the phone's REST requests", () => {
  const realFetch = globalThis.fetch;
  let answer;

  beforeEach(() => {
    globalThis.document = { querySelector: () => ({ dataset: { csrf: "t" } }) };
    globalThis.fetch = async () => answer();
  });

  afterEach(() => {
    globalThis.fetch = realFetch;
    delete globalThis.document;
  });

  it("resolve to ok, or to the server's reason as a sentence", async () => {
    answer = () => new Response('{"status": "accepted"}', { status: 200 });
    assert.deepEqual(await restRequest("POST", "/api/assignments/1/accept/"), { ok: true });
    answer = () => new Response('{"detail": "Too late: the need is filled."}', { status: 409 });
    assert.deepEqual(await restRequest("POST", "/x/"),
      { ok: false, reason: "Too late: the need is filled.", status: 409 });
    answer = () => new Response('{"on_duty": ["Must be a valid boolean."]}', { status: 400 });
    assert.deepEqual(await restRequest("PATCH", "/x/", {}),
      { ok: false, reason: "Must be a valid boolean.", status: 400 });
  });

  it("resolve a refusal with no sentence to its status, a refusal still", async () => {
    answer = () => new Response("<h1>Forbidden</h1>", { status: 403 });
    assert.deepEqual(await restRequest("POST", "/x/"), { ok: false, reason: "HTTP 403", status: 403 });
  });

  it("resolve to no reason when no usable answer came", async () => {
    answer = () => new Response("<h1>Bad Gateway</h1>", { status: 502 });
    assert.deepEqual(await restRequest("POST", "/x/"), { ok: false, reason: null, status: 502 });
    answer = () => { throw new TypeError("Failed to fetch"); };
    assert.deepEqual(await restRequest("POST", "/x/"), { ok: false, reason: null });
  });
});
