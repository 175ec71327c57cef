// dashboard/static/dashboard/cluster.js: the map's volunteers counted per square.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { staticModule } from "./static.js";

const { boxWithin, clusterLook, gridClusters, grownBox, inBox, nearestWithin } =
  await staticModule("dashboard/cluster.js");

describe("gridClusters", () => {
  it("counts a crowded square as one cluster at its mean", () => {
    const points = [{ x: 1, y: 1 }, { x: 3, y: 5 }, { x: 5, y: 3 }, { x: 7, y: 7 }];
    const { clusters, singles } = gridClusters(points, { cell: 10, least: 4 });
    assert.equal(singles.length, 0);
    assert.equal(clusters.length, 1);
    assert.deepEqual([clusters[0].x, clusters[0].y, clusters[0].count], [4, 4, 4]);
    assert.equal(clusters[0].members.length, 4);
  });

  it("leaves the points of a sparse square single", () => {
    const points = [{ x: 1, y: 1, id: 1 }, { x: 2, y: 2, id: 2 }, { x: 55, y: 5, id: 3 }];
    const { clusters, singles } = gridClusters(points, { cell: 10, least: 3 });
    assert.equal(clusters.length, 0);
    assert.deepEqual(singles.map((p) => p.id), [1, 2, 3]);
  });

  it("puts every point in exactly one place, however many", () => {
    const points = Array.from({ length: 5000 }, (_, i) => ({ id: i, x: (i * 37) % 1400, y: (i * 91) % 900 }));
    const { clusters, singles } = gridClusters(points, { cell: 56 });
    const counted = clusters.reduce((sum, c) => sum + c.count, 0) + singles.length;
    assert.equal(counted, 5000);
    const ids = new Set([...clusters.flatMap((c) => c.members), ...singles].map((p) => p.id));
    assert.equal(ids.size, 5000);
    assert.ok(clusters.length < 500, `${clusters.length} clusters`);
  });

  it("splits squares on negative coordinates too", () => {
    const points = [{ x: -1, y: 0 }, { x: 1, y: 0 }];
    const { clusters, singles } = gridClusters(points, { cell: 10, least: 2 });
    assert.equal(clusters.length, 0);
    assert.equal(singles.length, 2);
  });
});

describe("boxes", () => {
  const box = { minX: 0, minY: 0, maxX: 100, maxY: 50 };

  it("say what is inside", () => {
    assert.ok(inBox({ x: 100, y: 0 }, box));
    assert.ok(!inBox({ x: 101, y: 0 }, box));
    assert.ok(boxWithin({ minX: 10, minY: 10, maxX: 90, maxY: 40 }, box));
    assert.ok(!boxWithin({ minX: -1, minY: 10, maxX: 90, maxY: 40 }, box));
  });

  it("grow by a share of their size", () => {
    assert.deepEqual(grownBox(box, 0.5), { minX: -50, minY: -25, maxX: 150, maxY: 75 });
  });
});

describe("clusterLook", () => {
  it("sizes by count and says busy when most are on a task", () => {
    const members = (n, busy) => Array.from({ length: n }, (_, i) => ({ busy: i < busy }));
    assert.deepEqual(clusterLook({ count: 5, members: members(5, 3) }), { size: "s", busy: true });
    assert.deepEqual(clusterLook({ count: 50, members: members(50, 25) }), { size: "m", busy: false });
    assert.deepEqual(clusterLook({ count: 500, members: members(500, 0) }), { size: "l", busy: false });
  });
});

describe("nearestWithin", () => {
  const points = [{ id: 1, x: 0, y: 0 }, { id: 2, x: 10, y: 0 }, { id: 3, x: 4, y: 3 }];

  it("finds the point a click hit, the nearest first", () => {
    assert.equal(nearestWithin(points, 9, 0, 8).id, 2);
    assert.equal(nearestWithin(points, 3, 3, 8).id, 3);
  });

  it("finds nothing beyond the radius", () => {
    assert.equal(nearestWithin(points, 50, 50, 8), null);
    assert.equal(nearestWithin([], 0, 0, 8), null);
  });
});
