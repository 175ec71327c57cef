// dashboard/static/dashboard/broadcasts.js: a message's receipts in words, and which
// messages the list watches closely.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { staticModule } from "./static.js";

const { receiptsText, waiting } = await staticModule("dashboard/broadcasts.js");

const WORDS = {
  counts: "%(delivered)s/%(total)s delivered · %(read)s read",
  confirmed: "%(confirmed)s will come",
  texted: "%(texted)s by SMS",
};
const receipts = (fields) => ({ total: 3, delivered: 2, read: 1, confirmed: 0, texted: 0, ...fields });

describe("receiptsText", () => {
  it("says delivered and read of a message", () => {
    assert.equal(receiptsText(receipts(), false, WORDS), "2/3 delivered · 1 read");
  });

  it("adds who will come to a briefing, and the texts when any went", () => {
    assert.equal(receiptsText(receipts({ confirmed: 1, texted: 1 }), true, WORDS),
      "2/3 delivered · 1 read · 1 will come · 1 by SMS");
  });
});

describe("waiting", () => {
  const NOW = Date.parse("2026-12-07T10:00:00Z");
  const sent = (minutesAgo, fields = {}) => ({
    created_at: new Date(NOW - minutesAgo * 60000).toISOString(), receipts: receipts(fields),
  });

  it("watches a recent message not read by all", () => {
    assert.equal(waiting(sent(5), NOW), true);
  });

  it("stops when all read it, or after half an hour", () => {
    assert.equal(waiting(sent(5, { read: 3 }), NOW), false);
    assert.equal(waiting(sent(31), NOW), false);
  });
});
