import { test, Viban } from "../viban";
test("diag", async ({ browser }) => {
  test.setTimeout(600_000);
  const viban = await Viban.start();
  try {
    const board = await viban.board("Bench");
    const cols = board.columns.filter((c) => c.role !== "in_progress").map((c) => c.id);
    for (let i = 0; i < 1000; i += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, o) => viban.api("POST", `/boards/${board.id}/tasks`, { title: `Card ${i + o}`, column_id: cols[(i + o) % cols.length] })));
    }
    const page = await (await browser.newContext()).newPage();
    await viban.signIn(page);
    for (let run = 0; run < 3; run++) {
      await page.goto(`${viban.url}boards/${board.id}`);
      await page.waitForFunction(() => document.querySelectorAll("[data-task-id]").length >= 1000, null, { polling: "raf" });
      const info = await page.evaluate(() => {
        const r = performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/boards/"))[0] as PerformanceResourceTiming;
        const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
        return { now: performance.now(), fetchStart: r?.startTime, fetchEnd: r?.responseEnd, size: r?.encodedBodySize, domContentLoaded: nav.domContentLoadedEventEnd, marks: performance.getEntriesByType("mark").map((m) => [m.name, m.startTime]) };
      });
      console.log(JSON.stringify(info));
    }
  } finally {
    await viban.stop();
  }
});
