// pages/static/tongxin/live.js when the server is short of its channel layer: it accepts
// and closes with 4503 (docs/websockets.md); the socket backs off, with jitter.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";

import { staticModule } from "./static.js";

const { LiveSocket } = await staticModule("tongxin/live.js");

class FakeWebSocket {
  static OPEN = 1;
  static made = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    FakeWebSocket.made.push(this);
  }

  send() {}

  open() {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen();
  }

  frame(data) { this.onmessage({ data: JSON.stringify(data) }); }

  close(code) {
    this.readyState = 3;
    this.onclose({ code });
  }
}

describe("LiveSocket refused with 4503", () => {
  beforeEach(() => {
    FakeWebSocket.made = [];
    globalThis.WebSocket = FakeWebSocket;
    globalThis.location = { protocol: "https:", host: "tongxin.example" };
    mock.timers.enable({ apis: ["setTimeout"] });
  });

  afterEach(() => {
    mock.timers.reset();
    mock.restoreAll();
    delete globalThis.WebSocket;
    delete globalThis.location;
  });

  const latest = () => FakeWebSocket.made.at(-1);

  // How long until the next socket is made, to the millisecond, up to a minute.
  function waitBeforeNextSocket() {
    const before = FakeWebSocket.made.length;
    for (let ms = 1; ms <= 60_000; ms += 1) {
      mock.timers.tick(1);
      if (FakeWebSocket.made.length > before) return ms;
    }
    return null;
  }

  it("waits longer each time although every handshake opens, spread at random", () => {
    const random = mock.method(Math, "random", () => 0.0);
    new LiveSocket("/ws/dashboard/");
    const waits = [];
    for (let n = 0; n < 5; n += 1) {
      latest().open();  // accepted ...
      latest().close(4503);  // ... and refused: no hello
      waits.push(waitBeforeNextSocket());
    }
    // ½ × 2, 4, 8, 15, 15 s with Math.random() = 0.
    assert.deepEqual(waits, [1000, 2000, 4000, 7500, 7500]);
    random.mock.mockImplementation(() => 0.999);
    latest().close(1013);
    assert.ok(waitBeforeNextSocket() > 14_900);
  });

  it("starts from the bottom again once the server says hello", () => {
    const live = new LiveSocket("/ws/dashboard/");
    latest().close(4503);
    waitBeforeNextSocket();
    latest().open();
    latest().frame({ type: "hello", last_seq: 3 });
    assert.equal(live.retryMs, 500);
  });
});
