//! The MCP server (M1, M2): viban's board as tools for an assistant, over Streamable
//! HTTP at `/api/mcp` (behind the same token and Host check as the API, `server::security`)
//! and over stdio through `viban mcp` ([`proxy`]). `docs/mcp.md` is the user's guide.
//!
//! [`table`] lists every tool, one row each, as `api::routes` lists every route: its
//! name, description, hints, the JSON Schema of its arguments (from the same types the
//! API takes) and its handler. A handler is an adapter like an HTTP one: arguments in
//! → one `board::…` call → JSON out; a `board::Error` becomes a tool error
//! (`isError: true`) with the words the API would answer ([`server`]).
//!
//! Who calls decides which rows exist: the install's token sees the board tools; an
//! agent run's token ([`crate::agents::access`]) sees only the run tools, which act on
//! the run's own task.

mod agent;
mod boards;
pub mod proxy;
mod requests;
mod runs;
pub mod server;
mod tasks;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rmcp::model::JsonObject;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::state::AppState;

/// Who is calling, as the security guard established it; put in the request's
/// extensions for the tools to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// The install's token or password: the board tools.
    Owner,
    /// An agent run's token: the run tools, on this task only.
    Run { task_id: Uuid },
}

/// Which principal a tool is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Owner,
    Run,
}

/// What a tool call has to work with.
#[derive(Clone)]
pub(crate) struct Caller {
    pub state: AppState,
    pub principal: Principal,
}

impl Caller {
    /// The run's task, for the run tools.
    fn run_task(&self) -> crate::board::Result<Uuid> {
        match self.principal {
            Principal::Run { task_id } => Ok(task_id),
            Principal::Owner => Err(crate::board::Error::Forbidden {
                field: "token",
                message: "this tool is for an agent run's own token".into(),
            }),
        }
    }
}

/// A tool's result: its JSON as text, or the domain's refusal.
pub(crate) type Outcome = Result<String, Failure>;

/// Why a call did not succeed.
pub(crate) enum Failure {
    /// The arguments do not fit the tool's schema.
    Arguments(String),
    Domain(crate::board::Error),
    /// The result could not be written as JSON.
    Internal(String),
}

type Call =
    Arc<dyn Fn(Caller, serde_json::Value) -> Pin<Box<dyn Future<Output = Outcome> + Send>> + Send + Sync>;

/// One row of the table.
#[derive(Clone)]
pub(crate) struct Tool {
    pub name: &'static str,
    pub description: &'static str,
    pub access: Access,
    pub read_only: bool,
    pub destructive: bool,
    pub input: fn() -> Arc<JsonObject>,
    pub call: Call,
}

impl Tool {
    /// A board tool that changes something, not destructively, taking `A` and answering
    /// `R` as JSON.
    fn new<A, R, F, Fut>(name: &'static str, description: &'static str, handler: F) -> Self
    where
        A: DeserializeOwned + schemars::JsonSchema + Send + 'static,
        R: Serialize,
        F: Fn(Caller, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = crate::board::Result<R>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let call: Call = Arc::new(move |caller, arguments| {
            let handler = handler.clone();
            Box::pin(async move {
                let arguments: A = serde_path_to_error::deserialize(arguments).map_err(|error| {
                    let path = error.path().to_string();
                    let inner = error.into_inner();
                    Failure::Arguments(if path == "." {
                        inner.to_string()
                    } else {
                        format!("{path}: {inner}")
                    })
                })?;
                let result = handler(caller, arguments).await.map_err(Failure::Domain)?;
                serde_json::to_string(&result).map_err(|error| Failure::Internal(error.to_string()))
            })
        });
        Self {
            name,
            description,
            access: Access::Owner,
            read_only: false,
            destructive: false,
            input: rmcp::handler::server::common::schema_for_type::<A>,
            call,
        }
    }

    fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    fn destructive(mut self) -> Self {
        self.destructive = true;
        self
    }

    /// For an agent run's token only.
    fn for_runs(mut self) -> Self {
        self.access = Access::Run;
        self
    }
}

/// A tool that takes no arguments.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoArguments {}

/// Every tool, board tools first, then the run tools.
pub(crate) fn table() -> Vec<Tool> {
    vec![
        // Boards and agents
        Tool::new("list_boards", "List the boards, with their task counts and running agents.", boards::list)
            .read_only(),
        Tool::new(
            "get_board",
            "A board with its columns (id, name, role), hooks, templates and every task, in board order.",
            boards::get,
        )
        .read_only(),
        Tool::new(
            "list_agents",
            "The coding agents viban can run: found or missing, version, how to install.",
            boards::agents,
        )
        .read_only(),
        // Tasks
        Tool::new(
            "list_tasks",
            "List a board's tasks in board order, optionally only those in a column (by role or id) or containing \
             a text in the title or description.",
            tasks::list,
        )
        .read_only(),
        Tool::new(
            "get_task",
            "A task: title, description, column, agent status and message, error, branch, worktree, pull request, \
             parent and blockers.",
            tasks::get,
        )
        .read_only(),
        Tool::new(
            "create_task",
            "Create a task on a board, in the column with `column_role` or `column_id` (default: the todo column). \
             With auto_start its agent starts when it enters a column that starts agents.",
            tasks::create,
        ),
        Tool::new("update_task", "Edit a task: absent fields stay, null clears agent or base_branch.", tasks::update),
        Tool::new(
            "move_task",
            "Move a task to another column (by role or id) or within its own, optionally right after or before \
             another task. Entering a column runs its hooks (in_progress starts the agent).",
            tasks::move_to,
        ),
        Tool::new(
            "delete_task",
            "Delete a task: its agent is stopped and its clean worktree removed.",
            tasks::delete,
        )
        .destructive(),
        Tool::new(
            "get_activity",
            "A task's activity (agent messages, tool calls, hooks), oldest first, in pages; long texts are \
             shortened. Pass next_after back as `after` for the next page.",
            tasks::activity,
        )
        .read_only(),
        // Agent runs
        Tool::new(
            "send_message",
            "Send a chat message to the task's agent: it continues the agent's session, after the current run \
             if one is underway.",
            runs::message,
        ),
        Tool::new(
            "start_run",
            "Run an agent on the task in its worktree now (queued while slots are full).",
            runs::start,
        ),
        Tool::new("stop_run", "Stop the task's agent and everything it started.", runs::stop).destructive(),
        // What agents ask of the user (M3)
        Tool::new(
            "list_requests",
            "A task's approvals and questions from its agent: the pending ones (what the agent waits for) and the \
             latest closed ones, oldest first.",
            requests::list,
        )
        .read_only(),
        Tool::new(
            "decide_approval",
            "Decide a pending approval of a tool call: `approve`, `approve_for_session` (the same tool is allowed \
             for the rest of the run) or `deny` with an optional note the agent is told.",
            requests::decide,
        ),
        Tool::new(
            "answer_question",
            "Answer a pending question from a task's agent; the answer is its next message.",
            requests::answer,
        ),
        // What an agent's run may do on its own task (M2)
        Tool::new(
            "get_task_context",
            "Your task: its title, description, board, column, branch, parent task and subtasks.",
            agent::context,
        )
        .read_only()
        .for_runs(),
        Tool::new(
            "create_subtask",
            "Split your task: create a subtask on the same board, in its todo column.",
            agent::create_subtask,
        )
        .for_runs(),
        Tool::new("list_subtasks", "The subtasks of your task, in board order.", agent::list_subtasks)
            .read_only()
            .for_runs(),
        Tool::new(
            "report_progress",
            "Show a one-line status on your task's card, e.g. \"running the tests\".",
            agent::report_progress,
        )
        .for_runs(),
        Tool::new(
            "ask_user",
            "Ask the user a question; their answer arrives as your next message.",
            agent::ask_user,
        )
        .for_runs(),
    ]
}
