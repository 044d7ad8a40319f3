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
      subscription = { handlers: new Set(), seq: after };
      this.streams.set(stream, subscription);
      this.send({ type: "subscribe", stream, ...(after === null ? {} : { after }) });
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

  private send(message: object) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
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
      for (const [stream, subscription] of this.streams) {
        this.send({ type: "subscribe", stream, ...(subscription.seq === null ? {} : { after: subscription.seq }) });
      }
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
    let message: { type?: string; stream?: string; seq?: number; kind?: string; payload?: unknown };
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    const subscription = message.stream ? this.streams.get(message.stream) : undefined;
    if (!subscription) return;
    switch (message.type) {
      case "subscribed":
        // A fresh subscription starts from now; a resumed one already has its place.
        // An event published after a view's load read the database but before the
        // server took the subscription reached neither, so the views reload once now:
        // from here on every event arrives.
        if (subscription.seq === null && typeof message.seq === "number") {
          subscription.seq = message.seq;
          for (const handler of subscription.handlers) handler.resync();
        }
        break;
      case "event":
        if (typeof message.seq === "number") subscription.seq = message.seq;
        for (const handler of subscription.handlers) {
          handler.event({ kind: message.kind ?? "", payload: message.payload, seq: message.seq ?? 0 });
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
