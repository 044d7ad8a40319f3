// The task panel's budgets (issue 14), measured in headless Chromium: a run whose
// transcript has 100,000 lines (Claude stream-json replayed by the fake agent, parsed
// and stored by viban as it would a real one), then five agents streaming at once.
// Prints figures; asserts nothing about time. Run with scripts/bench-web.sh.
import { test, Viban } from "../viban";
import { createWriteStream, readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../../..");
const LINES = 100_000;
const STREAMS = 5;
const TICKS = 300;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/** `LINES` lines of Claude stream-json: the recorded sample's middle, made unique, repeated. */
async function writeTranscript(path: string): Promise<number> {
  const sample = readFileSync(join(ROOT, "tests/fixtures/transcripts/claude-tools.jsonl"), "utf8").trim().split("\n");
  const [init, middle, last] = [sample[0], sample.slice(1, -1), sample[sample.length - 1]];
  const out = createWriteStream(path);
  let written = 0;
  let bytes = 0;
  const write = async (line: string) => {
    bytes += line.length + 1;
    written += 1;
    if (!out.write(`${line}\n`)) await once(out, "drain");
  };
  await write(init);
  for (let cycle = 0; written < LINES - 1; cycle++) {
    for (const line of middle) {
      if (written >= LINES - 1) break;
      // Unique ids and texts: nothing is rendered from a cache of an identical row.
      await write(line.replaceAll("toolu_0", `toolu_${cycle}_`).replaceAll("greet", `greet_${cycle}_`));
    }
  }
  await write(last);
  out.end();
  await once(out, "finish");
  return bytes;
}

test("task panel budgets", async ({ browser }) => {
  test.setTimeout(1_800_000);
  const scratch = mkdtempSync(join(tmpdir(), "viban-bench-panel-"));
  const transcriptPath = join(scratch, "long.jsonl");
  const bytes = await writeTranscript(transcriptPath);
  console.log(`setup: a ${(bytes / 1e6).toFixed(1)} MB transcript of ${LINES.toLocaleString("en")} lines`);

  const viban = await Viban.start({ FAKE_TRANSCRIPT: transcriptPath, FAKE_TICKS: String(TICKS) });
  try {
    // Five agents at once (the default allows four).
    await viban.stop();
    writeFileSync(join(viban.home, "viban/config.toml"), "[agents]\nmax_concurrent = 8\n");
    await viban.run();

    const board = await viban.board("Panel bench");
    const long = await viban.api<{ id: string }>("POST", `/boards/${board.id}/tasks`, { title: "A very long run" });
    let started = Date.now();
    await viban.api("POST", `/tasks/${long.id}/runs`, {});
    for (;;) {
      const task = await viban.api<{ agent_status: string }>("GET", `/tasks/${long.id}`);
      if (task.agent_status !== "running" && task.agent_status !== "queued") break;
      await new Promise((done) => setTimeout(done, 500));
    }
    const stored = await viban.api<{ entries: unknown[]; next_before: number | null }>(
      "GET",
      `/tasks/${long.id}/activity?before=${Number.MAX_SAFE_INTEGER}&limit=1`,
    );
    console.log(`setup: the run stored in ${((Date.now() - started) / 1000).toFixed(1)} s (newest entry id ${stored.next_before ?? "?"})`);

    const context = await browser.newContext();
    const page = await context.newPage();
    await viban.signIn(page);
    const cdp = await context.newCDPSession(page);

    // 1. Opening the panel: navigation until the newest entries are painted and the chat box takes input.
    const opens: number[] = [];
    for (let run = 0; run < 3; run++) {
      await page.addInitScript(() => {
        const w = window as unknown as { usableAt: number | null };
        w.usableAt = null;
        const check = () => {
          const log = document.querySelector("[role=log]");
          const chat = document.querySelector<HTMLTextAreaElement>('textarea[aria-label="Message to the agent"]');
          if (log?.textContent?.includes("Run finished") && chat && !chat.disabled)
            requestAnimationFrame(() => (w.usableAt = performance.now()));
          else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      });
      await page.goto(`${viban.url}boards/${board.id}/tasks/${long.id}`);
      const usable = await page.waitForFunction(() => (window as unknown as { usableAt: number | null }).usableAt, null, {
        polling: 100,
        timeout: 60_000,
      });
      opens.push((await usable.jsonValue()) as number);
    }
    console.log(`open the panel of a ${LINES.toLocaleString("en")}-line run → usable: first ${ms(opens[0])}, median ${ms(percentile(opens, 50))} (budget 1000 ms)`);

    const heap = async () => {
      await cdp.send("HeapProfiler.collectGarbage");
      const usage = (await cdp.send("Runtime.getHeapUsage")) as { usedSize: number };
      return usage.usedSize / 1e6;
    };
    console.log(`JS heap with the panel open: ${(await heap()).toFixed(1)} MB (budget 150 MB)`);

    // 2. Scrolling from the top of what loads to the bottom: frame times while the user
    // scrolls up through older pages (each loads as the top nears), then down to the end.
    await page.evaluate(() => {
      const w = window as unknown as { frames: number[]; framing: boolean };
      w.frames = [];
      w.framing = true;
      let last = performance.now();
      const frame = (now: number) => {
        w.frames.push(now - last);
        last = now;
        if (w.framing) requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
    });
    const log = page.getByRole("log");
    // VIBAN_BENCH_PROFILE=1: where the main thread spends the scroll, by function.
    const profiling = !!process.env.VIBAN_BENCH_PROFILE;
    if (profiling) {
      await cdp.send("Profiler.enable");
      await cdp.send("Profiler.start");
    }
    const upUntil = Date.now() + 20_000;
    while (Date.now() < upUntil) {
      await log.evaluate((element) => element.scrollBy(0, -1500));
      await page.waitForTimeout(16);
    }
    if (profiling) {
      type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number };
      const { profile } = (await cdp.send("Profiler.stop")) as unknown as {
        profile: { nodes: Node[]; samples: number[]; timeDeltas: number[] };
      };
      const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
      const self = new Map<string, number>();
      profile.samples.forEach((id, index) => {
        const frame = byNode.get(id)!.callFrame;
        const name = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").pop()}:${frame.lineNumber}`;
        self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
      });
      for (const [name, time] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  profile: ${ms(time)} ${name}`);
    }
    const loadedRows = await page.evaluate(() => document.querySelector("[role=log] .spacer")?.getBoundingClientRect().height ?? 0);
    const heapScrolled = await heap();
    for (;;) {
      const atEnd = await log.evaluate((element) => {
        element.scrollBy(0, 1500);
        return element.scrollTop + element.clientHeight >= element.scrollHeight - 2;
      });
      if (atEnd) break;
      await page.waitForTimeout(16);
    }
    const frames = await page.evaluate(() => {
      const w = window as unknown as { frames: number[]; framing: boolean };
      w.framing = false;
      return w.frames.slice(1);
    });
    console.log(
      `scroll up 20 s through older pages (${(loadedRows / 1e3).toFixed(0)}k px of rows loaded), then down to the end: ` +
        `${frames.length} frames, p50 ${ms(percentile(frames, 50))}, p99 ${ms(percentile(frames, 99))}, max ${ms(Math.max(...frames))}, ` +
        `${frames.filter((frame) => frame > 50).length} over 50 ms (budget: none); JS heap then ${heapScrolled.toFixed(1)} MB`,
    );

    // 3. Five agents streaming at once: from the line the agent printed (its stamp) to the
    // frame after it is in the open panel's DOM.
    const tickers: string[] = [];
    for (let index = 0; index < STREAMS; index++) {
      const task = await viban.api<{ id: string }>("POST", `/boards/${board.id}/tasks`, {
        title: `Ticker ${index}`,
        description: "MODE:tick",
      });
      tickers.push(task.id);
    }
    // When each line's WebSocket message reached the page, to split the time between
    // the server (printed → received) and the page (received → on screen).
    await page.addInitScript(() => {
      const w = window as unknown as { arrivals: Map<string, number> };
      w.arrivals = new Map();
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols);
          this.addEventListener("message", (event) => {
            const now = performance.timeOrigin + performance.now();
            for (const match of String(event.data).matchAll(/tick (\d{19})/g)) w.arrivals.set(match[1], now);
          });
        }
      };
    });
    await page.goto(`${viban.url}boards/${board.id}/tasks/${tickers[0]}`);
    await page.getByRole("log").waitFor();
    await page.evaluate(() => {
      const w = window as unknown as { latencies: number[]; seen: Set<string>; server: number[]; page: number[]; arrivals: Map<string, number> };
      w.latencies = [];
      w.server = [];
      w.page = [];
      w.seen = new Set();
      const log = document.querySelector("[role=log]")!;
      new MutationObserver(() => {
        const arrived = performance.timeOrigin + performance.now();
        requestAnimationFrame(() => {
          const painted = performance.timeOrigin + performance.now();
          for (const match of (log.textContent ?? "").matchAll(/tick (\d{19})/g)) {
            if (w.seen.has(match[1])) continue;
            w.seen.add(match[1]);
            // Only lines that arrived in this mutation (not re-rendered ones) count.
            const printed = Number(BigInt(match[1]) / 1000n) / 1000;
            if (arrived - printed >= 60_000) continue;
            w.latencies.push(painted - printed);
            const received = w.arrivals.get(match[1]);
            if (received !== undefined) {
              w.server.push(received - printed);
              w.page.push(painted - received);
            }
          }
        });
      }).observe(log, { childList: true, subtree: true, characterData: true });
    });
    started = Date.now();
    await Promise.all(tickers.map((id) => viban.api("POST", `/tasks/${id}/runs`, {})));
    for (;;) {
      const statuses = await Promise.all(tickers.map((id) => viban.api<{ agent_status: string }>("GET", `/tasks/${id}`)));
      if (statuses.every((task) => task.agent_status !== "running" && task.agent_status !== "queued")) break;
      await new Promise((done) => setTimeout(done, 250));
    }
    await page.waitForTimeout(500);
    const { latencies, server, page: inPage } = await page.evaluate(() => {
      const w = window as unknown as { latencies: number[]; server: number[]; page: number[] };
      return { latencies: w.latencies, server: w.server, page: w.page };
    });
    console.log(
      `${STREAMS} agents streaming at once (${TICKS} lines each, one every 10 ms): a line on screen after it was printed, ` +
        `${latencies.length} lines in the open panel: p50 ${ms(percentile(latencies, 50))}, p99 ${ms(percentile(latencies, 99))}, ` +
        `max ${ms(Math.max(...latencies))} (budget p99 100 ms); of which printed → WebSocket message p50 ${ms(percentile(server, 50))}, ` +
        `p99 ${ms(percentile(server, 99))}, message → on screen p50 ${ms(percentile(inPage, 50))}, p99 ${ms(percentile(inPage, 99))}`,
    );
    await context.close();
  } finally {
    await viban.stop();
    viban.remove();
  }
});
