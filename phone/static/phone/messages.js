// Messages to those on duty (issue 13, briefings/): a coordinator's word to everyone on
// duty in a township, a team, a skill or an area — or a briefing, a place and a time to
// confirm. Each shows as a card at the top until it is read ("OK, read") or, for a
// briefing, confirmed ("I'll be there"). They come in the page's state (`messages`: the
// unread ones), in a `broadcasts` frame on connecting and in a `broadcast` frame as they
// are sent (docs/websockets.md); the same message may come by two of these, so they are
// kept by id. The phone says it has each (delivered: no SMS follows), and what was
// tapped, over the socket when it is up, over the REST API otherwise.

import { h, keyed } from "../tongxin/dom.js";
import { notice } from "./notice.js";
import { $, LANG, T, URLS, root } from "./page.js";
import { act } from "./socket.js";
import { app } from "./state.js";

const received = new Map(); // id -> the message, from frames since the page loaded
const delivered = new Set(); // ids whose delivery this page reported (or is reporting)
const done = new Set(); // ids read or confirmed here: hidden at once, whatever comes later
const busy = new Set(); // ids whose tap is on its way

function whenFormat() {
  const options = {
    weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  };
  try {
    return new Intl.DateTimeFormat(LANG, { ...options, timeZone: root.dataset.timeZone || undefined });
  } catch {
    return new Intl.DateTimeFormat(undefined, options);
  }
}
const WHEN = whenFormat();

// The messages to show: the state's and those that came by frame, newest first, less
// those read or confirmed here.
export function shownMessages(stateMessages, fromFrames, hidden) {
  const byId = new Map();
  for (const message of [...(stateMessages ?? []), ...fromFrames]) {
    if (!hidden.has(message.id) && !message.read_at) byId.set(message.id, message);
  }
  return [...byId.values()].sort((a, b) => Date.parse(b.sent_at) - Date.parse(a.sent_at) || b.id - a.id);
}

// Messages from the socket (one `broadcast`, or the `broadcasts` on connecting).
// Returns whether any is new to the page.
export function takeMessages(messages) {
  let fresh = false;
  for (const message of messages) {
    if (!received.has(message.id) && !(app.state.messages ?? []).some((m) => m.id === message.id)) {
      fresh = true;
    }
    received.set(message.id, message);
  }
  renderMessages();
  return fresh;
}

function receipt(kind, id) {
  const path = URLS[`broadcast_${kind}`].replace("{id}", encodeURIComponent(id));
  return act({ type: `broadcast_${kind}`, broadcast: id }, "POST", path, {});
}

async function reportDelivered(id) {
  delivered.add(id);
  const { ok, reason } = await receipt("delivered", id);
  // No answer (offline): told again on the next render. Refused: not theirs any more.
  if (!ok && reason === null) delivered.delete(id);
}

async function tapped(message, kind) {
  busy.add(message.id);
  renderMessages();
  const { ok, reason } = await receipt(kind, message.id);
  busy.delete(message.id);
  if (ok) done.add(message.id);
  else notice(reason || T.message_not_sent, "error");
  renderMessages();
}

function messageCard(message) {
  const briefing = message.briefing;
  const waiting = busy.has(message.id);
  return h("article", { class: `card message${briefing ? " briefing" : ""}`, dataset: { id: message.id } },
    h("h2", {}, briefing ? T.briefing_heading : T.message_heading),
    h("p", { class: "muted" }, `${message.author} · ${WHEN.format(new Date(message.sent_at))}`),
    h("p", { class: "text" }, message.text),
    briefing ? h("p", { class: "where" },
      h("b", {}, T.briefing_where), ` ${briefing.place} · ${WHEN.format(new Date(briefing.starts_at))}`) : null,
    h("div", { class: "message-actions" },
      briefing ? h("button", { type: "button", class: "confirm primary", disabled: waiting,
        onclick: () => tapped(message, "confirm") }, T.briefing_confirm) : null,
      h("button", { type: "button", class: "read", disabled: waiting,
        onclick: () => tapped(message, "read") }, T.message_read)));
}

export function renderMessages() {
  const messages = shownMessages(app.state.messages, received.values(), done);
  for (const message of messages) {
    if (!message.delivered_at && !delivered.has(message.id)) reportDelivered(message.id);
  }
  keyed($("messages"), messages, messageCard, (message) =>
    JSON.stringify([message.id, message.text, message.briefing, busy.has(message.id), LANG]));
}
