// What the page says about its connection: the pill in the header ("live",
// "connecting", "offline") and, when the socket stays down, a banner saying whether
// offers still arrive by polling or not at all.

import { notice } from "./notice.js";
import { $, T, root } from "./page.js";
import { resendPosition } from "./location.js";
import { socketState } from "./socket.js";
import { app } from "./state.js";

let everLive = false;
let wasDown = false;
let bannerTimer = null;
let httpWorks = null; // did the last state request get through (while the socket is down)?

function showBanner() {
  const banner = $("banner");
  if (!wasDown) return;
  const polling = Boolean(httpWorks) && navigator.onLine !== false;
  banner.textContent = polling ? T.polling_banner : T.offline_banner;
  banner.classList.toggle("polling", polling);
  banner.hidden = false;
}

// Whether the last request for the state got an answer.
export function httpWorked(ok) {
  httpWorks = ok;
  showBanner();
}

// The socket's state ("connecting" | "live" | "offline"), or "offline" from the browser.
export function onState(name) {
  const shown = navigator.onLine === false ? "offline" : name;
  const pill = $("connection");
  pill.textContent = T[shown];
  pill.className = `connection ${shown}`;
  root.dataset.connection = shown;
  clearTimeout(bannerTimer);
  if (shown === "live") {
    $("banner").hidden = true;
    if (wasDown) {
      wasDown = false;
      notice(T.back_online);
      app.refreshSoon(0);
      resendPosition();
    }
    everLive = true;
    return;
  }
  // Refused for being signed out (the socket then stops retrying)? The state's 401
  // says so, and the reload shows the sign-in page. Otherwise this fails quietly.
  if (name === "offline" && navigator.onLine !== false) app.refreshSoon(1000);
  // A short blink (the first connect, a quick reconnect) is not worth a banner.
  const wait = shown === "offline" ? 0 : everLive ? 1500 : 4000;
  bannerTimer = setTimeout(() => {
    if (socketState() === "live" && navigator.onLine !== false) return;
    wasDown = true;
    showBanner();
  }, wait);
}
