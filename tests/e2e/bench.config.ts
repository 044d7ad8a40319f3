// scripts/bench-web.sh: the board's budgets in headless Chromium (figures, no asserts).
import base from "./playwright.config";
import { defineConfig } from "@playwright/test";

export default defineConfig({ ...base, testDir: "bench", testMatch: "*.bench.ts", timeout: 600_000 });
