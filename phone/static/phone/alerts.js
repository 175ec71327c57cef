// A phone that rings: "Turn on alerts" (one tap, which browsers require before a page
// may play sound or ask for notifications) unlocks the sound (a WebAudio context) and
// asks for notifications. Then every new offer
//   - rings: a loud repeating tone (an oscillator: nothing to download), and vibrates,
//     until it is answered, expires, is withdrawn, or the volunteer taps it (or its
//     notification);
//   - shows a system notification through the service worker (tag = the offer's id, so
//     a second one replaces it; renotify, requireInteraction), which opens the page on
//     that offer (sw.js, notificationclick) and is closed once the offer stops ringing.
// With Web Push on at the server (push.js), the same tap subscribes this phone, so that
// offers show with the page closed too.
// While on duty the screen is kept on (Screen Wake Lock, asked again whenever the page
// comes back into view), shown as a chip; a browser without it says so.
//
// The pure parts (which offers ring, the alert's mode, which notifications to show or
// close) touch no DOM: Node's test runner checks them (tests/js/). setupAlerts() and
// the rest touch the browser only when called.

import { pushSubscribe } from "./push.js";

const WANTED_KEY = "tongxin.phone.alerts";

// --- what rings (pure) ----------------------------------------------------------------

// The offers that ring: open (offered, not expired), and neither tapped (`quiet`) nor
// answered on this phone (an answer waiting to be sent: `answered`).
export function ringingIds(rows, { quiet = new Set(), answered = new Set(), now = Date.now() } = {}) {
  return rows
    .filter((row) => row.status === "offered")
    .filter((row) => !row.expires_at || Date.parse(row.expires_at) > now)
    .filter((row) => !quiet.has(row.id) && !answered.has(row.id))
    .map((row) => row.id);
}

// "off" until the sound is unlocked (the page shows its button), then "ringing" while
// an offer rings, else "on".
export function alertMode({ unlocked, ringing }) {
  if (!unlocked) return "off";
  return ringing.length ? "ringing" : "on";
}

// The notifications to show (ringing, not shown yet) and to close (shown, no longer
// ringing: answered, expired, withdrawn or tapped).
export function notificationPlan({ ringing, notified }) {
  return {
    show: ringing.filter((id) => !notified.has(id)),
    close: [...notified].filter((id) => !ringing.includes(id)),
  };
}

// What the chip says of the screen: "on" (kept on), "off" (wanted, not held: hidden
// page, or refused), "unsupported", or "" (off duty: nothing to say).
export function wakeState({ onDuty, supported, held }) {
  if (!onDuty) return "";
  if (!supported) return "unsupported";
  return held ? "on" : "off";
}

// --- the tone ---------------------------------------------------------------------------

// Two-tone beeps, three to a cycle, a cycle every 1.6 s: loud, unlike anything else the
// phone plays. `Context` is the browser's AudioContext (a fake in the tests).
export class Ringer {
  constructor(Context, vibrate = () => {}) {
    this.Context = Context;
    this.vibrate = vibrate;
    this.context = null;
    this.timer = null;
    this.nodes = new Set();
  }

  get unlocked() {
    return this.context?.state === "running";
  }

  get playing() {
    return this.timer !== null;
  }

  // Call from a tap: browsers let a context start only then.
  unlock() {
    if (!this.Context) return Promise.resolve(false);
    try {
      this.context ??= new this.Context();
    } catch {
      return Promise.resolve(false);
    }
    return Promise.resolve(this.context.resume?.())
      .then(() => this.unlocked, () => false);
  }

  beep(at, frequency, length = 0.28, loud = 0.9) {
    const context = this.context;
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.type = "square";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(loud, at + 0.02);
    gain.gain.setValueAtTime(loud, at + length - 0.04);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + length);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(at);
    oscillator.stop(at + length + 0.02);
    this.nodes.add(oscillator);
    oscillator.onended = () => this.nodes.delete(oscillator);
  }

  cycle() {
    if (!this.unlocked) return;
    const now = this.context.currentTime + 0.02;
    [880, 1175, 880].forEach((frequency, index) => this.beep(now + index * 0.36, frequency));
    this.vibrate([300, 60, 300, 60, 300]);
  }

  start() {
    if (this.timer !== null || !this.unlocked) return;
    this.cycle();
    this.timer = setInterval(() => this.cycle(), 1600);
  }

  stop() {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    for (const node of this.nodes) {
      try { node.stop(); } catch { /* already ended */ }
    }
    this.nodes.clear();
    this.vibrate(0);
  }

  // A short chirp: the tap that turned alerts on hears that they work.
  chirp() {
    if (this.unlocked) this.beep(this.context.currentTime + 0.02, 1175, 0.15, 0.4);
  }
}

// --- on the page ------------------------------------------------------------------------

let page = null; // what setupAlerts was given
let ringer = null;
const quiet = new Set();
const notified = new Set();
let lastRows = [];
let lastAnswered = new Set();
let lock = null; // the screen wake lock, while held
let wakeWanted = false;
let pushState = "off"; // push.js: "subscribed", "off" (not at this server), "unavailable"

const wanted = () => localStorage.getItem(WANTED_KEY) === "1";
const notificationsSupported = () => "Notification" in window && "serviceWorker" in navigator;
const permission = () => (notificationsSupported() ? Notification.permission : "unsupported");

async function enable() {
  localStorage.setItem(WANTED_KEY, "1");
  const unlocking = ringer.unlock(); // first, while the tap still counts
  if (notificationsSupported() && Notification.permission === "default") {
    try { await Notification.requestPermission(); } catch { /* refused */ }
  }
  await unlocking;
  ringer.chirp();
  navigator.vibrate?.(80);
  update();
  await subscribePush();
}

async function subscribePush() {
  pushState = await pushSubscribe(page.push);
  update();
}

// `options`: {T, button, status, wake, describe(row) -> {title, body}, icon,
//   push: {key, url, send}}
export function setupAlerts(options) {
  page = options;
  const Context = window.AudioContext || window.webkitAudioContext;
  ringer = new Ringer(Context, (pattern) => navigator.vibrate?.(pattern));
  page.button.addEventListener("click", enable);
  // Turned on before, on this phone: the first tap anywhere turns the sound on again
  // (a reloaded page starts without it).
  document.addEventListener("pointerdown", () => {
    if (wanted() && !ringer.unlocked) ringer.unlock().then(update);
  }, { capture: true });
  // A notification tapped: sw.js focuses the page and says which offer.
  navigator.serviceWorker?.addEventListener("message", (event) => {
    if (event.data?.type === "open-offer") openOffer(Number(event.data.offer));
  });
  const fromLink = /^#offer-(\d+)$/.exec(location.hash);
  if (fromLink) openOffer(Number(fromLink[1]));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") keepAwake(wakeWanted);
  });
  // Subscribed before on this phone: the server is given the subscription again (it
  // may have forgotten it: another member signed in here meanwhile, or a new key).
  if (wanted() && permission() === "granted") subscribePush();
}

// The volunteer opened an offer (tapped its card or its notification): it stops ringing.
export function openOffer(id) {
  if (!Number.isFinite(id)) return;
  quiet.add(id);
  update();
  const card = document.querySelector(`.offer[data-id="${id}"]`);
  card?.scrollIntoView({ block: "center" });
}

// Called on every render: the offers the page shows, and the ids answered on this phone
// with the answer still waiting to be sent.
export function updateAlerts(rows, answered = new Set(), onDuty = false) {
  lastRows = rows;
  lastAnswered = answered;
  if (wakeWanted !== onDuty) keepAwake(onDuty);
  update();
}

function update() {
  if (!page) return;
  const ringing = ringingIds(lastRows, { quiet, answered: lastAnswered, now: page.now() });
  for (const id of [...quiet]) if (!lastRows.some((row) => row.id === id)) quiet.delete(id);
  if (ringing.length) ringer.start();
  else ringer.stop();
  const mode = alertMode({ unlocked: ringer.unlocked, ringing });
  document.body.dataset.alert = mode;
  document.body.dataset.ringing = ringing.join(" ");
  document.body.dataset.tone = ringer.playing ? "on" : "off";
  document.body.dataset.push = pushState;
  page.button.hidden = mode !== "off";
  page.button.querySelector(".alerts-label").textContent = wanted() ? page.T.alerts_sound_again : page.T.alerts_enable;
  const state = permission();
  let words = "";
  if (mode !== "off") {
    words = state === "granted" ? (pushState === "subscribed" ? page.T.alerts_push : page.T.alerts_on)
      : state === "denied" ? page.T.alerts_blocked
      : state === "unsupported" ? page.T.alerts_no_notifications : page.T.alerts_on;
  }
  page.status.textContent = words;
  page.status.hidden = !words;
  page.status.classList.toggle("problem", state === "denied");
  notify(ringing);
}

async function notify(ringing) {
  if (permission() !== "granted") return;
  const plan = notificationPlan({ ringing, notified });
  if (!plan.show.length && !plan.close.length) return;
  for (const id of plan.show) notified.add(id);
  for (const id of plan.close) notified.delete(id);
  let registration = null;
  try {
    registration = await navigator.serviceWorker.ready;
  } catch {
    return;
  }
  for (const id of plan.show) {
    const row = lastRows.find((one) => one.id === id);
    if (!row) continue;
    const { title, body } = page.describe(row);
    registration.showNotification(title, {
      body,
      tag: String(id),
      renotify: true,
      requireInteraction: true,
      icon: page.icon,
      badge: page.icon,
      vibrate: [300, 60, 300, 60, 300],
      data: { offer: id },
    }).catch(() => notified.delete(id));
  }
  for (const id of plan.close) {
    registration.getNotifications({ tag: String(id) })
      .then((shown) => shown.forEach((notification) => notification.close()))
      .catch(() => {});
  }
}

// --- the screen, kept on while on duty ------------------------------------------------

async function keepAwake(on) {
  wakeWanted = on;
  if (!on) {
    const held = lock;
    lock = null;
    await held?.release().catch(() => {});
  } else if (!lock && "wakeLock" in navigator && document.visibilityState === "visible") {
    try {
      lock = await navigator.wakeLock.request("screen");
      lock.addEventListener("release", () => {
        lock = null;
        showWake();
      });
    } catch {
      lock = null; // refused (battery saver, no permission): the chip says so
    }
  }
  showWake();
}

function showWake() {
  if (!page) return;
  const state = wakeState({ onDuty: wakeWanted, supported: "wakeLock" in navigator, held: Boolean(lock) });
  page.wake.hidden = !state;
  page.wake.className = `chip wake ${state}`;
  page.wake.textContent = state ? page.T[`wake_${state}`] : "";
  document.body.dataset.wake = state;
}
