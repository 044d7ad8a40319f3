// D9/D10 in the browser: a board file exported from one board comes back as a new
// board through Boards → Import…; a Vibe Kanban path that is not there is refused
// beside the field.
import { test, expect, screenshot } from "./viban";

test("a board file imports as a new board with its tasks", async ({ signedIn: page, viban }) => {
  const board = await viban.board("Exported");
  await viban.api("POST", `/boards/${board.id}/tasks`, { title: "carried over" });
  const document = await viban.api<{ board: { name: string } }>("GET", `/boards/${board.id}/export`);
  document.board.name = "Imported copy";

  await page.getByRole("button", { name: "Import…" }).click();
  const dialog = page.getByRole("dialog", { name: "Import" });
  await dialog.getByLabel("A viban board file").check();
  await dialog.getByLabel(/Board file/).setInputFiles({
    name: "board.viban.json",
    mimeType: "application/json",
    buffer: Buffer.from(JSON.stringify(document)),
  });
  await dialog.getByRole("button", { name: "Import board" }).click();
  await dialog.getByRole("link", { name: "Open it" }).click();
  await expect(page.getByRole("heading", { name: "Imported copy", level: 1 })).toBeVisible();
  await expect(page.getByRole("region", { name: "Todo" }).getByRole("link")).toHaveText([/carried over/]);
});

test("a Vibe Kanban path that does not exist is refused beside the field", async ({ signedIn: page, viban }) => {
  await page.getByRole("button", { name: "Import…" }).click();
  const dialog = page.getByRole("dialog", { name: "Import" });
  await dialog.getByLabel(/Vibe Kanban data/).fill(`${viban.userHome}/no-vibe-kanban-here`);
  await dialog.getByRole("button", { name: "Preview" }).click();
  await expect(dialog.getByRole("alert")).toBeVisible();
  await expect(dialog.getByLabel(/Vibe Kanban data/)).toHaveValue(`${viban.userHome}/no-vibe-kanban-here`);
  await screenshot(page, "import-error");
});
