// ESLint (flat config) for the pages' JavaScript: `npx eslint .` in `make test`.
import js from "@eslint/js";
import globals from "globals";

// The phone's service worker is a Django template (phone/templates/phone/sw.js, rendered
// by phone.views.service_worker): its {{ value }} tags become `null` and its {% tags %}
// blanks, of the same length, so the rest is linted as the script it renders to.
const djangoTemplate = {
  meta: { name: "django-template-script" },
  preprocess(text) {
    return [text.replace(/\{\{.*?\}\}|\{%.*?%\}/g,
      (tag) => (tag.startsWith("{{") ? "null" : "").padEnd(tag.length))];
  },
  postprocess(messages) {
    return messages.flat();
  },
  supportsAutofix: false,
};

export default [
  {
    // Not ours: collectstatic's copies (var/), the Python environment, build output.
    ignores: [".venv/", "var/", "build/", "screenshots/"],
  },
  js.configs.recommended,
  {
    // The pages' modules, loaded by the browser as they are (no build step).
    files: ["pages/static/**/*.js", "dashboard/static/**/*.js", "phone/static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
  },
  {
    files: ["phone/templates/phone/sw.js"],
    processor: djangoTemplate,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: { ...globals.serviceworker },
    },
  },
  {
    // The unit tests (node --test tests/js/) and this file: Node.
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.node },
    },
  },
  {
    rules: {
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-shadow": "error",
      "no-unused-vars": ["error", { caughtErrors: "none" }],
      "prefer-const": "error",
    },
  },
];
