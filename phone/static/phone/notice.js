// The notice at the top of the page: what became of an answer, a report, going on duty.

import { $ } from "./page.js";

let noticeTimer = null;

// A sticky notice stays until closed (an answer the queue could not deliver).
export function notice(text, kind = "", { sticky = false } = {}) {
  const box = $("notice");
  box.querySelector(".notice-text").textContent = text;
  box.className = `notice ${kind}`;
  box.hidden = false;
  clearTimeout(noticeTimer);
  if (!sticky) noticeTimer = setTimeout(() => (box.hidden = true), kind === "error" ? 20000 : 8000);
}

export function clearNotice() {
  clearTimeout(noticeTimer);
  $("notice").hidden = true;
}

export function setupNotice() {
  $("notice").querySelector(".notice-close").addEventListener("click", clearNotice);
}
