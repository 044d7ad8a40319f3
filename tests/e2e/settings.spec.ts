// U5: a board's settings (the board, its columns with their hooks, its custom hooks,
// its templates) and the system page. Every form saves what works — still there after
// a reload — and shows the server's refusal beside the field at fault, keeping what
// was typed.
import { join } from "node:path";
import type { Locator, Page } from "@playwright/test";
import { test, expect, screenshot, ARTIFACTS, type Viban } from "./viban";

async function openSettings(page: Page, viban: Viban, name: string) {
  const board = await viban.board(name);
  await page.goto(`${viban.url}boards/${board.id}/settings`);
  await expect(page.getByRole("heading", { name: "Settings", level: 1 })).toBeVisible();
  // The column forms are there once the board is loaded.
  await expect(page.getByRole("region", { name: "Columns and their hooks" })).toBeVisible();
  return board;
}

const column = (page: Page, name: string) => page.getByRole("region", { name, exact: true });

async function centre(locator: Locator) {
  await locator.evaluate((element) => element.scrollIntoView({ block: "center" }));
}

async function fullPage(page: Page, name: string) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

test("the board form saves a new name and refuses an empty one beside the field", async ({ signedIn: page, viban }) => {
  await openSettings(page, viban, "Renamed later");
  const name = page.getByLabel("Name", { exact: true }).first();
  await name.fill("Renamed");
  await page.getByRole("button", { name: "Save board" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("Name", { exact: true }).first()).toHaveValue("Renamed");

  await page.getByLabel("Name", { exact: true }).first().fill("   ");
  await page.getByLabel("Description").first().fill("Kept when the save fails");
  await page.getByRole("button", { name: "Save board" }).click();
  await expect(page.locator("#settings-name-error")).toContainText("name must not be empty");
  await expect(page.getByLabel("Name", { exact: true }).first()).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Description").first()).toHaveValue("Kept when the save fails");
});

test("a column's settings are saved, and a limit of 0 is refused beside the field", async ({ signedIn: page, viban }) => {
  await openSettings(page, viban, "Columns");
  const review = column(page, "Review");
  await review.getByLabel("Name").fill("Code review");
  await review.getByLabel("Max concurrent").fill("2");
  await review.getByLabel("Role").selectOption({ label: "Review" });
  await review.getByLabel("Hooks enabled").uncheck();
  await review.getByRole("button", { name: "Save column" }).click();
  const renamed = column(page, "Code review");
  await expect(renamed.getByRole("status")).toHaveText("Saved");

  await page.reload();
  await expect(renamed.getByLabel("Name")).toHaveValue("Code review");
  await expect(renamed.getByLabel("Max concurrent")).toHaveValue("2");
  await expect(renamed.getByLabel("Hooks enabled")).not.toBeChecked();

  await renamed.getByLabel("Max concurrent").fill("0");
  await renamed.getByRole("button", { name: "Save column" }).click();
  const limit = renamed.getByLabel("Max concurrent");
  await expect(limit).toHaveAttribute("aria-invalid", "true");
  await expect(renamed.getByRole("alert")).toHaveText("max_concurrent must be at least 1, or null for no limit");
  await expect(limit).toHaveValue("0");
  await centre(renamed);
  await screenshot(page, "settings-column-error");

  await renamed.getByLabel("Max concurrent").fill("");
  await renamed.getByLabel("Name").fill("");
  await renamed.getByRole("button", { name: "Save column" }).click();
  await expect(renamed.getByRole("alert")).toHaveText("name must not be empty");
  await expect(renamed.getByLabel("Name")).toHaveAttribute("aria-invalid", "true");
});

test("columns are added and deleted in the settings", async ({ signedIn: page, viban }) => {
  await openSettings(page, viban, "More columns");
  await page.getByRole("button", { name: "Add column" }).click();
  await expect(page.locator("#new-column-name-error")).toHaveText("name must not be empty");

  await page.getByLabel("New column name").fill("QA");
  await page.getByRole("button", { name: "Add column" }).click();
  await expect(column(page, "QA")).toBeVisible();
  await expect(page.getByLabel("New column name")).toHaveValue("");

  page.once("dialog", (dialog) => void dialog.accept());
  await column(page, "QA").getByRole("button", { name: "Delete column" }).click();
  await expect(column(page, "QA")).toHaveCount(0);
  await page.reload();
  await expect(column(page, "Done")).toBeVisible();
  await expect(column(page, "QA")).toHaveCount(0);
});

test("play-sound is attached to a column, its sound set, and hooks are reordered and detached", async ({
  signedIn: page,
  viban,
}) => {
  const board = await openSettings(page, viban, "Sounds");
  const done = column(page, "Done");
  await expect(done.getByText("No hooks")).toBeVisible();
  await done.getByLabel("Attach a hook").selectOption({ label: "Play sound" });
  await done.getByRole("button", { name: "Attach" }).click();
  const sound = done.getByRole("listitem", { name: "Play sound" });
  await expect(sound).toBeVisible();
  await sound.getByLabel("Sound", { exact: true }).fill("bell");
  await sound.getByRole("button", { name: "Save settings" }).click();
  await expect(sound.getByRole("status")).toHaveText("Saved");
  await sound.getByLabel("Transparent").check();
  const doneId = board.columns.find((candidate) => candidate.name === "Done")?.id;
  type Attached = { column_id: string; builtin: string | null; transparent: boolean; settings: { sound?: string } };
  const attached = async () =>
    (await viban.api<{ column_hooks: Attached[] }>("GET", `/boards/${board.id}`)).column_hooks.find(
      (hook) => hook.column_id === doneId && hook.builtin === "builtin:play-sound",
    );
  await expect.poll(async () => (await attached())?.transparent).toBe(true);
  expect((await attached())?.settings.sound).toBe("bell");

  await page.reload();
  await expect(sound.getByLabel("Sound", { exact: true })).toHaveValue("bell");
  await expect(sound.getByLabel("Transparent")).toBeChecked();

  // In Progress: run-agent then move-task, both part of the workflow (no detach).
  const inProgress = column(page, "In Progress");
  const names = inProgress.getByRole("listitem");
  await expect(names).toHaveText([/Run agent/, /Move task/]);
  await expect(inProgress.getByRole("button", { name: /^Detach/ })).toHaveCount(0);
  await inProgress.getByRole("button", { name: "Move Move task up" }).click();
  await expect(names).toHaveText([/Move task/, /Run agent/]);
  await page.reload();
  await expect(names).toHaveText([/Move task/, /Run agent/]);
  await expect(inProgress.getByRole("button", { name: "Move Move task up" })).toBeDisabled();
  await screenshot(page, "settings-columns");
  await fullPage(page, "settings-full");

  page.once("dialog", (dialog) => void dialog.accept());
  await done.getByRole("button", { name: "Detach Play sound" }).click();
  await expect(sound).toHaveCount(0);
  await expect(done.getByText("No hooks")).toBeVisible();
});

test("script and agent hooks are created, edited, refused with the field named, attached and deleted", async ({
  signedIn: page,
  viban,
}) => {
  const board = await openSettings(page, viban, "Hooks");
  const hooks = page.getByRole("region", { name: "Custom hooks" });
  await expect(hooks.getByText("No custom hooks yet.")).toBeVisible();

  await hooks.getByRole("button", { name: "New script hook" }).click();
  const create = hooks.getByRole("form", { name: "New script hook" });
  await create.getByLabel("Name").fill("Lint");
  await create.getByRole("button", { name: "Create hook" }).click();
  await expect(create.getByLabel("Command")).toHaveAttribute("aria-invalid", "true");
  await expect(create.getByRole("alert")).toHaveText("command must not be empty");
  await expect(create.getByLabel("Name")).toHaveValue("Lint");
  await screenshot(page, "settings-hook-error");

  await create.getByLabel("Command").fill("npm run lint");
  await create.getByLabel("Timeout (seconds)").fill("120");
  await create.getByRole("button", { name: "Create hook" }).click();
  const lint = hooks.getByRole("listitem", { name: "Lint" });
  await expect(lint).toContainText("npm run lint");
  await expect(lint).toContainText("120 s");

  await page.reload();
  await expect(lint).toContainText("npm run lint");
  await lint.getByRole("button", { name: "Edit Lint" }).click();
  const edit = lint.getByRole("form", { name: "Edit Lint" });
  await expect(edit.getByLabel("Command")).toHaveValue("npm run lint");
  await edit.getByLabel("Timeout (seconds)").fill("0");
  await edit.getByRole("button", { name: "Save hook" }).click();
  await expect(edit.getByRole("alert")).toHaveText("timeout_seconds must be between 1 and 86400");
  await edit.getByLabel("Timeout (seconds)").fill("300");
  await edit.getByLabel("Command").fill("npm run lint -- --fix");
  await edit.getByRole("button", { name: "Save hook" }).click();
  await expect(lint).toContainText("npm run lint -- --fix");
  await expect(lint).toContainText("300 s");

  await hooks.getByRole("button", { name: "New agent hook" }).click();
  const agent = hooks.getByRole("form", { name: "New agent hook" });
  await agent.getByLabel("Name").fill("Second opinion");
  await agent.getByRole("button", { name: "Create hook" }).click();
  await expect(agent.getByRole("alert")).toHaveText("prompt must not be empty");
  await agent.getByLabel("Prompt").fill("Review the diff and list what is missing.");
  await agent.getByRole("button", { name: "Create hook" }).click();
  await expect(hooks.getByRole("listitem", { name: "Second opinion" })).toContainText("the task's agent");

  // Another client's hook appears without a reload (the board stream's hook events).
  await viban.api("POST", `/boards/${board.id}/hooks`, { name: "From the API", kind: "script", command: "true" });
  await expect(hooks.getByRole("listitem", { name: "From the API" })).toBeVisible();

  // A board hook can be attached to a column; deleting it detaches it.
  const review = column(page, "Review");
  await review.getByLabel("Attach a hook").selectOption({ label: "Lint (script)" });
  await review.getByRole("button", { name: "Attach" }).click();
  await expect(review.getByRole("listitem", { name: "Lint" })).toBeVisible();
  await expect(lint).toContainText("on Review");
  await centre(hooks);
  await screenshot(page, "settings-hooks");

  page.once("dialog", (dialog) => void dialog.accept());
  await lint.getByRole("button", { name: "Delete Lint" }).click();
  await expect(lint).toHaveCount(0);
  await expect(review.getByRole("listitem", { name: "Lint" })).toHaveCount(0);
});

test("templates are created, edited and deleted; a name over the limit is refused beside the field", async ({
  signedIn: page,
  viban,
}) => {
  await openSettings(page, viban, "Templates");
  const templates = page.getByRole("region", { name: "Templates" });
  await expect(templates.getByRole("listitem", { name: "Bugfix" })).toBeVisible();

  await templates.getByRole("button", { name: "New template" }).click();
  const create = templates.getByRole("form", { name: "New template" });
  const long = "A very long template name ".repeat(12).slice(0, 301);
  await create.getByLabel("Name").fill(long);
  await create.getByLabel("Task title").fill("Chore: ");
  await create.getByLabel("Task description").fill("## What\n\n## Why\n");
  await create.getByRole("button", { name: "Create template" }).click();
  await expect(create.getByLabel("Name")).toHaveAttribute("aria-invalid", "true");
  await expect(create.getByRole("alert")).toHaveText("name is 301 characters long; the limit is 100");
  await expect(create.getByLabel("Task description")).toHaveValue("## What\n\n## Why\n");
  await screenshot(page, "settings-template-error");

  await create.getByLabel("Name").fill("Chore");
  await create.getByRole("button", { name: "Create template" }).click();
  const chore = templates.getByRole("listitem", { name: "Chore" });
  await expect(chore).toContainText("Chore:");

  await page.reload();
  await chore.getByRole("button", { name: "Edit Chore" }).click();
  const edit = chore.getByRole("form", { name: "Edit Chore" });
  await expect(edit.getByLabel("Task description")).toHaveValue("## What\n\n## Why\n");
  await edit.getByLabel("Name").fill("");
  await edit.getByRole("button", { name: "Save template" }).click();
  await expect(edit.getByRole("alert")).toHaveText("name must not be empty");
  await edit.getByLabel("Name").fill("Housekeeping");
  await edit.getByRole("button", { name: "Save template" }).click();
  const housekeeping = templates.getByRole("listitem", { name: "Housekeeping" });
  await expect(housekeeping).toBeVisible();
  await page.reload();
  await expect(housekeeping).toContainText("Chore:");

  page.once("dialog", (dialog) => void dialog.accept());
  await housekeeping.getByRole("button", { name: "Delete Housekeeping" }).click();
  await expect(housekeeping).toHaveCount(0);
});

test("the system page shows the data directory, git, gh and the worktrees' disk", async ({ signedIn: page, viban }) => {
  await page.getByRole("link", { name: "System" }).click();
  await expect(page.getByRole("heading", { name: "This machine" })).toBeVisible();
  await expect(page.locator("#home")).toContainText(join(viban.home, "viban"));
  await expect(page.getByRole("definition").filter({ hasText: "git version" })).toBeVisible();
  await expect(page.locator("#worktrees")).toContainText(/\d/);
  await screenshot(page, "settings-system");
  await page.emulateMedia({ colorScheme: "dark" });
  await screenshot(page, "settings-system-dark");
});

test("the settings page in the dark theme", async ({ signedIn: page, viban }) => {
  await openSettings(page, viban, "Dark");
  await page.emulateMedia({ colorScheme: "dark" });
  await column(page, "Review").getByLabel("Max concurrent").fill("0");
  await column(page, "Review").getByRole("button", { name: "Save column" }).click();
  await expect(column(page, "Review").getByRole("alert")).toBeVisible();
  await fullPage(page, "settings-dark-full");
  await centre(column(page, "Review"));
  await screenshot(page, "settings-dark");
});
