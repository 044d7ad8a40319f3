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

test("a change made while the page's subscription is on its way to the server still shows", async ({
  signedIn: page,
  viban,
}) => {
  const board = await viban.board("Late subscription");
  // Hold the board's subscribe back until the page has loaded the board and a task has
  // been made: the task's event is then older than the subscription, and newer than the load.
  let release: () => void = () => {};
  const released = new Promise<void>((done) => (release = done));
  let held = false;
  await page.routeWebSocket(/\/api\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage(async (message) => {
      if (typeof message === "string" && message.includes(`"board:${board.id}"`)) {
        held = true;
        await released;
      }
      server.send(message);
    });
    server.onMessage((message) => ws.send(message));
  });
  await page.goto(`${viban.url}boards/${board.id}`);
  await expect(page.getByRole("region", { name: "Todo" })).toBeVisible();
  await expect.poll(() => held, { message: "the board's subscribe is held back" }).toBe(true);
  await viban.api("POST", `/boards/${board.id}/tasks`, { title: "made before the subscription" });
  await expect(page.getByRole("region", { name: "Todo" }).getByRole("link")).toHaveCount(0);
  release();
  await expect(page.getByRole("region", { name: "Todo" }).getByRole("link")).toHaveText([
    /made before the subscription/,
  ]);
});
