// One board as the browser holds it: the server's view (GET /api/boards/{id}) kept
// current by the `board:<id>` stream. Moves show at once and are sent to the server;
// the server's answer (or its event) decides the final order, so a conflicting move by
// someone else wins over ours without a reload.
import { SvelteMap } from "svelte/reactivity";
import { api, messageOf, type Board, type Column, type ColumnHook, type Hook, type Task, type Template } from "../lib/api";
import { realtime, type StreamEvent } from "../lib/realtime.svelte";
import { playSound } from "../lib/sound";

/** Where a move puts a card until the server has answered. */
interface PendingMove {
  columnId: string;
  after: string | null;
  before: string | null;
}

function newer(incoming: Task, existing: Task | undefined): boolean {
  return !existing || incoming.updated_at >= existing.updated_at;
}

function byPosition(a: { position: string }, b: { position: string }) {
  return a.position < b.position ? -1 : a.position > b.position ? 1 : 0;
}

export class BoardStore {
  board = $state.raw<Board | null>(null);
  columns = $state.raw<Column[]>([]);
  columnHooks = $state.raw<ColumnHook[]>([]);
  templates = $state.raw<Template[]>([]);
  /** The board's script and agent hooks, once `loadHooks` was called (the settings page). */
  hooks = $state.raw<Hook[] | null>(null);
  hooksError = $state<string | null>(null);
  tasks = new SvelteMap<string, Task>();
  pending = new SvelteMap<string, PendingMove>();
  loadError = $state<string | null>(null);
  /** A move the server refused, in its words. */
  moveError = $state<string | null>(null);
  deleted = $state(false);
  loaded = $state(false);

  /** Each column's cards in the order the user sees. */
  byColumn = $derived.by(() => {
    const lists = new Map<string, Task[]>(this.columns.map((column) => [column.id, []]));
    const moving: Task[] = [];
    for (const task of this.tasks.values()) {
      if (this.pending.has(task.id)) moving.push(task);
      else lists.get(task.column_id)?.push(task);
    }
    for (const list of lists.values()) list.sort(byPosition);
    for (const task of moving) {
      const move = this.pending.get(task.id)!;
      const list = lists.get(move.columnId);
      if (!list) continue;
      const at = move.before ? list.findIndex((other) => other.id === move.before) : -1;
      const afterAt = move.after ? list.findIndex((other) => other.id === move.after) : -1;
      const index = at >= 0 ? at : afterAt >= 0 ? afterAt + 1 : list.length;
      let copy = this.movingCopies.get(task.id);
      if (copy?.source !== task || copy.placed.column_id !== move.columnId) {
        copy = { source: task, placed: { ...task, column_id: move.columnId } };
        this.movingCopies.set(task.id, copy);
      }
      list.splice(index, 0, copy.placed);
    }
    for (const id of this.movingCopies.keys()) if (!this.pending.has(id)) this.movingCopies.delete(id);
    // A column whose cards did not change keeps its array, so only the columns a
    // change touched re-render (a drag on a 1,000-card board touches two).
    for (const [id, list] of lists) {
      const before = this.lastLists.get(id);
      if (before && before.length === list.length && before.every((task, index) => task === list[index])) {
        lists.set(id, before);
      }
    }
    this.lastLists = lists;
    return lists;
  });

  sortedColumns = $derived([...this.columns].sort(byPosition));

  private buffered: StreamEvent[] | null = null;
  /** Which load's answer may land: loads overlap (one on open, one when the server
   * takes the subscription), and an older snapshot would undo what a newer one shows. */
  private loads = 0;
  /** The lists byColumn returned last, to hand unchanged ones back unchanged. */
  private lastLists = new Map<string, Task[]>();
  /** A pending move's card, made once per move rather than on every derivation. */
  private movingCopies = new Map<string, { source: Task; placed: Task }>();
  private hooksRequest = 0;
  private stop: (() => void) | null = null;

  constructor(readonly id: string) {}

  /** Subscribes, then loads; events that arrive meanwhile are applied after the load. */
  start() {
    this.buffered = [];
    this.stop = realtime.subscribe(`board:${this.id}`, {
      event: (event) => (this.buffered ? this.buffered.push(event) : this.apply(event)),
      resync: () => void this.load(),
    });
    void this.load();
    return () => this.stop?.();
  }

  async load() {
    const load = ++this.loads;
    this.buffered ??= [];
    try {
      const view = await api.board(this.id);
      // The newest load applies its snapshot and the events held back meanwhile.
      if (load !== this.loads) return;
      this.board = view.board;
      this.columns = view.columns;
      this.columnHooks = view.column_hooks;
      this.templates = view.templates;
      const seen = new Set<string>();
      for (const task of view.tasks) {
        seen.add(task.id);
        if (newer(task, this.tasks.get(task.id))) this.tasks.set(task.id, task);
      }
      for (const id of [...this.tasks.keys()]) if (!seen.has(id)) this.tasks.delete(id);
      this.loadError = null;
      this.loaded = true;
    } catch (error) {
      if (load !== this.loads) return;
      this.loadError = messageOf(error);
    }
    if (this.hooks !== null) void this.loadHooks();
    const events = this.buffered ?? [];
    this.buffered = null;
    for (const event of events) this.apply(event);
  }

  /** Fetches the board's hooks; the latest request wins when several overlap. */
  async loadHooks() {
    const request = ++this.hooksRequest;
    try {
      const hooks = await api.hooks(this.id);
      if (request !== this.hooksRequest) return;
      this.hooks = hooks;
      this.hooksError = null;
    } catch (error) {
      if (request === this.hooksRequest) this.hooksError = messageOf(error);
    }
  }

  private apply({ kind, payload }: StreamEvent) {
    const data = payload as Record<string, unknown>;
    switch (kind) {
      case "task.created":
      case "task.updated": {
        const task = data as unknown as Task;
        if (newer(task, this.tasks.get(task.id))) this.tasks.set(task.id, task);
        break;
      }
      case "task.moved": {
        const task = data.task as Task;
        if (newer(task, this.tasks.get(task.id))) this.tasks.set(task.id, task);
        break;
      }
      case "task.deleted":
        this.tasks.delete(data.id as string);
        this.pending.delete(data.id as string);
        break;
      case "board.updated":
        this.board = data as unknown as Board;
        break;
      case "board.deleted":
        this.deleted = true;
        break;
      case "column.created":
      case "column.updated": {
        const column = data as unknown as Column;
        this.columns = [...this.columns.filter((other) => other.id !== column.id), column];
        break;
      }
      case "column.deleted":
        // Its tasks moved too, each with its own event; the hooks went with it.
        this.columns = this.columns.filter((column) => column.id !== data.id);
        this.columnHooks = this.columnHooks.filter((hook) => hook.column_id !== data.id);
        break;
      case "column_hook.created":
      case "column_hook.updated": {
        const hook = data as unknown as ColumnHook;
        this.columnHooks = [...this.columnHooks.filter((other) => other.id !== hook.id), hook];
        break;
      }
      case "column_hook.deleted":
        this.columnHooks = this.columnHooks.filter((hook) => hook.id !== data.id);
        break;
      case "template.created":
      case "template.updated": {
        const template = data as unknown as Template;
        this.templates = [...this.templates.filter((other) => other.id !== template.id), template];
        break;
      }
      case "template.deleted":
        this.templates = this.templates.filter((template) => template.id !== data.id);
        break;
      case "hook.created":
      case "hook.updated":
      case "hook.deleted":
        // A deleted hook's attachments went with it, without events of their own.
        if (kind === "hook.deleted") this.columnHooks = this.columnHooks.filter((hook) => hook.hook_id !== data.id);
        if (this.hooks !== null) void this.loadHooks();
        break;
      case "sound.played":
        playSound(typeof data.sound === "string" ? data.sound : "done");
        break;
    }
  }

  column(id: string): Column | undefined {
    return this.columns.find((column) => column.id === id);
  }

  /**
   * Moves a card to `index` in `columnId`'s list (the list without the card). A move
   * within the column only reorders; into another column it runs that column's hooks.
   */
  async move(taskId: string, columnId: string, index: number) {
    const list = (this.byColumn.get(columnId) ?? []).filter((task) => task.id !== taskId);
    const after = index > 0 ? (list[index - 1]?.id ?? null) : null;
    const before = list[index]?.id ?? null;
    const task = this.tasks.get(taskId);
    if (!task) return;
    const currentIndex = (this.byColumn.get(task.column_id) ?? []).findIndex((other) => other.id === taskId);
    if (columnId === task.column_id && currentIndex === index && !this.pending.has(taskId)) return;
    this.pending.set(taskId, { columnId, after, before });
    this.moveError = null;
    try {
      const moved = await api.moveTask(taskId, {
        column_id: columnId === task.column_id ? null : columnId,
        after,
        before,
      });
      if (newer(moved, this.tasks.get(taskId))) this.tasks.set(taskId, moved);
    } catch (error) {
      this.moveError = `Could not move “${task.title}”: ${messageOf(error)}`;
    } finally {
      this.pending.delete(taskId);
    }
  }
}
