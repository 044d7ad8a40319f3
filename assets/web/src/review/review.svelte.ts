// A task's review: its diff against the base and its review comments, kept current
// while the agent works (a refetch after the task's runs and hooks change, debounced),
// plus the files the user marked as viewed (kept per task in localStorage).
import { api, messageOf, type Diff, type ReviewComment } from "../lib/api";
import { realtime } from "../lib/realtime.svelte";

export class ReviewStore {
  diff = $state.raw<Diff | null>(null);
  comments = $state.raw<ReviewComment[]>([]);
  error = $state<string | null>(null);
  loading = $state(false);
  viewed = $state<Record<string, boolean>>({});

  constructor(readonly taskId: string) {
    try {
      this.viewed = JSON.parse(localStorage.getItem(this.viewedKey) ?? "{}");
    } catch {
      this.viewed = {};
    }
  }

  private get viewedKey() {
    return `viban.viewed.${this.taskId}`;
  }

  start() {
    void this.load();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const later = () => {
      timer ??= setTimeout(() => {
        timer = null;
        void this.load();
      }, 1000);
    };
    const stop = realtime.subscribe(`task:${this.taskId}`, {
      event: (event) => {
        if (event.kind.startsWith("review_comment")) void this.loadComments();
        else if (event.kind === "session.updated" || event.kind === "hook_execution.updated") later();
      },
      resync: later,
    });
    return () => {
      stop();
      if (timer) clearTimeout(timer);
    };
  }

  /** Only the newest load's answer lands (a slow diff must not replace a newer one). */
  private loads = 0;

  async load() {
    const load = ++this.loads;
    this.loading = true;
    try {
      const [diff, comments] = await Promise.all([api.diff(this.taskId), api.reviewComments(this.taskId)]);
      if (load !== this.loads) return;
      this.diff = diff;
      this.comments = comments;
      this.error = null;
    } catch (error) {
      if (load !== this.loads) return;
      this.error = messageOf(error);
    }
    this.loading = false;
  }

  async loadComments() {
    try {
      this.comments = await api.reviewComments(this.taskId);
    } catch {
      // The next full load shows it.
    }
  }

  setViewed(path: string, viewed: boolean) {
    this.viewed = { ...this.viewed, [path]: viewed };
    localStorage.setItem(this.viewedKey, JSON.stringify(this.viewed));
  }

  unsent = $derived(this.comments.filter((comment) => !comment.sent_at));
}
