// scripts/bench-web.sh: the board's budgets in headless Chromium (figures, no asserts).
// No trace or screenshots: Playwright's trace snapshotter walks the DOM on every action
// and would be measured instead of the board.
import base from "./playwright.config";
import { defineConfig } from "@playwright/test";

export default defineConfig({
  ...base,
  testDir: "bench",
  testMatch: "*.bench.ts",
  timeout: 600_000,
  use: { ...base.use, trace: "off", screenshot: "off" },
});
