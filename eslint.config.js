import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Folder contracts. Each folder under src/ has an index.ts: its public surface, the only file another src/ folder
// may import. A file imports its own folder's files directly, never through its own index (that makes a cycle).
// The BuildKit library (src/buildkit) is a package of its own: it imports nothing outside itself, and nothing of
// the app's dependencies. Tests and benchmarks may reach inside a folder.
const CONTRACT =
  "Import another src/ folder only through its index.ts (`../<folder>/index.js`); if the name you need is not exported there, add it to that index.ts.";
const OWN_INDEX = "Import a file of your own folder directly: its index.ts is for other folders, and importing it from inside makes a cycle.";
const LIBRARY = "src/buildkit is its own package: it imports nothing outside src/buildkit, and none of the app's dependencies.";
const BY_NAME = "Import the BuildKit library by its package name, `@buildkit-bot/buildkit` (its index.ts), not by a path.";
const ups = (depth) => "\\.\\./".repeat(depth);
/** A relative path `depth` folders up and then into another folder's file other than its index.js (the library has its own rule). */
const deepPath = (depth) => `^${ups(depth)}(?!\\.\\./|buildkit/)[^/]+/(?!index\\.js$)`;
const srcFiles = (depth) => [`src/*/${"*/".repeat(depth - 1)}*.ts`];

const folderContracts = [1, 2, 3, 4].map((depth) => ({
  files: srcFiles(depth),
  ignores: ["src/buildkit/**"],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          { regex: `^${ups(depth)}buildkit/`, message: BY_NAME },
          { regex: deepPath(depth), message: CONTRACT },
          ...(depth === 1 ? [{ regex: "^\\./index\\.js$", message: OWN_INDEX }] : []),
        ],
      },
    ],
    "no-restricted-syntax": [
      "error",
      // no-restricted-imports does not see `import()`: the same contract for lazy imports (\x2F is "/").
      {
        selector: `ImportExpression[source.value=/^${ups(depth).replaceAll("/", "\\x2F")}buildkit\\x2F/]`,
        message: BY_NAME,
      },
      {
        selector: `ImportExpression[source.value=/${deepPath(depth).replaceAll("/", "\\x2F")}/]`,
        message: CONTRACT,
      },
    ],
  },
}));

const libraryContract = [1, 2, 3, 4].map((depth) => ({
  files: [`src/buildkit/${"*/".repeat(depth - 1)}*.ts`],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          { regex: `^${ups(depth)}`, message: LIBRARY },
          { group: ["probot", "bullmq", "ioredis", "ajv", "yaml", "minimatch", "@octokit/*"], message: LIBRARY },
        ],
      },
    ],
    "no-restricted-syntax": [
      "error",
      { selector: `ImportExpression[source.value=/^${ups(depth).replaceAll("/", "\\x2F")}/]`, message: LIBRARY },
    ],
  },
}));

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "src/buildkit/dist/", "src/buildkit/generated/", "src/config/generated/", ".stack/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        AbortController: "readonly",
        AbortSignal: "readonly",
        TextEncoder: "readonly",
        TextDecoder: "readonly",
        fetch: "readonly",
        structuredClone: "readonly",
        queueMicrotask: "readonly",
        setImmediate: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  ...folderContracts,
  ...libraryContract,
  {
    files: ["bench/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [{ regex: "^(\\.\\./)+src/buildkit/", message: BY_NAME }] }] },
  },
);
