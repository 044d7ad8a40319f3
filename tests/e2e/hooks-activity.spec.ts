// U3: the column hooks a task went through stand in its activity among the agent's
// entries, one group per stay in a column, with each hook's status and duration; a
// task no hook ran for says so.
import { test, expect, screenshot } from "./viban";

test("an auto-started task's hooks are grouped per column stay in the activity, in time order", async ({
  signedIn: page,
  viban,
}) => {
  const board = await viban.board("Hooks in the stream");
  const quiet = await viban.api<{ id: string }>("POST", `/boards/${board.id}/tasks`, { title: "Nothing ran" });
  await page.goto(`${viban.url}boards/${board.id}/tasks/${quiet.id}`);
  const panel = page.getByRole("complementary", { name: "Task" });
  await expect(panel.getByText("No column hooks have run for this task.")).toBeVisible();

  const task = await viban.api<{ id: string }>("POST", `/boards/${board.id}/tasks`, {
    title: "Greet",
    description: "Say hello.",
    auto_start: true,
  });
  await page.goto(`${viban.url}boards/${board.id}/tasks/${task.id}`);
  const activity = panel.getByRole("log");
  await expect(activity.getByText("✓ Run finished")).toBeVisible({ timeout: 30_000 });
  const stay = activity.getByRole("group", { name: "Hooks in In Progress" });
  await expect(stay.getByRole("listitem")).toHaveCount(2, { timeout: 15_000 });
  await expect(stay.getByRole("listitem").nth(0)).toContainText("Run agent");
  await expect(stay.getByRole("listitem").nth(0)).toContainText("completed");
  await expect(stay.getByRole("listitem").nth(1)).toContainText("Move task");
  await expect(activity.getByRole("group", { name: "Hooks in Todo" })).toContainText("Auto-start");
  await expect(activity.getByRole("group", { name: "Hooks in Review" })).toContainText("Play sound");
  await expect(panel.getByText("No column hooks have run for this task.")).toBeHidden();
  // In time order: Todo's and In Progress's hooks before the agent's result, Review's after.
  const order = await activity.evaluate((log) =>
    [...log.querySelectorAll("[role=group], .result")].map((node) => node.getAttribute("aria-label") ?? "result"),
  );
  expect(order).toEqual(["Hooks in Todo", "Hooks in In Progress", "result", "Hooks in Review"]);
  await screenshot(page, "task-hooks-in-activity");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "task-hooks-in-activity-dark");
});

test("a failed hook shows failed in its stay with its error and a Retry", async ({ signedIn: page, viban }) => {
  const board = await viban.board("Failing hooks");
  const task = await viban.api<{ id: string }>("POST", `/boards/${board.id}/tasks`, {
    title: "Fails on purpose",
    description: "MODE:fail",
    auto_start: true,
  });
  await page.goto(`${viban.url}boards/${board.id}/tasks/${task.id}`);
  const panel = page.getByRole("complementary", { name: "Task" });
  const stay = panel.getByRole("log").getByRole("group", { name: "Hooks in In Progress" });
  const failed = stay.getByRole("listitem").filter({ hasText: "Run agent" });
  await expect(failed).toContainText("failed", { timeout: 30_000 });
  await expect(failed.getByRole("button", { name: "Retry Run agent" })).toBeVisible();
  await screenshot(page, "task-hook-failed");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "task-hook-failed-dark");
  await page.emulateMedia({ colorScheme: "light" });

  // The failure did not keep the task (its Move task hook took it on to Review): the
  // server refuses the retry, and the stream says why.
  await failed.getByRole("button", { name: "Retry Run agent" }).click();
  await expect(stay.getByRole("alert")).toContainText("Could not retry: the task has left that column");
});
