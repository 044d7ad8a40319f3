// Keeps one WebSocket to the server open, reconnecting with backoff, and reports
// whether it is live so the page can show a reconnect indicator (U7).

export type ConnectionState = "connecting" | "live" | "reconnecting";

export function connect(url: string, onState: (state: ConnectionState) => void): void {
  let delay = 500;
  const open = () => {
    const socket = new WebSocket(url);
    socket.onopen = () => {
      delay = 500;
      onState("live");
    };
    socket.onclose = () => {
      onState("reconnecting");
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10_000);
    };
  };
  onState("connecting");
  open();
}
