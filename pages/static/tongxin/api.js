// JSON over fetch, with the session's CSRF token on writes: the dashboard and the phone
// page use it alike. A refused request throws a RequestError whose message is what the
// server said (DRF's {"detail"} or field errors); a request that never got an answer
// (no network) throws fetch's own TypeError.

// The session's CSRF token, which base.html writes in the body's data-csrf attribute:
// the CSRF cookie is HttpOnly (a script injected into a page cannot read it).
export function csrfToken() {
  return document.querySelector("[data-csrf]")?.dataset.csrf || "";
}

export class RequestError extends Error {
  constructor(status, body) {
    super(RequestError.describe(body) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }

  // {"detail": "..."}, {"field": ["..."]}, {"needs": [{"skill": ["..."]}, {}]} → lines.
  static describe(body, path = "") {
    if (body === null || body === undefined) return "";
    if (typeof body === "string") return path ? `${path}: ${body}` : body;
    if (Array.isArray(body)) {
      const numbered = body.some((item) => item && typeof item === "object");
      return body
        .map((item, index) => RequestError.describe(item, numbered ? `${path}[${index + 1}]` : path))
        .filter(Boolean).join("\n");
    }
    if (typeof body.detail === "string") return body.detail;  // the server's own sentence
    return Object.entries(body)
      .map(([key, value]) => RequestError.describe(
        value, key === "detail" || key === "non_field_errors" ? path : path ? `${path}.${key}` : key))
      .filter(Boolean).join("\n");
  }

  // The same answer as one sentence without field names, as a volunteer's phone says it:
  // the detail, else every field's messages; null when the answer was no JSON object.
  static sentence(body) {
    if (body === null || typeof body !== "object") return null;
    const reason = body.detail ?? Object.values(body).flat().join(" ");
    return Array.isArray(reason) ? reason.join(" ") : reason;
  }
}

// fetch with the session's cookies, asking for JSON: the answer's JSON (null when
// empty), or a RequestError with what the server said.
export async function request(url, options = {}) {
  const response = await fetch(url, {
    credentials: "same-origin",
    ...options,
    headers: { Accept: "application/json", ...(options.headers || {}) },
  });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = text.slice(0, 200); }
  if (!response.ok) throw new RequestError(response.status, body);
  return body;
}

export const getJSON = (url) => request(url);

// A write: POST, PATCH... with a JSON body and the CSRF token.
export const sendJSON = (method, url, data) => request(url, {
  method,
  headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
  body: JSON.stringify(data),
});

export const postJSON = (url, data) => sendJSON("POST", url, data);

// A fresh Idempotency-Key: 128 random bits in hex (crypto.randomUUID needs https).
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// url + body of a creating POST that got no final answer -> the key it was sent with.
const unanswered = new Map();

// A POST that creates (an incident, a manual assignment), with an Idempotency-Key (README,
// "Retrying a creating POST"). Sent again with the same URL and body after no answer or a
// 5xx, it carries the same key: if the server saved the first, it answers with that and
// creates nothing. A final answer (2xx, 4xx) retires the key; a changed body gets a new one.
export async function postCreating(url, data) {
  const body = JSON.stringify(data);
  const attempt = `${url}\n${body}`;
  const key = unanswered.get(attempt) ?? idempotencyKey();
  unanswered.set(attempt, key);
  try {
    const answer = await request(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), "Idempotency-Key": key },
      body,
    });
    unanswered.delete(attempt);
    return answer;
  } catch (error) {
    if (error instanceof RequestError && error.status < 500) unanswered.delete(attempt);
    throw error;
  }
}

// An API URL from its pattern: fill("/api/incidents/{id}/", 12).
export const fill = (pattern, id) => pattern.replace("{id}", encodeURIComponent(id));
