// The DOM helpers every page's script uses (no framework). Nothing here touches the
// document when the module is imported, so the pure parts run under Node's test runner.

// What h() does with one attribute: ["skip"] (null, undefined, false),
// ["listen", type, handler] (onclick → "click"), ["dataset", values] (dataset: {...}),
// ["style", properties] (style: {width: "40%"}, set one by one: the pages'
// Content-Security-Policy refuses a style attribute, not the element's style object),
// or ["set", name, text] (true → "", the empty attribute).
export function attributeAction(name, value) {
  if (value === null || value === undefined || value === false) return ["skip"];
  if (name.startsWith("on")) return ["listen", name.slice(2), value];
  if (name === "dataset") return ["dataset", value];
  if (name === "style") return ["style", value];
  return ["set", name, value === true ? "" : String(value)];
}

// The children h() appends, lists spread one level: null, undefined, false and "" are
// left out (so `cond && child` and an empty value add nothing).
export function childrenOf(children) {
  return children.flat().filter(
    (child) => child !== null && child !== undefined && child !== false && child !== "");
}

// Build an element: h("li", {class: "x", dataset: {id: 3}, "data-key": "k", onclick: f},
// child, "text", [more, children], ...).
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    const [action, key, argument] = attributeAction(name, value);
    if (action === "listen") element.addEventListener(key, argument);
    else if (action === "dataset") Object.assign(element.dataset, key);
    else if (action === "style") Object.assign(element.style, key);
    else if (action === "set") element.setAttribute(key, argument);
  }
  for (const child of childrenOf(children)) {
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

// Put the elements for `rows` in `container`, in order, rebuilding only those whose key
// changed, and leave the container alone when nothing did: a form being typed into
// survives an unrelated change. `key(row)` says everything an element shows.
export function keyed(container, rows, build, key) {
  const old = new Map([...container.children].map((child) => [child.dataset.key, child]));
  const wanted = rows.map((row) => {
    const k = key(row);
    if (old.has(k)) return old.get(k);
    const element = build(row);
    element.dataset.key = k;
    return element;
  });
  const same = wanted.length === container.children.length &&
    wanted.every((element, index) => container.children[index] === element);
  if (!same) container.replaceChildren(...wanted);
}

// Text made safe to put inside HTML markup (Leaflet's tooltips and popups take HTML):
// names, titles and call signs are typed by people, so "<img onerror=…>" stays text.
export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// The data a template embedded with json_script.
export function embeddedJSON(id) {
  return JSON.parse(document.getElementById(id).textContent);
}
