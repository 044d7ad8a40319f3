// The one WebSocket to viban (`/api/ws`). Views subscribe to streams (`board:<id>`,
// `task:<id>`) with a handler; the socket resumes each stream after its last sequence
// when it reconnects, and tells the view to reload when the server answers `resync`
// (events it missed were pruned). Reconnects with back-off; `state` drives the
// "reconnecting…" indicator.

export type ConnectionState = "connecting" | "live" | "reconnecting";

export interface StreamEvent {
  kind: string;
  payload: unknown;
  seq: number;
}

export interface StreamHandler {
  /** Every event of the stream, in order, exactly once. */
  event(event: StreamEvent): void;
  /** Events may have been missed (they were pruned, or the subscription has just been
   * taken and a load that started before it can be behind): reload the resource. */
  resync(): void;
}

interface Subscription {
  handlers: Set<StreamHandler>;
  /** The last sequence seen, to resume from after a reconnect. */
  seq: number | null;
  /** What the last subscribe sent asked for, until the server confirms it: a fresh
   * subscription (from now), or one resumed after `seq`. */
  asked: "fresh" | "resume" | null;
}

class Realtime {
  state = $state<ConnectionState>("connecting");
  /** Bumped on each reconnect after the first connection, for views to refresh. */
  reconnects = $state(0);
  private socket: WebSocket | null = null;
  private streams = new Map<string, Subscription>();
  private delay = 500;
  private opened = false;

  start() {
    if (this.socket) return;
    this.open();
  }

  /** Follows `stream` until the returned function is called. */
  subscribe(stream: string, handler: StreamHandler, after: number | null = null): () => void {
    let subscription = this.streams.get(stream);
    if (!subscription) {
      subscription = { handlers: new Set(), seq: after, asked: null };
      this.streams.set(stream, subscription);
      this.take(stream, subscription);
    }
    subscription.handlers.add(handler);
    return () => {
      const current = this.streams.get(stream);
      if (!current) return;
      current.handlers.delete(handler);
      if (current.handlers.size === 0) {
        this.streams.delete(stream);
        this.send({ type: "unsubscribe", stream });
      }
    };
  }

  private send(message: object): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Asks the server for `stream`, from its last sequence seen or, the first time, from now. */
  private take(stream: string, subscription: Subscription) {
    const after = subscription.seq;
    if (this.send({ type: "subscribe", stream, ...(after === null ? {} : { after }) })) {
      subscription.asked = after === null ? "fresh" : "resume";
    }
  }

  private open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/ws`);
    this.socket = socket;
    socket.onopen = () => {
      this.delay = 500;
      this.state = "live";
      if (this.opened) this.reconnects += 1;
      this.opened = true;
      for (const [stream, subscription] of this.streams) this.take(stream, subscription);
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = () => {
      this.socket = null;
      this.state = "reconnecting";
      setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, 5_000);
    };
  }

  private receive(data: unknown) {
    if (typeof data !== "string") return;
    let message: {
      type?: string;
      stream?: string;
      seq?: number;
      kind?: string;
      payload?: unknown;
      retry?: boolean;
    };
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    const subscription = message.stream ? this.streams.get(message.stream) : undefined;
    if (!subscription) return;
    switch (message.type) {
      case "subscribed": {
        const asked = subscription.asked;
        subscription.asked = null;
        // A resumed subscription already has its place: the server replays what followed.
        // A fresh one starts from now. An event published after a view's load read the
        // database but before the server took the subscription reached neither, so the
        // views reload once now: from here on every event arrives.
        if (asked === "fresh" && typeof message.seq === "number") {
          subscription.seq = message.seq;
          for (const handler of subscription.handlers) handler.resync();
        }
        break;
      }
      case "event":
        // Until a fresh subscription is confirmed, events are those of the one the
        // page left (unsubscribed, then subscribed again): the reload covers them.
        if (subscription.asked === "fresh") break;
        if (typeof message.seq === "number") subscription.seq = message.seq;
        for (const handler of subscription.handlers) {
          handler.event({ kind: message.kind ?? "", payload: message.payload, seq: message.seq ?? 0 });
        }
        break;
      case "error":
        // A refused subscribe (the database was unavailable, say): asked again shortly
        // when the server says that can succeed.
        if (!subscription.asked) break;
        subscription.asked = null;
        if (message.retry) {
          const stream = message.stream as string;
          setTimeout(() => {
            if (this.streams.get(stream) === subscription && !subscription.asked) this.take(stream, subscription);
          }, 1_000);
        }
        break;
      case "resync":
        if (typeof message.seq === "number") subscription.seq = message.seq;
        for (const handler of subscription.handlers) handler.resync();
        break;
    }
  }
}

export const realtime = new Realtime();
