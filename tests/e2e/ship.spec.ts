// V5 and V4 in the browser: create a pull request from the task panel (the fake gh in
// tests/fixtures/gh-bin answers as gh does; the push to the board's bare `origin` is
// real), see its badge and the branch's ahead/behind on the card, sync it — checks and
// review decision — and sync it once merged, which moves the card to Done.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { test, expect, screenshot, gitRepository, type Viban } from "./viban";

const ROOT = resolve(import.meta.dirname, "../..");
const GH_DIR = join(tmpdir(), `viban-e2e-gh-${process.pid}`);
mkdirSync(GH_DIR, { recursive: true });

test.use({
  vibanEnv: {
    PATH: `${join(ROOT, "tests/fixtures/gh-bin")}:${join(ROOT, "tests/fixtures/bin")}:${process.env.PATH}`,
    FAKE_GH_DIR: GH_DIR,
    // A run whose result names no pull request (the default transcript names one).
    FAKE_TRANSCRIPT: join(ROOT, "tests/fixtures/transcripts/claude-ship.jsonl"),
  },
});

interface TaskView {
  id: string;
  number: number;
  branch: string | null;
  worktree_path: string | null;
  column_id: string;
  agent_status: string;
}

/** A board on a repository whose `origin` is a local bare clone, and a task the fake
 *  agent ran on, settled in Review with one commit of its own. */
async function shippableTask(viban: Viban) {
  const dir = join(viban.userHome, `ship-${Math.random().toString(36).slice(2, 8)}`);
  const repository = gitRepository(join(dir, "repo"));
  execFileSync("git", ["clone", "-q", "--bare", repository, join(dir, "origin.git")]);
  execFileSync("git", ["remote", "add", "origin", join(dir, "origin.git")], { cwd: repository });
  execFileSync("git", ["fetch", "-q", "origin"], { cwd: repository });
  const view = await viban.api<{ board: { id: string }; columns: { id: string; role: string }[] }>("POST", "/boards", { name: "Ship" });
  const linked = await viban.api<{ id: string }>("POST", "/repositories", { path: repository });
  await viban.api("PATCH", `/boards/${view.board.id}`, { repository_id: linked.id });
  const review = view.columns.find((column) => column.role === "review")!.id;
  const created = await viban.api<TaskView>("POST", `/boards/${view.board.id}/tasks`, {
    title: "Say hello",
    description: "Greet people.",
    auto_start: true,
  });
  let task = created;
  for (let i = 0; i < 200 && !(task.column_id === review && task.worktree_path && task.agent_status === "idle"); i++) {
    await new Promise((done) => setTimeout(done, 100));
    task = await viban.api<TaskView>("GET", `/tasks/${created.id}`);
  }
  expect(task.worktree_path).toBeTruthy();
  const worktree = task.worktree_path!;
  writeFileSync(join(worktree, "greet.txt"), "hi\n");
  const git = (...args: string[]) => execFileSync("git", args, { cwd: worktree, stdio: "pipe" });
  git("add", "greet.txt");
  git("-c", "user.email=agent@viban.test", "-c", "user.name=agent", "commit", "-q", "-m", "Greet");
  return { boardId: view.board.id, task, origin: join(dir, "origin.git") };
}

test("a pull request created from the panel shows on the card, and syncing it once merged moves the card to Done", async ({ signedIn: page, viban }) => {
  rmSync(GH_DIR, { recursive: true, force: true });
  mkdirSync(GH_DIR, { recursive: true });
  const { boardId, task, origin } = await shippableTask(viban);
  await page.goto(`${viban.url}boards/${boardId}/tasks/${task.id}`);
  const panel = page.getByRole("complementary", { name: "Task" });
  const card = page.getByRole("region", { name: "Review" }).locator(`[data-task-id="${task.id}"]`);
  // The panel asked where the branch stands; the card shows it too.
  await expect(panel.getByText("↑1 ↓0")).toBeVisible();
  await expect(card).toContainText("↑1 ↓0");

  // Not logged in to GitHub: the server's words beside the button; the branch was pushed.
  writeFileSync(join(GH_DIR, "auth"), "none");
  await panel.getByRole("button", { name: "Create PR" }).click();
  const refusal = panel.getByRole("alert").filter({ hasText: "gh auth login" });
  await expect(refusal).toContainText(`The branch ${task.branch} was pushed to origin`);
  await screenshot(page, "ship-not-logged-in");
  expect(execFileSync("git", ["rev-parse", `refs/heads/${task.branch}`], { cwd: origin }).toString().trim()).toMatch(/^[0-9a-f]{40}$/);

  rmSync(join(GH_DIR, "auth"));
  await panel.getByLabel("Draft").check();
  await panel.getByRole("button", { name: "Create PR" }).click();
  await expect(panel.getByRole("status").filter({ hasText: "opened #7" })).toBeVisible();
  await expect(panel.getByRole("link", { name: "#7 draft" })).toHaveAttribute("href", "https://github.com/acme/widgets/pull/7");
  await expect(card.getByText("PR #7 · draft")).toBeVisible();
  await expect(panel.getByText("on origin")).toBeVisible();

  // GitHub says: ready, two checks (one failed), changes requested.
  writeFileSync(join(GH_DIR, "state"), "open\n");
  writeFileSync(join(GH_DIR, "review"), "CHANGES_REQUESTED");
  writeFileSync(
    join(GH_DIR, "checks"),
    JSON.stringify([
      { __typename: "CheckRun", name: "build", status: "COMPLETED", conclusion: "SUCCESS" },
      { __typename: "CheckRun", name: "test", status: "COMPLETED", conclusion: "FAILURE" },
      { __typename: "StatusContext", context: "ci/slow", state: "PENDING" },
    ]),
  );
  await panel.getByRole("button", { name: "Sync" }).click();
  await expect(panel.getByRole("link", { name: "#7 open" })).toBeVisible();
  await expect(panel.getByText("Changes requested")).toBeVisible();
  await expect(panel.getByTitle("Checks: 1 passed, 1 failed, 1 pending")).toContainText("✓ 1");
  await expect(card.getByLabel("1 checks failed")).toBeVisible();
  await screenshot(page, "ship-pull-request");
  await page.getByRole("button", { name: "Theme: system" }).click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await screenshot(page, "ship-pull-request-dark");
  await page.getByRole("button", { name: "Theme: dark" }).click();

  // The review view has the same controls beside Merge.
  await panel.getByRole("link", { name: "Review changes" }).click();
  const reviewView = page.getByRole("region", { name: "Review" }).filter({ has: page.getByRole("button", { name: "Merge…" }) });
  await expect(reviewView.getByRole("link", { name: "#7 open" })).toBeVisible();
  await screenshot(page, "ship-review-view");
  await page.keyboard.press("Escape");

  // Merged on GitHub: a sync moves the card to Done.
  writeFileSync(join(GH_DIR, "state"), "merged\n");
  await panel.getByRole("button", { name: "Sync" }).click();
  await expect(panel.getByRole("status").filter({ hasText: "the task moved to Done" })).toBeVisible();
  const done = page.getByRole("region", { name: "Done" }).locator(`[data-task-id="${task.id}"]`);
  await expect(done.getByText("PR #7 · merged")).toBeVisible();
  await screenshot(page, "ship-merged");
});

test("the board's pull request settings are saved from the settings page", async ({ signedIn: page, viban }) => {
  const board = await viban.board("Ship settings");
  await page.goto(`${viban.url}boards/${board.id}/settings`);
  const drafts = page.getByLabel("Open pull requests as drafts");
  const moveToDone = page.getByLabel("Move a task to Done when its pull request is merged");
  await expect(drafts).not.toBeChecked();
  await expect(moveToDone).toBeChecked();
  await drafts.check();
  await moveToDone.uncheck();
  await page.getByRole("button", { name: "Save board" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toBeVisible();
  const saved = await viban.api<{ board: { settings: Record<string, unknown> } }>("GET", `/boards/${board.id}`);
  expect(saved.board.settings).toMatchObject({ pr_draft: true, move_to_done_after_pr_merge: false });
  await page.getByRole("group", { name: "Pull requests" }).scrollIntoViewIfNeeded();
  await screenshot(page, "ship-settings");
});
