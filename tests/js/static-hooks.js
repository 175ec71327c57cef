// Module resolution hooks for the unit tests (registered by static.js): an import that
// is not on disk but lies under some app's static/ folder is looked for in every app's
// static/ folder, as Django's finders do when they serve /static/. So
// phone/static/phone/socket.js's "../tongxin/api.js" (/static/tongxin/api.js in the
// browser) is pages/static/tongxin/api.js here.
import { existsSync, readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

// The file served as /static/<path>, from the first app that has it ("" for none).
export function findStatic(path) {
  for (const app of readdirSync(ROOT, { withFileTypes: true })) {
    if (!app.isDirectory() || app.name.startsWith(".") || app.name === "node_modules") continue;
    const candidate = join(ROOT, app.name, "static", path);
    if (existsSync(candidate)) return candidate;
  }
  return "";
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error.code !== "ERR_MODULE_NOT_FOUND" || !context.parentURL) throw error;
    const wanted = relative(ROOT, fileURLToPath(new URL(specifier, context.parentURL))).split(sep);
    // <app>/static/<path>
    const found = wanted[1] === "static" ? findStatic(wanted.slice(2).join("/")) : "";
    if (!found) throw error;
    return { url: pathToFileURL(found).href, shortCircuit: true };
  }
}
