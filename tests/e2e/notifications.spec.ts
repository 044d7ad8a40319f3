// N3 and the per-board "Notify me" from the settings page: a webhook added there is
// tested, receives a task entering Review, and shows its last delivery and error.
import { createServer, type IncomingMessage } from "node:http";
import { test, expect, screenshot } from "./viban";

/** A local webhook receiver: every POST's path and JSON body; `fail` answers 500. */
async function receiver() {
  const received: { path: string; body: Record<string, unknown> }[] = [];
  let fail = false;
  const server = createServer((request: IncomingMessage, response) => {
    let data = "";
    request.on("data", (chunk) => (data += chunk));
    request.on("end", () => {
      received.push({ path: request.url ?? "/", body: data ? JSON.parse(data) : {} });
      response.writeHead(fail ? 500 : 200, { "Content-Type": "text/plain" });
      response.end(fail ? "receiver is down" : "ok");
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    failing: (on: boolean) => (fail = on),
    close: () => server.close(),
  };
}

test("a webhook added in settings is tested, hears a task reach Review and shows its last error", async ({
  signedIn: page,
  viban,
}) => {
  const hooks = await receiver();
  try {
    const board = await viban.board("Webhooks");
    await page.goto(`${viban.url}boards/${board.id}/settings`);
    const card = page.getByRole("region", { name: "Notifications" });
    await expect(card.getByRole("checkbox", { name: /Notify me/ })).toBeChecked();
    await expect(card).toContainText("No webhooks yet.");

    await card.getByRole("button", { name: "New webhook" }).click();
    const form = card.getByRole("form", { name: "New webhook" });
    await form.getByLabel("URL").fill("ftp://nowhere");
    await form.getByRole("button", { name: "Save webhook" }).click();
    await expect(form.getByRole("alert")).toContainText("http:// or https://");
    await form.getByLabel("URL").fill(hooks.url);
    await form.getByLabel("Body").selectOption("slack");
    await form.getByRole("checkbox", { name: "Run finished" }).uncheck();
    await form.getByRole("button", { name: "Save webhook" }).click();
    const row = card.getByRole("listitem", { name: `Webhook ${hooks.url}` });
    await expect(row).toContainText("Slack");
    await expect(row).toContainText("Entered a column, Run or hook failed, Needs you.");
    await expect(row).toContainText("Not called yet.");

    await row.getByRole("button", { name: `Send test to ${hooks.url}` }).click();
    await expect(row.getByRole("status").filter({ hasText: "Test delivered" })).toContainText("HTTP 200, “ok”");
    expect(hooks.received.at(-1)?.body.text).toContain("a test from board Webhooks");

    // A task reaches Review: the receiver hears it in Slack's shape.
    const review = board.columns.find((column) => column.role === "review")!;
    const task = await viban.api<{ id: string }>("POST", `/boards/${board.id}/tasks`, { title: "Ship the parser" });
    await viban.api("POST", `/tasks/${task.id}/move`, { column_id: review.id });
    await expect.poll(() => hooks.received.map((call) => String(call.body.text))).toContainEqual(
      expect.stringContaining("#1 Ship the parser needs you: it is in Review on Webhooks"),
    );

    // The receiver fails: after a reload, the settings show the error.
    hooks.failing(true);
    await row.getByRole("button", { name: `Send test to ${hooks.url}` }).click();
    await expect(row.getByRole("status").filter({ hasText: "Test failed" })).toContainText("500");
    await page.reload();
    const reloaded = page.getByRole("listitem", { name: `Webhook ${hooks.url}` });
    await expect(reloaded).toContainText("HTTP 500");
    await expect(reloaded.getByRole("status")).toContainText("Last error: the receiver answered 500");
    await page.getByRole("region", { name: "Notifications" }).scrollIntoViewIfNeeded();
    await screenshot(page, "settings-notifications");
    await page.emulateMedia({ colorScheme: "dark" });
    await screenshot(page, "settings-notifications-dark");
    await page.emulateMedia({ colorScheme: "light" });

    // "Notify me" off is saved on the board.
    await page.getByRole("checkbox", { name: /Notify me/ }).uncheck();
    await expect
      .poll(async () => (await viban.api<{ board: { settings: { notify?: boolean } } }>("GET", `/boards/${board.id}`)).board.settings.notify)
      .toBe(false);
  } finally {
    hooks.close();
  }
});
