// phone/static/phone/sketch.js: where an offer lies from the volunteer, in words and on
// the small sketch the offer card shows without a map server.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { staticModule } from "./static.js";

const { bearing, compassPoint, fromYou, labelAt, layout } = await staticModule("phone/sketch.js");
const { makeFormat } = await staticModule("phone/format.js");

const KM = 1 / 111.2; // about a kilometre of latitude, in degrees
const ME = { latitude: 34.4, longitude: 113.74 };
const east = (km) => ({ latitude: ME.latitude, longitude: ME.longitude + km / (111.32 * Math.cos(ME.latitude * Math.PI / 180)) });
const north = (km) => ({ latitude: ME.latitude + km * KM, longitude: ME.longitude });
const northEast = (km) => ({
  latitude: ME.latitude + (km / Math.SQRT2) * KM,
  longitude: east(km / Math.SQRT2).longitude,
});

const T = {
  from_you: "%(distance)s %(direction)s of you",
  dir_n: "north", dir_ne: "north-east", dir_e: "east", dir_se: "south-east",
  dir_s: "south", dir_sw: "south-west", dir_w: "west", dir_nw: "north-west",
};
const ZH = { ...T, from_you: "在你%(direction)s方向 %(distance)s", dir_n: "北", dir_ne: "东北", dir_e: "东" };
const en = makeFormat("en", "Asia/Shanghai");
const zh = makeFormat("zh-hans", "Asia/Shanghai");

describe("bearing and compassPoint", () => {
  it("gives the direction clockwise from north", () => {
    assert.ok(Math.abs(bearing(ME, north(3))) < 0.01);
    assert.ok(Math.abs(bearing(ME, east(3)) - 90) < 0.1);
    assert.ok(Math.abs(bearing(ME, northEast(3)) - 45) < 0.5);
    assert.ok(Math.abs(bearing(north(3), ME) - 180) < 0.01);
  });

  it("names eight points, each 45° wide", () => {
    assert.equal(compassPoint(0), "n");
    assert.equal(compassPoint(22.4), "n");
    assert.equal(compassPoint(22.6), "ne");
    assert.equal(compassPoint(90), "e");
    assert.equal(compassPoint(200), "s");
    assert.equal(compassPoint(250), "w");
    assert.equal(compassPoint(337.6), "n");
    assert.equal(compassPoint(-45), "nw");
  });
});

describe("fromYou", () => {
  it("says how far and which way, in the page's words", () => {
    assert.equal(fromYou(ME, northEast(3.2), T, en.km), "3.2 km north-east of you");
    assert.equal(fromYou(ME, north(12.34), T, en.km), "12.3 km north of you");
    assert.equal(fromYou(ME, northEast(3.2), ZH, zh.km), "在你东北方向 3.2公里");
  });

  it("gives no direction when it is right here, nothing when a place is unknown", () => {
    assert.equal(fromYou(ME, north(0.02), T, en.km), "0 km");
    assert.equal(fromYou(null, north(3), T, en.km), "");
    assert.equal(fromYou({ latitude: null, longitude: null }, north(3), T, en.km), "");
  });
});

describe("layout", () => {
  it("puts you in the middle and the pin at its bearing, north up", () => {
    const up = layout(ME, north(5), 120);
    assert.deepEqual(up.you, { x: 60, y: 60 });
    assert.deepEqual(up.pin, { x: 60, y: 18 });
    const right = layout(ME, east(5), 120);
    assert.equal(right.pin.y, 60);
    assert.equal(right.pin.x, 102);
  });

  it("puts the incident in the middle when you are not known", () => {
    assert.deepEqual(layout(null, north(5), 120), { you: null, pin: { x: 60, y: 60 }, radius: 0 });
  });
});

describe("labelAt", () => {
  it("writes \"you\" on the side away from the pin", () => {
    assert.deepEqual(labelAt({ x: 60, y: 60 }, { x: 60, y: 102 }), { x: 60, y: 44 });
    assert.deepEqual(labelAt({ x: 60, y: 60 }, { x: 18, y: 60 }), { x: 76, y: 60 });
  });
});
