// U1: the board list, and creating a board on a repository picked in the folder browser.
import { join } from "node:path";
import { test, expect, gitRepository, screenshot } from "./viban";

test("an empty viban invites to create a board", async ({ signedIn: page }) => {
  await expect(page.getByRole("heading", { name: "Boards", level: 1 })).toBeVisible();
  await screenshot(page, "boards-empty");
});

test("a board is created on a fresh git repository chosen in the folder browser", async ({ signedIn: page, viban }) => {
  gitRepository(join(viban.userHome, "shop-frontend"));
  await page.getByRole("button", { name: "New board" }).first().click();
  const dialog = page.getByRole("dialog", { name: "New board" });
  await dialog.getByLabel("Name").fill("Shop");
  // The browser starts at the home folder and marks git repositories.
  const folder = dialog.getByRole("button", { name: /shop-frontend/ });
  await expect(folder).toContainText("git repository");
  await folder.click();
  await expect(dialog.getByLabel("Repository folder")).toHaveValue(join(viban.userHome, "shop-frontend"));
  await screenshot(page, "boards-create-dialog");
  await dialog.getByRole("button", { name: "Create board" }).click();

  // The new board opens with the default columns.
  await expect(page.getByRole("heading", { name: "Shop", level: 1 })).toBeVisible();
  for (const column of ["Todo", "In Progress", "Review", "Done", "Cancelled"]) {
    await expect(page.getByRole("region", { name: column })).toBeVisible();
  }
  await expect(page.getByText("This board has no repository yet")).toHaveCount(0);
  await screenshot(page, "board-empty");

  await page.getByRole("link", { name: "Boards" }).click();
  const card = page.getByRole("link", { name: /Shop/ });
  await expect(card).toContainText("shop-frontend");
  await expect(card).toContainText("0 tasks");
  await screenshot(page, "boards-list");
});

test("a path that is not a repository is refused beside the field, and nothing typed is lost", async ({
  signedIn: page,
  viban,
}) => {
  await page.getByRole("button", { name: "New board" }).first().click();
  const dialog = page.getByRole("dialog", { name: "New board" });
  await dialog.getByLabel("Name").fill("Nowhere");
  await dialog.getByLabel("Repository folder").fill(join(viban.userHome, "does-not-exist"));
  await dialog.getByRole("button", { name: "Create board" }).click();
  await expect(dialog.getByRole("alert")).toContainText("does not exist");
  await expect(dialog.getByLabel("Repository folder")).toHaveAttribute("aria-invalid", "true");
  await expect(dialog.getByLabel("Name")).toHaveValue("Nowhere");
  await screenshot(page, "boards-create-error");
});
