// Where an incident lies from the volunteer, without a map server: the words ("3.2 km
// north-east of you") and a small sketch (an SVG: you in the middle, north up, the
// incident's pin at its bearing, a ring at its distance). The system runs without
// internet and MAP_TILES_URL is empty by default, so the offer shows this; the task
// card keeps its "navigate" links to the phone's own map app.
//
// The pure parts (bearing, compass point, layout) need no DOM: Node's test runner checks
// them (tests/js/). sketch() builds the SVG only when called.

import { metresBetween } from "./format.js";

const RAD = Math.PI / 180;
export const POINTS = ["n", "ne", "e", "se", "s", "sw", "w", "nw"];

const known = (where) =>
  Boolean(where) && Number.isFinite(where.latitude) && Number.isFinite(where.longitude);

// The initial great-circle bearing from `a` to `b`, in degrees clockwise from north, 0–360.
export function bearing(a, b) {
  const lat1 = a.latitude * RAD;
  const lat2 = b.latitude * RAD;
  const dLon = (b.longitude - a.longitude) * RAD;
  const y = Math.sin(dLon) * Math.cos(lat2);
  const x = Math.cos(lat1) * Math.sin(lat2) - Math.sin(lat1) * Math.cos(lat2) * Math.cos(dLon);
  return ((Math.atan2(y, x) / RAD) + 360) % 360;
}

// One of eight compass points, each 45° wide around its direction: 22.4° → "n", 22.6° → "ne".
export function compassPoint(degrees) {
  return POINTS[Math.round((((degrees % 360) + 360) % 360) / 45) % 8];
}

// "3.2 km north-east of you" in the page's words (T: from_you, dir_*), with the page's
// km format; "" when either place is unknown. Under 50 m there is no direction to speak of.
export function fromYou(me, target, T, km) {
  if (!known(me) || !known(target)) return "";
  const metres = metresBetween(me, target);
  if (metres < 50) return km(metres);
  return T.from_you
    .replace("%(distance)s", km(metres))
    .replace("%(direction)s", T[`dir_${compassPoint(bearing(me, target))}`]);
}

// Where the two marks go in a square sketch `size` wide: you in the middle, the
// incident at its bearing, at 70% of the way to the edge (the sketch is not to scale:
// the ring says the distance). Without your position, the incident in the middle.
export function layout(me, target, size = 120) {
  const middle = { x: size / 2, y: size / 2 };
  if (!known(me) || !known(target) || metresBetween(me, target) < 50) {
    return { you: known(me) ? middle : null, pin: middle, radius: 0 };
  }
  const radius = size * 0.35;
  const angle = bearing(me, target) * RAD;
  const round = (value) => Math.round(value * 10) / 10;
  return {
    you: middle,
    pin: { x: round(middle.x + radius * Math.sin(angle)), y: round(middle.y - radius * Math.cos(angle)) },
    radius,
  };
}

// Where "you" is written: beside your mark, on the side away from the pin.
export function labelAt(here, pin, away = 16) {
  const dx = here.x - pin.x;
  const dy = here.y - pin.y;
  const length = Math.hypot(dx, dy) || 1;
  return { x: Math.round(here.x + (dx / length) * away), y: Math.round(here.y + (dy / length) * away) };
}

// --- the SVG ----------------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) if (child) element.append(child);
  return element;
}

// The sketch for one offer: presentation attributes only (the Content-Security-Policy
// refuses style attributes, not these).
export function sketch(me, target, { label, you, north, size = 120 }) {
  const { you: here, pin, radius } = layout(me, target, size);
  const middle = size / 2;
  return svg(
    "svg",
    { class: "sketch", viewBox: `0 0 ${size} ${size}`, width: size, height: size, role: "img", "aria-label": label },
    svg("rect", { x: 0, y: 0, width: size, height: size, rx: 10, fill: "#eef3f7" }),
    radius > 0 && svg("circle", {
      cx: middle, cy: middle, r: radius, fill: "none", stroke: "#90a4ae", "stroke-dasharray": "3 3",
    }),
    radius > 0 && svg("line", {
      x1: here.x, y1: here.y, x2: pin.x, y2: pin.y, stroke: "#b71c1c", "stroke-width": 2,
    }),
    svg("text", { x: middle, y: 13, "text-anchor": "middle", "font-size": 11, "font-weight": 700, fill: "#455a64" },
      document.createTextNode(north)),
    svg("path", { d: `M${middle} 16 l-4 7 h8 z`, fill: "#455a64" }),
    here && svg("circle", { class: "you", cx: here.x, cy: here.y, r: 6, fill: "#1565c0", stroke: "#fff", "stroke-width": 2 }),
    here && radius > 0 && svg("text", {
      ...labelAt(here, pin), "text-anchor": "middle", "dominant-baseline": "middle", "font-size": 10,
      "font-weight": 700, fill: "#1565c0",
    }, document.createTextNode(you)),
    svg("path", {
      class: "pin",
      d: `M${pin.x} ${pin.y} l-7 -12 a8 8 0 1 1 14 0 z`,
      fill: "#b71c1c",
      stroke: "#fff",
      "stroke-width": 1.5,
    }),
  );
}
