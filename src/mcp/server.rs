//! The MCP server itself: rmcp's [`ServerHandler`] over the tool [`table`](super::table),
//! and the Streamable HTTP service mounted at `/api/mcp`.
//!
//! The service is stateless (no `Mcp-Session-Id`) and answers each POST with plain
//! JSON: every tool answers once, with no notifications between, so a session would
//! only hold memory. The security guard in front of it (`server::security`) has
//! already checked the Host and the token, and put the caller's [`Principal`] in the
//! request's extensions, which rmcp hands to the tools with the HTTP request's parts.

use std::sync::Arc;

use axum::http::request::Parts;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeRequestParams, InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    ServerConfig, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::{Access, Caller, Failure, Principal, Tool, table};
use crate::error::ApiError;
use crate::state::AppState;

const INSTRUCTIONS: &str = "viban is a kanban board that runs coding agents on git repositories. Boards have \
columns with roles (todo, in_progress, review, done, cancelled); moving a task into in_progress starts its \
agent. Start with list_boards, then get_board or list_tasks.";

const RUN_INSTRUCTIONS: &str = "You are an agent run of viban working on one task. get_task_context tells you \
about it; create_subtask splits it; report_progress shows a status line on its card.";

/// The MCP server for one request.
#[derive(Clone)]
pub struct McpServer {
    state: AppState,
    tools: Arc<Vec<Tool>>,
}

/// The Streamable HTTP endpoint, accepting the Host names the API accepts.
pub fn service(
    state: AppState,
    allowed_hosts: Vec<String>,
    body_limit: usize,
) -> StreamableHttpService<McpServer, NeverSessionManager> {
    let server = McpServer { state, tools: Arc::new(table()) };
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(allowed_hosts)
        .with_max_request_body_bytes(body_limit);
    StreamableHttpService::new(move || Ok(server.clone()), Arc::new(NeverSessionManager::default()), config)
}

/// The caller the guard established; none (not through the guard): no tools.
fn principal(context: &RequestContext<RoleServer>) -> Option<Principal> {
    context.extensions.get::<Parts>().and_then(|parts| parts.extensions.get::<Principal>()).copied()
}

fn allowed(tool: &Tool, principal: Option<Principal>) -> bool {
    matches!(
        (tool.access, principal),
        (Access::Owner, Some(Principal::Owner)) | (Access::Run, Some(Principal::Run { .. }))
    )
}

fn describe(tool: &Tool) -> rmcp::model::Tool {
    let annotations =
        ToolAnnotations::new().read_only(tool.read_only).destructive(tool.destructive).open_world(false);
    rmcp::model::Tool::new(tool.name, tool.description, (tool.input)()).annotate(annotations)
}

/// A tool error (`isError: true`) saying `detail`, with the API's problem as its
/// structured content.
fn refusal(problem: &ApiError) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(problem.problem().detail.clone())]);
    result.structured_content = serde_json::to_value(problem.problem()).ok();
    result
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("viban", env!("CARGO_PKG_VERSION")).with_title("viban"))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let principal = principal(&context);
        let tools = self.tools.iter().filter(|tool| allowed(tool, principal)).map(describe).collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    /// Instructions for whoever connects: the board's, or a run's.
    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        let mut result = self.negotiate_initialize(&request)?;
        if matches!(principal(&context), Some(Principal::Run { .. })) {
            result.instructions = Some(RUN_INSTRUCTIONS.to_string());
        }
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.tools.iter().find(|tool| tool.name == name).map(describe)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(tool) = self.tools.iter().find(|tool| tool.name == request.name) else {
            return Err(ErrorData::invalid_params(format!("unknown tool '{}'", request.name), None));
        };
        let principal = principal(&context);
        let Some(principal) = principal.filter(|_| allowed(tool, principal)) else {
            let detail = match tool.access {
                Access::Owner => format!(
                    "{} is not for an agent run's token; a run may call get_task_context, create_subtask, \
                     list_subtasks, report_progress and ask_user",
                    tool.name
                ),
                Access::Run => format!("{} is only for an agent run's own token", tool.name),
            };
            return Ok(refusal(&ApiError::forbidden(detail)).into());
        };
        let arguments = serde_json::Value::Object(request.arguments.unwrap_or_default());
        if let Some(field) = crate::api::extract::nul_field(&arguments, "") {
            return Ok(refusal(
                &ApiError::invalid("text must not contain NUL characters (\\u0000)").with_field(field),
            )
            .into());
        }
        let caller = Caller { state: self.state.clone(), principal };
        let result = match (tool.call)(caller, arguments).await {
            Ok(json) => CallToolResult::success(vec![ContentBlock::text(json)]),
            Err(Failure::Arguments(message)) => refusal(&ApiError::invalid(message)),
            Err(Failure::Domain(error)) => refusal(&ApiError::from(error)),
            Err(Failure::Internal(message)) => return Err(ErrorData::internal_error(message, None)),
        };
        Ok(result.into())
    }
}
