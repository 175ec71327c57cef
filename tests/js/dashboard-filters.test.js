// dashboard/static/dashboard/filters.js: what the incident list and the status board show.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { staticModule } from "./static.js";

const {
  NO_FILTER, arrangeIncidents, fillState, folded, incidentMatches, incidentOrder, isFiltering,
  telHref, unfilledNeeds, unitMatches, unitOrder,
} = await staticModule("dashboard/filters.js");

const people = (count, filled, offered = 0) => ({ id: count * 100 + filled, kind: "people", count, filled, offered });

function incident(id, fields = {}) {
  return {
    id, kind: "flood_rescue", priority: 3, township: 1, title: `事件 ${id}`, address: "",
    opened_at: `2021-07-20T10:${String(id).padStart(2, "0")}:00+08:00`, needs: [people(2, 0)], ...fields,
  };
}

const TOWNSHIPS = { 1: "龙湖镇", 2: "新建路街道" };
const townshipName = (id) => TOWNSHIPS[id] ?? "";

describe("folded", () => {
  it("ignores case, width and runs of spaces", () => {
    assert.equal(folded("  ＡＢ  Cd "), "ab cd");
    assert.equal(folded(null), "");
  });
});

describe("fillState", () => {
  it("says unfilled, waiting or filled", () => {
    assert.equal(fillState(incident(1, { needs: [people(2, 1)] })), "unfilled");
    assert.equal(fillState(incident(1, { needs: [people(2, 1, 3)] })), "waiting");
    assert.equal(fillState(incident(1, { needs: [people(2, 2), { kind: "capability", filled: 1 }] })), "filled");
  });

  it("counts a capability need open until it has a vehicle", () => {
    assert.equal(fillState(incident(1, { needs: [{ kind: "capability", filled: 0, offered: 0 }] })), "unfilled");
  });
});

describe("incidentMatches", () => {
  const filter = (fields) => ({ ...NO_FILTER, ...fields });

  it("passes everything with no filter", () => {
    assert.ok(incidentMatches(incident(1), NO_FILTER));
  });

  it("filters by kind, priority, township and fill", () => {
    const site = incident(1, { kind: "testing_site", priority: 2, township: 2, needs: [people(3, 3)] });
    assert.ok(incidentMatches(site, filter({ kind: "testing_site" })));
    assert.ok(!incidentMatches(site, filter({ kind: "flood_rescue" })));
    assert.ok(incidentMatches(site, filter({ priority: "2" })));
    assert.ok(!incidentMatches(site, filter({ priority: "4" })));
    assert.ok(incidentMatches(site, filter({ township: "2" })));
    assert.ok(!incidentMatches(site, filter({ township: "1" })));
    assert.ok(incidentMatches(site, filter({ state: "filled" })));
    assert.ok(!incidentMatches(site, filter({ state: "unfilled" })));
  });

  it("searches the title, the address and the township, every word", () => {
    const bus = incident(1, { title: "京广路隧道 公交车被困", address: "郑州市京广北路", township: 1 });
    assert.ok(incidentMatches(bus, filter({ q: "公交" }), townshipName));
    assert.ok(incidentMatches(bus, filter({ q: "京广北路" }), townshipName));
    assert.ok(incidentMatches(bus, filter({ q: "龙湖 隧道" }), townshipName));
    assert.ok(!incidentMatches(bus, filter({ q: "龙湖 医院" }), townshipName));
    assert.ok(incidentMatches(incident(2, { title: "Bus Trapped" }), filter({ q: "bus trap" })));
  });
});

describe("incidentOrder", () => {
  it("puts the most urgent first, then the longest waiting", () => {
    const list = [incident(3, { priority: 3 }), incident(1, { priority: 3 }), incident(2, { priority: 4 })];
    assert.deepEqual(list.sort(incidentOrder("urgent")).map((i) => i.id), [2, 1, 3]);
  });

  it("or the newest first", () => {
    const list = [incident(3, { priority: 1 }), incident(1, { priority: 4 }), incident(2)];
    assert.deepEqual(list.sort(incidentOrder("newest")).map((i) => i.id), [3, 2, 1]);
  });
});

describe("arrangeIncidents", () => {
  const all = [
    incident(1, { priority: 4 }),
    incident(2, { kind: "testing_site", priority: 2 }),
    incident(3, { kind: "testing_site", priority: 2, township: 2 }),
    incident(4, { priority: 3, township: 2 }),
  ];
  const options = { staffingKinds: ["testing_site", "shelter"], townshipName };

  it("keeps the staffed sites apart from the urgent work", () => {
    const arranged = arrangeIncidents(all, NO_FILTER, options);
    assert.deepEqual(arranged.urgent.map((i) => i.id), [1, 4]);
    assert.deepEqual(arranged.sites.map((i) => i.id), [2, 3]);
    assert.deepEqual([arranged.shown, arranged.total, arranged.sitesTotal], [4, 4, 2]);
  });

  it("counts what the filter shows of how many there are", () => {
    const arranged = arrangeIncidents(all, { ...NO_FILTER, township: "2" }, options);
    assert.deepEqual([...arranged.urgent, ...arranged.sites].map((i) => i.id), [4, 3]);
    assert.deepEqual([arranged.shown, arranged.total, arranged.sitesTotal], [2, 4, 2]);
  });

  it("takes any iterable (a Map's values)", () => {
    const map = new Map(all.map((i) => [i.id, i]));
    assert.equal(arrangeIncidents(map.values(), NO_FILTER, options).total, 4);
  });
});

describe("isFiltering", () => {
  it("is false for no filter and for a new order or blank search only", () => {
    assert.equal(isFiltering(NO_FILTER), false);
    assert.equal(isFiltering({ ...NO_FILTER, sort: "newest", q: "  " }), false);
    assert.equal(isFiltering({ ...NO_FILTER, kind: "evacuation" }), true);
  });
});

describe("unfilledNeeds", () => {
  it("names the needs with places open", () => {
    const open = unfilledNeeds(incident(1, {
      needs: [people(3, 1), people(2, 2), { id: 9, kind: "capability", filled: 0 }],
    }));
    assert.deepEqual(open.map(({ filled, places }) => [filled, places]), [[1, 3], [0, 1]]);
  });

  it("is empty when every place is taken", () => {
    assert.deepEqual(unfilledNeeds(incident(1, { needs: [people(2, 2)] })), []);
  });
});

describe("the status board", () => {
  const rows = [
    { id: 1, name: "王建国", phone: "13900000001", teams: [7], township: 1, state: "free", since: "2021-07-20T08:00:00Z" },
    { id: 2, name: "李秀英", phone: "13900000002", teams: [7, 8], township: 2, state: "en_route",
      incident_title: "京广路隧道", since: "2021-07-20T09:00:00Z" },
    { id: 3, name: "张伟", phone: "13900000003", teams: [], township: 1, state: "on_scene", since: "2021-07-20T09:30:00Z" },
    { id: 4, name: "赵敏", phone: "13900000004", teams: [8], township: 1, state: "on_scene", since: "2021-07-20T09:10:00Z" },
  ];
  const match = (filter) => rows.filter((row) => unitMatches(row, { q: "", team: "", township: "", state: "", ...filter }))
    .map((row) => row.id);

  it("filters by team, township, state and words", () => {
    assert.deepEqual(match({ team: "8" }), [2, 4]);
    assert.deepEqual(match({ township: "1" }), [1, 3, 4]);
    assert.deepEqual(match({ state: "busy" }), [2, 3, 4]);
    assert.deepEqual(match({ state: "free" }), [1]);
    assert.deepEqual(match({ q: "隧道" }), [2]);
    assert.deepEqual(match({ q: "0003" }), [3]);
  });

  it("lists those at work first, longest at it first", () => {
    assert.deepEqual([...rows].sort(unitOrder).map((row) => row.id), [4, 3, 2, 1]);
  });

  it("dials phone numbers with tel: links", () => {
    assert.equal(telHref("+86 139-0000-0001"), "tel:+8613900000001");
    assert.equal(telHref(""), "");
    assert.equal(telHref(null), "");
  });
});
