// The page's route, from the address bar: `/`, `/boards/:id`, `/boards/:id/tasks/:id`,
// `/boards/:id/settings`, `/system`. Links go through `navigate` so the app never reloads.

export type Route =
  | { page: "boards" }
  | { page: "board"; boardId: string; taskId: string | null; review?: boolean }
  | { page: "settings"; boardId: string }
  | { page: "system" }
  | { page: "missing"; path: string };

function parse(path: string): Route {
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 0) return { page: "boards" };
  if (parts[0] === "system" && parts.length === 1) return { page: "system" };
  if (parts[0] === "boards" && parts.length >= 2) {
    const boardId = parts[1];
    if (parts.length === 2) return { page: "board", boardId, taskId: null };
    if (parts.length === 3 && parts[2] === "settings") return { page: "settings", boardId };
    if (parts.length === 4 && parts[2] === "tasks") return { page: "board", boardId, taskId: parts[3] };
    if (parts.length === 5 && parts[2] === "tasks" && parts[4] === "review") {
      return { page: "board", boardId, taskId: parts[3], review: true };
    }
  }
  return { page: "missing", path };
}

class Router {
  route = $state<Route>(parse(location.pathname));

  constructor() {
    addEventListener("popstate", () => (this.route = parse(location.pathname)));
  }

  navigate(path: string, { replace = false } = {}) {
    if (path === location.pathname) return;
    if (replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
    this.route = parse(path);
  }
}

export const router = new Router();

/** For `<a href onclick={follow}>`: in-app navigation, but a new tab still works. */
export function follow(event: MouseEvent) {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  const anchor = event.currentTarget as HTMLAnchorElement;
  event.preventDefault();
  router.navigate(anchor.pathname);
}
