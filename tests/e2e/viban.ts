// Starts and stops the real viban binary for the end-to-end specs, on a temporary
// home whose HOME holds a fresh git repository, with the fake agents on PATH.
import { test as base, expect, type Page, type Browser } from "@playwright/test";
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");
const BIN = process.env.VIBAN_BIN ?? join(ROOT, "target/debug/viban");
export const ARTIFACTS = join(ROOT, "target/artifacts/e2e");
mkdirSync(ARTIFACTS, { recursive: true });

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** A git repository with one commit on `main`. */
export function gitRepository(path: string): string {
  mkdirSync(path, { recursive: true });
  const git = (...args: string[]) => execFileSync("git", args, { cwd: path, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  git("config", "user.email", "e2e@viban.test");
  git("config", "user.name", "viban e2e");
  writeFileSync(join(path, "README.md"), "# demo\n");
  git("add", ".");
  git("commit", "-q", "-m", "first");
  return path;
}

export class Viban {
  readonly home: string;
  /** The HOME viban sees: the folder browser starts here. */
  readonly userHome: string;
  url = "";
  private child: ChildProcess | null = null;
  private output = "";

  private constructor(
    readonly port: number,
    /** Added to viban's environment (and so the agents'): `FAKE_TRANSCRIPT`, say. */
    readonly env: Record<string, string> = {},
  ) {
    this.home = mkdtempSync(join(tmpdir(), "viban-e2e-"));
    this.userHome = join(this.home, "user");
    mkdirSync(this.userHome, { recursive: true });
  }

  static async start(env: Record<string, string> = {}): Promise<Viban> {
    const viban = new Viban(await freePort(), env);
    await viban.run();
    return viban;
  }

  /** Where the fake agents log how they were called: one line per call. */
  get agentLog(): string {
    return join(this.home, "agent-calls.log");
  }

  /** The fake agents' calls so far, each `<cwd>\t<arguments>`. */
  agentCalls(): string[] {
    return existsSync(this.agentLog) ? readFileSync(this.agentLog, "utf8").split("\n").filter(Boolean) : [];
  }

  async run() {
    this.output = "";
    const child = spawn(BIN, ["serve", "--no-browser", "--headless", "--port", String(this.port)], {
      env: {
        ...process.env,
        VIBAN_HOME: join(this.home, "viban"),
        HOME: this.userHome,
        VIBAN_NO_UPDATE: "1",
        PATH: `${join(ROOT, "tests/fixtures/bin")}:${process.env.PATH}`,
        // The fake `claude` replays a real Claude Code transcript.
        FAKE_TRANSCRIPT: join(ROOT, "tests/fixtures/transcripts/claude-tools.jsonl"),
        FAKE_AGENT_LOG: this.agentLog,
        ...this.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk) => (this.output += chunk));
    child.stderr?.on("data", (chunk) => (this.output += chunk));
    this.child = child;
    const deadline = Date.now() + 90_000;
    const instance = join(this.home, "viban/run/instance.json");
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`viban exited (${child.exitCode}):\n${this.output}`);
      if (existsSync(instance)) {
        try {
          const url = JSON.parse(readFileSync(instance, "utf8")).url as string;
          const health = await fetch(`${url}api/health`);
          if (health.ok) {
            this.url = url;
            return;
          }
        } catch {
          // Not listening yet.
        }
      }
      await new Promise((done) => setTimeout(done, 100));
    }
    throw new Error(`viban was not healthy within 90 s:\n${this.output}`);
  }

  get token(): string {
    return readFileSync(join(this.home, "viban/token"), "utf8").trim();
  }

  /** Stops viban (SIGTERM) and waits until it has exited. */
  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGTERM");
    await exited;
    this.child = null;
  }

  /** Kills viban at once (SIGKILL), as a crash would, and waits until it has exited;
   *  `run()` starts it again on the same home, database and port. */
  async kill() {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGKILL");
    await exited;
    this.child = null;
  }

  /** What viban printed since it last started. */
  get log(): string {
    return this.output;
  }

  /** Deletes the temporary home (its PostgreSQL cluster and worktrees); viban must be stopped. */
  remove() {
    rmSync(this.home, { recursive: true, force: true });
  }

  /** The JSON API with the token, for arranging what a test starts from. */
  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.url}api${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A board linked to a fresh repository, made through the API. */
  async board(name: string): Promise<{ id: string; columns: { id: string; name: string; role: string }[] }> {
    const repository = gitRepository(join(this.userHome, `repo-${Math.random().toString(36).slice(2, 8)}`));
    const view = await this.api<{ board: { id: string }; columns: { id: string; name: string; role: string }[] }>(
      "POST",
      "/boards",
      { name },
    );
    const linked = await this.api<{ id: string }>("POST", "/repositories", { path: repository });
    await this.api("PATCH", `/boards/${view.board.id}`, { repository_id: linked.id });
    return { id: view.board.id, columns: view.columns };
  }

  /** Opens the sign-in link in `page`: the token becomes the session cookie. */
  async signIn(page: Page, path = "/") {
    await page.goto(`${this.url}?token=${this.token}`);
    await expect(page.getByRole("status").filter({ hasText: "Live" })).toBeVisible();
    if (path !== "/") await page.goto(`${this.url.replace(/\/$/, "")}${path}`);
  }

  async newSignedInPage(browser: Browser, path = "/"): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await this.signIn(page, path);
    return page;
  }
}

export const test = base.extend<{ signedIn: Page }, { viban: Viban; vibanEnv: Record<string, string> }>({
  /** Extra environment for the worker's viban: `test.use({ vibanEnv })` starts another. */
  vibanEnv: [{}, { option: true, scope: "worker" }],
  viban: [
    async ({ vibanEnv }, use) => {
      const viban = await Viban.start(vibanEnv);
      await use(viban);
      await viban.stop();
      viban.remove();
    },
    { scope: "worker", timeout: 120_000 },
  ],
  signedIn: async ({ page, viban }, use) => {
    await viban.signIn(page);
    await use(page);
  },
});

export { expect };

/** A recorded transcript under tests/fixtures/transcripts. */
export function transcript(name: string): string {
  return join(ROOT, "tests/fixtures/transcripts", name);
}

export async function screenshot(page: Page, name: string) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}
