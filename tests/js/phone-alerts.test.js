// phone/static/phone/alerts.js: which offers ring, the alert's mode, which notifications
// to show and close, the screen chip, and the tone (on a fake AudioContext).
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";

import { staticModule } from "./static.js";

const { Ringer, alertMode, notificationPlan, ringingIds, wakeState } = await staticModule("phone/alerts.js");

const NOW = Date.parse("2026-06-04T08:00:00Z");
const at = (seconds) => new Date(NOW + seconds * 1000).toISOString();
const offer = (id, fields = {}) => ({ id, status: "offered", expires_at: at(60), ...fields });

describe("ringingIds", () => {
  it("rings every open offer", () => {
    assert.deepEqual(ringingIds([offer(1), offer(2, { expires_at: null })], { now: NOW }), [1, 2]);
  });

  it("stops for an offer answered, expired, tapped, or answered here and waiting to send", () => {
    const rows = [
      offer(1, { status: "accepted" }),
      offer(2, { expires_at: at(-1) }),
      offer(3),
      offer(4),
      offer(5),
    ];
    assert.deepEqual(ringingIds(rows, { quiet: new Set([3]), answered: new Set([4]), now: NOW }), [5]);
  });

  it("stops for an offer withdrawn: no longer among the rows", () => {
    assert.deepEqual(ringingIds([], { now: NOW }), []);
  });
});

describe("alertMode", () => {
  it("is off until the sound is unlocked, then rings while an offer does", () => {
    assert.equal(alertMode({ unlocked: false, ringing: [1] }), "off");
    assert.equal(alertMode({ unlocked: true, ringing: [] }), "on");
    assert.equal(alertMode({ unlocked: true, ringing: [1] }), "ringing");
  });
});

describe("notificationPlan", () => {
  it("shows each ringing offer once and closes those that stopped", () => {
    assert.deepEqual(notificationPlan({ ringing: [1, 2], notified: new Set([2, 3]) }), { show: [1], close: [3] });
    assert.deepEqual(notificationPlan({ ringing: [], notified: new Set() }), { show: [], close: [] });
  });
});

describe("wakeState", () => {
  it("says nothing off duty, and whether the screen is kept on", () => {
    assert.equal(wakeState({ onDuty: false, supported: true, held: true }), "");
    assert.equal(wakeState({ onDuty: true, supported: false, held: false }), "unsupported");
    assert.equal(wakeState({ onDuty: true, supported: true, held: false }), "off");
    assert.equal(wakeState({ onDuty: true, supported: true, held: true }), "on");
  });
});

class FakeParam {
  setValueAtTime() {}
  exponentialRampToValueAtTime() {}
}

class FakeContext {
  static made = 0;
  constructor() {
    FakeContext.made += 1;
    this.state = "suspended";
    this.currentTime = 0;
    this.destination = {};
    this.oscillators = [];
  }
  async resume() { this.state = "running"; }
  createGain() { return { gain: new FakeParam(), connect: (node) => node }; }
  createOscillator() {
    const oscillator = {
      frequency: {}, started: 0, stopped: 0,
      connect: (node) => node, start() { this.started += 1; }, stop() { this.stopped += 1; },
    };
    this.oscillators.push(oscillator);
    return oscillator;
  }
}

describe("Ringer", () => {
  it("plays nothing before a tap unlocked it", () => {
    const ringer = new Ringer(FakeContext);
    ringer.start();
    assert.equal(ringer.playing, false);
  });

  it("repeats its beeps until stopped, and vibrates with them", async () => {
    mock.timers.enable({ apis: ["setInterval"] });
    try {
      const buzz = [];
      const ringer = new Ringer(FakeContext, (pattern) => buzz.push(pattern));
      assert.equal(await ringer.unlock(), true);
      ringer.start();
      ringer.start(); // once
      assert.equal(ringer.playing, true);
      assert.equal(ringer.context.oscillators.length, 3);
      mock.timers.tick(1600 * 2);
      assert.equal(ringer.context.oscillators.length, 9);
      ringer.stop();
      assert.equal(ringer.playing, false);
      mock.timers.tick(1600 * 3);
      assert.equal(ringer.context.oscillators.length, 9);
      assert.ok(ringer.context.oscillators.every((o) => o.stopped >= 1));
      assert.deepEqual(buzz.at(-1), 0);
      assert.equal(buzz.length, 4);
    } finally {
      mock.timers.reset();
    }
  });

  it("stays silent where the browser has no WebAudio", async () => {
    const ringer = new Ringer(undefined);
    assert.equal(await ringer.unlock(), false);
    ringer.start();
    assert.equal(ringer.playing, false);
  });
});
