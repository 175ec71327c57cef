// pages/static/tongxin/api.js: creating POSTs carry an Idempotency-Key, the same one
// when the same request is sent again after a failure (issue 10: retries duplicated).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { staticModule } from "./static.js";

const { RequestError, idempotencyKey, postCreating } = await staticModule("tongxin/api.js");

describe("idempotencyKey", () => {
  it("is 32 hex digits, new each time", () => {
    const keys = new Set(Array.from({ length: 100 }, idempotencyKey));
    assert.equal(keys.size, 100);
    for (const key of keys) assert.match(key, /^[0-9a-f]{32}$/);
  });
});

describe("postCreating", () => {
  let calls;
  let answer;
  const realFetch = globalThis.fetch;

  beforeEach(() => {
    calls = [];
    answer = () => new Response('{"id": 1}', { status: 201 });
    globalThis.fetch = async (url, options) => {
      calls.push({ url, options });
      return answer();
    };
    globalThis.document = { querySelector: () => ({ dataset: { csrf: "tok" } }) };
  });

  afterEach(() => {
    globalThis.fetch = realFetch;
    delete globalThis.document;
  });

  const keyOf = (call) => call.options.headers["Idempotency-Key"];

  it("posts JSON with the CSRF token and a key", async () => {
    assert.deepEqual(await postCreating("/api/incidents/", { title: "a" }), { id: 1 });
    const { options } = calls[0];
    assert.equal(options.method, "POST");
    assert.equal(options.body, '{"title":"a"}');
    assert.equal(options.headers["X-CSRFToken"], "tok");
    assert.match(keyOf(calls[0]), /^[0-9a-f]{32}$/);
  });

  it("sends the same key again after no answer or a 5xx, until a final answer", async () => {
    answer = () => { throw new TypeError("Failed to fetch"); };
    await assert.rejects(postCreating("/api/incidents/", { title: "b" }), TypeError);
    answer = () => new Response("<h1>Bad Gateway</h1>", { status: 502 });
    await assert.rejects(postCreating("/api/incidents/", { title: "b" }), RequestError);
    answer = () => new Response('{"id": 2}', { status: 201 });
    await postCreating("/api/incidents/", { title: "b" });
    await postCreating("/api/incidents/", { title: "b" });  // a new request: a new key

    const keys = calls.map(keyOf);
    assert.equal(keys[0], keys[1]);
    assert.equal(keys[1], keys[2]);
    assert.notEqual(keys[2], keys[3]);
  });

  it("gives a changed request, or one refused for good, a new key", async () => {
    answer = () => new Response("", { status: 503 });
    await assert.rejects(postCreating("/api/incidents/", { title: "c" }));
    await assert.rejects(postCreating("/api/incidents/", { title: "c, fixed" }));
    answer = () => new Response('{"title": ["Too long."]}', { status: 400 });
    await assert.rejects(postCreating("/api/needs/1/assign/", { reason: "x" }));
    await assert.rejects(postCreating("/api/needs/1/assign/", { reason: "x" }));

    const keys = calls.map(keyOf);
    assert.notEqual(keys[0], keys[1]);
    assert.notEqual(keys[2], keys[3]);
  });
});
