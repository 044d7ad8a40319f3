// The typed client for viban's JSON API. Types come from the generated
// `api-schema.d.ts` (openapi-typescript over `openapi.json`, which a test keeps equal
// to the server's document); nothing here restates a server type by hand.
// The session cookie set by the launcher's sign-in URL authenticates every request.
import type { components } from "../../generated/api-schema";

type Schemas = components["schemas"];
export type Board = Schemas["Board"];
export type BoardView = Schemas["BoardView"];
export type Column = Schemas["Column"];
export type ColumnRole = Schemas["ColumnRole"];
export type ColumnHook = Schemas["ColumnHook"];
export type Task = Schemas["Task"];
export type Template = Schemas["Template"];
export type Hook = Schemas["Hook"];
export type Builtin = Schemas["Builtin"];
export type Availability = Schemas["Availability"];
export type Repository = Schemas["Repository"];
export type RepositoryView = Schemas["RepositoryView"];
export type Listing = Schemas["Listing"];
export type HookExecution = Schemas["HookExecution"];
export type AgentSession = Schemas["AgentSession"];
export type ActivityEntry = Schemas["ActivityEntry"];
export type ActivityPage = Schemas["Activity2"];
export type OpenTarget = Schemas["OpenTarget"];
export type Version = Schemas["Version"];
export type UpdateStatus = Schemas["UpdateStatus"];
export type Problem = Schemas["Problem"];
export type CreateTask = Schemas["CreateTask"];
export type UpdateTask = Schemas["UpdateTask"];
export type CreateBoard = Schemas["CreateBoard"];
export type UpdateBoard = Schemas["UpdateBoard"];
export type CreateColumn = Schemas["CreateColumn"];
export type UpdateColumn = Schemas["UpdateColumn"];
export type MoveTask = Schemas["MoveTask"];
export type TemplateBody = Schemas["TemplateBody"];
export type HookBody = Schemas["HookBody"];
export type AttachBody = Schemas["AttachBody"];
export type UpdateAttachmentBody = Schemas["UpdateAttachmentBody"];
export type LinkRepository = Schemas["LinkRepository"];
export type BoardSummary = Schemas["BoardSummary"];
export type Diff = Schemas["Diff"];
export type DiffFile = Schemas["DiffFile"];
export type DiffLine = Schemas["DiffLine"];
export type ReviewComment = Schemas["ReviewComment"];
export type CreateReviewComment = Schemas["CreateReviewComment"];
export type MergeTask = Schemas["MergeTask"];
export type Merged = Schemas["Merged"];
export type Rebased = Schemas["Rebased"];
export type CreatePullRequest = Schemas["CreatePullRequest"];
export type PullRequest = Schemas["PullRequest"];
export type PullRequestSynced = Schemas["Synced"];
export type BranchState = Schemas["BranchState"];
export type ReviewSent = Schemas["ReviewSent"];
export type ImportReport = Schemas["ImportReport"];
export type SystemInfo = Schemas["SystemInfo"];
export type ExternalTool = Schemas["ExternalTool"];
/** What an agent asks of the user: an approval of a tool call, or a question (M3). */
export type AgentRequest = Schemas["Request"];
export type Decision = Schemas["Decision"];
export type Webhook = Schemas["Webhook"];
export type WebhookBody = Schemas["WebhookBody"];
export type Delivery = Schemas["Delivery"];
export type Schedule = Schemas["Schedule"];
export type ScheduleBody = Schemas["ScheduleBody"];
/** The worktree clean-up's dry run or outcome (H6). */
export type HousekeepingReport = Schemas["HousekeepingReport"];
export type WorktreeReport = Schemas["WorktreeReport"];

/** A failed request: the server's problem+json, or what went wrong on the way. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    /** The request field the problem is about, when the server names one. */
    readonly field: string | null = null,
    /** The files in conflict, when a merge or rebase stopped on them. */
    readonly conflicts: string[] = [],
  ) {
    super(detail || title);
  }
}

/** The words to show for any error a request can throw. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.detail || error.title;
  if (error instanceof Error) return error.message;
  return String(error);
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api${path}`, {
      method,
      headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "viban is not reachable", "viban is not reachable: is it still running?");
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const problem = (parsed ?? {}) as Partial<Problem>;
    throw new ApiError(
      response.status,
      problem.title ?? response.statusText,
      problem.detail ?? text.slice(0, 300),
      problem.field ?? null,
      (problem as { conflicts?: string[] | null }).conflicts ?? [],
    );
  }
  return parsed as T;
}

const get = <T>(path: string) => request<T>("GET", path);
const post = <T>(path: string, body: unknown = {}) => request<T>("POST", path, body);
const patch = <T>(path: string, body: unknown) => request<T>("PATCH", path, body);
const put = <T>(path: string, body: unknown) => request<T>("PUT", path, body);
const del = (path: string) => request<void>("DELETE", path);
const q = encodeURIComponent;

export const api = {
  version: () => get<Version>("/version"),
  system: () => get<SystemInfo>("/system"),
  health: () => get<Schemas["Health"]>("/health"),
  update: () => get<UpdateStatus>("/update"),
  checkUpdate: () => post<UpdateStatus>("/update/check"),
  applyUpdate: () => post<Schemas["Applied"]>("/update/apply"),

  boards: () => get<BoardSummary[]>("/boards"),
  board: (id: string) => get<BoardView>(`/boards/${id}`),
  createBoard: (body: CreateBoard) => post<BoardView>("/boards", body),
  updateBoard: (id: string, body: UpdateBoard) => patch<Board>(`/boards/${id}`, body),
  deleteBoard: (id: string) => del(`/boards/${id}`),

  createColumn: (boardId: string, body: CreateColumn) => post<Column>(`/boards/${boardId}/columns`, body),
  updateColumn: (id: string, body: UpdateColumn) => patch<Column>(`/columns/${id}`, body),
  deleteColumn: (id: string) => del(`/columns/${id}`),

  task: (id: string) => get<Task>(`/tasks/${id}`),
  createTask: (boardId: string, body: CreateTask) => post<Task>(`/boards/${boardId}/tasks`, body),
  updateTask: (id: string, body: UpdateTask) => patch<Task>(`/tasks/${id}`, body),
  deleteTask: (id: string) => del(`/tasks/${id}`),
  moveTask: (id: string, body: MoveTask) => post<Task>(`/tasks/${id}/move`, body),
  duplicateTask: (id: string) => post<Task>(`/tasks/${id}/duplicate`),
  startRun: (id: string, body: Schemas["RunBody"] = {}) => post<AgentSession>(`/tasks/${id}/runs`, body),
  stopRun: (id: string) => post<Schemas["Stopping2"]>(`/tasks/${id}/stop`),
  resumeRun: (id: string) => post<AgentSession>(`/tasks/${id}/resume`),
  sendMessage: (id: string, text: string) => post<Schemas["MessageOutcome"]>(`/tasks/${id}/messages`, { text }),
  activity: (id: string, page: { after?: number; before?: number; limit?: number }) =>
    get<ActivityPage>(
      `/tasks/${id}/activity?${Object.entries(page)
        .filter(([, value]) => value !== undefined)
        .map(([name, value]) => `${name}=${value}`)
        .join("&")}`,
    ),
  openWorktree: (id: string, target: OpenTarget) => post<Schemas["Opened"]>(`/tasks/${id}/open`, { target }),
  hookExecutions: (id: string) => get<HookExecution[]>(`/tasks/${id}/hook-executions`),
  clearError: (id: string) => post<Task>(`/tasks/${id}/clear-error`),
  retryExecution: (id: string) => post<HookExecution[]>(`/hook-executions/${id}/retry`),

  agents: () => get<Availability[]>("/agents"),

  requests: (taskId: string) => get<AgentRequest[]>(`/tasks/${taskId}/requests`),
  decide: (id: string, decision: Decision, note?: string) =>
    post<AgentRequest>(`/approvals/${id}`, note ? { decision, note } : { decision }),
  answer: (id: string, answer: string) => post<Schemas["Answered"]>(`/questions/${id}`, { answer }),

  diff: (id: string, file?: string) => get<Diff>(`/tasks/${id}/diff${file ? `?file=${q(file)}` : ""}`),
  reviewComments: (id: string) => get<ReviewComment[]>(`/tasks/${id}/review/comments`),
  createComment: (id: string, body: CreateReviewComment) => post<ReviewComment>(`/tasks/${id}/review/comments`, body),
  editComment: (id: string, body: string) => patch<ReviewComment>(`/review-comments/${id}`, { body }),
  deleteComment: (id: string) => del(`/review-comments/${id}`),
  sendReview: (id: string) => post<ReviewSent>(`/tasks/${id}/review/send`),
  requestChanges: (id: string) => post<ReviewSent>(`/tasks/${id}/review/request-changes`),
  merge: (id: string, body: MergeTask) => post<Merged>(`/tasks/${id}/merge`, body),
  rebase: (id: string) => post<Rebased>(`/tasks/${id}/rebase`),
  branch: (id: string) => get<BranchState>(`/tasks/${id}/branch`),
  createPullRequest: (id: string, body: CreatePullRequest) => post<PullRequest>(`/tasks/${id}/pull-request`, body),
  syncPullRequest: (id: string) => post<PullRequestSynced>(`/tasks/${id}/pull-request/sync`),

  createTemplate: (boardId: string, body: TemplateBody) => post<Template>(`/boards/${boardId}/templates`, body),
  updateTemplate: (id: string, body: TemplateBody) => patch<Template>(`/templates/${id}`, body),
  deleteTemplate: (id: string) => del(`/templates/${id}`),

  webhooks: (boardId: string) => get<Webhook[]>(`/boards/${boardId}/webhooks`),
  createWebhook: (boardId: string, body: WebhookBody) => post<Webhook>(`/boards/${boardId}/webhooks`, body),
  updateWebhook: (id: string, body: WebhookBody) => patch<Webhook>(`/webhooks/${id}`, body),
  deleteWebhook: (id: string) => del(`/webhooks/${id}`),
  testWebhook: (id: string) => post<Delivery>(`/webhooks/${id}/test`),

  schedules: (boardId: string) => get<Schedule[]>(`/boards/${boardId}/schedules`),
  createSchedule: (boardId: string, body: ScheduleBody) => post<Schedule>(`/boards/${boardId}/schedules`, body),
  updateSchedule: (id: string, body: ScheduleBody) => patch<Schedule>(`/schedules/${id}`, body),
  deleteSchedule: (id: string) => del(`/schedules/${id}`),

  housekeeping: () => get<HousekeepingReport>("/housekeeping"),
  cleanUp: () => post<HousekeepingReport>("/housekeeping/run"),

  builtins: () => get<Builtin[]>("/hooks/builtin"),
  hooks: (boardId: string) => get<Hook[]>(`/boards/${boardId}/hooks`),
  createHook: (boardId: string, body: HookBody) => post<Hook>(`/boards/${boardId}/hooks`, body),
  replaceHook: (id: string, body: HookBody) => put<Hook>(`/hooks/${id}`, body),
  deleteHook: (id: string) => del(`/hooks/${id}`),
  attachHook: (columnId: string, body: AttachBody) => post<ColumnHook>(`/columns/${columnId}/hooks`, body),
  updateAttachment: (id: string, body: UpdateAttachmentBody) => patch<ColumnHook>(`/column-hooks/${id}`, body),
  detachHook: (id: string) => del(`/column-hooks/${id}`),

  importVibeKanban: (path: string | null, dryRun: boolean) =>
    post<ImportReport>("/import/vibe-kanban", { path, dry_run: dryRun }),
  importBoard: (document: unknown) => post<Schemas["ImportedBoard"]>("/import/board", { document }),

  repositories: () => get<Repository[]>("/repositories"),
  repository: (id: string) => get<RepositoryView>(`/repositories/${id}`),
  linkRepository: (body: LinkRepository) => post<RepositoryView>("/repositories", body),
  browse: (path?: string) => get<Listing>(path ? `/fs?path=${q(path)}` : "/fs"),
};
