// End-to-end tests of the web UI: Debian's Chromium against the real viban binary
// (its own PostgreSQL, real git repositories, the fake agents in tests/fixtures/bin).
// Run by scripts/test.sh; the binary is target/debug/viban unless VIBAN_BIN says.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: ".",
  testMatch: "*.spec.ts",
  // One viban for all specs in a worker; specs make their own boards. Two workers
  // would halve the time but double the PostgreSQL clusters on a 2-core machine.
  workers: 1,
  fullyParallel: false,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  retries: 0,
  reporter: [["list"]],
  outputDir: "../../target/e2e-results",
  use: {
    browserName: "chromium",
    launchOptions: {
      executablePath: process.env.VIBAN_TEST_CHROMIUM ?? "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-gpu"],
    },
    viewport: { width: 1440, height: 900 },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
});
