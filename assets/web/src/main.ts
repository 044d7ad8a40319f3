// The web shell: version, database status and the live connection. The board UI
// builds on this page.
import "./style.css";
import { api, ApiError, socketUrl, type Health, type UpdateStatus } from "./api";
import { connect, type ConnectionState } from "./connection";

const app = document.querySelector<HTMLDivElement>("#app")!;
app.innerHTML = `
  <header>
    <h1><img src="/favicon.svg" alt="" width="24" height="24" /> viban</h1>
    <span class="pill" id="connection">connecting…</span>
  </header>
  <main>
    <p class="notice" id="update" hidden></p>
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

function showUpdate(update: UpdateStatus) {
  const el = field("update");
  el.hidden = !update.available || update.disabled !== null;
  if (el.hidden) return;
  const waiting = update.active_runs > 0;
  const version = document.createElement("strong");
  version.textContent = update.available;
  const button = document.createElement("button");
  button.type = "button";
  button.id = "apply-update";
  button.textContent = "Restart to update";
  button.disabled = waiting;
  const detail = document.createElement("span");
  detail.textContent = waiting ? "It installs when no agent is running." : "";
  el.replaceChildren("viban ", version, ` is available (this is ${update.current}).`, button, detail);
  button.addEventListener("click", async () => {
    button.disabled = true;
    detail.textContent = "Installing…";
    try {
      const applied = await api.applyUpdate();
      detail.textContent =
        applied.status === "restarting"
          ? `Restarting into ${applied.version}; this page reconnects by itself.`
          : `${applied.version} is installed; it runs from the next start.`;
    } catch (error) {
      detail.textContent = error instanceof ApiError ? (error.detail ?? error.message) : String(error);
      button.disabled = false;
    }
  });
}

async function refreshUpdate() {
  try {
    showUpdate(await api.update());
  } catch {
    // Not worth a message: the check is retried and the rest of the page works.
  }
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
  await refreshUpdate();
  setInterval(refreshUpdate, 10 * 60 * 1000);
  connect(socketUrl(), showConnection);
}

void start();
