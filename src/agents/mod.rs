//! The coding agents viban runs (A1, A2; the README's "Agents"). Each is data — binary,
//! install hint, argv templates, output format — plus a parser ([`parse`]); the runner
//! ([`run`]) starts them. No other module knows an agent's flags, so a CLI that changes a
//! flag is a one-line change here.
//!
//! A run's parts, one job each: [`run`] (the `Runner`: slots, runs underway, start,
//! stop, follow-up messages), `job` (one run from its slot to its record), `resolve`
//! (which agent), `prompt` (what it is told), `columns` (per-column limits) and
//! `transcript` (its output as stored activity, and how it ended). The child process
//! itself is a [`crate::process::Supervised`] one. [`ask`] is the one-shot call a
//! hook makes (`builtin:refine`): the same agent and arguments, no session.
//!
//! Templates are argv arrays, never shell strings. Placeholders: `{prompt}`,
//! `{prompt_file}`, `{worktree}`, `{session_id}` anywhere inside an element; `{model}`
//! and `{approve}` alone as an element expand to the model flags (or nothing) and to
//! the flags of the board's permission policy (`settings::PermissionPolicy`, M3): under
//! `ask`, a CLI with an approval channel gets the flags that open it ([`control`]), and
//! its prompt goes on standard input instead of the command line (docs/approvals.md);
//! `{mcp}` alone expands to the adapter's `mcp` flags, which give the CLI viban's MCP
//! server for the run ([`access`]) — `{mcp_config}` in them is the run's Claude-style
//! configuration file, `{mcp_url}` the server's address, and the token is in the
//! environment as `VIBAN_MCP_TOKEN` — or to nothing when the run has no access.

pub mod access;
pub mod ask;
mod columns;
mod control;
pub mod detect;
mod job;
pub mod parse;
mod prompt;
mod resolve;
pub mod run;
pub mod settings;
mod transcript;

use std::path::Path;

use parse::Format;
use serde::{Deserialize, Serialize};
use settings::PermissionPolicy;

pub struct Adapter {
    pub id: &'static str,
    pub display_name: &'static str,
    pub binary: &'static str,
    pub install_hint: &'static str,
    /// Arguments of a first run.
    pub start: &'static [&'static str],
    /// Arguments that continue the agent's own session (`{session_id}`).
    pub resume: &'static [&'static str],
    /// What `{model}` becomes when a model is chosen.
    pub model: &'static [&'static str],
    /// What `{approve}` becomes: edits and commands without asking (policy `bypass`, and
    /// viban's default when it is not root).
    pub approve: &'static [&'static str],
    /// What `{approve}` becomes under policy `accept_edits` (and `ask` without a channel).
    pub accept_edits: &'static [&'static str],
    /// Under policy `ask`: the flags that route the CLI's permission prompts to viban
    /// over its standard input and output ([`control`]); `None` if it has no such
    /// channel in non-interactive mode (it then runs as `accept_edits`, and says so).
    pub ask: Option<&'static [&'static str]>,
    /// What `{approve}` becomes when viban runs as root, for a CLI that refuses
    /// `approve` as root, and why.
    pub approve_as_root: Option<(&'static [&'static str], &'static str)>,
    /// What `{mcp}` becomes for a run with MCP access; empty for a CLI that has no
    /// per-run way to add a server (docs/mcp.md).
    pub mcp: &'static [&'static str],
    pub format: Format,
}

pub const ADAPTERS: &[Adapter] = &[
    Adapter {
        id: "claude-code",
        display_name: "Claude Code",
        binary: "claude",
        install_hint: "npm i -g @anthropic-ai/claude-code",
        start: &[
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "{model}",
            "{approve}",
            "{mcp}",
            "--",
            "{prompt}",
        ],
        resume: &[
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "{model}",
            "{approve}",
            "{mcp}",
            "--resume",
            "{session_id}",
            "--",
            "{prompt}",
        ],
        model: &["--model", "{model}"],
        approve: &["--dangerously-skip-permissions"],
        accept_edits: &["--permission-mode", "acceptEdits"],
        ask: Some(&["--input-format", "stream-json", "--permission-prompt-tool", "stdio"]),
        approve_as_root: Some((
            &["--permission-mode", "acceptEdits"],
            "viban runs as root and Claude Code refuses --dangerously-skip-permissions as root, so it runs \
             with --permission-mode acceptEdits: file edits are allowed, shell commands that need approval \
             are denied. Run viban as a regular user for unattended shell access.",
        )),
        mcp: &["--mcp-config", "{mcp_config}"],
        format: Format::ClaudeStreamJson,
    },
    Adapter {
        id: "codex",
        display_name: "Codex",
        binary: "codex",
        install_hint: "npm i -g @openai/codex",
        start: &[
            "exec",
            "--json",
            "--skip-git-repo-check",
            "{model}",
            "{approve}",
            "{mcp}",
            "--",
            "{prompt}",
        ],
        resume: &[
            "exec",
            "resume",
            "--json",
            "--skip-git-repo-check",
            "{model}",
            "{approve}",
            "{mcp}",
            "{session_id}",
            "{prompt}",
        ],
        model: &["-m", "{model}"],
        approve: &["--dangerously-bypass-approvals-and-sandbox"],
        accept_edits: &["--sandbox", "workspace-write"],
        ask: None,
        approve_as_root: None,
        // Codex reads the bearer token from the variable it is named by.
        mcp: &[
            "-c",
            "mcp_servers.viban.url=\"{mcp_url}\"",
            "-c",
            "mcp_servers.viban.bearer_token_env_var=\"VIBAN_MCP_TOKEN\"",
        ],
        format: Format::CodexJson,
    },
    Adapter {
        id: "gemini",
        display_name: "Gemini CLI",
        binary: "gemini",
        install_hint: "npm i -g @google/gemini-cli",
        // `--prompt=` keeps a prompt that starts with `-` from reading as a flag.
        start: &["--output-format", "stream-json", "{model}", "{approve}", "--prompt={prompt}"],
        resume: &[
            "--output-format",
            "stream-json",
            "{model}",
            "{approve}",
            "--resume",
            "{session_id}",
            "--prompt={prompt}",
        ],
        model: &["-m", "{model}"],
        approve: &["--approval-mode", "yolo"],
        accept_edits: &["--approval-mode", "auto_edit"],
        ask: None,
        approve_as_root: None,
        mcp: &[],
        format: Format::GeminiStreamJson,
    },
    Adapter {
        id: "opencode",
        display_name: "OpenCode",
        binary: "opencode",
        install_hint: "npm i -g opencode-ai",
        start: &["run", "--format", "json", "{model}", "--", "{prompt}"],
        resume: &["run", "--format", "json", "{model}", "--session", "{session_id}", "--", "{prompt}"],
        model: &["--model", "{model}"],
        approve: &[],
        accept_edits: &[],
        ask: None,
        approve_as_root: None,
        mcp: &[],
        format: Format::OpencodeJson,
    },
    Adapter {
        id: "cursor-agent",
        display_name: "Cursor Agent",
        binary: "cursor-agent",
        install_hint: "curl https://cursor.com/install -fsS | bash",
        start: &["-p", "--output-format", "stream-json", "{model}", "{approve}", "{prompt}"],
        resume: &[
            "-p",
            "--output-format",
            "stream-json",
            "{model}",
            "{approve}",
            "--resume",
            "{session_id}",
            "{prompt}",
        ],
        model: &["--model", "{model}"],
        approve: &["--force"],
        accept_edits: &[],
        ask: None,
        approve_as_root: None,
        mcp: &[],
        format: Format::ClaudeStreamJson,
    },
    Adapter {
        id: "amp",
        display_name: "Amp",
        binary: "amp",
        install_hint: "npm i -g @sourcegraph/amp",
        start: &["--execute", "{prompt}", "--stream-json", "{approve}"],
        resume: &[
            "threads",
            "continue",
            "{session_id}",
            "--execute",
            "{prompt}",
            "--stream-json",
            "{approve}",
        ],
        model: &[],
        approve: &["--dangerously-allow-all"],
        accept_edits: &[],
        ask: None,
        approve_as_root: None,
        mcp: &[],
        format: Format::ClaudeStreamJson,
    },
];

pub fn adapter(id: &str) -> Option<&'static Adapter> {
    ADAPTERS.iter().find(|adapter| adapter.id == id)
}

/// A user-defined agent (A1): an argv template and the format of its output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomAgent {
    /// The program and its arguments, e.g. `["aider", "--message", "{prompt}"]`.
    #[schemars(length(min = 1))]
    pub command: Vec<String>,
    /// Arguments to continue a session instead (`{session_id}`); none: every run starts afresh.
    #[serde(default)]
    pub resume: Option<Vec<String>>,
    #[serde(default = "text_format")]
    pub format: Format,
}

fn text_format() -> Format {
    Format::Text
}

/// What a run needs to fill a template in.
pub struct Invocation<'a> {
    pub prompt: &'a str,
    pub prompt_file: &'a Path,
    pub worktree: &'a Path,
    pub session_id: Option<&'a str>,
    pub model: Option<&'a str>,
    pub as_root: bool,
    /// Whether the agent may edit and run commands without asking (`{approve}`); a
    /// call that is only to read and answer (`builtin:refine`) is not.
    pub unattended: bool,
    /// The board's permission policy; `None`: viban's default (`bypass`, or what root
    /// is allowed).
    pub policy: Option<PermissionPolicy>,
    /// The run's MCP access (`{mcp}`), when it has one.
    pub mcp: Option<McpAccess<'a>>,
}

/// How a run reaches viban's MCP server (`{mcp}`).
#[derive(Debug, Clone, Copy)]
pub struct McpAccess<'a> {
    /// A private file with the server, its address and the run's token, in Claude
    /// Code's `--mcp-config` shape.
    pub config_file: &'a Path,
    pub url: &'a str,
}

/// The program, its arguments, and a note for the activity (why flags differ).
#[derive(Debug, PartialEq)]
pub struct CommandLine {
    pub program: String,
    pub args: Vec<String>,
    pub note: Option<&'static str>,
    /// The agent asks viban for approvals over the control protocol ([`control`]): its
    /// standard input stays open, and the prompt is sent there, not on the command line.
    pub control: bool,
}

/// Why a CLI without an approval channel runs as `accept_edits` under `ask`.
pub const CANNOT_ASK: &str = "this agent's CLI cannot ask for approvals in non-interactive mode, so under the \
     board's `ask` policy it runs as `accept_edits`: edits without asking, nothing else that would need approval";

impl Adapter {
    pub fn command_line(&self, invocation: &Invocation) -> CommandLine {
        let resuming = invocation.session_id.is_some();
        let template = if resuming { self.resume } else { self.start };
        let (approve, note, control) = match (invocation.policy, self.approve_as_root) {
            _ if !invocation.unattended => (&[][..], None, false),
            (Some(PermissionPolicy::Ask), _) => match self.ask {
                Some(flags) => (flags, None, true),
                None => (self.accept_edits, Some(CANNOT_ASK), false),
            },
            (Some(PermissionPolicy::AcceptEdits), _) => (self.accept_edits, None, false),
            (None | Some(PermissionPolicy::Bypass), Some((flags, why))) if invocation.as_root => {
                (flags, Some(why), false)
            }
            (None | Some(PermissionPolicy::Bypass), _) => (self.approve, None, false),
        };
        let mut args = Vec::new();
        for token in template {
            match *token {
                // The prompt goes on standard input.
                "--" if control => {}
                token if control && token.contains("{prompt") => {}
                "{model}" => {
                    if let Some(model) = invocation.model {
                        args.extend(self.model.iter().map(|flag| flag.replace("{model}", model)));
                    }
                }
                "{approve}" => args.extend(approve.iter().map(|flag| flag.to_string())),
                "{mcp}" => {
                    if let Some(mcp) = invocation.mcp {
                        args.extend(self.mcp.iter().map(|flag| {
                            flag.replace("{mcp_config}", &mcp.config_file.to_string_lossy())
                                .replace("{mcp_url}", mcp.url)
                        }));
                    }
                }
                other => args.push(fill(other, invocation)),
            }
        }
        CommandLine { program: self.binary.to_string(), args, note, control }
    }
}

impl CustomAgent {
    pub fn command_line(&self, invocation: &Invocation) -> CommandLine {
        let template = match (&self.resume, invocation.session_id) {
            (Some(resume), Some(_)) => resume,
            _ => &self.command,
        };
        let mut filled = template.iter().map(|token| fill(token, invocation));
        let program = filled.next().unwrap_or_default();
        CommandLine { program, args: filled.collect(), note: None, control: false }
    }
}

fn fill(token: &str, invocation: &Invocation) -> String {
    if !token.contains('{') {
        return token.to_string();
    }
    token
        .replace("{prompt_file}", &invocation.prompt_file.to_string_lossy())
        .replace("{worktree}", &invocation.worktree.to_string_lossy())
        .replace("{session_id}", invocation.session_id.unwrap_or_default())
        .replace("{prompt}", invocation.prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation<'a>(session_id: Option<&'a str>, model: Option<&'a str>, as_root: bool) -> Invocation<'a> {
        Invocation {
            prompt: "-fix it",
            prompt_file: Path::new("/tmp/prompt.md"),
            worktree: Path::new("/w/t"),
            session_id,
            model,
            as_root,
            unattended: true,
            policy: Some(PermissionPolicy::Bypass),
            mcp: None,
        }
    }

    #[test]
    fn claude_runs_unattended_and_resumes_its_session() {
        let claude = adapter("claude-code").unwrap();
        let first = claude.command_line(&invocation(None, Some("opus"), false));
        assert_eq!(first.program, "claude");
        assert_eq!(
            first.args,
            [
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--model",
                "opus",
                "--dangerously-skip-permissions",
                "--",
                "-fix it"
            ]
        );
        let again = claude.command_line(&invocation(Some("abc"), None, false));
        assert!(again.args.windows(2).any(|pair| pair == ["--resume", "abc"]), "{:?}", again.args);
        assert!(!again.args.contains(&"--continue".to_string()));
    }

    #[test]
    fn a_run_with_mcp_access_gives_claude_its_config_and_codex_the_server_before_the_prompt() {
        let mut run = invocation(Some("abc"), None, false);
        run.mcp = Some(McpAccess {
            config_file: Path::new("/run/mcp-1.json"),
            url: "http://127.0.0.1:7777/api/mcp",
        });
        for line in [adapter("claude-code").unwrap().command_line(&run), {
            run.session_id = None;
            adapter("claude-code").unwrap().command_line(&run)
        }] {
            let flag = line.args.iter().position(|arg| arg == "--mcp-config").expect("--mcp-config");
            assert_eq!(line.args[flag + 1], "/run/mcp-1.json");
            assert!(flag < line.args.iter().position(|arg| arg == "--").unwrap(), "{:?}", line.args);
        }
        let codex = adapter("codex").unwrap();
        let first = codex.command_line(&run);
        let url = first
            .args
            .iter()
            .position(|arg| arg == "mcp_servers.viban.url=\"http://127.0.0.1:7777/api/mcp\"");
        let url = url.expect("the server's address");
        assert_eq!(first.args[url - 1], "-c");
        assert!(
            first.args.contains(&"mcp_servers.viban.bearer_token_env_var=\"VIBAN_MCP_TOKEN\"".to_string())
        );
        assert!(url < first.args.iter().position(|arg| arg == "--").unwrap(), "{:?}", first.args);
        run.session_id = Some("thread-1");
        let resumed = codex.command_line(&run);
        let url = resumed
            .args
            .iter()
            .position(|arg| arg.starts_with("mcp_servers.viban.url="))
            .expect("on resume too");
        assert!(url < resumed.args.iter().position(|arg| arg == "thread-1").unwrap(), "{:?}", resumed.args);
        let gemini = adapter("gemini").unwrap().command_line(&run);
        assert!(!gemini.args.iter().any(|arg| arg.contains("mcp")), "{:?}", gemini.args);
    }

    #[test]
    fn as_root_claude_gets_accept_edits_and_the_reason() {
        let line = adapter("claude-code").unwrap().command_line(&invocation(None, None, true));
        assert!(!line.args.contains(&"--dangerously-skip-permissions".to_string()));
        assert!(line.args.windows(2).any(|pair| pair == ["--permission-mode", "acceptEdits"]));
        assert!(line.note.unwrap().contains("root"));
    }

    #[test]
    fn a_call_that_is_not_unattended_gets_no_approval_flags_even_as_root() {
        for as_root in [false, true] {
            let mut reading = invocation(None, None, as_root);
            reading.unattended = false;
            let line = adapter("claude-code").unwrap().command_line(&reading);
            assert_eq!(line.args, ["-p", "--output-format", "stream-json", "--verbose", "--", "-fix it"]);
            assert_eq!(line.note, None);
        }
    }

    #[test]
    fn under_ask_claude_opens_the_control_channel_and_takes_its_prompt_on_stdin() {
        for as_root in [false, true] {
            let mut asking = invocation(Some("abc"), None, as_root);
            asking.policy = Some(PermissionPolicy::Ask);
            let line = adapter("claude-code").unwrap().command_line(&asking);
            assert!(line.control);
            assert_eq!(
                line.args,
                [
                    "-p",
                    "--output-format",
                    "stream-json",
                    "--verbose",
                    "--input-format",
                    "stream-json",
                    "--permission-prompt-tool",
                    "stdio",
                    "--resume",
                    "abc"
                ]
            );
            assert_eq!(line.note, None);
        }
    }

    #[test]
    fn accept_edits_and_ask_map_to_each_clis_nearest_flags() {
        let mut editing = invocation(None, None, false);
        editing.policy = Some(PermissionPolicy::AcceptEdits);
        let claude = adapter("claude-code").unwrap().command_line(&editing);
        assert!(claude.args.windows(2).any(|pair| pair == ["--permission-mode", "acceptEdits"]));
        assert!(!claude.control);
        editing.policy = Some(PermissionPolicy::Ask);
        let gemini = adapter("gemini").unwrap().command_line(&editing);
        assert!(gemini.args.windows(2).any(|pair| pair == ["--approval-mode", "auto_edit"]));
        assert_eq!(gemini.note, Some(CANNOT_ASK));
        let codex = adapter("codex").unwrap().command_line(&editing);
        assert!(codex.args.windows(2).any(|pair| pair == ["--sandbox", "workspace-write"]));
        assert!(!codex.args.iter().any(|arg| arg.contains("dangerously")));
        assert!(!codex.control && !gemini.control);
    }

    #[test]
    fn codex_resumes_with_exec_resume_and_gemini_keeps_a_dash_prompt_whole() {
        let codex = adapter("codex").unwrap().command_line(&invocation(Some("thread-1"), None, false));
        assert_eq!(&codex.args[..2], ["exec", "resume"]);
        assert_eq!(&codex.args[codex.args.len() - 2..], ["thread-1", "-fix it"]);
        let gemini = adapter("gemini").unwrap().command_line(&invocation(None, None, false));
        assert_eq!(gemini.args.last().unwrap(), "--prompt=-fix it");
    }

    #[test]
    fn a_custom_agent_fills_its_placeholders_inside_arguments() {
        let custom = CustomAgent {
            command: vec![
                "aider".into(),
                "--message-file={prompt_file}".into(),
                "--cwd".into(),
                "{worktree}".into(),
            ],
            resume: None,
            format: Format::Text,
        };
        let line = custom.command_line(&invocation(Some("ignored"), None, false));
        assert_eq!(line.program, "aider");
        assert_eq!(line.args, ["--message-file=/tmp/prompt.md", "--cwd", "/w/t"]);
    }
}
