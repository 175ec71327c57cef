// phone/static/phone/push.js: the server's key as the bytes PushManager.subscribe() takes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { staticModule } from "./static.js";

const { pushKeyBytes } = await staticModule("phone/push.js");

describe("pushKeyBytes", () => {
  it("reads base64url without padding, with - and _", () => {
    // 0xfb 0xff 0xbf is "+/+/" in base64, "-_-_" in base64url.
    assert.deepEqual([...pushKeyBytes("-_-_")], [0xfb, 0xff, 0xbf]);
    assert.deepEqual([...pushKeyBytes("BA")], [0x04]);
  });

  it("gives the 65 bytes of an uncompressed P-256 key", () => {
    const key = "BCVetTGh99v3CyBMRNH0ro1yo3w_MlGEQuRN2EcElRIg6SwloDQY6VzNQlMgF1thwHHoplXgIE4WMVvo7b5rG7s";
    const bytes = pushKeyBytes(key);
    assert.equal(bytes.length, 65);
    assert.equal(bytes[0], 0x04);
  });
});
