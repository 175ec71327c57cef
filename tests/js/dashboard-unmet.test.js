// dashboard/static/dashboard/unmet.js: which needs the "nobody left to ask" alarm shows,
// and how far the coordinator is offered to widen.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { staticModule } from "./static.js";

const { nextReachKm, unmetNeeds } = await staticModule("dashboard/unmet.js");

const raised = { at: "2021-07-20T10:00:00+08:00", reason: "all_asked", reach_km: 50,
                 asked: 4, declined: 4, expired: 0, on_duty: 4, busy: 0 };
const need = (fields = {}) => ({ id: 1, kind: "people", skill: "rescue", count: 2, filled: 0,
                                 reach_km: null, extra_skills: [], unmet: null, ...fields });

describe("unmetNeeds", () => {
  it("lists the needs raised and still short of people", () => {
    const incident = { needs: [need({ id: 1, unmet: raised }), need({ id: 2 }),
                               need({ id: 3, unmet: raised, filled: 1 })] };
    assert.deepEqual(unmetNeeds(incident).map((n) => n.id), [1, 3]);
  });

  it("leaves out a need filled by hand since, or cancelled", () => {
    const incident = { needs: [need({ unmet: raised, filled: 2 }),
                               need({ id: 2, unmet: raised, cancelled_at: "2021-07-20T10:05:00+08:00" })] };
    assert.deepEqual(unmetNeeds(incident), []);
  });

  it("keeps a capability need raised, whatever it carries", () => {
    const boats = need({ kind: "capability", count: 1, filled: 1, unmet: raised });
    assert.deepEqual(unmetNeeds({ needs: [boats] }), [boats]);
  });
});

describe("nextReachKm", () => {
  it("offers twice as far as the search reached", () => {
    assert.equal(nextReachKm(need({ reach_km: 50, unmet: raised })), 100);
  });

  it("offers well beyond a volunteer's own range when never widened", () => {
    assert.equal(nextReachKm(need({ unmet: { ...raised, reach_km: null } })), 35);
  });

  it("never offers more than the API takes", () => {
    assert.equal(nextReachKm(need({ reach_km: 400, unmet: { ...raised, reach_km: 400 } })), 500);
  });
});
