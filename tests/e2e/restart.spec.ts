// A crash mid-run (U3): viban is killed while the agent works, started again on the same
// home and database, and the panel shows the run interrupted with "Resume agent", which
// resumes the agent's own session (`--resume`, seen by the fake agent).
import { test, expect, screenshot } from "./viban";

test("kill viban mid-run, start it again, and resume the run from the panel", async ({ page, viban }) => {
  test.setTimeout(180_000);
  await viban.signIn(page);
  const board = await viban.board("Crash");
  const task = await viban.api<{ id: string }>("POST", `/boards/${board.id}/tasks`, {
    title: "Survive a crash",
    description: "MODE:hang",
  });
  await page.goto(`${viban.url}boards/${board.id}/tasks/${task.id}`);
  const panel = page.getByRole("complementary", { name: "Task" });
  await panel.getByRole("button", { name: "Run agent" }).click();
  const activity = panel.getByRole("log");
  await expect(activity).toContainText("Session started (fake, permission mode default)", { timeout: 30_000 });
  await expect(panel.getByText("running", { exact: true })).toBeVisible();

  await viban.kill();
  await viban.run();
  // The page reconnects to the restarted viban on the same port.
  await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible({ timeout: 60_000 });
  await expect(panel.getByText("interrupted", { exact: true })).toBeVisible({ timeout: 30_000 });
  const resume = panel.getByRole("button", { name: "Resume agent" });
  await expect(resume).toBeVisible();
  await screenshot(page, "task-interrupted");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "task-interrupted-dark");
  await page.emulateMedia({ colorScheme: "light" });

  await resume.click();
  await expect
    .poll(() => viban.agentCalls().filter((call) => call.includes("--resume hang-session-1")).length, { timeout: 30_000 })
    .toBe(1);
  // The resumed run (its prompt asks to continue, not to hang) replays its transcript.
  await expect(activity.getByText("✓ Run finished")).toBeVisible({ timeout: 30_000 });
  await expect(panel.getByRole("button", { name: "Run agent" })).toBeVisible();
});
