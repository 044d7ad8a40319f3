// The board's budgets (issue 13), measured in headless Chromium against a release
// viban with 1,000 cards over 5 columns. Prints figures; asserts nothing about time.
// Run with scripts/bench-web.sh.
import { test, Viban } from "../viban";
import { statSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const ROOT = resolve(import.meta.dirname, "../../..");

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

test("board budgets", async ({ browser }) => {
  test.setTimeout(600_000);
  const viban = await Viban.start();
  try {
    const board = await viban.board("Bench");
    const columns = board.columns.filter((column) => column.role !== "in_progress").slice(0, 5);
    // In Progress runs agents; the five columns here fire no agent.
    const extra = await viban.api<{ id: string }>("POST", `/boards/${board.id}/columns`, { name: "Parked" });
    const targets = [...columns.slice(0, 4).map((column) => column.id), extra.id];
    const started = Date.now();
    for (let index = 0; index < 1000; index += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, offset) =>
          viban.api("POST", `/boards/${board.id}/tasks`, {
            title: `Card ${index + offset}: make the thing ${index + offset} work`,
            description: "Lorem ipsum dolor sit amet, the usual.",
            column_id: targets[(index + offset) % targets.length],
          }),
        ),
      );
    }
    console.log(`setup: 1000 cards created in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // 1. Navigation to the board until every card is painted (5 runs, cache warm after the first).
    const context = await browser.newContext();
    const page = await context.newPage();
    await viban.signIn(page);
    const paints: number[] = [];
    for (let run = 0; run < 5; run++) {
      // A rAF loop in the page notes when the 1000th card is in the DOM, and the frame
      // after it (painted); Playwright only collects the figure afterwards.
      await page.addInitScript(() => {
        const w = window as unknown as { paintedAt: number | null };
        w.paintedAt = null;
        const check = () =>
          document.querySelectorAll("[data-task-id]").length >= 1000
            ? requestAnimationFrame(() => (w.paintedAt = performance.now()))
            : requestAnimationFrame(check);
        requestAnimationFrame(check);
      });
      await page.goto(`${viban.url}boards/${board.id}`);
      const painted = await page.waitForFunction(() => (window as unknown as { paintedAt: number | null }).paintedAt, null, {
        polling: 250,
        timeout: 30_000,
      });
      paints.push((await painted.jsonValue()) as number);
    }
    console.log(`navigation → 1000 cards painted: first ${ms(paints[0])}, median ${ms(percentile(paints, 50))}, max ${ms(Math.max(...paints))} (budget 500 ms)`);

    // 2. Dragging a card across columns: the longest main-thread task.
    await page.evaluate(() => {
      (window as unknown as { longTasks: number[] }).longTasks = [];
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) (window as unknown as { longTasks: number[] }).longTasks.push(entry.duration);
      }).observe({ type: "longtask" });
    });
    const longest: number[] = [];
    for (let run = 0; run < 5; run++) {
      await page.evaluate(() => ((window as unknown as { longTasks: number[] }).longTasks = []));
      const source = page.locator(`[aria-label="Todo cards"] [data-task-id]`).nth(run);
      const target = page.locator(`[aria-label="Review cards"] [data-task-id]`).nth(10);
      const id = await source.getAttribute("data-task-id");
      await source.dragTo(target);
      await page.waitForFunction((id) => !!document.querySelector(`[aria-label="Review cards"] [data-task-id="${id}"]`), id, {
        timeout: 10_000,
      });
      await page.waitForTimeout(300);
      const tasks = await page.evaluate(() => (window as unknown as { longTasks: number[] }).longTasks);
      longest.push(tasks.length ? Math.max(...tasks) : 0);
    }
    console.log(`drag across columns: longest main-thread task per drag ${longest.map((value) => ms(value)).join(", ")} (budget 50 ms; 0 = none over 50 ms)`);

    // 3. Another client's change: from the API's answer to the card painted in its new column.
    const delays: number[] = [];
    const todo = targets[0];
    const done = board.columns.find((column) => column.role === "done")!.id;
    const ids = await viban.api<{ id: string; column_id: string }[]>("GET", `/boards/${board.id}/tasks`);
    const movable = ids.filter((task) => task.column_id === todo).slice(10, 30);
    for (const task of movable) {
      await page.evaluate((id) => {
        const w = window as unknown as { paintedAt: number | null };
        w.paintedAt = null;
        const check = () => {
          if (document.querySelector(`[aria-label="Done cards"] [data-task-id="${id}"]`)) {
            requestAnimationFrame(() => (w.paintedAt = performance.timeOrigin + performance.now()));
          } else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      }, task.id);
      await viban.api("POST", `/tasks/${task.id}/move`, { column_id: done });
      const answered = Date.now();
      const painted = await page.waitForFunction(() => (window as unknown as { paintedAt: number | null }).paintedAt);
      delays.push(((await painted.jsonValue()) as number) - answered);
    }
    console.log(`another client's move → painted after the API answered: p50 ${ms(percentile(delays, 50))}, p95 ${ms(percentile(delays, 95))}, max ${ms(Math.max(...delays))} (budget 150 ms)`);
    await context.close();
  } finally {
    await viban.stop();
    viban.remove();
  }

  // 4. Sizes.
  const dist = join(ROOT, "assets/web/dist");
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (!entry.name.startsWith(".")) files.push(join(dir, entry.name));
    }
  };
  walk(dist);
  const gz = (file: string) => gzipSync(readFileSync(file), { level: 9 }).length;
  // The board loads the entry script of index.html (and what it preloads); the review
  // screen and the diff's grammars are chunks loaded when they open.
  const html = readFileSync(join(dist, "index.html"), "utf8");
  const loaded = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((match) => join(dist, match[1]));
  const js = loaded.reduce((sum, file) => sum + gz(file), 0);
  const lazy = files.filter((file) => file.endsWith(".js") && !loaded.includes(file)).reduce((sum, file) => sum + gz(file), 0);
  const all = files.reduce((sum, file) => sum + gz(file), 0);
  console.log(
    `JavaScript for the board: ${(js / 1024).toFixed(1)} kB gzip (budget 120 kB); loaded later (review, syntax colours): ` +
      `${(lazy / 1024).toFixed(1)} kB; all web assets ${(all / 1024).toFixed(1)} kB gzip (budget 1.5 MB)`,
  );
  const binary = process.env.VIBAN_BIN ?? join(ROOT, "target/release/viban");
  console.log(`release binary (stripped by the release profile): ${(statSync(binary).size / 1e6).toFixed(1)} MB (budget 46 MB)`);
});
