// V1–V3 in the browser: review the agent's change, comment on a line, send it (the
// agent's next run gets it), and merge from the UI.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, expect, screenshot, type Viban } from "./viban";
import type { Page } from "@playwright/test";

interface TaskView {
  id: string;
  worktree_path: string | null;
  column_id: string;
  agent_status: string;
}

/** A task the fake agent has run on (so it has a worktree), in Review, with a commit and an uncommitted edit. */
async function reviewedTask(viban: Viban, page: Page, name: string) {
  const board = await viban.board(name);
  const review = board.columns.find((column) => column.role === "review")!.id;
  const created = await viban.api<TaskView>("POST", `/boards/${board.id}/tasks`, { title: "Greet politely", auto_start: true });
  let task = created;
  for (let i = 0; i < 200 && !(task.column_id === review && task.worktree_path && task.agent_status !== "running"); i++) {
    await new Promise((done) => setTimeout(done, 100));
    task = await viban.api<TaskView>("GET", `/tasks/${created.id}`);
  }
  expect(task.worktree_path).toBeTruthy();
  const worktree = task.worktree_path!;
  const git = (...args: string[]) => execFileSync("git", args, { cwd: worktree, stdio: "pipe" });
  writeFileSync(join(worktree, "greet.py"), 'def greet(name):\n    return "hi " + name\n');
  git("add", "greet.py");
  git("-c", "user.email=agent@viban.test", "-c", "user.name=agent", "commit", "-q", "-m", "Add greet");
  writeFileSync(join(worktree, "README.md"), "# demo\n\nSays hello.\n");
  git("-c", "user.email=agent@viban.test", "-c", "user.name=agent", "commit", "-q", "-am", "Describe it");
  await page.goto(`${viban.url}boards/${board.id}/tasks/${task.id}`);
  return { board, task };
}

test("a line comment goes to the agent, whose next run has it in its prompt", async ({ signedIn: page, viban }) => {
  const { task } = await reviewedTask(viban, page, "Review comments");
  await page.getByRole("link", { name: "Review changes" }).click();
  const review = page.getByRole("region", { name: "Review" });
  await expect(review.getByRole("navigation", { name: "Changed files" })).toContainText("greet.py");
  const file = review.getByRole("region", { name: "greet.py" });
  await expect(file).toContainText('return "hi " + name');
  // Python is coloured once its grammar has loaded: the keyword is set apart from the name.
  await expect(file.locator(".hljs-keyword", { hasText: "return" })).toBeVisible();

  await file.getByRole("button", { name: "Comment on line 2 of greet.py" }).click();
  await file.getByRole("textbox", { name: "Comment on line 2" }).fill("Say hello, not hi.");
  await file.getByRole("button", { name: "Add comment" }).click();
  await expect(file.getByText("Say hello, not hi.")).toBeVisible();
  await expect(file.getByText("not sent yet")).toBeVisible();
  await screenshot(page, "review-comment");

  const before = viban.agentCalls().length;
  await review.getByRole("button", { name: "Request changes" }).click();
  await expect(review.getByRole("status")).toContainText("Changes requested");
  await expect(file.getByText("sent", { exact: true })).toBeVisible();
  // The hooks run the agent on it: its prompt quotes the file, the line and the comment.
  await expect.poll(() => viban.agentCalls().slice(before).join("\n"), { timeout: 30_000 }).toContain("Say hello, not hi.");
  expect(viban.agentCalls().slice(before).join("\n")).toContain("greet.py");
  await page.keyboard.press("Escape");
  await expect(page).toHaveURL(new RegExp(`/tasks/${task.id}$`));
});

test("merging from the review squashes the branch into main and moves the card to Done", async ({ signedIn: page, viban }) => {
  const { task } = await reviewedTask(viban, page, "Review merge");
  await page.getByRole("link", { name: "Review changes" }).click();
  const review = page.getByRole("region", { name: "Review" });
  await expect(review.getByRole("region", { name: "README.md" })).toContainText("Says hello.");
  await review.getByLabel("Split").check();
  await screenshot(page, "review-split");
  await page.getByRole("button", { name: "Theme: system" }).click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await expect(review.getByRole("region", { name: "greet.py" }).locator(".hljs-keyword").first()).toBeVisible();
  await screenshot(page, "review-split-dark");

  await review.getByRole("button", { name: "Merge…" }).click();
  await review.getByLabel("Commit message").fill("Greet politely (#1)");
  await review.getByRole("button", { name: "Merge", exact: true }).click();
  await expect(review.getByRole("status")).toContainText("Merged into main");
  await expect(review.getByRole("status")).toContainText("moved to Done");
  await screenshot(page, "review-merged");

  const view = await viban.api<TaskView & { board_id: string }>("GET", `/tasks/${task.id}`);
  const board = await viban.api<{ columns: { id: string; role: string }[] }>("GET", `/boards/${view.board_id}`);
  expect(board.columns.find((column) => column.id === view.column_id)?.role).toBe("done");
});
