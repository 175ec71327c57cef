// The phone page's fixed parts, read from the document once: the words and URLs the
// server embedded, the language and time zone it rendered the page in.

import { fill } from "../tongxin/api.js";
import { embeddedJSON } from "../tongxin/dom.js";
import { makeFormat } from "./format.js";

export const $ = (id) => document.getElementById(id);

export const T = embeddedJSON("phone-strings");
export const URLS = embeddedJSON("phone-urls");
export const root = $("phone");
export const LANG = document.documentElement.lang || "zh-hans";
export const BASE_TITLE = document.title;
export const fmt = makeFormat(LANG, root.dataset.timeZone || undefined);

// An API URL for one assignment: url("accept", 12).
export const url = (name, id) => fill(URLS[name], id);

// A refusal's reason comes in the page's language: the REST API and the socket pick it
// as the page does (the language switch's cookie, else the browser's languages).
export function say(reason) {
  return reason || T.no_answer;
}
