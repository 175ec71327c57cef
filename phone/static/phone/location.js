// Sharing where the volunteer is, while they are on duty and allow it: the browser's
// position, sent at most once a minute (sooner after moving 100 m), and a line saying
// when it was last shared or what stands in the way.

import { metresBetween } from "./format.js";
import { $, T, URLS, fmt } from "./page.js";
import { act } from "./socket.js";
import { app, serverNow } from "./state.js";

const SHARE_KEY = "tongxin.phone.shareLocation";
const canLocate = "geolocation" in navigator && window.isSecureContext !== false;
let watchId = null;
let locationProblem = canLocate ? null : T.location_unavailable;
let finding = false;
let lastPosition = null;
let lastSent = null;

function sharing() {
  return localStorage.getItem(SHARE_KEY) !== "0";
}

// Where the volunteer is: the phone's last fix, else the last position the server has.
export function myPosition() {
  if (lastPosition) return lastPosition;
  const { latitude, longitude } = app.state.volunteer;
  return Number.isFinite(latitude) && Number.isFinite(longitude) ? { latitude, longitude } : null;
}

export function watchLocation() {
  const wanted = canLocate && app.state.volunteer.on_duty && sharing();
  if (wanted && watchId === null) {
    finding = true;
    watchId = navigator.geolocation.watchPosition(onPosition, onPositionError, {
      enableHighAccuracy: true,
      maximumAge: 30000,
      timeout: 60000,
    });
  } else if (!wanted && watchId !== null) {
    navigator.geolocation.clearWatch(watchId);
    watchId = null;
    finding = false;
  }
  renderLocation();
}

function onPosition(position) {
  finding = false;
  locationProblem = null;
  const moved = !lastPosition || metresBetween(lastPosition, position.coords) > 100;
  lastPosition = { latitude: position.coords.latitude, longitude: position.coords.longitude };
  sendPosition(lastPosition, false);
  if (moved) app.render(); // the offers' "… km north-east of you"
}

// At most once a minute, or sooner after moving 100 m: enough for matching, kind to a
// prepaid data plan and to the server.
async function sendPosition(where, force) {
  const now = Date.now();
  if (!force && lastSent) {
    const age = now - lastSent.at;
    const moved = metresBetween(lastSent, where);
    if (age < 60000 && !(moved > 100 && age > 10000)) return renderLocation();
  }
  lastSent = { at: now, ...where };
  const reply = await act({ type: "location", ...where }, "PATCH", URLS.volunteer, where);
  if (reply.ok) app.state.volunteer.last_located_at = new Date(serverNow()).toISOString();
  else lastSent = null; // the next fix tries again
  renderLocation();
}

// Back online: the last position again, whenever it was sent.
export function resendPosition() {
  if (lastPosition) sendPosition(lastPosition, true);
}

function onPositionError(error) {
  finding = false;
  if (error.code === error.PERMISSION_DENIED) {
    locationProblem = T.location_denied;
    navigator.geolocation.clearWatch(watchId);
    watchId = null;
  }
  renderLocation();
}

export function renderLocation() {
  $("share-location").checked = sharing();
  const last = app.state.volunteer.last_located_at;
  let text = last ? T.location_last.replace("%(time)s", fmt.clock(last)) : T.location_never;
  if (finding && !lastSent) text = T.location_finding;
  if (locationProblem) text = locationProblem;
  $("location-status").textContent = text;
  $("location-status").classList.toggle("problem", Boolean(locationProblem));
}

export function setupLocation() {
  $("share-location").addEventListener("change", (event) => {
    localStorage.setItem(SHARE_KEY, event.target.checked ? "1" : "0");
    if (event.target.checked) locationProblem = canLocate ? null : T.location_unavailable;
    watchLocation();
  });
}
