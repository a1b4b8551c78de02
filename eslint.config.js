// ESLint for the storefront and the operator's console: native ES modules run by the browser as they
// are (no build step).
// `make lint` runs it; `make install` installs the pinned versions from package-lock.json.

import js from "@eslint/js";
import globals from "globals";

// Properties that parse HTML: API text must become text nodes (render.js's builders), never markup.
const HTML_SINKS = ["innerHTML", "outerHTML", "insertAdjacentHTML"].map((property) => ({
  property,
  message: "Build nodes with render.js's builders; API text becomes text nodes.",
}));

export default [
  // Generated or installed, not ours: the venv, caches, and the page's config.js written at deploy.
  { ignores: [".venv/", ".local/", ".chalice/", "test-artifacts/", "storefront/config.js", "console/config.js"] },
  js.configs.recommended,
  {
    files: ["storefront/**/*.js", "console/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: globals.browser,
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      eqeqeq: ["error", "always"],
      "no-var": "error",
      "prefer-const": "error",
      "object-shorthand": "error",
      "no-shadow": "error",
      "no-use-before-define": ["error", { functions: false, classes: true, variables: true }],
      "no-console": ["error", { allow: ["error"] }],
      // API text must stay text: no HTML parsing anywhere.
      "no-restricted-properties": ["error", ...HTML_SINKS],
    },
  },
  {
    // The view layer (view.js and its element builders in render.js) alone touches the DOM.
    files: ["storefront/**/*.js", "console/**/*.js"],
    ignores: ["storefront/view.js", "storefront/render.js", "console/view.js", "console/render.js"],
    rules: {
      "no-restricted-globals": [
        "error",
        { name: "document", message: "Only the view (view.js) touches the DOM: add a bind…/show… method there." },
        { name: "Node", message: "Only the view (view.js) touches the DOM." },
        { name: "CSS", message: "Only the view (view.js) touches the DOM." },
      ],
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: ["./render.js"], message: "render.js builds DOM nodes for view.js only." }] },
      ],
    },
  },
  {
    // The console's admin key lives in sessionStorage (console/session.js) only: never localStorage.
    files: ["console/**/*.js"],
    rules: {
      "no-restricted-properties": [
        "error",
        ...HTML_SINKS,
        { property: "localStorage", message: "The admin key is kept in sessionStorage only (session.js)." },
      ],
    },
  },
  {
    // The storefront's and the console's unit tests (`node --test`): Node's globals, the pages' style.
    files: ["tests/storefront/**/*.js", "tests/console/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
    rules: {
      eqeqeq: ["error", "always"],
      "no-var": "error",
      "prefer-const": "error",
      "object-shorthand": "error",
    },
  },
  {
    files: ["eslint.config.js"],
    languageOptions: { globals: globals.node },
  },
];
