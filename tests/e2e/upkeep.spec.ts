// Upkeep from the UI: a schedule made in the board's settings (an invalid cron shown
// beside the field, what was typed kept), and "Clean up now" on the system page, which
// lists what it will remove and why the other worktree stays before it removes it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, expect, screenshot, type Viban } from "./viban";

type Task = { id: string; column_id: string; agent_status: string; worktree_path: string | null };

/** A task the fake agent has worked on (so it has a worktree), then moved to Done. */
async function doneTask(viban: Viban, board: Awaited<ReturnType<Viban["board"]>>, title: string): Promise<Task> {
  const role = (name: string) => board.columns.find((column) => column.role === name)!.id;
  const task = await viban.api<Task>("POST", `/boards/${board.id}/tasks`, { title, auto_start: true });
  await expect
    .poll(async () => {
      const now = await viban.api<Task>("GET", `/tasks/${task.id}`);
      return now.column_id === role("review") && now.agent_status !== "running" && !!now.worktree_path;
    }, { timeout: 30_000 })
    .toBe(true);
  await viban.api("POST", `/tasks/${task.id}/move`, { column_id: role("done") });
  return viban.api<Task>("GET", `/tasks/${task.id}`);
}

test("a schedule is made in settings, with an invalid cron shown beside its field", async ({ signedIn: page, viban }) => {
  const board = await viban.board("Schedules");
  await page.goto(`${viban.url}boards/${board.id}/settings`);
  const card = page.getByRole("region", { name: "Schedules" });
  await expect(card).toContainText("No schedules yet.");

  await card.getByRole("button", { name: "New schedule" }).click();
  const form = card.getByRole("form", { name: "New schedule" });
  await form.getByLabel("Cron").fill("61 * * * *");
  await form.getByLabel("Title").fill("Update the dependencies");
  await form.getByLabel("Description").fill("Bump what is outdated and run the tests.");
  await form.getByRole("button", { name: "Save schedule" }).click();
  const error = form.locator("#schedule-cron-error");
  await expect(error).toContainText("cron:");
  await expect(error).toContainText("five fields in UTC");
  await expect(form.getByLabel("Cron")).toHaveAttribute("aria-invalid", "true");
  await expect(form.getByLabel("Cron")).toHaveValue("61 * * * *");
  await expect(form.getByLabel("Title")).toHaveValue("Update the dependencies");
  await card.scrollIntoViewIfNeeded();
  await screenshot(page, "settings-schedule-invalid");

  await form.getByLabel("Cron").fill("30 3 * * 1-5");
  await form.getByRole("button", { name: "Save schedule" }).click();
  const row = card.getByRole("listitem", { name: "Schedule Update the dependencies" });
  await expect(row).toContainText("30 3 * * 1-5");
  await expect(row).toContainText(/Next run .*03:30 UTC/);
  await expect(row).toContainText("0 tasks created");
  await screenshot(page, "settings-schedules");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "settings-schedules-dark");
  await page.emulateMedia({ colorScheme: "light" });

  await row.getByRole("checkbox", { name: "Enable Update the dependencies" }).uncheck();
  await expect(row).toContainText("Disabled.");
  const [saved] = await viban.api<{ enabled: boolean; next_run_at: string | null }[]>("GET", `/boards/${board.id}/schedules`);
  expect(saved).toMatchObject({ enabled: false, next_run_at: null });

  page.once("dialog", (dialog) => dialog.accept());
  await row.getByRole("button", { name: "Delete schedule Update the dependencies" }).click();
  await expect(card).toContainText("No schedules yet.");
});

test("clean up now lists what goes and why the rest stays, then removes it", async ({ signedIn: page, viban }) => {
  const board = await viban.board("Cleanup");
  await viban.api("PATCH", `/boards/${board.id}`, { settings: { worktree_ttl_days: 0 } });
  const finished = await doneTask(viban, board, "Finished work");
  const dirty = await doneTask(viban, board, "Half-done notes");
  writeFileSync(join(dirty.worktree_path!, "notes.md"), "not committed yet\n");

  await page.goto(`${viban.url}system`);
  const section = page.getByRole("region", { name: "Worktrees" });
  const table = section.getByRole("table", { name: "Worktrees" });
  await expect(table.getByRole("row", { name: /#1 Finished work/ })).toContainText("Removes");
  await expect(table.getByRole("row", { name: /#2 Half-done notes/ })).toContainText("uncommitted changes (notes.md)");
  await section.scrollIntoViewIfNeeded();
  await screenshot(page, "system-worktrees");

  await section.getByRole("button", { name: "Clean up now" }).click();
  const dialog = page.getByRole("dialog", { name: "Clean up worktrees" });
  await expect(dialog.getByRole("list", { name: "Worktrees to remove" })).toContainText("#1 Finished work");
  await expect(dialog.getByRole("list", { name: "Worktrees kept" })).toContainText("#2 Half-done notes");
  await expect(dialog.getByRole("list", { name: "Worktrees kept" })).toContainText("uncommitted changes (notes.md)");
  await screenshot(page, "system-cleanup-confirm");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "system-cleanup-confirm-dark");
  await page.emulateMedia({ colorScheme: "light" });

  await dialog.getByRole("button", { name: "Remove 1 worktree" }).click();
  await expect(section.getByRole("status")).toContainText("Removed 1 worktree");
  await expect(table.getByRole("row", { name: /#1 Finished work/ })).toHaveCount(0);
  await expect(table.getByRole("row", { name: /#2 Half-done notes/ })).toBeVisible();
  await screenshot(page, "system-worktrees-cleaned");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "system-worktrees-cleaned-dark");
  await page.emulateMedia({ colorScheme: "light" });

  // The task says what became of its worktree; the kept one says why it stays.
  await page.goto(`${viban.url}boards/${board.id}/tasks/${finished.id}`);
  await expect(page.getByRole("status").filter({ hasText: "Cleaned up" })).toContainText("was deleted too");
  await screenshot(page, "task-worktree-cleaned");
  await page.goto(`${viban.url}boards/${board.id}/tasks/${dirty.id}`);
  await expect(page.getByRole("status").filter({ hasText: "Kept:" })).toContainText("uncommitted changes (notes.md)");
  await screenshot(page, "task-worktree-kept");
});
