// U2, U4, U6: cards on a board: create from a template, drag between columns, move
// with the keyboard, filter, and see another browser's changes live.
import { test, expect, screenshot, type Viban } from "./viban";
import type { Page } from "@playwright/test";

async function openBoard(page: Page, viban: Viban, name: string) {
  const board = await viban.board(name);
  await page.goto(`${viban.url}boards/${board.id}`);
  await expect(page.getByRole("heading", { name, level: 1 })).toBeVisible();
  return board;
}

const column = (page: Page, name: string) => page.getByRole("region", { name });
const cards = (page: Page, name: string) => column(page, name).getByRole("list").getByRole("link");

async function task(viban: Viban, boardId: string, title: string, columnId?: string) {
  return viban.api<{ id: string }>("POST", `/boards/${boardId}/tasks`, { title, column_id: columnId ?? null });
}

test("a task is created from a template with n and Ctrl+Enter", async ({ signedIn: page, viban }) => {
  await openBoard(page, viban, "Templates");
  await page.keyboard.press("n");
  const dialog = page.getByRole("dialog", { name: "New task" });
  await dialog.getByLabel("Title").fill("login loses the session");
  await dialog.getByLabel("Template").selectOption({ label: "Bugfix" });
  // The template's title is a prefix: what was typed stays.
  await expect(dialog.getByLabel("Title")).toHaveValue("Fix: login loses the session");
  await expect(dialog.getByLabel("Description", { exact: true })).toHaveValue(/## What happens/);
  await dialog.getByRole("button", { name: "Preview" }).click();
  await expect(dialog.getByRole("heading", { name: "What happens" })).toBeVisible();
  await screenshot(page, "create-task-dialog");
  await dialog.getByRole("button", { name: "Write" }).click();
  await dialog.getByLabel("Description", { exact: true }).press("Control+Enter");
  await expect(dialog).toHaveCount(0);
  await expect(cards(page, "Todo")).toHaveText([/Fix: login loses the session/]);
});

test("the server's refusal is shown beside the title, and the dialog keeps what was typed", async ({
  signedIn: page,
  viban,
}) => {
  await openBoard(page, viban, "Refusals");
  await page.getByRole("button", { name: "New task", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: "New task" });
  await dialog.getByLabel("Description", { exact: true }).fill("a description worth keeping");
  await dialog.getByRole("button", { name: "Create task" }).click();
  await expect(dialog.getByRole("alert")).toContainText(/title/i);
  await expect(dialog.getByLabel("Title")).toHaveAttribute("aria-invalid", "true");
  await expect(dialog.getByLabel("Description", { exact: true })).toHaveValue("a description worth keeping");
  await screenshot(page, "create-task-error");
});

test("a card dragged to another column stays there, in order, after a reload", async ({ signedIn: page, viban }) => {
  const board = await openBoard(page, viban, "Dragging");
  const review = board.columns.find((c) => c.role === "review")!.id;
  await task(viban, board.id, "first in review", review);
  await task(viban, board.id, "second in review", review);
  await task(viban, board.id, "drag me");
  await expect(cards(page, "Review")).toHaveCount(2);

  const source = cards(page, "Todo").filter({ hasText: "drag me" });
  const target = cards(page, "Review").filter({ hasText: "second in review" });
  const box = (await target.boundingBox())!;
  // Onto the upper half of the second card: between the two.
  await source.dragTo(target, { targetPosition: { x: box.width / 2, y: 6 } });
  await expect(cards(page, "Review")).toHaveText([/first in review/, /drag me/, /second in review/]);
  await expect(cards(page, "Todo")).toHaveCount(0);
  // Announced once the server has taken the move.
  await expect(page.getByRole("status").filter({ hasText: "Moved “drag me” to Review, position 2 of 3." })).toBeAttached();

  await page.reload();
  await expect(cards(page, "Review")).toHaveText([/first in review/, /drag me/, /second in review/]);
  await screenshot(page, "board-after-drag");
});

test("a card moves with the keyboard, is announced, and the order survives a reload", async ({
  signedIn: page,
  viban,
}) => {
  const board = await openBoard(page, viban, "Keyboard");
  for (const title of ["alpha", "bravo", "charlie"]) await task(viban, board.id, title);
  await expect(cards(page, "Todo")).toHaveCount(3);

  // j focuses the first card and moves down; Alt+↓ moves the focused card.
  await page.keyboard.press("j");
  await expect(cards(page, "Todo").first()).toBeFocused();
  await page.keyboard.press("j");
  await expect(cards(page, "Todo").nth(1)).toBeFocused();
  await page.keyboard.press("Alt+ArrowDown");
  await expect(cards(page, "Todo")).toHaveText([/alpha/, /charlie/, /bravo/]);
  await expect(page.getByRole("status").filter({ hasText: "Moved “bravo” to Todo, position 3 of 3." })).toBeAttached();
  await expect(cards(page, "Todo").nth(2)).toBeFocused();

  // Alt+→ takes it to the next column (In Progress runs its hooks: the fake agent).
  await page.keyboard.press("Alt+ArrowRight");
  await expect(cards(page, "Todo")).toHaveText([/alpha/, /charlie/]);
  await expect(page.getByRole("status").filter({ hasText: /Moved “bravo” to In Progress/ })).toBeAttached();
  await expect(page.getByRole("link", { name: /bravo/ })).toBeVisible();

  await page.reload();
  await expect(cards(page, "Todo")).toHaveText([/alpha/, /charlie/]);
});

test("two browsers see each other's changes live", async ({ signedIn: page, viban, browser }) => {
  const board = await openBoard(page, viban, "Together");
  const other = await viban.newSignedInPage(browser, `/boards/${board.id}`);
  await expect(other.getByRole("heading", { name: "Together", level: 1 })).toBeVisible();

  await page.getByRole("button", { name: "New task", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: "New task" });
  await dialog.getByLabel("Title").fill("made in the first browser");
  await dialog.getByRole("button", { name: "Create task" }).click();
  await expect(cards(other, "Todo")).toHaveText([/made in the first browser/], { timeout: 1_000 });

  const done = board.columns.find((c) => c.role === "done")!.id;
  const created = await task(viban, board.id, "made through the API");
  await expect(cards(page, "Todo")).toHaveCount(2, { timeout: 1_000 });
  await viban.api("POST", `/tasks/${created.id}/move`, { column_id: done });
  await expect(cards(other, "Done")).toHaveText([/made through the API/], { timeout: 1_000 });
  await expect(cards(page, "Done")).toHaveText([/made through the API/], { timeout: 1_000 });
  await other.context().close();
});

test("/ filters the cards by title and description and highlights the match", async ({ signedIn: page, viban }) => {
  const board = await openBoard(page, viban, "Filtering");
  await task(viban, board.id, "Payment page");
  await task(viban, board.id, "Login page");
  await viban.api("POST", `/boards/${board.id}/tasks`, { title: "Unrelated", description: "touches the payment API" });
  await expect(cards(page, "Todo")).toHaveCount(3);

  await page.keyboard.press("/");
  await expect(page.getByLabel("Filter cards")).toBeFocused();
  await page.keyboard.type("payment");
  await expect(cards(page, "Todo")).toHaveText([/Payment page/, /Unrelated/]);
  await expect(cards(page, "Todo").first().locator("mark")).toHaveText("Payment");
  await screenshot(page, "board-filtered");
  await page.keyboard.press("Escape");
  await expect(cards(page, "Todo")).toHaveCount(3);
});

test("a card opens the task panel, deep-linkable, and Esc closes it", async ({ signedIn: page, viban }) => {
  const board = await openBoard(page, viban, "Panel");
  const created = await viban.api<{ id: string }>("POST", `/boards/${board.id}/tasks`, {
    title: "Write the docs",
    description: "## Scope\n\n- the **README**\n- <img src=x onerror=alert(1)>",
  });
  await cards(page, "Todo").first().click();
  await expect(page).toHaveURL(new RegExp(`/boards/${board.id}/tasks/${created.id}$`));
  const panel = page.getByRole("complementary", { name: "Task" });
  await expect(panel.getByRole("heading", { name: "Write the docs" })).toBeVisible();
  await expect(panel.getByRole("heading", { name: "Scope" })).toBeVisible();
  await expect(panel.locator("img[onerror]")).toHaveCount(0);
  await screenshot(page, "task-panel");

  await panel.getByRole("button", { name: "Edit the title" }).click();
  await panel.getByLabel("Title").fill("");
  await panel.getByRole("button", { name: "Save" }).click();
  await expect(panel.getByRole("alert")).toContainText(/title/i);
  await panel.getByLabel("Title").fill("Write the user docs");
  await panel.getByRole("button", { name: "Save" }).click();
  await expect(panel.getByRole("heading", { name: "Write the user docs" })).toBeVisible();
  await expect(cards(page, "Todo").first()).toContainText("Write the user docs");

  await page.reload();
  await expect(panel.getByRole("heading", { name: "Write the user docs" })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(panel).toHaveCount(0);
  await expect(page).toHaveURL(new RegExp(`/boards/${board.id}$`));
});

test("the board in the dark theme", async ({ signedIn: page, viban }) => {
  const board = await openBoard(page, viban, "Night shift");
  const review = board.columns.find((c) => c.role === "review")!.id;
  await task(viban, board.id, "Add dark mode");
  await task(viban, board.id, "Ship the release notes", review);
  await page.getByRole("button", { name: "Theme: system" }).click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await expect(page.getByRole("button", { name: "Theme: dark" })).toBeVisible();
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(background).toBe("rgb(20, 22, 26)");
  await expect(cards(page, "Review").first()).toContainText("Needs you");
  await screenshot(page, "board-dark");
  // The choice is kept across reloads.
  await page.reload();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
});

test("a task created with auto-start runs its agent and lands in Review by itself", async ({ signedIn: page, viban }) => {
  // Counts the sounds the board plays (Review's play-sound hook).
  await page.addInitScript(() => {
    const w = window as unknown as { sounds: number };
    w.sounds = 0;
    const play = HTMLMediaElement.prototype.play;
    HTMLMediaElement.prototype.play = function () {
      w.sounds += 1;
      return play.call(this);
    };
  });
  await openBoard(page, viban, "Autopilot");
  await page.getByRole("button", { name: "New task", exact: true }).click();
  const dialog = page.getByRole("dialog", { name: "New task" });
  await dialog.getByLabel("Title").fill("Add a health check");
  await dialog.getByLabel("Start the agent now").check();
  await dialog.getByRole("button", { name: "Create task" }).click();

  // The hooks move it: Todo → In Progress (the fake agent runs) → Review, live.
  const card = cards(page, "Review").filter({ hasText: "Add a health check" });
  await expect(card).toBeVisible({ timeout: 30_000 });
  await expect(card).toContainText("Needs you");
  await expect.poll(() => page.evaluate(() => (window as unknown as { sounds: number }).sounds)).toBeGreaterThan(0);
  await card.click();
  const panel = page.getByRole("complementary", { name: "Task" });
  await expect(panel.getByRole("listitem").filter({ hasText: "Run agent" })).toContainText("completed");
  await expect(panel.getByText(/^viban\/[0-9a-f]{8}-add-a-health-check$/)).toBeVisible();
  await screenshot(page, "task-panel-after-run");
});
