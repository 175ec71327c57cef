// pages/static/tongxin/api.js: how the server's answers become what the pages say.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { staticModule } from "./static.js";

const {
  RequestError, fill, getJSON, postJSON, request, sendJSON,
} = await staticModule("tongxin/api.js");

describe("RequestError.describe", () => {
  it("gives DRF's detail as it is", () => {
    assert.equal(RequestError.describe({ detail: "Incident #3 is already resolved." }),
      "Incident #3 is already resolved.");
  });

  it("names each field before its messages, a line each", () => {
    assert.equal(RequestError.describe({ title: ["This field is required."], priority: ["Too high.", "Not a number."] }),
      "title: This field is required.\npriority: Too high.\npriority: Not a number.");
  });

  it("numbers the items of a nested list from 1 and skips the empty ones", () => {
    const body = { needs: [{}, { skill: ["Required for a need of this kind."] }] };
    assert.equal(RequestError.describe(body), "needs[2].skill: Required for a need of this kind.");
  });

  it("keeps non_field_errors and a nested detail unprefixed", () => {
    assert.equal(RequestError.describe({ non_field_errors: ["Shift ends before it starts."] }),
      "Shift ends before it starts.");
    assert.equal(RequestError.describe({ needs: { detail: ["Too many."] } }), "needs: Too many.");
  });

  it("says nothing about nothing", () => {
    assert.equal(RequestError.describe(null), "");
    assert.equal(RequestError.describe(undefined), "");
    assert.equal(RequestError.describe({}), "");
    assert.equal(RequestError.describe([]), "");
  });

  it("is the error's message, else the HTTP status", () => {
    const refused = new RequestError(409, { detail: "Already filled." });
    assert.equal(refused.message, "Already filled.");
    assert.equal(refused.status, 409);
    assert.deepEqual(refused.body, { detail: "Already filled." });
    assert.ok(refused instanceof Error);
    assert.equal(new RequestError(502, null).message, "HTTP 502");
  });
});

describe("RequestError.sentence (the phone's notices)", () => {
  it("gives the detail, else every field's messages without their names", () => {
    assert.equal(RequestError.sentence({ detail: "This offer has expired." }), "This offer has expired.");
    assert.equal(RequestError.sentence({ on_duty: ["Must be a valid boolean."], latitude: ["Out of range."] }),
      "Must be a valid boolean. Out of range.");
    assert.equal(RequestError.sentence({ detail: ["One.", "Two."] }), "One. Two.");
    assert.equal(RequestError.sentence(["Not now."]), "Not now.");
  });

  it("has no sentence for an answer that was no JSON object", () => {
    assert.equal(RequestError.sentence(null), null);
    assert.equal(RequestError.sentence("<html>Bad gateway</html>"), null);
    assert.equal(RequestError.sentence({}), "");
  });
});

describe("fill", () => {
  it("puts the id in the pattern, escaped", () => {
    assert.equal(fill("/api/incidents/{id}/resolve/", 12), "/api/incidents/12/resolve/");
    assert.equal(fill("/api/x/{id}/", "a/b"), "/api/x/a%2Fb/");
  });
});

describe("request", () => {
  let calls;
  let answer;
  const realFetch = globalThis.fetch;

  beforeEach(() => {
    calls = [];
    answer = () => new Response("{}", { status: 200 });
    globalThis.fetch = async (url, options) => {
      calls.push({ url, options });
      return answer();
    };
    globalThis.document = { querySelector: (selector) => (selector === "[data-csrf]" ? { dataset: { csrf: "tok=1" } } : null) };
  });

  afterEach(() => {
    globalThis.fetch = realFetch;
    delete globalThis.document;
  });

  it("asks for JSON with the session's cookies and gives the answer's JSON", async () => {
    answer = () => new Response('{"id": 7}', { status: 200 });
    assert.deepEqual(await getJSON("/api/incidents/7/"), { id: 7 });
    assert.equal(calls[0].url, "/api/incidents/7/");
    assert.equal(calls[0].options.credentials, "same-origin");
    assert.deepEqual(calls[0].options.headers, { Accept: "application/json" });
  });

  it("gives null for an empty answer", async () => {
    answer = () => new Response(null, { status: 204 });
    assert.equal(await getJSON("/x/"), null);
  });

  it("writes JSON with the CSRF token", async () => {
    await postJSON("/api/incidents/", { title: "泰山村" });
    const { options } = calls[0];
    assert.equal(options.method, "POST");
    assert.equal(options.body, '{"title":"泰山村"}');
    assert.deepEqual(options.headers, {
      Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": "tok=1",
    });
    await sendJSON("PATCH", "/api/me/volunteer/", { on_duty: true });
    assert.equal(calls[1].options.method, "PATCH");
  });

  it("sends an empty token when the page wrote none (the server then refuses)", async () => {
    globalThis.document = { querySelector: () => null };
    await postJSON("/x/", {});
    assert.equal(calls[0].options.headers["X-CSRFToken"], "");
  });

  it("throws what the server said when it refuses", async () => {
    answer = () => new Response('{"detail": "Not yours."}', { status: 403 });
    await assert.rejects(postJSON("/x/", {}), (error) =>
      error instanceof RequestError && error.status === 403 && error.message === "Not yours.");
  });

  it("keeps the start of an answer that is not JSON", async () => {
    answer = () => new Response(`<h1>Server Error</h1>${"x".repeat(300)}`, { status: 500 });
    await assert.rejects(getJSON("/x/"), (error) =>
      error.status === 500 && error.body.length === 200 && error.message.startsWith("<h1>Server Error"));
  });

  it("passes other options on, and lets no answer fail as fetch does", async () => {
    await request("/phone/state/", { cache: "no-store" });
    assert.equal(calls[0].options.cache, "no-store");
    answer = () => { throw new TypeError("Failed to fetch"); };
    await assert.rejects(getJSON("/x/"), TypeError);
  });
});
