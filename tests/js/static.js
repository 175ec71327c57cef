// The pages' modules for the unit tests, by their path under /static/, as the pages load
// them: `const { h } = await staticModule("tongxin/dom.js")`. Their relative imports
// resolve the same way (static-hooks.js). No browser: only modules that touch no DOM when
// imported can be loaded here.
import { register } from "node:module";
import { pathToFileURL } from "node:url";

import { findStatic } from "./static-hooks.js";

register("./static-hooks.js", import.meta.url);

export async function staticModule(path) {
  const found = findStatic(path);
  if (!found) throw new Error(`no app serves /static/${path}`);
  return import(pathToFileURL(found).href);
}
