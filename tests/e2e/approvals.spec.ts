// Tool-call approvals in the web UI (M3; docs/approvals.md): the fake Claude under the
// board's `ask` policy asks to run Bash (tests/fixtures/bin/claude-control.py); the card
// says the task needs the user, a hidden tab is notified, and the panel approves.
import { test, expect, screenshot, type Viban } from "./viban";
import type { Page } from "@playwright/test";

/** The page's view of visibility and notifications, recorded on `window`. */
async function recordNotifications(page: Page) {
  await page.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    w.hidden = false;
    w.notes = [];
    Object.defineProperty(document, "hidden", { get: () => w.hidden });
    class FakeNotification {
      static permission = "granted";
      static async requestPermission() {
        return "granted";
      }
      onclick: (() => void) | null = null;
      constructor(title: string, options: { body?: string }) {
        (w.notes as string[]).push(`${title}: ${options.body}`);
      }
      close() {}
    }
    w.Notification = FakeNotification;
  });
}

async function askingBoard(viban: Viban, name: string) {
  const board = await viban.board(name);
  await viban.api("PATCH", `/boards/${board.id}`, { settings: { permission_policy: "ask" } });
  const task = await viban.api<{ id: string }>("POST", `/boards/${board.id}/tasks`, {
    title: "List the files",
    description: "MODE:ask please",
  });
  return { board, task };
}

test("an agent's approval request shows on the card, notifies a hidden tab, survives a reload and is approved from the panel", async ({
  signedIn: page,
  viban,
}) => {
  await recordNotifications(page);
  const { board, task } = await askingBoard(viban, "Approvals");
  await page.goto(`${viban.url}boards/${board.id}`);
  const card = page.getByRole("link", { name: /List the files/ });
  await expect(card).toBeVisible();
  await page.getByRole("button", { name: "Notify me" }).click();
  await page.evaluate(() => ((window as unknown as Record<string, unknown>).hidden = true));

  await viban.api("POST", `/tasks/${task.id}/runs`, {});
  await expect(card).toContainText("Needs you · approve", { timeout: 30_000 });
  await expect(page).toHaveTitle("(1) Approvals · viban");
  await expect
    .poll(() => page.evaluate(() => (window as unknown as Record<string, unknown>).notes))
    .toEqual(["#1 List the files: Asks to approve a tool call"]);
  await page.evaluate(() => ((window as unknown as Record<string, unknown>).hidden = false));

  await card.click();
  const panel = page.getByRole("complementary", { name: "Task" });
  const approval = panel.getByRole("region", { name: "Approval needed" });
  await expect(approval).toContainText("The agent asks to run Bash");
  await expect(approval).toContainText("ls -la");
  await expect(approval).toContainText("Run ls -la to see the files");
  await expect(panel).toContainText("Ask — its tool calls that need approval wait for you here");
  await approval.getByText("Full input").click();
  await expect(approval.locator("pre")).toContainText('"command": "ls -la"');
  await screenshot(page, "approval-panel");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "approval-panel-dark");
  await page.emulateMedia({ colorScheme: "light" });

  // Still there after a reload: it is the server's.
  await page.reload();
  await expect(approval).toBeVisible();
  await approval.getByRole("button", { name: "Approve", exact: true }).click();
  await expect(approval).toHaveCount(0);
  await expect(panel.getByRole("log")).toContainText("ran: ls -la", { timeout: 30_000 });
  await expect(card).not.toContainText("Needs you");
});

test("denying from the panel sends the note to the agent", async ({ signedIn: page, viban }) => {
  const { board, task } = await askingBoard(viban, "Denials");
  await page.goto(`${viban.url}boards/${board.id}/tasks/${task.id}`);
  const panel = page.getByRole("complementary", { name: "Task" });
  await viban.api("POST", `/tasks/${task.id}/runs`, {});
  const approval = panel.getByRole("region", { name: "Approval needed" });
  await approval.getByRole("button", { name: "Deny…" }).click({ timeout: 30_000 });
  await approval.getByRole("textbox", { name: "Note to the agent" }).fill("Use git ls-files instead.");
  await screenshot(page, "approval-deny-note");
  await approval.getByRole("button", { name: "Deny", exact: true }).click();
  await expect(approval).toHaveCount(0);
  await expect(panel.getByRole("log")).toContainText("The user denied this tool call: Use git ls-files instead.", {
    timeout: 30_000,
  });
});

test("the board settings choose the permission policy and the approval timeout, and say which agents cannot ask", async ({
  signedIn: page,
  viban,
}) => {
  const board = await viban.board("Policy");
  await page.goto(`${viban.url}boards/${board.id}/settings`);
  const policy = page.getByLabel("Permissions");
  await expect(policy).toHaveValue("");
  await policy.selectOption("ask");
  await expect(page.locator("#settings-policy-hint")).toContainText("Cannot ask: Codex, Gemini CLI");
  await page.getByLabel("Deny an unanswered approval after").fill("0");
  await page.getByRole("button", { name: "Save board" }).click();
  await expect(page.locator("#settings-timeout-error")).toContainText("above 0");
  await page.getByLabel("Deny an unanswered approval after").fill("10");
  await page.getByRole("button", { name: "Save board" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toBeVisible();
  await policy.evaluate((element) => element.scrollIntoView({ block: "center" }));
  await screenshot(page, "approval-settings");
  const saved = await viban.api<{ board: { settings: Record<string, unknown> } }>("GET", `/boards/${board.id}`);
  expect(saved.board.settings).toMatchObject({ permission_policy: "ask", approval_timeout_minutes: 10 });
  await page.reload();
  await expect(page.getByLabel("Permissions")).toHaveValue("ask");
});
