// The web shell: version, database status and the live connection. The board UI
// builds on this page.
import "./style.css";
import { api, ApiError, socketUrl, type Health } from "./api";
import { connect, type ConnectionState } from "./connection";

const app = document.querySelector<HTMLDivElement>("#app")!;
app.innerHTML = `
  <header>
    <h1><img src="/favicon.svg" alt="" width="24" height="24" /> viban</h1>
    <span class="pill" id="connection">connecting…</span>
  </header>
  <main>
    <dl>
      <dt>Version</dt><dd id="version">…</dd>
      <dt>PostgreSQL</dt><dd id="postgres">…</dd>
      <dt>Database</dt><dd id="database">…</dd>
    </dl>
    <p class="hint">Boards appear here. The server is running; the board UI is on its way.</p>
  </main>
`;

const field = (id: string) => document.getElementById(id)!;

function showHealth(health: Health) {
  const el = field("database");
  el.textContent = health.database === "ok" ? "healthy" : "unavailable — restarting";
  el.className = health.database === "ok" ? "ok" : "bad";
}

function showConnection(state: ConnectionState) {
  const el = field("connection");
  el.textContent = state === "live" ? "live" : state === "connecting" ? "connecting…" : "reconnecting…";
  el.className = `pill ${state}`;
}

async function refreshHealth() {
  try {
    showHealth(await api.health());
  } catch {
    showHealth({ status: "unavailable", database: "down" });
  }
}

async function start() {
  try {
    const version = await api.version();
    field("version").textContent = version.version;
    field("postgres").textContent = version.postgres;
  } catch (error) {
    const message = error instanceof ApiError ? error.message : String(error);
    field("version").textContent = message;
  }
  await refreshHealth();
  setInterval(refreshHealth, 5000);
  connect(socketUrl(), showConnection);
}

void start();
