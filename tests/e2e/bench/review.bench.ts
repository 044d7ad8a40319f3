// The review screen's budgets (issue 15): a task with 200 changed files and 5,000
// changed lines, opened in headless Chromium against a release viban. Prints figures;
// asserts nothing about time. Run with scripts/bench-web.sh.
import { test, Viban } from "../viban";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const FILES = 200;
const LINES = 25;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

interface TaskView {
  id: string;
  worktree_path: string | null;
  agent_status: string;
}

/** `FILES` new files of `LINES` lines each, in several folders and languages, committed on the task's branch. */
function change(worktree: string) {
  const endings = ["rs", "ts", "py", "go", "md"];
  for (let file = 0; file < FILES; file++) {
    const folder = join(worktree, `src/area${file % 10}`);
    mkdirSync(folder, { recursive: true });
    const body = Array.from({ length: LINES }, (_, line) =>
      line % 5 === 0 ? `// step ${line} of file ${file}` : `let value_${line} = compute("${file}-${line}", ${line * 7});`,
    ).join("\n");
    writeFileSync(join(folder, `module${file}.${endings[file % endings.length]}`), `${body}\n`);
  }
  const git = (...args: string[]) => execFileSync("git", args, { cwd: worktree, stdio: "pipe" });
  git("add", "-A");
  git("-c", "user.email=agent@viban.test", "-c", "user.name=agent", "commit", "-q", "-m", "A large change");
}

test("review budgets", async ({ browser }) => {
  test.setTimeout(600_000);
  const viban = await Viban.start();
  try {
    const board = await viban.board("Review bench");
    const created = await viban.api<TaskView>("POST", `/boards/${board.id}/tasks`, { title: "Large change", auto_start: true });
    let task = created;
    for (let i = 0; i < 300 && !(task.worktree_path && task.agent_status !== "running"); i++) {
      await new Promise((done) => setTimeout(done, 100));
      task = await viban.api<TaskView>("GET", `/tasks/${created.id}`);
    }
    if (!task.worktree_path) throw new Error("the task got no worktree");
    change(task.worktree_path);

    const context = await browser.newContext();
    const page = await context.newPage();
    await viban.signIn(page);
    const url = `${viban.url}boards/${board.id}/tasks/${task.id}/review`;

    // 1. Opening the review until its first screen is painted: the first file's lines in
    //    the DOM, then the frame after. Also: every file rendered, and the first screen coloured.
    const firsts: number[] = [];
    const alls: number[] = [];
    const coloured: number[] = [];
    const apis: number[][] = [];
    for (let run = 0; run < 5; run++) {
      await page.addInitScript(() => {
        const w = window as unknown as { marks: Record<string, number> };
        w.marks = {};
        const check = () => {
          const files = document.querySelectorAll("section.file");
          if (!w.marks.first && files.length && files[0].querySelector("td.code")) {
            requestAnimationFrame(() => (w.marks.first = performance.now()));
          }
          if (!w.marks.all && files.length >= 200) requestAnimationFrame(() => (w.marks.all = performance.now()));
          if (!w.marks.coloured && document.querySelector("section.file .hljs-string")) {
            requestAnimationFrame(() => (w.marks.coloured = performance.now()));
          }
          if (!(w.marks.first && w.marks.all && w.marks.coloured)) requestAnimationFrame(check);
        };
        requestAnimationFrame(check);
      });
      await page.goto(url);
      const marks = await page.waitForFunction(
        () => {
          const m = (window as unknown as { marks: Record<string, number> }).marks;
          return m.first && m.all && m.coloured ? m : null;
        },
        null,
        { polling: 250, timeout: 60_000 },
      );
      const { first, all, coloured: colouredAt } = (await marks.jsonValue()) as Record<string, number>;
      apis.push(
        await page.evaluate(() => {
          const request = performance.getEntriesByType("resource").find((entry) => /\/api\/tasks\/[^/]+\/diff/.test(entry.name)) as PerformanceResourceTiming;
          return [request.startTime, request.responseEnd - request.startTime];
        }),
      );
      firsts.push(first);
      alls.push(all);
      coloured.push(colouredAt);
    }
    console.log(
      `open a ${FILES}-file, ${FILES * LINES}-line diff → first screen painted: first ${ms(firsts[0])}, median ${ms(percentile(firsts, 50))} (budget 500 ms); ` +
        `the diff requested at ${ms(percentile(apis.map((a) => a[0]), 50))}, answered in ${ms(percentile(apis.map((a) => a[1]), 50))}; every file rendered: median ${ms(percentile(alls, 50))}; first screen coloured: median ${ms(percentile(coloured, 50))}`,
    );

    // 2. Switching files from the file list: click → that file at the top, painted.
    const switches: number[] = [];
    const buttons = page.getByRole("navigation", { name: "Changed files" }).getByRole("button");
    for (const index of [150, 20, 199, 75, 0, 120, 60, 180, 5, 100]) {
      const path = await buttons.nth(index).getAttribute("title");
      const took = await page.evaluate(
        (path) =>
          new Promise<number>((done) => {
            const button = [...document.querySelectorAll<HTMLButtonElement>('nav[aria-label="Changed files"] button')].find(
              (candidate) => candidate.title === path,
            )!;
            const started = performance.now();
            button.click();
            const wait = () => {
              const section = document.querySelector(`section.file[aria-label="${CSS.escape(path!)}"]`);
              const top = section?.getBoundingClientRect().top ?? Infinity;
              if (section && top >= -1 && top < window.innerHeight / 2) done(performance.now() - started);
              else requestAnimationFrame(wait);
            };
            requestAnimationFrame(wait);
          }),
        path,
      );
      switches.push(took);
    }
    console.log(`switch files → shown and painted: p50 ${ms(percentile(switches, 50))}, max ${ms(Math.max(...switches))} (budget 100 ms)`);
    await context.close();
  } finally {
    await viban.stop();
    viban.remove();
  }
});
