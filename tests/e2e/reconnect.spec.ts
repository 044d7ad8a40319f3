// U7: when viban stops, the page says it is reconnecting; when viban is back, the
// page recovers by itself and shows what changed meanwhile.
import { test, expect, Viban, screenshot } from "./viban";

test("the page shows it is reconnecting while viban is down and recovers when it is back", async ({ page }) => {
  test.setTimeout(180_000);
  const viban = await Viban.start();
  try {
    const board = await viban.board("Restarts");
    await viban.signIn(page, `/boards/${board.id}`);
    await expect(page.getByRole("heading", { name: "Restarts", level: 1 })).toBeVisible();

    await viban.stop();
    const indicator = page.getByRole("status").filter({ hasText: "Reconnecting…" });
    await expect(indicator).toBeVisible();
    await screenshot(page, "reconnecting");

    await viban.run();
    await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible({ timeout: 15_000 });
    // Made while the page was away from the stream: it still appears, without a reload.
    await viban.api("POST", `/boards/${board.id}/tasks`, { title: "made after the restart" });
    await expect(page.getByRole("region", { name: "Todo" }).getByRole("link")).toHaveText([/made after the restart/]);
  } finally {
    await viban.stop();
    viban.remove();
  }
});
