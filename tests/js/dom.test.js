// pages/static/tongxin/dom.js: the element builder and the keyed list, without a browser.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { staticModule } from "./static.js";

const { attributeAction, childrenOf, escapeHtml, h, keyed } = await staticModule("tongxin/dom.js");

describe("attributeAction", () => {
  it("leaves out null, undefined and false", () => {
    for (const value of [null, undefined, false]) assert.deepEqual(attributeAction("title", value), ["skip"]);
  });

  it("listens for on… attributes", () => {
    const handler = () => {};
    assert.deepEqual(attributeAction("onclick", handler), ["listen", "click", handler]);
  });

  it("fills the dataset from an object", () => {
    assert.deepEqual(attributeAction("dataset", { need: 3 }), ["dataset", { need: 3 }]);
  });

  it("sets style properties one by one, never a style attribute (the CSP refuses those)", () => {
    assert.deepEqual(attributeAction("style", { width: "40%" }), ["style", { width: "40%" }]);
  });

  it("sets the rest as text, true as the empty attribute", () => {
    assert.deepEqual(attributeAction("disabled", true), ["set", "disabled", ""]);
    assert.deepEqual(attributeAction("colspan", 3), ["set", "colspan", "3"]);
    assert.deepEqual(attributeAction("value", ""), ["set", "value", ""]);
    assert.deepEqual(attributeAction("data-id", 0), ["set", "data-id", "0"]);
  });
});

describe("childrenOf", () => {
  it("spreads lists and leaves out what `cond && child` gives when false", () => {
    assert.deepEqual(childrenOf(["a", null, [undefined, "b", false], "", 0, ["c"]]), ["a", "b", 0, "c"]);
  });
});

// Just enough of a document for h().
class FakeNode {}
class FakeElement extends FakeNode {
  constructor(tag) {
    super();
    this.tag = tag;
    this.attributes = {};
    this.listeners = {};
    this.dataset = {};
    this.children = [];
  }
  setAttribute(name, value) { this.attributes[name] = value; }
  addEventListener(type, handler) { this.listeners[type] = handler; }
  append(...nodes) { this.children.push(...nodes); }
}

describe("h", () => {
  beforeEach(() => {
    globalThis.Node = FakeNode;
    globalThis.document = { createElement: (tag) => new FakeElement(tag) };
  });

  afterEach(() => {
    delete globalThis.Node;
    delete globalThis.document;
  });

  it("builds an element with its attributes, dataset, listeners and children", () => {
    const onclick = () => {};
    const inner = h("b", {}, 3);
    const element = h("li", { class: "need full", dataset: { need: 4 }, "data-key": "k", onclick,
                              hidden: false, title: null }, inner, " of ", [null, 5]);
    assert.equal(element.tag, "li");
    assert.deepEqual(element.attributes, { class: "need full", "data-key": "k" });
    assert.deepEqual(element.dataset, { need: 4 });
    assert.equal(element.listeners.click, onclick);
    assert.deepEqual(element.children, [inner, " of ", "5"]);
    assert.deepEqual(inner.children, ["3"]);
  });
});

// A container as keyed() sees one: children with a dataset, and replaceChildren.
function container(...children) {
  return {
    children,
    replaced: 0,
    replaceChildren(...elements) {
      this.children = elements;
      this.replaced += 1;
    },
  };
}

describe("keyed", () => {
  const build = (row) => ({ row, dataset: {} });
  const key = (row) => JSON.stringify(row);

  it("builds the elements of new rows, keyed", () => {
    const list = container();
    keyed(list, [{ id: 1 }, { id: 2 }], build, key);
    assert.equal(list.replaced, 1);
    assert.deepEqual(list.children.map((element) => element.dataset.key), ['{"id":1}', '{"id":2}']);
  });

  it("leaves the list alone when nothing changed", () => {
    const list = container();
    keyed(list, [{ id: 1 }, { id: 2 }], build, key);
    const before = [...list.children];
    keyed(list, [{ id: 1 }, { id: 2 }], build, key);
    assert.equal(list.replaced, 1);
    assert.deepEqual(list.children, before);
  });

  it("rebuilds only the rows that changed, in the new order", () => {
    const list = container();
    keyed(list, [{ id: 1 }, { id: 2 }], build, key);
    const [first, second] = list.children;
    keyed(list, [{ id: 2 }, { id: 1, status: "accepted" }], build, key);
    assert.equal(list.replaced, 2);
    assert.equal(list.children[0], second);
    assert.notEqual(list.children[1], first);
    assert.deepEqual(list.children[1].row, { id: 1, status: "accepted" });
  });

  it("empties the list when no rows are left", () => {
    const list = container();
    keyed(list, [{ id: 1 }], build, key);
    keyed(list, [], build, key);
    assert.deepEqual(list.children, []);
  });
});

describe("escapeHtml", () => {
  it("keeps a hostile call sign as text inside markup", () => {
    assert.equal(
      escapeHtml(`<img src=x onerror="alert('x')">&`),
      "&#60;img src=x onerror=&#34;alert(&#39;x&#39;)&#34;&#62;&#38;");
  });

  it("writes nothing for a missing value, and numbers as they are", () => {
    assert.equal(escapeHtml(null), "");
    assert.equal(escapeHtml(undefined), "");
    assert.equal(escapeHtml(42), "42");
  });
});
