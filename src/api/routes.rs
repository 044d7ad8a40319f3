//! The table of every API route: method, path, handler, and what it takes and returns.
//! The router is built from this table and so is the OpenAPI document
//! (`/api/openapi.json`, [`crate::api::openapi`]), so the two cannot drift apart.

use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::routing::{MethodFilter, MethodRouter};
use schemars::generate::SchemaGenerator;
use schemars::{JsonSchema, Schema};

use super::calls::{Described, created, no_content, ok, ok_with};
use super::{
    agents, boards, housekeeping, imports, open, openapi, pull_requests, repositories, requests, review,
    system, tasks, update, ws,
};
use crate::state::AppState;
use crate::{board, db};

/// The MCP server's Streamable HTTP endpoint below `/api` (GET, POST, DELETE), served
/// by rmcp ([`crate::mcp::server::service`]) rather than from the table: it speaks
/// JSON-RPC, whose tools are listed by `tools/list`, not in the OpenAPI document.
pub const MCP: &str = "/mcp";

/// Produces the schema of one type (a `$ref` for named types) in a generator.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// What a route answers when it succeeds.
#[derive(Clone, Copy)]
pub enum Success {
    Json(StatusCode, SchemaFn),
    Empty(StatusCode),
    /// The WebSocket: `101 Switching Protocols`.
    Upgrade,
}

pub struct Route {
    pub method: Method,
    /// Below `/api`, in axum's syntax (`/tasks/{id}`).
    pub path: &'static str,
    pub summary: &'static str,
    pub handler: MethodRouter<AppState>,
    pub body: Option<SchemaFn>,
    pub query: Option<SchemaFn>,
    pub success: Success,
    /// Answers without the token (only `/api/health`).
    pub public: bool,
    /// May answer 502 when a server viban relies on (the release server) fails.
    pub upstream: bool,
}

impl Route {
    fn new<H, T>(
        method: Method,
        filter: MethodFilter,
        path: &'static str,
        summary: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        Self {
            method,
            path,
            summary,
            handler: axum::routing::on(filter, handler),
            body: None,
            query: None,
            success: Success::Empty(StatusCode::NO_CONTENT),
            public: false,
            upstream: false,
        }
    }

    fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(SchemaGenerator::subschema_for::<T>);
        self
    }

    fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(SchemaGenerator::subschema_for::<T>);
        self
    }

    /// `200 OK` with a `T`.
    fn returns<T: JsonSchema>(mut self) -> Self {
        self.success = Success::Json(StatusCode::OK, SchemaGenerator::subschema_for::<T>);
        self
    }

    /// `201 Created` with the new `T`.
    fn creates<T: JsonSchema>(mut self) -> Self {
        self.success = Success::Json(StatusCode::CREATED, SchemaGenerator::subschema_for::<T>);
        self
    }

    fn accepts<T: JsonSchema>(mut self) -> Self {
        self.success = Success::Json(StatusCode::ACCEPTED, SchemaGenerator::subschema_for::<T>);
        self
    }

    fn upgrades(mut self) -> Self {
        self.success = Success::Upgrade;
        self
    }

    fn public(mut self) -> Self {
        self.public = true;
        self
    }

    fn upstream(mut self) -> Self {
        self.upstream = true;
        self
    }
}

fn get<H: Handler<T, AppState>, T: 'static>(path: &'static str, summary: &'static str, handler: H) -> Route {
    Route::new(Method::GET, MethodFilter::GET, path, summary, handler)
}

fn post<H: Handler<T, AppState>, T: 'static>(path: &'static str, summary: &'static str, handler: H) -> Route {
    Route::new(Method::POST, MethodFilter::POST, path, summary, handler)
}

fn delete<H: Handler<T, AppState>, T: 'static>(
    path: &'static str,
    summary: &'static str,
    handler: H,
) -> Route {
    Route::new(Method::DELETE, MethodFilter::DELETE, path, summary, handler)
}

/// A route that is one domain call ([`super::calls`]): what it takes and answers are
/// the domain function's own types.
fn call<H: Handler<T, AppState>, T: 'static>(
    method: Method,
    path: &'static str,
    summary: &'static str,
    call: Described<H>,
) -> Route {
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum routes");
    Route {
        body: call.body,
        success: call.success,
        ..Route::new(method, filter, path, summary, call.handler)
    }
}

/// Every route under `/api`, in the order the OpenAPI document lists them.
pub fn table() -> Vec<Route> {
    use db::repositories::Repository;
    use db::tasks::Task;

    vec![
        // System
        get("/health", "Health: a database round trip (no token needed)", system::health)
            .returns::<system::Health>()
            .public(),
        get("/version", "viban's, PostgreSQL's and the schema's versions", system::version)
            .returns::<system::Version>(),
        get("/system", "This machine: data directory, git and gh, disk used by worktrees", system::system)
            .returns::<system::SystemInfo>(),
        get("/openapi.json", "This document", openapi::serve).returns::<serde_json::Value>(),
        post("/shutdown", "Stop agents, the server and PostgreSQL", system::shutdown)
            .accepts::<system::Stopping>(),
        get("/update", "This version, and the newer release the last check found", update::status)
            .returns::<crate::update::UpdateStatus>(),
        post("/update/check", "Ask the release server for a newer version now", update::check)
            .returns::<crate::update::UpdateStatus>(),
        post(
            "/update/apply",
            "Install the newer version and restart into it (not while agents run)",
            update::apply,
        )
        .accepts::<update::Applied>()
        .upstream(),
        get("/ws", "The realtime WebSocket: subscribe to `board:<id>` and `task:<id>`", ws::upgrade)
            .upgrades(),
        // Boards
        get("/boards", "List boards, with their task counts and running agents", boards::list)
            .returns::<Vec<db::boards::BoardSummary>>(),
        post("/boards", "Create a board with the default columns, hooks and templates", boards::create)
            .body::<crate::board::boards::BoardRequest>()
            .creates::<boards::BoardView>(),
        get("/boards/{id}", "A board with its columns, hooks, templates and tasks", boards::get)
            .returns::<boards::BoardView>(),
        call(
            Method::PATCH,
            "/boards/{id}",
            "Rename, describe, configure or (un)link a repository",
            ok_with(board::boards::update),
        ),
        delete("/boards/{id}", "Delete a board and everything on it", boards::delete),
        post(
            "/import/vibe-kanban",
            "Import Vibe Kanban's boards (a data directory, database or cloud export), or say what would be",
            imports::vibe_kanban,
        )
        .body::<crate::import::ImportRequest>()
        .returns::<crate::import::ImportReport>(),
        get("/boards/{id}/export", "The board as one versioned JSON document", imports::export)
            .returns::<crate::board::document::BoardDocument>(),
        post("/import/board", "Create a board from a board document", imports::board)
            .body::<imports::ImportBoard>()
            .creates::<imports::ImportedBoard>(),
        // Columns
        call(Method::POST, "/boards/{id}/columns", "Add a column", created(board::columns::create)),
        call(
            Method::PATCH,
            "/columns/{id}",
            "Rename, recolour, reconfigure or reorder a column",
            ok_with(board::columns::update),
        ),
        call(
            Method::DELETE,
            "/columns/{id}",
            "Delete a column; its tasks move to the first column",
            no_content(board::columns::delete),
        ),
        // Tasks
        get("/boards/{id}/tasks", "List a board's tasks, optionally filtered", tasks::list)
            .query::<tasks::ListTasks>()
            .returns::<Vec<Task>>(),
        call(Method::POST, "/boards/{id}/tasks", "Create a task", created(board::tasks::create)),
        call(Method::GET, "/tasks/{id}", "A task", ok(board::tasks::get)),
        call(Method::PATCH, "/tasks/{id}", "Edit a task", ok_with(board::tasks::update)),
        delete("/tasks/{id}", "Delete a task", tasks::delete),
        call(
            Method::POST,
            "/tasks/{id}/move",
            "Move a task between neighbours, in its column or another",
            ok_with(board::tasks::move_task),
        ),
        post("/tasks/{id}/duplicate", "Copy a task into the same column", tasks::duplicate).creates::<Task>(),
        get("/tasks/{id}/activity", "The task's activity, oldest first, in pages", tasks::activity)
            .query::<tasks::ActivityPage>()
            .returns::<tasks::Activity>(),
        post("/tasks/{id}/open", "Open the task's worktree in the file manager or the editor", open::open)
            .body::<open::OpenBody>()
            .accepts::<crate::board::open::Opened>(),
        // Agents
        get("/agents", "The coding agents: found or missing, path, version, how to install", agents::list)
            .returns::<Vec<crate::agents::detect::Availability>>(),
        post(
            "/tasks/{id}/runs",
            "Run an agent on the task in its worktree (queued while slots are full)",
            agents::start,
        )
        .body::<crate::board::runs::RunRequest>()
        .accepts::<db::sessions::AgentSession>(),
        post(
            "/tasks/{id}/messages",
            "Chat: the message goes to the task's agent through its in_progress column's hooks",
            agents::message,
        )
        .body::<agents::MessageBody>()
        .accepts::<agents::MessageOutcome>(),
        post("/tasks/{id}/stop", "Stop the task's agent and everything it started", agents::stop)
            .accepts::<agents::Stopping>(),
        post("/tasks/{id}/resume", "Continue an interrupted or finished agent session", agents::resume)
            .accepts::<db::sessions::AgentSession>(),
        call(
            Method::GET,
            "/tasks/{id}/sessions",
            "The task's agent runs, oldest first",
            ok(board::runs::sessions),
        ),
        // What agents ask of the user (M3)
        call(
            Method::GET,
            "/tasks/{id}/requests",
            "The task's pending approvals and questions, then its recent ones",
            ok(board::requests::list),
        ),
        post(
            "/approvals/{id}",
            "Approve or deny a pending tool call; the waiting run continues",
            requests::decide,
        )
        .body::<requests::DecisionBody>()
        .returns::<db::requests::Request>(),
        post(
            "/questions/{id}",
            "Answer an agent's question; the answer is its next message",
            requests::answer,
        )
        .body::<requests::AnswerBody>()
        .returns::<requests::Answered>(),
        // Review and ship
        get(
            "/tasks/{id}/diff",
            "The task's worktree against its merge-base with the base branch",
            review::diff,
        )
        .query::<review::DiffQuery>()
        .returns::<crate::diff::Diff>(),
        call(
            Method::GET,
            "/tasks/{id}/review/comments",
            "The task's review comments, oldest first",
            ok(board::review::comments),
        ),
        call(
            Method::POST,
            "/tasks/{id}/review/comments",
            "Comment on lines of the task's diff",
            created(board::review::comment),
        ),
        call(
            Method::PATCH,
            "/review-comments/{id}",
            "Change an unsent review comment",
            ok_with(board::review::edit_comment),
        ),
        call(
            Method::DELETE,
            "/review-comments/{id}",
            "Delete a review comment",
            no_content(board::review::delete_comment),
        ),
        post(
            "/tasks/{id}/review/send",
            "Send the unsent review comments to the agent as one chat message",
            review::send,
        )
        .accepts::<crate::board::review::ReviewSent>(),
        post(
            "/tasks/{id}/review/request-changes",
            "Send the unsent review comments and move the task to in_progress so its agent runs",
            review::request_changes,
        )
        .accepts::<crate::board::review::ReviewSent>(),
        post(
            "/tasks/{id}/merge",
            "Merge the task's branch into its base branch (squash, merge, rebase)",
            review::merge,
        )
        .body::<crate::board::review::MergeRequest>()
        .returns::<crate::board::review::Merged>(),
        post(
            "/tasks/{id}/rebase",
            "Rebase the task's branch onto the latest base (fetched first)",
            review::rebase,
        )
        .returns::<crate::board::review::Rebased>(),
        call(
            Method::GET,
            "/tasks/{id}/branch",
            "Where the task's branch stands: ahead/behind its base, branch and worktree present",
            ok(board::pull_requests::branch),
        ),
        post(
            "/tasks/{id}/pull-request",
            "Push the task's branch to origin and open a pull request with gh (or return the open one)",
            pull_requests::create,
        )
        .body::<crate::board::pull_requests::CreateRequest>()
        .returns::<crate::board::pull_requests::PullRequest>(),
        call(
            Method::POST,
            "/tasks/{id}/pull-request/sync",
            "Read the task's pull request back from GitHub now: state, review decision, checks",
            ok(board::pull_requests::sync),
        ),
        // Templates
        call(
            Method::POST,
            "/boards/{id}/templates",
            "Add a task template",
            created(board::templates::create),
        ),
        call(Method::PATCH, "/templates/{id}", "Edit a task template", ok_with(board::templates::update)),
        call(
            Method::DELETE,
            "/templates/{id}",
            "Delete a task template",
            no_content(board::templates::delete),
        ),
        // Webhooks
        call(
            Method::GET,
            "/boards/{id}/webhooks",
            "A board's webhooks, with their last delivery",
            ok(board::webhooks::list),
        ),
        call(Method::POST, "/boards/{id}/webhooks", "Add a webhook", created(board::webhooks::create)),
        call(Method::PATCH, "/webhooks/{id}", "Edit a webhook", ok_with(board::webhooks::update)),
        call(Method::DELETE, "/webhooks/{id}", "Delete a webhook", no_content(board::webhooks::delete)),
        call(
            Method::POST,
            "/webhooks/{id}/test",
            "Send a test delivery now; answers what the receiver said",
            ok(board::webhooks::test),
        ),
        // Schedules (periodic tasks)
        call(
            Method::GET,
            "/boards/{id}/schedules",
            "A board's schedules (periodic tasks)",
            ok(board::schedules::list),
        ),
        call(
            Method::POST,
            "/boards/{id}/schedules",
            "Add a schedule: a cron expression (UTC) and the task it creates",
            created(board::schedules::create),
        ),
        call(
            Method::PATCH,
            "/schedules/{id}",
            "Edit, enable or disable a schedule",
            ok_with(board::schedules::update),
        ),
        call(Method::DELETE, "/schedules/{id}", "Delete a schedule", no_content(board::schedules::delete)),
        // Housekeeping
        get(
            "/housekeeping",
            "Dry run of the worktree clean-up: each worktree, its disk use, and whether it would go and why",
            housekeeping::plan,
        )
        .returns::<crate::board::housekeeping::Report>(),
        post(
            "/housekeeping/run",
            "Clean up now: remove the due worktrees that hold no work; says what went and why each kept one stays",
            housekeeping::run,
        )
        .returns::<crate::board::housekeeping::Report>(),
        // Hooks
        get("/hooks/builtin", "The built-in hooks", || async { axum::Json(crate::hooks::BUILTINS) })
            .returns::<Vec<crate::hooks::Builtin>>(),
        call(Method::GET, "/boards/{id}/hooks", "A board's script and agent hooks", ok(board::hooks::list)),
        call(
            Method::POST,
            "/boards/{id}/hooks",
            "Define a script or agent hook",
            created(board::hooks::create),
        ),
        call(Method::PUT, "/hooks/{id}", "Redefine a hook", ok_with(board::hooks::replace)),
        call(
            Method::DELETE,
            "/hooks/{id}",
            "Delete a hook and its attachments",
            no_content(board::hooks::delete),
        ),
        call(Method::POST, "/columns/{id}/hooks", "Attach a hook to a column", created(board::hooks::attach)),
        call(
            Method::PATCH,
            "/column-hooks/{id}",
            "Change or reorder a column's hook",
            ok_with(board::hooks::update_attachment),
        ),
        call(
            Method::DELETE,
            "/column-hooks/{id}",
            "Detach a hook from its column",
            no_content(board::hooks::detach),
        ),
        call(
            Method::GET,
            "/tasks/{id}/hook-executions",
            "The task's column hooks, run, running and waiting",
            ok(board::pipeline::executions),
        ),
        call(
            Method::POST,
            "/tasks/{id}/clear-error",
            "Clear the task's error: it is idle again",
            ok(board::pipeline::clear_error),
        ),
        call(
            Method::POST,
            "/hook-executions/{id}/retry",
            "Run a failed hook again, with the hooks its failure skipped",
            ok(board::pipeline::retry),
        ),
        call(
            Method::POST,
            "/hook-executions/{id}/cancel",
            "Cancel a hook that has not started",
            ok(board::pipeline::cancel),
        ),
        // Repositories
        get("/repositories", "Linked repositories", repositories::list).returns::<Vec<Repository>>(),
        post("/repositories", "Link a local repository or clone one", repositories::link)
            .body::<repositories::LinkRepository>()
            .creates::<repositories::RepositoryView>(),
        call(
            Method::GET,
            "/repositories/{id}",
            "A repository with its branches",
            ok(board::repositories::get),
        ),
        get(
            "/fs",
            "Folders in a folder, git repositories flagged (the repository picker)",
            repositories::browse,
        )
        .query::<repositories::Browse>()
        .returns::<crate::filesystem::Listing>(),
    ]
}
