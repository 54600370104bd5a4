// ESLint: typescript-eslint, Next's rules and react-hooks. The linters live in scripts/lint with
// their own TypeScript 5: typescript-eslint needs TypeScript's JS API, which TypeScript 7 lacks.
import { createRequire } from "node:module";

const require = createRequire(new URL("./scripts/lint/package.json", import.meta.url));
const tseslint = require("typescript-eslint");
const nextVitals = require("eslint-config-next/core-web-vitals");
const nextTs = require("eslint-config-next/typescript");

const config = [
  {
    ignores: [
      "node_modules/**", "scripts/lint/node_modules/**", ".next/**", ".next-*/**", ".moodle-dind/**", "dind/host/build/**",
      "tests/fixture-app/**", "test-results/**", "playwright-report/**", "next-env.d.ts",
    ],
  },
  ...nextVitals,
  ...nextTs,
  {
    files: ["**/*.{ts,tsx,mjs}"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "no-console": "error",
    },
  },
  {
    // Entry points and scripts print to the terminal on purpose.
    files: ["bench/**", "scripts/**", "bin/**", "tests/**"],
    rules: { "no-console": "off" },
  },
  ...tseslint.config({ files: ["**/*.{ts,tsx}"], rules: {} }),
];

export default config;
