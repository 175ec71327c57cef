// phone/static/phone/format.js: the phone's distances, travel times, countdowns, shifts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { staticModule } from "./static.js";

const {
  coordinates, countdown, makeFormat, metresBetween, place,
} = await staticModule("phone/format.js");

const en = makeFormat("en", "Asia/Shanghai");
const zh = makeFormat("zh-hans", "Asia/Shanghai");

describe("km", () => {
  it("gives metres in kilometres, to a tenth", () => {
    assert.equal(en.km(2300), "2.3 km");
    assert.equal(en.km(12345), "12.3 km");
    assert.equal(en.km(0), "0 km");
    assert.equal(zh.km(2300), "2.3公里");
  });

  it("says – when the distance is not known", () => {
    assert.equal(en.km(null), "–");
    assert.equal(en.km(undefined), "–");
  });
});

describe("minutes", () => {
  it("rounds seconds to minutes, at least one, as an estimate", () => {
    assert.equal(en.minutes(360), "≈ 6 min");
    assert.equal(en.minutes(389), "≈ 6 min");
    assert.equal(en.minutes(20), "≈ 1 min");
    assert.equal(en.minutes(0), "≈ 1 min");
    assert.equal(zh.minutes(360), "≈ 6分钟");
  });

  it("says – when the time is not known", () => {
    assert.equal(en.minutes(null), "–");
  });
});

describe("clock and shiftText", () => {
  it("shows times in the city's time zone, 24-hour", () => {
    assert.equal(en.clock("2026-06-04T00:30:00Z"), "08:30");
    assert.equal(en.clock("2026-06-04T15:05:00Z"), "23:05");
    assert.equal(en.clock(null), "");
    assert.equal(makeFormat("en", "UTC").clock("2026-06-04T00:30:00Z"), "00:30");
  });

  it("gives a shift's day, start and end", () => {
    const row = { shift_start: "2026-06-04T00:00:00Z", shift_end: "2026-06-04T08:00:00Z" };
    assert.equal(en.shiftText(row), "Thu, Jun 4 08:00–16:00");
    assert.equal(zh.shiftText(row), "6月4日周四 08:00–16:00");
    assert.equal(en.shiftText({ shift_start: null }), "");
  });

  it("falls back to the browser's formats for a language Intl refuses", () => {
    const odd = makeFormat("not a language!", "Asia/Shanghai");
    assert.match(odd.km(2300), /^2\.3 ?km$/);
    assert.match(odd.minutes(360), /^≈ 6/);
    assert.match(odd.clock("2026-06-04T00:30:00Z"), /\d\d:\d\d/);
  });
});

describe("countdown", () => {
  it("shows minutes and seconds left, rounding up", () => {
    assert.equal(countdown(90_000), "1:30");
    assert.equal(countdown(83_400), "1:24");
    assert.equal(countdown(5_001), "0:06");
    assert.equal(countdown(600_000), "10:00");
  });

  it("stops at 0:00", () => {
    assert.equal(countdown(0), "0:00");
    assert.equal(countdown(-4000), "0:00");
  });
});

describe("place", () => {
  it("gives the address and the township", () => {
    assert.equal(place({ incident_address: " 泰山村三组 ", township: "龙湖镇" }), "泰山村三组 · 龙湖镇");
  });

  it("does not repeat a township the address names", () => {
    assert.equal(place({ incident_address: "龙湖镇", township: "龙湖镇" }), "龙湖镇");
    assert.equal(place({ incident_address: "龙湖镇泰山村", township: "龙湖镇" }), "龙湖镇泰山村");
  });

  it("falls back to the township, then the coordinates", () => {
    assert.equal(place({ incident_address: "", township: "龙湖镇" }), "龙湖镇");
    assert.equal(place({ latitude: 34.4, longitude: 113.75 }), "34.40000, 113.75000");
    assert.equal(place({}), "");
  });
});

describe("coordinates and metresBetween", () => {
  it("writes coordinates to five places, nothing without them", () => {
    assert.equal(coordinates({ latitude: 34.123456, longitude: 113.7 }), "34.12346, 113.70000");
    assert.equal(coordinates({ latitude: null }), "");
  });

  it("measures short distances", () => {
    const a = { latitude: 34.4, longitude: 113.74 };
    assert.equal(metresBetween(a, a), 0);
    const north = metresBetween(a, { latitude: 34.401, longitude: 113.74 });
    assert.ok(Math.abs(north - 111.2) < 0.5, north);
    const east = metresBetween(a, { latitude: 34.4, longitude: 113.741 });
    assert.ok(Math.abs(east - 91.8) < 0.5, east); // shorter: cos(34.4°)
  });
});
