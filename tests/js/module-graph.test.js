// The pages' module graphs against what loads them: every module phone.js imports is
// preloaded by phone.html and kept by the service worker (phone/views.py SHELL_STATIC),
// or the installed page fails to open offline; dashboard.html preloads its graph too.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { findStatic } from "./static-hooks.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (path) => readFileSync(ROOT + path, "utf8");

// The /static/ paths of the modules `entry` imports, directly or not.
function graph(entry) {
  const found = new Set();
  const visit = (path) => {
    const file = findStatic(path);
    assert.ok(file, `no app serves /static/${path}`);
    for (const [, specifier] of readFileSync(file, "utf8").matchAll(/^import\s[^;]*?["']([^"']+)["'];/gm)) {
      const imported = new URL(specifier, `http://page/static/${path}`).pathname.replace("/static/", "");
      if (!found.has(imported)) {
        found.add(imported);
        visit(imported);
      }
    }
  };
  visit(entry);
  return found;
}

const preloaded = (template) =>
  new Set([...read(template).matchAll(/rel="modulepreload" href="\{% static '([^']+)' %\}"/g)].map((m) => m[1]));

describe("the phone page's modules", () => {
  const modules = graph("phone/phone.js");

  it("are more than one, and all found", () => {
    assert.ok(modules.has("tongxin/live.js") && modules.has("phone/state.js"), [...modules].join(" "));
  });

  it("are preloaded by phone.html", () => {
    assert.deepEqual([...modules].filter((m) => !preloaded("phone/templates/phone/phone.html").has(m)), []);
  });

  it("are kept by the service worker", () => {
    const list = read("phone/views.py").match(/^SHELL_STATIC = \[([^\]]*)\]/m);
    assert.ok(list, "SHELL_STATIC not found in phone/views.py");
    const shell = new Set([...list[1].matchAll(/"([^"]+)"/g)].map((m) => m[1]));
    assert.ok(shell.has("phone/phone.js"));
    assert.deepEqual([...modules].filter((m) => !shell.has(m)), []);
  });
});

describe("the dashboard's modules", () => {
  it("are preloaded by dashboard.html", () => {
    const modules = graph("dashboard/dashboard.js");
    assert.ok(modules.has("tongxin/api.js") && modules.has("dashboard/map.js"), [...modules].join(" "));
    assert.deepEqual([...modules].filter((m) => !preloaded("dashboard/templates/dashboard/dashboard.html").has(m)), []);
  });
});
