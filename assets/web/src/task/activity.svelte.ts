// A task's activity as the panel shows it: the newest page first (GET
// /api/tasks/{id}/activity?before=…), older pages as the user scrolls up, and the
// entries `activity.appended` brings on the `task:<id>` stream. `rows` turns entries
// into what a person reads: a tool call with its result, one todo list per run that
// updates in place, a queued message until its run takes it. `withHooks` places the
// task's column-hook executions among them, grouped per stay in a column.
import { api, messageOf, type ActivityEntry, type HookExecution } from "../lib/api";
import { realtime, type StreamEvent } from "../lib/realtime.svelte";

/** Above every entry id: `before` for the newest page. */
const NEWEST = Number.MAX_SAFE_INTEGER;
const PAGE = 200;

export interface TodoItem {
  text: string;
  status: string;
}

/** One line (or block) of the stream. `key` is stable across pages and updates. */
export type Row =
  | { key: string; type: "user"; text: string; queued: boolean; prompt: boolean; at: string }
  | { key: string; type: "assistant"; text: string }
  | { key: string; type: "thinking"; text: string }
  | {
      key: string;
      type: "tool";
      tool: string;
      summary: string;
      input: unknown;
      result: { ok: boolean; output: string; truncated: boolean } | null;
    }
  | { key: string; type: "todo"; items: TodoItem[] }
  | { key: string; type: "system"; text: string }
  | { key: string; type: "error"; text: string }
  | {
      key: string;
      type: "result";
      ok: boolean;
      summary: string | null;
      costUsd: number | null;
      inputTokens: number | null;
      outputTokens: number | null;
      durationMs: number | null;
    }
  | { key: string; type: "raw"; text: string }
  /** The hooks of one stay in a column, in their order. */
  | { key: string; type: "hooks"; column: string; executions: HookExecution[] };

type Data = Record<string, unknown>;
const str = (value: unknown): string => (typeof value === "string" ? value : value == null ? "" : String(value));
const num = (value: unknown): number | null => (typeof value === "number" ? value : null);

/** Entries in order → rows in order. */
export function toRows(entries: ActivityEntry[]): Row[] {
  const rows: Row[] = [];
  const tools = new Map<string, Extract<Row, { type: "tool" }>>();
  const todos = new Map<string, Extract<Row, { type: "todo" }>>();
  const queued: Extract<Row, { type: "user" }>[] = [];
  for (const entry of entries) {
    const data = (entry.data ?? {}) as Data;
    const key = String(entry.id);
    switch (entry.kind) {
      case "user_message": {
        const text = str(data.text);
        if (data.queued === true) {
          const row = { key, type: "user" as const, text, queued: true, prompt: false, at: entry.created_at };
          queued.push(row);
          rows.push(row);
          break;
        }
        // A run started: the queued message it took is no longer waiting, and a
        // follow-up's prompt is that message again (shown once).
        const taken = queued.findIndex((row) => text.includes(row.text.trim()));
        if (taken >= 0) {
          queued[taken].queued = false;
          const [row] = queued.splice(taken, 1);
          if (row.text.trim() === text.trim()) break;
        }
        rows.push({ key, type: "user", text, queued: false, prompt: text.startsWith("# Task:"), at: entry.created_at });
        break;
      }
      case "assistant_text":
        rows.push({ key, type: "assistant", text: str(data.text) });
        break;
      case "thinking":
        if (str(data.text).trim()) rows.push({ key, type: "thinking", text: str(data.text) });
        break;
      case "tool_call": {
        const row = {
          key,
          type: "tool" as const,
          tool: str(data.tool) || "tool",
          summary: str(data.summary),
          input: data.input,
          result: null,
        };
        if (typeof data.id === "string") tools.set(data.id, row);
        rows.push(row);
        break;
      }
      case "tool_result": {
        const result = { ok: data.ok !== false, output: str(data.output), truncated: data.truncated === true };
        const call = typeof data.id === "string" ? tools.get(data.id) : undefined;
        if (call) {
          call.result = result;
          break;
        }
        // The answer to a TodoWrite (shown as the list) says nothing more.
        const previous = rows[rows.length - 1];
        if (previous?.type === "todo" && result.ok) break;
        rows.push({ key, type: "tool", tool: "Tool result", summary: "", input: undefined, result });
        break;
      }
      case "todo_list": {
        const items = Array.isArray(data.items) ? (data.items as TodoItem[]) : [];
        const run = entry.agent_session_id ?? "none";
        const existing = todos.get(run);
        if (existing) {
          existing.items = items;
        } else {
          const row = { key, type: "todo" as const, items };
          todos.set(run, row);
          rows.push(row);
        }
        break;
      }
      case "system":
        rows.push({ key, type: "system", text: str(data.message) || "system" });
        break;
      case "error":
        rows.push({ key, type: "error", text: str(data.message) });
        break;
      case "result": {
        // A failed run's summary is often the error just shown: once is enough.
        const previous = rows[rows.length - 1];
        const summary = typeof data.summary === "string" ? data.summary : null;
        rows.push({
          key,
          type: "result",
          ok: data.ok !== false,
          summary: previous?.type === "error" && previous.text.trim() === summary?.trim() ? null : summary,
          costUsd: num(data.cost_usd),
          inputTokens: num(data.input_tokens),
          outputTokens: num(data.output_tokens),
          durationMs: num(data.duration_ms),
        });
        break;
      }
      default: {
        const text = str(data.line) || JSON.stringify(data);
        // Claude's partial-message stream events repeat what the full message shows.
        if (text.startsWith('{"type":"stream_event"')) break;
        rows.push({ key, type: "raw", text });
      }
    }
  }
  return rows;
}

/**
 * `rows` with the task's hook executions placed by time: consecutive executions in one
 * column (a stay) make one group, put before the first row that came after it was
 * queued. While older pages are still unloaded, groups older than the first loaded
 * entry wait with them.
 */
export function withHooks(
  rows: Row[],
  entries: ActivityEntry[],
  executions: HookExecution[],
  columnName: (id: string | null | undefined) => string,
  complete: boolean,
): Row[] {
  if (!executions.length) return rows;
  const sorted = [...executions].sort((a, b) => Date.parse(a.queued_at) - Date.parse(b.queued_at));
  const groups: { at: number; row: Extract<Row, { type: "hooks" }> }[] = [];
  for (const execution of sorted) {
    const last = groups[groups.length - 1];
    if (last && last.row.executions[0].column_id === execution.column_id) last.row.executions.push(execution);
    else
      groups.push({
        at: Date.parse(execution.queued_at),
        row: { key: `hooks-${execution.id}`, type: "hooks", column: columnName(execution.column_id), executions: [execution] },
      });
  }
  const times = new Map(entries.map((entry) => [String(entry.id), Date.parse(entry.created_at)]));
  const first = entries.length ? Date.parse(entries[0].created_at) : -Infinity;
  const shown = complete ? groups : groups.filter((group) => group.at >= first);
  const merged: Row[] = [];
  let next = 0;
  for (const row of rows) {
    const at = times.get(row.key) ?? -Infinity;
    while (next < shown.length && shown[next].at < at) merged.push(shown[next++].row);
    merged.push(row);
  }
  while (next < shown.length) merged.push(shown[next++].row);
  return merged;
}

export class ActivityStore {
  entries = $state.raw<ActivityEntry[]>([]);
  rows = $derived(toRows(this.entries));
  /** `before` for the page above the oldest loaded entry; null when it is the first. */
  olderBefore = $state<number | null>(null);
  loading = $state(true);
  loadingOlder = $state(false);
  error = $state<string | null>(null);
  /** Bumped when entries arrive at the end (live), for the view's "N new". */
  appended = $state(0);

  private buffered: ActivityEntry[][] | null = null;
  private generation = 0;

  constructor(readonly taskId: string) {}

  /** Subscribes, then loads the newest page; entries that arrive meanwhile follow it. */
  start() {
    const stop = realtime.subscribe(`task:${this.taskId}`, {
      event: (event) => this.receive(event),
      resync: () => void this.refresh(),
    });
    void this.load();
    return stop;
  }

  /** After a resync: adds the entries that came after the newest one shown, keeping the
   * older pages the user may have scrolled up to. A whole page of newer entries may hide
   * more beyond it, so that reloads instead. */
  async refresh() {
    if (this.entries.length === 0 || this.buffered) return this.load();
    const generation = this.generation;
    this.buffered = [];
    try {
      const page = await api.activity(this.taskId, { before: NEWEST, limit: PAGE });
      if (generation !== this.generation) return;
      const last = this.entries[this.entries.length - 1].id;
      if (page.next_before != null && page.entries.every((entry) => entry.id > last)) return this.load();
      this.append(page.entries);
    } catch (error) {
      if (generation !== this.generation) return;
      this.error = messageOf(error);
    }
    this.flush();
  }

  async load() {
    const generation = ++this.generation;
    this.buffered = [];
    this.loading = true;
    try {
      const page = await api.activity(this.taskId, { before: NEWEST, limit: PAGE });
      if (generation !== this.generation) return;
      this.entries = page.entries;
      this.olderBefore = page.next_before ?? null;
      this.error = null;
    } catch (error) {
      if (generation !== this.generation) return;
      this.error = messageOf(error);
    }
    this.loading = false;
    this.flush();
  }

  async loadOlder() {
    if (this.olderBefore === null || this.loadingOlder) return;
    const generation = this.generation;
    this.loadingOlder = true;
    try {
      const page = await api.activity(this.taskId, { before: this.olderBefore, limit: PAGE });
      if (generation !== this.generation) return;
      const first = this.entries[0]?.id ?? NEWEST;
      this.entries = [...page.entries.filter((entry) => entry.id < first), ...this.entries];
      this.olderBefore = page.next_before ?? null;
    } catch (error) {
      this.error = messageOf(error);
    } finally {
      this.loadingOlder = false;
    }
  }

  private receive({ kind, payload }: StreamEvent) {
    if (kind !== "activity.appended") return;
    const entries = ((payload as Data).entries ?? []) as ActivityEntry[];
    if (this.buffered) this.buffered.push(entries);
    else this.append(entries);
  }

  /** Applies what arrived while a page was on its way, and stops holding events back. */
  private flush() {
    const waiting = this.buffered ?? [];
    this.buffered = null;
    for (const entries of waiting) this.append(entries);
  }

  private append(entries: ActivityEntry[]) {
    const last = this.entries[this.entries.length - 1]?.id ?? 0;
    const fresh = entries.filter((entry) => entry.id > last);
    if (!fresh.length) return;
    this.entries = [...this.entries, ...fresh];
    this.appended += 1;
  }
}
