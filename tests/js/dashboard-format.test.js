// dashboard/static/dashboard/format.js: the dashboard's words, numbers and times.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { staticModule } from "./static.js";

const { makeContext } = await staticModule("dashboard/format.js");

function context(overrides = {}) {
  return makeContext({
    language: "en",
    time_zone: "Asia/Shanghai",
    can_edit: true,
    skills: [{ code: "rescue", name: "Water rescue" }],
    townships: [{ id: 1, name: "Longhu", latitude: 34.4, longitude: 113.7 }],
    strings: {
      people_count: "%(count)s × %(skill)s",
      vehicle_count: "%(count)s × %(kind)s",
      capability: "Move %(people)s people through %(depth)s of water",
      shift: "shift %(start)s–%(end)s",
      more_teams: "and %(count)s more",
    },
    labels: { vehicle_kind: { boat: "Boat" }, priority: { 4: "Critical" } },
    ...overrides,
  });
}

describe("makeContext", () => {
  it("speaks the page's language", () => {
    assert.equal(context().chinese, false);
    assert.equal(context().locale, "en-GB");
    const zh = context({ language: "zh-hans" });
    assert.equal(zh.chinese, true);
    assert.equal(zh.locale, "zh-Hans-CN");
  });

  it("t() fills %(name)s from its parameters", () => {
    const { t } = context();
    assert.equal(t("more_teams", { count: 3 }), "and 3 more");
    assert.equal(t("people_count", { count: 2, skill: "Medic" }), "2 × Medic");
  });

  it("t() leaves a missing parameter empty and an unknown key as the key", () => {
    const { t } = context();
    assert.equal(t("more_teams"), "and  more");
    assert.equal(t("no_such_string"), "no_such_string");
    assert.equal(t("more_teams", { count: 0 }), "and 0 more");
  });

  it("label() and the names fall back to the value they were given", () => {
    const ctx = context();
    assert.equal(ctx.label("vehicle_kind", "boat"), "Boat");
    assert.equal(ctx.label("vehicle_kind", "truck"), "truck");
    assert.equal(ctx.label("no_group", "x"), "x");
    assert.equal(ctx.skillName("rescue"), "Water rescue");
    assert.equal(ctx.skillName("sampling"), "sampling");
    assert.equal(ctx.townshipName(1), "Longhu");
    assert.equal(ctx.townshipName(99), "");
  });

  it("distance() in metres below a kilometre, in kilometres above", () => {
    const ctx = context();
    assert.equal(ctx.distance(849.6), "850 m");
    assert.equal(ctx.distance(2345), "2.3 km");
    assert.equal(ctx.distance(1000), "1 km");
    assert.equal(ctx.distance(999), "999 m");
    assert.equal(ctx.distance(0), "0 m");
    assert.equal(ctx.distance(null), "");
    assert.equal(ctx.distance(undefined), "");
    assert.equal(context({ language: "zh-hans" }).distance(2345), "2.3公里");
  });

  it("km(), number() and eta()", () => {
    const ctx = context();
    assert.equal(ctx.km(12.34), "12.3 km");
    assert.equal(ctx.km(null), "");
    assert.equal(ctx.number(12345), "12,345");
    assert.equal(ctx.number(0), "0");
    assert.equal(ctx.number(null), "");
    assert.match(ctx.eta(360), /^6 mins?$/); // CLDR's en-GB: "mins"
    assert.match(ctx.eta(10), /^1 min$/); // never less than a minute
    assert.equal(context({ language: "zh-hans" }).eta(360), "6分钟");
    assert.equal(ctx.eta(null), "");
  });

  it("after() counts seconds, then minutes, then hours", () => {
    const ctx = context();
    const from = "2026-06-04T08:00:00Z";
    assert.match(ctx.after("2026-06-04T08:00:04Z", from), /^\+4 secs?$/);
    assert.match(ctx.after("2026-06-04T08:02:10Z", from), /^\+2 mins?$/);
    assert.match(ctx.after("2026-06-04T09:30:00Z", from), /^\+1\.5 hrs?$/);
    assert.match(ctx.after("2026-06-04T07:59:00Z", from), /^\+0 secs?$/); // never negative
    assert.equal(ctx.after(null, from), "");
    const zh = context({ language: "zh-hans" });
    assert.equal(zh.after("2026-06-04T08:00:04Z", from), "+4秒");
    assert.equal(zh.after("2026-06-04T08:02:10Z", from), "+2分钟");
    assert.equal(zh.after("2026-06-04T09:30:00Z", from), "+1.5小时");
  });

  it("time() is the city's clock", () => {
    const ctx = context();
    assert.equal(ctx.time("2026-06-04T00:30:05Z"), "08:30:05");
    assert.equal(ctx.time(null), "");
  });

  it("needText() says what a need asks for", () => {
    const ctx = context();
    assert.equal(ctx.needText({ kind: "people", count: 12, skill: "rescue" }), "12 × Water rescue");
    assert.equal(ctx.needText({ kind: "vehicle", count: 2, vehicle_kind: "boat" }), "2 × Boat");
    assert.equal(ctx.needText({ kind: "capability", people_to_move: 40, water_depth_m: "1.2" }),
      "Move 40 people through 1.2 m of water");
  });

  it("shiftShort() and shiftText() in the city's time, the end as a clock on the same day", () => {
    const ctx = context();
    const need = { shift_start: "2020-01-02T00:00:00Z", shift_end: "2020-01-02T08:00:00Z" };
    assert.equal(ctx.shiftShort(need), "08:00–16:00");
    assert.match(ctx.shiftText(need), /^shift 2 Jan,? 08:00–16:00$/);
    const overnight = { shift_start: "2020-01-02T12:00:00Z", shift_end: "2020-01-02T20:00:00Z" };
    assert.match(ctx.shiftText(overnight), /^shift 2 Jan,? 20:00–3 Jan,? 04:00$/);
    assert.equal(ctx.shiftText({ shift_start: null }), "");
    assert.equal(ctx.shiftShort({ shift_start: null }), "");
  });

  it("places() counts people and vehicles, not a capability", () => {
    const ctx = context();
    assert.equal(ctx.places({ kind: "people", count: 5 }), 5);
    assert.equal(ctx.places({ kind: "capability", count: 1 }), null);
  });
});
