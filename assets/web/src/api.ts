// Client for viban's JSON API. The session cookie (set when the launcher's URL is
// opened) authenticates every request; nothing here handles the token itself.

export interface Version {
  version: string;
  postgres: string;
  schema: number;
}

export interface Health {
  status: "ok" | "unavailable";
  database: "ok" | "down";
}

/** What the server knows about a newer viban (GET /api/update). */
export interface UpdateStatus {
  current: string;
  available: string | null;
  disabled: string | null;
  active_runs: number;
  error: string | null;
}

export interface Applied {
  status: "restarting" | "installed";
  version: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
  ) {
    super(detail ? `${title}: ${detail}` : title);
  }
}

async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => undefined);
  if (!response.ok && !(path === "/api/health" && response.status === 503)) {
    throw new ApiError(response.status, body?.title ?? response.statusText, body?.detail);
  }
  return body as T;
}

async function postJson<T>(path: string): Promise<T> {
  const response = await fetch(path, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: "{}",
  });
  const body = await response.json().catch(() => undefined);
  if (!response.ok) {
    throw new ApiError(response.status, body?.title ?? response.statusText, body?.detail);
  }
  return body as T;
}

export const api = {
  version: () => getJson<Version>("/api/version"),
  health: () => getJson<Health>("/api/health"),
  update: () => getJson<UpdateStatus>("/api/update"),
  applyUpdate: () => postJson<Applied>("/api/update/apply"),
};

/** The realtime socket's URL on the page's own origin (the server checks Origin). */
export function socketUrl(): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/ws`;
}
