// JSON over fetch, with the session's CSRF token on writes. A refused request throws
// an Error whose message is what the server said (DRF's {"detail"} or field errors).

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
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
}

async function request(url, options = {}) {
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

export const postJSON = (url, data) => request(url, {
  method: "POST",
  headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
  body: JSON.stringify(data),
});

export const fill = (pattern, id) => pattern.replace("{id}", encodeURIComponent(id));
