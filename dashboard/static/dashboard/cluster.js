// Grid clustering for the map's volunteer markers: thousands of dots become a count per
// square of the screen (no plugin: Leaflet's own files are all the page has). Pure
// functions over points in pixels at one zoom, so Node's test runner checks them
// (tests/js/dashboard-cluster.test.js); map.js projects and draws.

// Group `points` ({x, y, …} in pixels) by the `cell`-pixel square they fall in. A square
// with at least `least` points is one cluster at the points' mean; the points of a
// square with fewer stay single. Returns {clusters: [{x, y, count, members}], singles},
// in a stable order (by square, then as given).
export function gridClusters(points, { cell = 48, least = 4 } = {}) {
  const squares = new Map();
  for (const point of points) {
    const key = `${Math.floor(point.x / cell)}:${Math.floor(point.y / cell)}`;
    const square = squares.get(key);
    if (square) square.push(point);
    else squares.set(key, [point]);
  }
  const clusters = [];
  const singles = [];
  for (const members of squares.values()) {
    if (members.length < least) {
      singles.push(...members);
      continue;
    }
    let x = 0;
    let y = 0;
    for (const member of members) {
      x += member.x;
      y += member.y;
    }
    clusters.push({ x: x / members.length, y: y / members.length, count: members.length, members });
  }
  return { clusters, singles };
}

// Whether a point lies in the pixel box {minX, minY, maxX, maxY} (what is on screen,
// with a margin): only those are drawn.
export function inBox(point, box) {
  return point.x >= box.minX && point.x <= box.maxX && point.y >= box.minY && point.y <= box.maxY;
}

// Whether box `inner` lies wholly inside box `outer` (a pan that stays within what was
// drawn needs no redraw).
export function boxWithin(inner, outer) {
  return inner.minX >= outer.minX && inner.maxX <= outer.maxX &&
    inner.minY >= outer.minY && inner.maxY <= outer.maxY;
}

// A box grown by `margin` times its size on every side.
export function grownBox(box, margin) {
  const dx = (box.maxX - box.minX) * margin;
  const dy = (box.maxY - box.minY) * margin;
  return { minX: box.minX - dx, minY: box.minY - dy, maxX: box.maxX + dx, maxY: box.maxY + dy };
}

// How a cluster's marker reads: its size class by count, and "busy" when most of its
// people are on a task (member.busy).
export function clusterLook(cluster) {
  const size = cluster.count < 10 ? "s" : cluster.count < 100 ? "m" : "l";
  const busy = cluster.members.filter((member) => member.busy).length;
  return { size, busy: busy * 2 > cluster.count };
}

// The point nearest (x, y) within `radius` pixels, or null: what a click on the map hit.
// (The volunteers' dots lie under the incidents' canvas, which takes the clicks, so the
// map's own click is matched against them.)
export function nearestWithin(points, x, y, radius) {
  let best = null;
  let bestDistance = radius * radius;
  for (const point of points) {
    const distance = (point.x - x) ** 2 + (point.y - y) ** 2;
    if (distance <= bestDistance) {
      best = point;
      bestDistance = distance;
    }
  }
  return best;
}
