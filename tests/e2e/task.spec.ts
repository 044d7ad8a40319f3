// U3: the task panel while an agent works: the live activity (every entry kind of a real
// Claude Code transcript, replayed by tests/fixtures/bin/claude), chat (a follow-up
// resumes the agent's session; a message sent mid-run waits, queued), stop, the agent's
// own words when it fails, and the chat box keeping the text the server refused.
import { test, expect, screenshot, transcript, Viban } from "./viban";
import type { Page } from "@playwright/test";

const SESSION = "5f1c2a7e-0d3b-4c55-9a4e-2f7b8c9d0e11";

/** A board on a fresh repository with one task, its panel open. */
async function openTask(page: Page, viban: Viban, title: string, description = "Say hello.") {
  const board = await viban.board(`${title} board`);
  const task = await viban.api<{ id: string }>("POST", `/boards/${board.id}/tasks`, { title, description });
  await page.goto(`${viban.url}boards/${board.id}/tasks/${task.id}`);
  const panel = page.getByRole("complementary", { name: "Task" });
  await expect(panel.getByRole("heading", { name: title })).toBeVisible();
  return { board, task, panel, activity: panel.getByRole("log") };
}

test("a Claude Code run shows thinking, a tool call that expands, the todo list and the result", async ({
  signedIn: page,
  viban,
}) => {
  const { panel, activity } = await openTask(page, viban, "Add greet()");
  await expect(activity).toContainText("No activity yet");
  await panel.getByRole("button", { name: "Run agent" }).click();

  await expect(activity.getByText("✓ Run finished")).toBeVisible({ timeout: 30_000 });
  await expect(activity).toContainText("$0.0421");
  await expect(activity).toContainText("3,192 in · 175 out tokens");
  await expect(activity).toContainText("8.1 s");
  // The prompt, folded; the session's system note; thinking folded to one line.
  await expect(activity.getByText("Prompt: Task: Add greet()")).toBeVisible();
  await expect(activity).toContainText("Session started (claude-sonnet-4-5, permission mode acceptEdits)");
  const thinking = activity.locator("details").filter({ hasText: "Thinking" });
  await expect(thinking).not.toHaveAttribute("open");
  await thinking.locator("summary").click();
  await expect(thinking).toHaveAttribute("open");

  // The todo list as a checklist; its TodoWrite answer is not repeated.
  const todo = activity.getByRole("list", { name: "Todo list" });
  await expect(todo.getByRole("listitem")).toHaveText([/Read src\/lib.rs/, /Add greet\(\)/]);
  await expect(activity).not.toContainText("Todos have been modified");

  // The failed Bash call: one line, marked, expanding to its command and its output.
  const bash = activity.locator("details").filter({ hasText: "cargo test --quiet" });
  await expect(bash.locator("summary")).toContainText("Bash");
  await expect(bash.locator("summary")).toContainText("failed");
  await expect(bash.getByText("error[E0425]")).toBeHidden();
  await bash.locator("summary").click();
  await expect(bash.getByText("error[E0425]: cannot find function `greet`")).toBeVisible();
  await expect(bash.locator("pre").first()).toHaveText("cargo test --quiet\necho done");
  const edit = activity.locator("details").filter({ hasText: "Edit" });
  await expect(edit.locator("summary")).toContainText("/work/tree/src/lib.rs");

  // The agent's text as markdown: `greet()` is code.
  await expect(activity.locator("code", { hasText: "greet()" }).first()).toBeVisible();
  await screenshot(page, "task-activity");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "task-activity-dark");
});

test("a follow-up message resumes the agent's session", async ({ signedIn: page, viban }) => {
  const { panel, activity } = await openTask(page, viban, "Follow up");
  await panel.getByRole("button", { name: "Run agent" }).click();
  await expect(activity.getByText("✓ Run finished")).toHaveCount(1, { timeout: 30_000 });

  const chat = panel.getByLabel("Message to the agent");
  await chat.fill("Now add a **test** for it.");
  await chat.press("Control+Enter");
  await expect(chat).toHaveValue("");
  await expect(activity.locator("strong", { hasText: "test" })).toBeVisible();
  await expect(activity.getByText("✓ Run finished")).toHaveCount(2, { timeout: 30_000 });
  const resumed = viban.agentCalls().filter((call) => call.includes(`--resume ${SESSION}`));
  expect(resumed.some((call) => call.includes("Now add a **test** for it."))).toBe(true);
  await screenshot(page, "task-follow-up");
});

test("stop ends a run mid-way after a confirmation", async ({ signedIn: page, viban }) => {
  const { panel, activity } = await openTask(page, viban, "Hang on", "MODE:hang");
  await panel.getByRole("button", { name: "Run agent" }).click();
  await expect(activity).toContainText("Session started (fake, permission mode default)", { timeout: 30_000 });
  await expect(panel.getByText("running", { exact: true })).toBeVisible();
  await expect(panel.getByLabel("Message to the agent")).toHaveAttribute("placeholder", /queued/);
  await screenshot(page, "task-running");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "task-running-dark");
  await page.emulateMedia({ colorScheme: "light" });

  let asked = "";
  page.once("dialog", (dialog) => {
    asked = dialog.message();
    void dialog.accept();
  });
  await panel.getByRole("button", { name: "Stop agent" }).click();
  await expect(panel.getByRole("button", { name: "Run agent" })).toBeVisible({ timeout: 15_000 });
  expect(asked).toContain("Stop the agent");
  await expect(panel.getByText("idle", { exact: true })).toBeVisible();
  await screenshot(page, "task-stopped");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "task-stopped-dark");
  await page.emulateMedia({ colorScheme: "light" });
});

test("a message sent while the agent runs shows queued, then runs", async ({ signedIn: page, viban }) => {
  const { panel, activity } = await openTask(page, viban, "Queue it", "MODE:slow");
  await panel.getByRole("button", { name: "Run agent" }).click();
  await expect(panel.getByRole("button", { name: "Stop agent" })).toBeVisible({ timeout: 15_000 });

  const chat = panel.getByLabel("Message to the agent");
  await chat.fill("Also update the README.");
  await panel.getByRole("button", { name: "Queue" }).click();
  const message = activity.locator(".user").filter({ hasText: "Also update the README." });
  await expect(message).toContainText("queued");
  await expect(panel.getByRole("status").filter({ hasText: "Queued" })).toBeVisible();
  await screenshot(page, "task-queued");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "task-queued-dark");
  await page.emulateMedia({ colorScheme: "light" });

  // The run ends; the queued message starts the next one, which resumes the session.
  await expect(activity.getByText("✓ Run finished")).toHaveCount(2, { timeout: 30_000 });
  // Only rows on screen are in the DOM: the message is above, once.
  await activity.evaluate((log) => (log.scrollTop = 0));
  await expect(message).toHaveCount(1);
  await expect(message).not.toContainText("queued");
  const calls = viban.agentCalls();
  expect(calls.some((call) => call.includes(`--resume ${SESSION}`) && call.includes("Also update the README."))).toBe(true);
});

test("a refused message stays in the chat box with the server's reason; no repository disables it", async ({
  signedIn: page,
  viban,
}) => {
  const { board, panel } = await openTask(page, viban, "Nowhere to run");
  // Without an in_progress column a message to an idle task has nowhere to start.
  const inProgress = board.columns.find((column) => column.role === "in_progress")!;
  await viban.api("DELETE", `/columns/${inProgress.id}`);
  const chat = panel.getByLabel("Message to the agent");
  await chat.fill("Please start.");
  await chat.press("Control+Enter");
  await expect(panel.getByRole("alert").filter({ hasText: "in_progress" })).toBeVisible();
  await expect(chat).toHaveValue("Please start.");
  await expect(chat).toHaveAttribute("aria-invalid", "true");
  await screenshot(page, "task-chat-refused");

  const bare = await viban.api<{ board: { id: string } }>("POST", "/boards", { name: "No repository" });
  const task = await viban.api<{ id: string }>("POST", `/boards/${bare.board.id}/tasks`, { title: "Idle" });
  await page.goto(`${viban.url}boards/${bare.board.id}/tasks/${task.id}`);
  await expect(panel.getByLabel("Message to the agent")).toBeDisabled();
  await expect(panel).toContainText("Link a repository in the board's settings to chat with an agent.");
});

test("a long stream follows the end, counts what arrives while scrolled up, and keeps only visible rows in the DOM", async ({
  signedIn: page,
  viban,
}) => {
  // MODE:tick: the fake agent prints 300 lines, one every 10 ms.
  const { task, panel, activity } = await openTask(page, viban, "Tick", "MODE:tick");
  await panel.getByRole("button", { name: "Run agent" }).click();
  await expect
    .poll(async () => (await viban.api<{ status: string }[]>("GET", `/tasks/${task.id}/sessions`))[0]?.status, {
      timeout: 30_000,
    })
    .toBe("completed");
  const fromEnd = () => activity.evaluate((log) => log.scrollHeight - log.scrollTop - log.clientHeight);
  await expect(activity.getByText(/^tick \d+/).last()).toBeVisible();
  await expect.poll(fromEnd).toBeLessThan(40);
  expect(await activity.locator(".row").count()).toBeLessThan(60);

  const prompt = activity.getByText("Prompt: Task: Tick");
  const scrollToTop = async () => {
    for (let attempt = 0; attempt < 20 && !(await prompt.isVisible()); attempt++) {
      await activity.evaluate((log) => (log.scrollTop = 0));
      await page.waitForTimeout(150);
    }
    await expect(prompt).toBeVisible();
  };
  await scrollToTop();

  // A follow-up's entries arrive while the user reads the top: counted, not scrolled to.
  await panel.getByLabel("Message to the agent").fill("Stop ticking.");
  await panel.getByRole("button", { name: "Send" }).click();
  const unseen = panel.getByRole("button", { name: /\d+ new/ });
  await expect(unseen).toBeVisible({ timeout: 30_000 });
  await expect(prompt).toBeVisible();
  await screenshot(page, "task-new-entries");
  await unseen.click();
  await expect(activity.getByText("✓ Run finished")).toBeVisible({ timeout: 30_000 });
  await expect(unseen).toHaveCount(0);
  await screenshot(page, "task-long-stream");

  // Opened afresh it starts at the end; the older pages load on the way up.
  await page.reload();
  await expect(activity.getByText("✓ Run finished")).toBeVisible();
  await expect.poll(fromEnd).toBeLessThan(40);
  await scrollToTop();
  expect(await activity.locator(".row").count()).toBeLessThan(60);
});

test("a task reaching Review in a hidden tab notifies and plays a sound, once asked to", async ({
  signedIn: page,
  viban,
}) => {
  // The page's view of visibility, notifications and audio, recorded.
  await page.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    w.hidden = false;
    w.notes = [];
    w.notes_sounds = 0;
    Object.defineProperty(document, "hidden", { get: () => w.hidden });
    class FakeNotification {
      static permission = "default";
      static async requestPermission() {
        FakeNotification.permission = "granted";
        return "granted";
      }
      onclick: (() => void) | null = null;
      constructor(title: string, options: { body?: string }) {
        (w.notes as string[]).push(`${title}: ${options.body}`);
      }
      close() {}
    }
    w.Notification = FakeNotification;
    const play = HTMLMediaElement.prototype.play;
    HTMLMediaElement.prototype.play = function () {
      w.notes_sounds = (w.notes_sounds as number) + 1;
      return play.call(this);
    };
  });
  const board = await viban.board("Notify");
  const review = board.columns.find((column) => column.role === "review")!.id;
  const task = await viban.api<{ id: string }>("POST", `/boards/${board.id}/tasks`, { title: "Ship it" });
  await page.goto(`${viban.url}boards/${board.id}`);
  await expect(page.getByRole("link", { name: /Ship it/ })).toBeVisible();
  const toggle = page.getByRole("button", { name: "Notify me" });
  await toggle.click();
  await expect(page.getByRole("button", { name: "Notifying" })).toHaveAttribute("aria-pressed", "true");

  await page.evaluate(() => ((window as unknown as Record<string, unknown>).hidden = true));
  await viban.api("POST", `/tasks/${task.id}/move`, { column_id: review });
  await expect(page).toHaveTitle("(1) Notify · viban");
  await expect.poll(() => page.evaluate(() => (window as unknown as Record<string, unknown>).notes)).toEqual([
    "#1 Ship it: Needs you in Review",
  ]);
  expect(await page.evaluate(() => (window as unknown as Record<string, unknown>).notes_sounds)).toBeGreaterThan(0);
});

test("the page title counts the tasks that need the user", async ({ signedIn: page, viban }) => {
  const board = await viban.board("Attention");
  const review = board.columns.find((column) => column.role === "review")!.id;
  await viban.api("POST", `/boards/${board.id}/tasks`, { title: "check me", column_id: review });
  await page.goto(`${viban.url}boards/${board.id}`);
  await expect(page).toHaveTitle("(1) Attention · viban");
  await viban.api("POST", `/boards/${board.id}/tasks`, { title: "and me", column_id: review });
  await expect(page).toHaveTitle("(2) Attention · viban");
});

test("without Claude credentials the failure shows Claude's own words and what to do", async ({ page }) => {
  test.setTimeout(150_000);
  // Its own viban, whose fake agent replays what Claude Code prints when not logged in.
  const viban = await Viban.start({ FAKE_TRANSCRIPT: transcript("claude-not-logged-in.jsonl") });
  try {
    await viban.signIn(page);
    const { panel, activity } = await openTask(page, viban, "Logged out");
    await panel.getByRole("button", { name: "Run agent" }).click();
    const error = activity.getByRole("note");
    await expect(error).toContainText("Not logged in · Please run /login", { timeout: 30_000 });
    await expect(error).toContainText("then run the agent again");
    await expect(activity.getByText("✗ Run failed")).toBeVisible();
    await expect(panel.getByRole("alert").filter({ hasText: "Not logged in" })).toBeVisible();
    await screenshot(page, "task-not-logged-in");
    await page.emulateMedia({ colorScheme: "dark" });
    await screenshot(page, "task-not-logged-in-dark");
  } finally {
    await viban.stop();
    viban.remove();
  }
});
